"""bench's CPU meter over a process tree: a service with HTTP workers is a supervisor that does
no work and worker processes that do, and their own children come and go."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil

from bench.common import CpuMeter, TreeCpu

BURN_S = 0.5
# Burns BURN_S of CPU (process time, so a loaded box only makes it take longer).
BURN = ("import time\nt = time.process_time()\n"
        f"while time.process_time() - t < {BURN_S}:\n    pass\n")


def _wait_for(path: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.02)


def _supervisor(tmp_path: Path) -> subprocess.Popen[bytes]:
    """A supervisor (idle) with one worker (idle) whose own child burns CPU and is reaped by the
    worker, which then says so in ``done`` and lives on until ``stop`` appears."""
    worker = textwrap.dedent(f"""
        import pathlib, subprocess, sys, time
        subprocess.run([sys.executable, "-c", {BURN!r}], check=True)
        pathlib.Path({str(tmp_path / "done")!r}).touch()
        while not pathlib.Path({str(tmp_path / "stop")!r}).exists():
            time.sleep(0.02)
    """)
    supervisor = textwrap.dedent(f"""
        import subprocess, sys
        subprocess.run([sys.executable, "-c", {worker!r}], check=True)
    """)
    return subprocess.Popen([sys.executable, "-c", supervisor])


def test_cpu_of_a_grandchild_reaped_by_a_live_worker_is_counted(tmp_path: Path) -> None:
    sup = _supervisor(tmp_path)
    try:
        meter = CpuMeter({"service": sup.pid}, interval_s=0.05).start()
        _wait_for(tmp_path / "done")
        used = meter.stop()["service"]
        # the burn lives in the live worker's reaped-children time: the single-pid meter (and the
        # old one, which added only descendants' own time) saw ~0 of it
        own = psutil.Process(sup.pid).cpu_times()
        assert own.user + own.system < BURN_S / 2
        assert used >= BURN_S * 0.9, used
    finally:
        (tmp_path / "stop").touch()
        sup.wait(30)


def test_the_tree_reading_never_goes_backwards_while_processes_come_and_go(
        tmp_path: Path) -> None:
    sup = _supervisor(tmp_path)
    try:
        tree = TreeCpu(sup.pid)
        readings = [tree.sample()]
        while not (tmp_path / "done").exists():
            readings.append(tree.sample())
            time.sleep(0.01)
        (tmp_path / "stop").touch()
        sup.wait(30)          # worker and supervisor exit; the root pid is gone at the end
        readings += [tree.sample(), tree.sample()]
    finally:
        (tmp_path / "stop").touch()
        sup.wait(30)
    assert readings == sorted(readings)
    assert readings[-1] - readings[0] >= BURN_S * 0.9
    assert len(readings) > 5


def test_alone_counts_the_process_without_its_children(tmp_path: Path) -> None:
    sup = _supervisor(tmp_path)
    try:
        meter = CpuMeter({"tree": sup.pid, "alone": sup.pid}, alone=["alone"],
                         interval_s=0.05).start()
        _wait_for(tmp_path / "done")
        used = meter.stop()
    finally:
        (tmp_path / "stop").touch()
        sup.wait(30)
    assert used["tree"] >= BURN_S * 0.9
    assert used["alone"] < BURN_S / 2
