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


# Labelled parts of a service's time: a stack gets the first label (in this order) whose pattern
# occurs anywhere in it, so specific parts come before general ones.
PARTS: list[tuple[str, str]] = [
    ("idle (epoll wait)", "EpollSelector.select"),
    ("token verify (jwt)", "TokenVerifier.verify"),
    ("outbox relay (publish + mark sent)", "OutboxRelay."),
    ("audit chain append", "append_to_audit_chain"),
    ("outbox flush (sequences, rows, notify)", "Emitter.flush"),
    ("intake: read pool per message", "IntakeStore.pools_for"),
    ("intake: claim submission id", "IntakeStore.claim_submission"),
    ("intake: lock application", "IntakeStore.lock_application"),
    ("intake: save application", "IntakeStore.save_application"),
    ("intake: domain decide", "decide_submission"),
    ("intake: parse portal message", "parse_portal_submission"),
    ("intake: HTTP handler (parse, validate, receipt)", "post_submission"),
    ("intake: decide + store a batch", "handle_submissions"),
    ("intake: HTTP group commit (batcher)", "SubmissionBatcher"),
    ("assessment: handler", "on_intake_event"),
    ("assessment: allocation", "allocate"),
    ("structlog per-message log", "structlog"),
    ("inbox claim", "inbox.py"),
    ("consumer: commit offsets", "KafkaAckableMessage.ack"),
    ("consumer plumbing (faststream, decode, batch)", "EventConsumer."),
    ("FastAPI/uvicorn request", "h11_impl.py"),
    ("FastAPI/uvicorn request", "httptools_impl.py"),
    ("asyncpg protocol (responses, socket writes)", "asyncpg"),
    ("Kafka client (fetch, produce)", "aiokafka"),
]


def breakdown(raw: Path) -> list[tuple[str, float]]:
    """Share of samples per labelled part (see PARTS), the rest as 'other'."""
    totals: collections.Counter[str] = collections.Counter()
    n = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        n += int(count)
        joined = ";".join(frames)
        if frames[-1].startswith(("Runner.run ", "run_forever")):
            label = "idle (event loop wait in uvloop)"  # uvloop waits in C, below Runner.run
        else:
            label = next((lab for lab, pat in PARTS if pat in joined), "other")
        totals[label] += int(count)
    return [(lab, c / n) for lab, c in totals.most_common()] if n else []


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
    lines = [f"samples {total}", "-- parts (first matching label, see PARTS)"]
    lines += [f"{share:6.1%}  {label}" for label, share in breakdown(raw)]
    lines += ["-- own time"]
    lines += [f"{c / total:6.1%}  {f}" for f, c in own.most_common(top)]
    lines += ["-- inclusive"]
    lines += [f"{c / total:6.1%}  {f}" for f, c in incl.most_common(top)]
    return "\n".join(lines) + "\n"
