"""The outbox relay: publishes unsent outbox rows to Kafka in ``id`` order.

- One relay per service database: it holds a session advisory lock; other instances wait.
- Rows are marked sent only after the broker acknowledged them (acks=all). A crash in between
  re-publishes them: consumers deduplicate by ``event_id`` (the inbox), so the effect is once.
- Woken by ``NOTIFY`` on commit, with a slow poll as a safety net.
- With a signing key, every published event is a leaf of the service's Merkle tree and each
  batch ends in a signed checkpoint (:mod:`servicekit.checkpoints`); a checkpoint is sent only
  after every event it covers was acknowledged.
- A row the broker refuses for good because of the record itself (``refused_for_good``: too
  large, corrupt, an invalid topic name) is marked held (``held_at``, ``held_error``), logged once as
  ``outbox_row_held`` and counted (``grants_relay_held_total``): it holds back only the later rows
  of its own topic and key, every other key keeps flowing. Every other error holds nothing (broker
  away, leader moving, a topic not there yet, a refused ACL, a broker's ``UnknownError``): the
  whole batch is tried again in order. Those are about the broker, not the row, and go away;
  holding on them parked healthy rows for an operator. Seen: the embedded broker, restarted
  empty, answered ``UnknownError`` until the topics were created again, and 7 submissions
  stayed held.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    CorruptRecordException, InvalidTopicError, KafkaError, MessageSizeTooLargeError,
    RecordListTooLargeError, RecordTooLargeError,
)

from servicekit.checkpoints import Checkpointer
from servicekit.kafka_security import client_kwargs
from servicekit.logging import get_logger
from servicekit.outbox import notify_channel
from servicekit.settings import ServiceSettings
from servicekit.tracing import DISABLED, Tracing

log = get_logger(__name__)
_RELAY_LOCK = 0x7265_6C61  # "rela"


def make_producer(settings: ServiceSettings, **overrides: Any) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        acks="all",
        enable_idempotence=settings.kafka_idempotence,
        linger_ms=0,
        **client_kwargs(settings),
        **overrides,
    )


# The next rows to publish in order: unsent, not held, and not behind a held row of their key.
# The held rows' first id per key is taken once (a tiny set: empty in the happy path), not per
# candidate row: when a burst fills the outbox faster than autovacuum's ANALYZE follows, the
# planner believes in one unsent row and, for a correlated NOT EXISTS over the outbox, scanned
# every unsent row for each candidate (measured: 10,000 unsent rows, a batch of 2,000 took
# 1.5-10 s, quadratic in the burst; this form takes 5 ms with the same stale statistics).
_NEXT_BATCH = (
    "WITH held AS MATERIALIZED (SELECT topic, key, min(id) AS id FROM outbox"
    " WHERE held_at IS NOT NULL AND sent_at IS NULL GROUP BY topic, key)"
    " SELECT id, topic, key, value, headers, audit_leaf FROM outbox o"
    " WHERE sent_at IS NULL AND held_at IS NULL AND NOT EXISTS (SELECT 1 FROM held h"
    "  WHERE h.topic = o.topic AND h.key = o.key AND h.id < o.id)"
    " ORDER BY id LIMIT $1")


class OutboxRelay:
    def __init__(self, settings: ServiceSettings, tracing: Tracing = DISABLED) -> None:
        self.settings = settings
        self.tracing = tracing
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        self.published = 0
        self.held = 0  # rows this relay marked held (hold events)
        self.checkpoints = Checkpointer.from_settings(settings)

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    async def run(self) -> None:
        while not self._stop.is_set():
            try:
                await self._run_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - broker or database away: keep the rows, try again
                log.warning("relay_error", error=repr(exc))
                await self._sleep(1.0)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)

    async def _run_once(self) -> None:
        conn = await asyncpg.connect(self.settings.dsn)
        producer = make_producer(self.settings)
        try:
            while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", _RELAY_LOCK):
                if self._stop.is_set():
                    return
                await self._sleep(1.0)
            if self.checkpoints is not None:
                await self.checkpoints.load(conn)
            else:
                log.warning("audit_checkpoints_off", reason="no GRANTS_AUDIT_SIGNING_KEY_FILE: "
                            "events are published without signed checkpoints")
            channel = notify_channel(self.settings.database_name)
            await conn.add_listener(channel, lambda *_: self._wake.set())
            await producer.start()
            log.info("relay_started")
            while not self._stop.is_set():
                self._wake.clear()
                sent = await self._publish_batch(conn, producer)
                if sent < self.settings.relay_batch_size:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self.settings.relay_idle_poll_s)
        finally:
            with contextlib.suppress(Exception):
                await producer.stop()
            with contextlib.suppress(Exception):
                await conn.close()

    async def _publish_batch(self, conn: asyncpg.Connection, producer: AIOKafkaProducer) -> int:
        rows = await conn.fetch(_NEXT_BATCH, self.settings.relay_batch_size)
        tree = self.checkpoints
        if not rows:
            if tree is not None and tree.heartbeat_due():
                await tree.heartbeat(conn)
                self._wake.set()  # publish it now
            return 0
        leaves = await tree.advance(conn, rows) if tree is not None else {}
        if leaves:
            self._wake.set()  # the batch's checkpoint waits in the outbox: next round
        held: dict[tuple[str, str], tuple[int, str]] = {}  # (topic, key) -> (row id, error)
        for batch in tree.send_order(rows, leaves) if tree is not None else [rows]:
            futures, sent_rows = [], []
            for r in batch:
                if (r["topic"], r["key"]) in held:
                    continue  # behind a held row of its key: stays unsent, order kept
                headers = [(k, str(v).encode()) for k, v in json.loads(r["headers"]).items()]
                if tree is not None:
                    headers += tree.leaf_headers(r, leaves)
                if self.tracing.enabled:
                    headers = self.tracing.relayed(r["topic"], headers)
                try:
                    futures.append(await producer.send(r["topic"], r["value"],
                                                       key=r["key"].encode(), headers=headers))
                except KafkaError as exc:  # refused before sending (e.g. larger than allowed)
                    if not refused_for_good(exc):
                        raise
                    held[(r["topic"], r["key"])] = (r["id"], type(exc).__name__)
                    continue
                sent_rows.append(r)
            results = await asyncio.gather(*futures, return_exceptions=True)
            for r, result in zip(sent_rows, results, strict=True):
                if isinstance(result, BaseException):
                    if not isinstance(result, KafkaError) or not refused_for_good(result):
                        raise result
                    held.setdefault((r["topic"], r["key"]), (r["id"], type(result).__name__))
        blocked = {k: i for k, (i, _) in held.items()}
        done = [r["id"] for r in rows
                if (r["topic"], r["key"]) not in blocked or r["id"] < blocked[(r["topic"], r["key"])]]
        if held:
            await self._hold(conn, held)
        await conn.execute(
            "UPDATE outbox SET sent_at = now() WHERE id = ANY($1::bigint[])", done
        )
        self.published += len(done)
        return len(done) + len(held)

    async def _hold(self, conn: asyncpg.Connection,
                    held: dict[tuple[str, str], tuple[int, str]]) -> None:
        for (topic, key), (row_id, error) in held.items():
            await conn.execute("UPDATE outbox SET held_at = now(), held_error = $2 WHERE id = $1",
                               row_id, error)
            log.error("outbox_row_held", outbox_id=row_id, topic=topic, key=key, error=error)
        self.held += len(held)


# What the broker refuses in a record whatever the broker's state: sending it again is refused
# again. (aiokafka's ``retriable`` is no guide: ``UnknownError`` and the authorization errors are
# not retriable for it, yet they are states of the broker, not of the row.)
_RECORD_REFUSALS = (MessageSizeTooLargeError, RecordTooLargeError, RecordListTooLargeError,
                    CorruptRecordException, InvalidTopicError)


def refused_for_good(error: KafkaError) -> bool:
    """Whether the relay holds the row the broker (or the producer) refused with ``error``."""
    return isinstance(error, _RECORD_REFUSALS)


async def pending_count(pool: asyncpg.Pool) -> int:
    return (await pending_counts(pool))[0]


async def pending_counts(pool: asyncpg.Pool) -> tuple[int, int]:
    """Unsent outbox rows: (events, signed checkpoints). Nothing waits for a checkpoint on the
    way to a consumer, so /health reports them apart (an auditor's read waits for both)."""
    row = await pool.fetchrow(
        "SELECT count(*) FILTER (WHERE topic NOT LIKE 'grants.%.audit.v1') AS events,"
        " count(*) FILTER (WHERE topic LIKE 'grants.%.audit.v1') AS checkpoints"
        " FROM outbox WHERE sent_at IS NULL")
    return int(row["events"]), int(row["checkpoints"])
