"""Transactional outbox: events are rows written in the same transaction as the state change.

:class:`Emitter` collects the events a unit of work produces; :meth:`Emitter.flush` assigns each
its per-aggregate ``sequence``, writes it to ``outbox`` and appends it to the audit chain, all in
the caller's transaction. Nothing is published from a handler: :mod:`servicekit.relay` does that.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

import asyncpg

from contracts.base import Actor, Contract
from contracts.envelope import SIMULATED_TIME_HEADER, Envelope
from contracts.registry import spec_for
from servicekit.audit_chain import GENESIS, canonical, entry_hash
from servicekit.clock import Clock

_AUDIT_CHAIN_LOCK = 0x6175_6469  # "audi": one writer at a time extends the chain


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


@dataclass
class Emitter:
    clock: Clock
    channel: str
    pending: list[_Pending] = field(default_factory=list)
    written: list[Envelope[Any]] = field(default_factory=list)

    def emit(self, payload: Contract, *, aggregate_id: str, cause: Cause) -> UUID:
        """Queue an event; ``occurred_at`` is now (simulated time inside a simulated message)."""
        event_id = uuid4()
        self.pending.append(_Pending(payload, aggregate_id, cause, self.clock.now(), event_id))
        return event_id

    async def flush(self, conn: asyncpg.Connection) -> list[Envelope[Any]]:
        """Write queued events to outbox and audit chain in ``conn``'s open transaction."""
        if not self.pending:
            return []
        pending, self.pending = self.pending, []
        sequences = await _next_sequences(conn, [p.aggregate_id for p in pending])
        envelopes: list[Envelope[Any]] = []
        rows = []
        for p in pending:
            spec = spec_for(p.payload)
            seq = sequences[p.aggregate_id]
            sequences[p.aggregate_id] = seq + 1
            env = spec.envelope(
                event_id=p.event_id, event_type=spec.event_type,
                schema_version=spec.schema_version, occurred_at=p.occurred_at,
                correlation_id=p.cause.correlation_id, causation_id=p.cause.causation_id,
                actor=p.cause.actor, aggregate_id=p.aggregate_id, sequence=seq, payload=p.payload,
            )
            envelopes.append(env)
            headers = {"event_type": spec.event_type,
                       "correlation_id": _printable(p.cause.correlation_id)}
            if self.clock.simulated:
                headers[SIMULATED_TIME_HEADER] = p.occurred_at.isoformat()
            rows.append((env.event_id, spec.topic.name, p.aggregate_id,
                         env.model_dump_json().encode(), json.dumps(headers)))
        await conn.executemany(
            "INSERT INTO outbox (event_id, topic, key, value, headers) VALUES ($1,$2,$3,$4,$5)",
            rows,
        )
        await append_to_audit_chain(conn, [(env, row[1]) for env, row in zip(envelopes, rows)])
        await conn.execute("SELECT pg_notify($1, '')", self.channel)
        self.written += envelopes
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


def audit_entry(envelope: Envelope[Any], topic: str) -> dict[str, Any]:
    """What the chain hashes: the topic and the whole event as published."""
    return {"topic": topic, "event": json.loads(envelope.model_dump_json())}


async def append_to_audit_chain(
    conn: asyncpg.Connection, events: list[tuple[Envelope[Any], str]]
) -> None:
    await conn.execute("SELECT pg_advisory_xact_lock($1)", _AUDIT_CHAIN_LOCK)
    last = await conn.fetchrow("SELECT seq, entry_hash FROM audit_log ORDER BY seq DESC LIMIT 1")
    seq, prev = (last["seq"], last["entry_hash"]) if last else (0, GENESIS)
    rows = []
    for env, topic in events:
        entry = audit_entry(env, topic)
        seq += 1
        digest = entry_hash(prev, entry)
        rows.append((seq, env.event_id, canonical(entry).decode(), prev, digest))
        prev = digest
    await conn.executemany(
        "INSERT INTO audit_log (seq, event_id, entry, prev_hash, entry_hash)"
        " VALUES ($1,$2,$3,$4,$5)",
        rows,
    )


def cause_of_event(envelope: Envelope[Any], service: str) -> Cause:
    """Events a consumer emits in reaction keep the correlation; the consumed event is the cause."""
    return Cause(actor=Actor(id=f"svc-{service}", role="system"),
                 correlation_id=envelope.correlation_id, causation_id=str(envelope.event_id))
