"""Issue 10, T6: SIGTERM while a handler runs, on the real broker and PostgreSQL, the consumer its
own OS process (the probe service; its ``slow-handler`` event sleeps inside its transaction before
the effect).

Pass: while the process shuts down, the group's committed offset never covers the slow event
before its effect is visible in the database; after a restart the event has exactly one effect.
Two shutdowns, both legal outcomes:

- ``graceful``: the grace period (``shutdown_grace_s`` 10 s) is longer than the handler (3 s): the
  handler finishes, its effect commits, then its offset — before the process exits;
- ``abort``: the grace period (1 s) is shorter than the handler: either the handler is abandoned
  (its transaction rolls back, its offset is not committed, the restart redelivers it and the
  inbox lets it take effect once) or it still finishes and commits as above.

Mechanisms guarded: offsets are committed only after the effect's transaction (``AckPolicy.MANUAL``
and ``msg.ack()`` after ``process`` in ``servicekit/consumer.py``), consumers stop before the pool
closes with a grace period longer than a handler (``ServiceRuntime._lifespan``), and the inbox.
Checked by moving ``await msg.ack()`` before ``await self.process(records)`` locally (the offset is
seen committed while the handler still sleeps: fails at "committed before its effect") and by
setting the broker's ``graceful_timeout`` to 0.1 s (the graceful case exits without the effect).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from contracts.assessment import PriorAwardImported
from tests.infra import fast_join
from tests.infra.services import envelope_bytes, eventually
from tests.pipe import probe_service

pytestmark = pytest.mark.integration
OCCURRED = datetime(2025, 1, 1, tzinfo=UTC)
HANDLER_S = 3.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _event(corr: str, pool_id: str) -> bytes:
    payload = PriorAwardImported(programme="shutdown", municipality_code="101", pool_id=pool_id)
    return envelope_bytes(payload, "shutdown-agg", occurred_at=OCCURRED, correlation_id=corr)


async def _effects(db_url: str, corr: str) -> int:
    conn = await asyncpg.connect(db_url)
    try:
        return int(await conn.fetchval(
            "SELECT count(*) FROM effects WHERE correlation_id = $1", corr))
    except asyncpg.UndefinedTableError:
        return 0
    finally:
        await conn.close()


async def _in_transaction(db_url: str) -> bool:
    """The slow handler sits in its open transaction (its session's last statement is the
    marker it runs before sleeping). Any session idle in transaction is not enough: under load the
    poll caught the record before it between two statements, the SIGTERM then came before the
    slow record's batch started, and the graceful run saw no effect."""
    server, _, database = db_url.rpartition("/")
    conn = await asyncpg.connect(f"{server}/postgres")
    try:
        return bool(await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1"
            " AND state = 'idle in transaction' AND query LIKE '%slow-handler-sleeping%'", database))
    finally:
        await conn.close()


@pytest.mark.parametrize("grace_s", [10.0, 1.0], ids=["graceful", "abort"])
async def test_sigterm_mid_handler_commits_no_offset_before_the_effect(
    grace_s: float, kafka_bootstrap: str, fresh_database: str, fresh_topic: Any, tmp_path: Path
) -> None:
    topic = await fresh_topic(partitions=1, suffix="shutdown")
    run = uuid.uuid4().hex[:8]
    before, slow, after = f"{run}-before", f"{run}-slow", f"{run}-after"
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, _event(before, "shutdown-test"), key=b"s")
        slow_offset = (await producer.send_and_wait(topic, _event(slow, "slow-handler"),
                                                    key=b"s")).offset
        await producer.send_and_wait(topic, _event(after, "shutdown-test"), key=b"s")
    finally:
        await producer.stop()
    end = slow_offset + 2

    name = f"probe-term-{run}"
    group = f"grants-{name}"
    env = {"PROBE_SLOW_S": str(HANDLER_S)}
    log = tmp_path / "probe.log"
    proc = probe_service.spawn(kafka_bootstrap, fresh_database, name, _free_port(), topic=topic,
                               log_file=log, env=env, shutdown_grace_s=str(grace_s), **fast_join())
    observations: list[tuple[int, int]] = []  # (committed offset, effects of the slow event)

    async def observe() -> tuple[int, int]:
        # The offset first, then the effect: an offset covering the slow event must find it.
        offset = (await probe_service.committed(kafka_bootstrap, group, topic, 1))[0]
        seen = (offset, await _effects(fresh_database, slow))
        observations.append(seen)
        assert not (offset > slow_offset and seen[1] == 0), (
            f"offset {offset} committed before its effect (slow event at {slow_offset})")
        return seen

    try:
        await eventually(lambda: _in_transaction(fresh_database), timeout=60, interval=0.05)
        assert await _effects(fresh_database, slow) == 0
        await observe()
        sigterm_at = time.monotonic()
        os.kill(proc.pid, signal.SIGTERM)
        while proc.poll() is None:
            await observe()
            assert time.monotonic() - sigterm_at < grace_s + HANDLER_S + 20, "did not exit"
            await asyncio.sleep(0.1)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    offset, effects = await observe()
    assert effects <= 1
    if grace_s > HANDLER_S:
        # The grace period covers the handler: it finished, and its offset was committed after.
        assert effects == 1, f"the handler did not finish within the grace period ({log})"
        assert offset > slow_offset
    finished_before_restart = effects == 1

    # Restart: whatever was not committed is redelivered; the slow event takes effect once.
    proc = probe_service.spawn(kafka_bootstrap, fresh_database, name, _free_port(), topic=topic,
                               log_file=log, env={"PROBE_SLOW_S": "0.2"}, **fast_join())
    try:
        async def caught_up() -> bool:
            return (await observe())[0] >= end
        await eventually(caught_up, timeout=60, interval=0.2)
        assert await _effects(fresh_database, slow) == 1, (
            f"not exactly one effect (finished before the restart: {finished_before_restart})")
        for corr in (before, after):
            assert await _effects(fresh_database, corr) == 1
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    assert all(o <= end for o, _ in observations)
