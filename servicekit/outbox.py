"""Transactional outbox: events are rows written in the same transaction as the state change.

:class:`Emitter` collects the events a unit of work produces; :meth:`Emitter.flush` assigns each
its per-aggregate ``sequence``, writes it to ``outbox`` and appends it to the audit chain, all in
the caller's transaction, in two round trips (sequences; then ``servicekit_append_events``, which
writes the outbox rows and the pending chain entries and wakes the relay) — one more
``servicekit_append_events`` per :data:`FLUSH_CHUNK` events beyond the first, so a unit of work
with thousands of events never holds all their encoded rows at once. The chain entries are linked
and hashed when the transaction commits, inside it (migration ``004_chain_at_commit.sql``): the
chain's one-writer lock is held only while a COMMIT runs, not from the append to the COMMIT.
Nothing is published from a handler: :mod:`servicekit.relay` does that.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

import asyncpg

from contracts.base import Actor, Contract
from contracts.envelope import SIMULATED_TIME_HEADER, Envelope
from contracts.registry import envelope_of, spec_for
from servicekit import tracing
from servicekit.audit_chain import canonical
from servicekit.clock import Clock


def _printable(text: str) -> str:
    # Headers are stored as JSONB, which refuses NUL; a correlation id is an opaque label.
    return "".join(ch for ch in text if ch.isprintable())


def notify_channel(database: str) -> str:
    return f"outbox_{database}"


@dataclass(frozen=True)
class Cause:
    """Who and what caused the events of one unit of work (copied onto every envelope)."""

    actor: Actor
    correlation_id: str
    causation_id: str | None = None


@dataclass
class _Pending:
    payload: Contract
    aggregate_id: str
    cause: Cause
    occurred_at: datetime
    event_id: UUID
    traceparent: str | None  # the span that emitted it (servicekit.tracing), when traced


@dataclass
class EventTooLarge(Exception):
    """An event whose encoded size is above the broker's ``max.message.bytes``: refused before
    it reaches the outbox (where it would stall the relay for ever), with a stable code; over
    HTTP a 413, in a consumer the record that caused it is dead-lettered with this code."""

    code = "event_too_large"
    http_status = 413

    def __init__(self, event_type: str, size: int, limit: int) -> None:
        self.message = (f"the {event_type} event this request causes would be {size} bytes; "
                        f"the broker takes at most {limit}")
        super().__init__(self.message)


DEFAULT_MAX_MESSAGE_BYTES = 1_000_000
"""Below Kafka's default ``max.message.bytes`` (1,048,588) with room for headers."""

FLUSH_CHUNK = 1000
"""Events encoded and written per ``servicekit_append_events`` call."""


@dataclass
class Emitter:
    clock: Clock
    channel: str
    pending: list[_Pending] = field(default_factory=list)
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    flushed: int = 0  # events written by every flush so far

    def emit(self, payload: Contract, *, aggregate_id: str, cause: Cause) -> UUID:
        """Queue an event; ``occurred_at`` is now (simulated time inside a simulated message)."""
        event_id = uuid4()
        self.pending.append(_Pending(payload, aggregate_id, cause, self.clock.now(), event_id,
                                     tracing.traceparent()))
        return event_id

    async def flush(self, conn: asyncpg.Connection) -> list[Envelope[Any]]:
        """Write queued events to outbox and audit chain in ``conn``'s open transaction, in
        queue order, :data:`FLUSH_CHUNK` at a time. An event too large raises
        :class:`EventTooLarge` out of the flush, so the transaction (with any chunk written
        before it) rolls back: nothing of it reaches the outbox."""
        if not self.pending:
            return []
        pending, self.pending = self.pending, []
        sequences = await _next_sequences(conn, [p.aggregate_id for p in pending])
        envelopes: list[Envelope[Any]] = []
        for start in range(0, len(pending), FLUSH_CHUNK):
            envelopes += await self._append(conn, pending[start:start + FLUSH_CHUNK], sequences)
        self.flushed += len(envelopes)
        return envelopes

    async def _append(self, conn: asyncpg.Connection, pending: list[_Pending],
                      sequences: dict[str, int]) -> list[Envelope[Any]]:
        envelopes: list[Envelope[Any]] = []
        columns: tuple[list[Any], ...] = ([], [], [], [], [], [])
        for p in pending:
            spec = spec_for(p.payload)
            seq = sequences[p.aggregate_id]
            sequences[p.aggregate_id] = seq + 1
            env = envelope_of(
                p.payload, event_id=p.event_id, occurred_at=p.occurred_at,
                correlation_id=p.cause.correlation_id, causation_id=p.cause.causation_id,
                actor=p.cause.actor, aggregate_id=p.aggregate_id, sequence=seq,
            )
            envelopes.append(env)
            headers = {"event_type": spec.event_type,
                       "correlation_id": _printable(p.cause.correlation_id)}
            if self.clock.simulated:
                headers[SIMULATED_TIME_HEADER] = p.occurred_at.isoformat()
            if p.traceparent is not None:
                headers[tracing.TRACEPARENT] = p.traceparent
            value = env.model_dump_json().encode()
            if len(value) > self.max_message_bytes:
                raise EventTooLarge(spec.event_type, len(value), self.max_message_bytes)
            entry = canonical(audit_entry(value, spec.topic.name)).decode()
            for column, item in zip(columns, (env.event_id, spec.topic.name, p.aggregate_id,
                                              value, json.dumps(headers), entry)):
                column.append(item)
        await conn.execute(
            "SELECT servicekit_append_events($1, $2, $3, $4, $5::jsonb[], $6, $7)",
            *columns, self.channel,
        )
        return envelopes


async def _next_sequences(conn: asyncpg.Connection, aggregate_ids: list[str]) -> dict[str, int]:
    """Reserve sequence numbers per aggregate; returns the first number for each aggregate."""
    counts: dict[str, int] = {}
    for a in aggregate_ids:
        counts[a] = counts.get(a, 0) + 1
    rows = await conn.fetch(
        "INSERT INTO aggregate_sequence (aggregate_id, last_sequence)"
        " SELECT * FROM unnest($1::text[], $2::int[])"
        " ON CONFLICT (aggregate_id) DO UPDATE"
        " SET last_sequence = aggregate_sequence.last_sequence + EXCLUDED.last_sequence"
        " RETURNING aggregate_id, last_sequence",
        list(counts), list(counts.values()),
    )
    return {r["aggregate_id"]: r["last_sequence"] - counts[r["aggregate_id"]] + 1 for r in rows}


def audit_entry(value: bytes, topic: str) -> dict[str, Any]:
    """What the chain hashes: the topic, the whole event as published, and the sha256 of its
    published bytes (so an auditor can match the log to the chain without re-encoding)."""
    return {"topic": topic, "event": json.loads(value),
            "value_sha256": hashlib.sha256(value).hexdigest()}


def cause_of_event(envelope: Envelope[Any], service: str) -> Cause:
    """Events a consumer emits in reaction keep the correlation; the consumed event is the cause."""
    return Cause(actor=Actor(id=f"svc-{service}", role="system"),
                 correlation_id=envelope.correlation_id, causation_id=str(envelope.event_id))
