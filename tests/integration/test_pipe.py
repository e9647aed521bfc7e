"""Proof of the pipe (issue 2, point 7), on the real broker and PostgreSQL.

- an event written through one service's outbox arrives exactly once in effect at another, also
  when it is delivered twice (the inbox);
- a poison message lands in the dead-letter topic with its origin in headers, and the partition
  keeps flowing;
- a consumer SIGKILLed after its effect but before its offset commit causes no duplicate effect
  after restart.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer

from contracts import topics
from contracts.assessment import PriorAwardImported
from contracts.base import Actor
from servicekit import audit_chain
from servicekit.outbox import Cause
from servicekit.service import ServiceRuntime
from tests.infra.services import (
    audit_rows, chain_entries, envelope_bytes, eventually, read_topic, service_settings,
)
from tests.pipe import probe_service

pytestmark = pytest.mark.integration
TOPIC = topics.ASSESSMENT_POOLS.name
ROOT = Path(__file__).resolve().parents[2]
OCCURRED = datetime(2025, 1, 1, tzinfo=UTC)


@asynccontextmanager
async def running(runtime: ServiceRuntime, app: Any) -> AsyncIterator[ServiceRuntime]:
    async with app.router.lifespan_context(app):
        yield runtime


async def _effects(db_url: str, correlation_id: str) -> int:
    conn = await asyncpg.connect(db_url)
    try:
        return int(await conn.fetchval(
            "SELECT count(*) FROM effects WHERE correlation_id = $1", correlation_id))
    finally:
        await conn.close()


def _event(correlation_id: str, municipality: str = "101", pool_id: str = "pipe-test") -> tuple[
        PriorAwardImported, Cause]:
    return (PriorAwardImported(programme="pipe", municipality_code=municipality, pool_id=pool_id),
            Cause(actor=Actor(id="test", role="system"), correlation_id=correlation_id))


async def test_outbox_to_inbox_exactly_once_even_when_delivered_twice(
    kafka_bootstrap: str, fresh_database: str, pg_url: str
) -> None:
    sender_db = fresh_database
    receiver_db = f"{pg_url}/pipe_recv_{uuid.uuid4().hex[:8]}"
    sender = ServiceRuntime("sender",
                            settings=service_settings(kafka_bootstrap, sender_db, "sender"))
    receiver, receiver_app = probe_service.build(
        service_settings(kafka_bootstrap, receiver_db, f"probe-{uuid.uuid4().hex[:6]}"))
    corr = f"exactly-once-{uuid.uuid4()}"
    async with running(sender, sender.http_app(title="sender")), running(receiver, receiver_app):
        payload, cause = _event(corr)
        async with sender.unit_of_work() as uow:
            uow.emit(payload, aggregate_id="pipe-agg", cause=cause)
        await eventually(lambda: _has(receiver_db, corr, 1))

        # The relay marked the row sent only after the broker's ack; the audit chain holds it.
        # The row is marked sent once the broker's ack reached the relay (it may lag the effect).
        async def marked_sent() -> bool:
            return await sender.pool.fetchval("SELECT sent_at IS NOT NULL FROM outbox") is True
        await eventually(marked_sent)
        row = await sender.pool.fetchrow("SELECT value, key, sent_at FROM outbox")
        entries = chain_entries(await audit_rows(sender))
        assert len(entries) == 1 and audit_chain.verify(entries) is None

        # Deliver the very same event again: acknowledged, no second effect.
        before = receiver.consumers[0].processed
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(TOPIC, row["value"], key=row["key"].encode())
        finally:
            await producer.stop()
        await eventually(lambda: _true(receiver.consumers[0].processed > before))
        assert await _effects(receiver_db, corr) == 1
        event_id = json.loads(row["value"])["event_id"]
        assert await receiver.pool.fetchval(
            "SELECT count(*) FROM inbox WHERE event_id = $1", uuid.UUID(event_id)) == 1


async def test_a_record_and_its_copy_in_one_batch_have_one_effect(
    kafka_bootstrap: str, fresh_database: str
) -> None:
    """A relay that crashed after publishing but before marking its rows sent publishes them
    again, right behind the originals: one consumer batch can hold both copies of an event."""
    corr = f"same-batch-{uuid.uuid4()}"
    payload, cause = _event(corr)
    value = envelope_bytes(payload, "pipe-agg", correlation_id=corr)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", linger_ms=50)
    await producer.start()
    try:  # both copies before the consumer starts, with one key: one partition, one batch
        sent = [await producer.send(TOPIC, value, key=b"pipe-agg") for _ in range(2)]
        for future in sent:
            await future
    finally:
        await producer.stop()
    receiver, app = probe_service.build(
        service_settings(kafka_bootstrap, fresh_database, f"probe-{uuid.uuid4().hex[:6]}"))
    async with running(receiver, app):
        consumer = receiver.consumers[0]
        await eventually(lambda: _true(consumer.duplicates >= 1), timeout=60)
        assert await _effects(fresh_database, corr) == 1


async def _true(value: bool) -> bool:
    return value


async def _has(db_url: str, corr: str, n: int) -> bool:
    try:
        return await _effects(db_url, corr) == n
    except (asyncpg.UndefinedTableError, asyncpg.InvalidCatalogNameError):
        return False


async def _dead_letters(kafka: str, marker: bytes) -> list[Any]:
    """Records on the dead-letter topic whose bytes hold ``marker`` (about 20 polls' worth)."""
    return await read_topic(kafka, f"{TOPIC}.dlt", lambda r: marker in (r.value or b""),
                            timeout=4.0)


async def test_poison_goes_to_dead_letter_topic_and_partition_keeps_flowing(
    kafka_bootstrap: str, fresh_database: str
) -> None:
    receiver, app = probe_service.build(
        service_settings(kafka_bootstrap, fresh_database, f"probe-{uuid.uuid4().hex[:6]}"))
    corr = f"after-poison-{uuid.uuid4()}"
    marker = f"poison-{uuid.uuid4()}".encode()

    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        async with running(receiver, app):
            # 1. undecodable bytes; 2. a valid event whose handling raises; 3. a good event.
            await producer.send_and_wait(TOPIC, b"{not json " + marker, key=b"k",
                                         headers=[("trace", b"x")])
            breaking, cause = _event(corr + "-breaks", pool_id="poison-in-handler")
            good, good_cause = _event(corr)
            for payload, c in ((breaking, cause), (good, good_cause)):
                value = envelope_bytes(payload, "k", actor_id=c.actor.id, role=c.actor.role,
                                       occurred_at=OCCURRED, correlation_id=c.correlation_id)
                await producer.send_and_wait(TOPIC, value, key=b"k")
            await eventually(lambda: _has(fresh_database, corr, 1))
            assert receiver.consumers[0].dead_lettered >= 2
    finally:
        await producer.stop()
    letters = await _dead_letters(kafka_bootstrap, marker)
    assert letters, "the poison message is not on the dead-letter topic"
    headers = {k: v.decode() for k, v in letters[0].headers}
    assert headers["dlt-original-topic"] == TOPIC
    assert headers["dlt-original-partition"] == "0"
    assert int(headers["dlt-original-offset"]) >= 0
    assert "dlt-error" in headers and headers["trace"] == "x"
    assert letters[0].key == b"k"
    handler_letters = await _dead_letters(kafka_bootstrap, (corr + "-breaks").encode())
    assert handler_letters and "this event breaks the handler" in dict(
        (k, v.decode()) for k, v in handler_letters[0].headers)["dlt-error"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _spawn_probe(kafka: str, db_url: str, name: str, port: int, *, kill: bool) -> subprocess.Popen[
        bytes]:
    server, _, database = db_url.rpartition("/")
    env = {**os.environ, "GRANTS_SERVICE_NAME": name, "GRANTS_KAFKA_BOOTSTRAP": kafka,
           "GRANTS_PG_URL": server, "GRANTS_DATABASE": database, "GRANTS_HTTP_PORT": str(port),
           "GRANTS_FAULT_KILL_BEFORE_COMMIT": "1" if kill else "0", "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "tests.pipe.probe_service"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def test_sigkill_after_effect_before_commit_causes_no_duplicate(
    kafka_bootstrap: str, fresh_database: str
) -> None:
    name = f"probe-kill-{uuid.uuid4().hex[:6]}"
    corr = f"killed-{uuid.uuid4()}"
    # Only our event is new for this fresh group, but the topic holds other tests' events too:
    # the consumer processes them all, then is killed before committing any offset.
    proc = _spawn_probe(kafka_bootstrap, fresh_database, name, _free_port(), kill=True)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        payload, cause = _event(corr)
        value = envelope_bytes(payload, "kill", actor_id=cause.actor.id, role=cause.actor.role,
                               occurred_at=OCCURRED, correlation_id=corr)
        await producer.send_and_wait(TOPIC, value, key=b"kill")
    finally:
        await producer.stop()
    try:
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert proc.returncode == -signal.SIGKILL, "the fault hook did not kill the consumer"
        assert await _effects(fresh_database, corr) == 1, "the effect was not committed"
    finally:
        if proc.poll() is None:
            proc.kill()

    port = _free_port()
    proc = _spawn_probe(kafka_bootstrap, fresh_database, name, port, kill=False)
    try:
        async with httpx.AsyncClient() as http:
            async def redelivered() -> bool:
                try:
                    health = (await http.get(f"http://127.0.0.1:{port}/health")).json()
                except httpx.HTTPError:
                    return False
                return sum(c["processed"] for c in health["consumers"].values()) > 0
            await eventually(redelivered, timeout=60)
        assert await _effects(fresh_database, corr) == 1, "redelivery after the crash duplicated"
    finally:
        proc.terminate()
        proc.wait(timeout=20)
