"""The outbox Emitter writes a large unit of work in chunks (``servicekit.outbox.FLUSH_CHUNK``
events per ``servicekit_append_events`` call, issue 22: an allocation's 10,000 decisions were
encoded and sent at once). On PostgreSQL: the outbox rows keep the emit order, each aggregate's
sequences run on across chunks, the audit chain links across them, and an event too large in a
later chunk leaves nothing in the outbox."""

from __future__ import annotations

import json
import uuid

import asyncpg
import pytest

from contracts.assessment import PriorAwardImported
from contracts.base import Actor
from contracts.registry import decode
from servicekit import audit_chain, outbox
from servicekit.clock import SystemClock
from servicekit.outbox import Cause, Emitter, EventTooLarge

pytestmark = pytest.mark.integration
CAUSE = Cause(actor=Actor(id="svc-test", role="system"), correlation_id="c-chunks")



def award(n: int, programme: str = "chunks") -> PriorAwardImported:
    return PriorAwardImported(programme=programme, municipality_code="101",
                              pool_id=f"pool-{n}", cvr=None, kind=None)


async def test_a_flush_larger_than_a_chunk_keeps_order_sequences_and_chain(
        servicekit_database: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outbox, "FLUSH_CHUNK", 4)
    emitter = Emitter(SystemClock(), "outbox_chunks")
    aggregates = [f"agg-{n % 3}" for n in range(11)]  # three chunks: 4 + 4 + 3
    async with servicekit_database.acquire() as conn, conn.transaction():
        ids = [emitter.emit(award(n), aggregate_id=a, cause=CAUSE)
               for n, a in enumerate(aggregates)]
        written = await emitter.flush(conn)
    assert [e.event_id for e in written] == ids and emitter.flushed == 11
    rows = await servicekit_database.fetch("SELECT event_id, key, value FROM outbox ORDER BY id")
    assert [r["event_id"] for r in rows] == ids
    sequences: dict[str, list[int]] = {}
    for r in rows:
        sequences.setdefault(r["key"], []).append(decode(r["value"]).sequence)
    assert sequences == {a: list(range(1, aggregates.count(a) + 1)) for a in set(aggregates)}
    chain = [audit_chain.ChainEntry(r["seq"], str(r["event_id"]), json.loads(r["entry"]),
                                    r["prev_hash"], r["entry_hash"])
             for r in await servicekit_database.fetch("SELECT * FROM audit_log ORDER BY seq")]
    assert [uuid.UUID(e.event_id) for e in chain] == ids
    assert audit_chain.verify(chain) is None


async def test_an_event_too_large_in_a_later_chunk_leaves_nothing_in_the_outbox(
        servicekit_database: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outbox, "FLUSH_CHUNK", 2)
    emitter = Emitter(SystemClock(), "outbox_chunks", max_message_bytes=1_000)
    with pytest.raises(EventTooLarge):
        async with servicekit_database.acquire() as conn, conn.transaction():
            for n in range(4):
                emitter.emit(award(n), aggregate_id="agg", cause=CAUSE)
            emitter.emit(award(9, programme="x" * 1_000), aggregate_id="agg", cause=CAUSE)
            await emitter.flush(conn)
    assert await servicekit_database.fetchval("SELECT count(*) FROM outbox") == 0
    assert await servicekit_database.fetchval("SELECT count(*) FROM audit_log") == 0
