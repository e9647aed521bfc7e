"""Optional py-spy profiles of service processes during a measured phase (``--profile``)."""

from __future__ import annotations

import collections
import contextlib
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

ENABLED = False
OUT_DIR = Path(__file__).parent / "results" / "profiles"


def _py_spy() -> str | None:
    here = Path(sys.executable).with_name("py-spy")
    return str(here) if here.exists() else shutil.which("py-spy")


@contextlib.contextmanager
def profile(pid: int, name: str, *, rate: int = 200) -> Iterator[Path | None]:
    """Record ``pid`` with py-spy while the block runs; writes ``<name>.raw`` (collapsed stacks)
    and ``<name>.txt`` (top own / inclusive frames)."""
    exe = _py_spy()
    if not ENABLED or exe is None:
        yield None
        return
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    raw = OUT_DIR / f"{name}.raw"
    proc = subprocess.Popen([exe, "record", "-p", str(pid), "-r", str(rate), "-f", "raw",
                             "-o", str(raw), "--nonblocking"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield raw
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        if raw.exists():
            (OUT_DIR / f"{name}.txt").write_text(summarise(raw))


def summarise(raw: Path, top: int = 40) -> str:
    own: collections.Counter[str] = collections.Counter()
    incl: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack or not n.isdigit():
            continue
        count = int(n)
        total += count
        frames = stack.split(";")
        own[frames[-1]] += count
        for f in set(frames):
            incl[f] += count
    lines = [f"samples {total}", "-- own time"]
    lines += [f"{c / total:6.1%}  {f}" for f, c in own.most_common(top)]
    lines += ["-- inclusive"]
    lines += [f"{c / total:6.1%}  {f}" for f, c in incl.most_common(top)]
    return "\n".join(lines) + "\n"
