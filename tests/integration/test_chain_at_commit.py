"""The audit chain is extended when a transaction commits (servicekit migration
004_chain_at_commit.sql), on PostgreSQL: an emitting transaction holds the chain's lock only
while its COMMIT runs, so a second one appends and commits while the first is still open; the
chain's order is commit order, each transaction's entries together in append order; a rolled-back
transaction leaves nothing pending and nothing chained."""

from __future__ import annotations

import asyncio
import json
import uuid

import asyncpg
import pytest

from contracts.assessment import PriorAwardImported
from contracts.base import Actor
from servicekit import audit_chain
from servicekit.clock import SystemClock
from servicekit.outbox import Cause, Emitter

pytestmark = pytest.mark.integration
CAUSE = Cause(actor=Actor(id="svc-test", role="system"), correlation_id="c-commit")



def emit(emitter: Emitter, n: int, aggregate: str) -> uuid.UUID:
    return emitter.emit(PriorAwardImported(programme="commit", municipality_code="101",
                                           pool_id=f"pool-{n}", cvr=None, kind=None),
                        aggregate_id=aggregate, cause=CAUSE)


async def chain(pool: asyncpg.Pool) -> list[audit_chain.ChainEntry]:
    entries = [audit_chain.ChainEntry(r["seq"], str(r["event_id"]), json.loads(r["entry"]),
                                      r["prev_hash"], r["entry_hash"])
               for r in await pool.fetch("SELECT * FROM audit_log ORDER BY seq")]
    assert audit_chain.verify(entries) is None
    return entries


async def test_a_second_transaction_appends_and_commits_while_the_first_is_open(
        servicekit_database: asyncpg.Pool) -> None:
    first, second = Emitter(SystemClock(), "c"), Emitter(SystemClock(), "c")
    async with servicekit_database.acquire() as a:
        ta = a.transaction()
        await ta.start()
        early = [emit(first, n, "agg-a") for n in range(2)]
        await first.flush(a)
        assert await a.fetchval("SELECT count(*) FROM audit_log") == 0  # chained at COMMIT
        # with the lock held from the append to COMMIT, this append waited for a's COMMIT
        async with servicekit_database.acquire() as b, b.transaction():
            late = [emit(second, n, "agg-b") for n in range(3)]
            await asyncio.wait_for(second.flush(b), timeout=10)
        assert [uuid.UUID(e.event_id) for e in await chain(servicekit_database)] == late
        await ta.commit()
    assert [uuid.UUID(e.event_id) for e in await chain(servicekit_database)] == late + early
    assert await servicekit_database.fetchval("SELECT count(*) FROM audit_pending") == 0


async def test_a_rolled_back_transaction_leaves_nothing_pending_or_chained(
        servicekit_database: asyncpg.Pool) -> None:
    emitter = Emitter(SystemClock(), "c")
    with pytest.raises(RuntimeError):
        async with servicekit_database.acquire() as conn, conn.transaction():
            emit(emitter, 1, "agg")
            await emitter.flush(conn)
            raise RuntimeError("the unit of work fails after its append")
    assert await servicekit_database.fetchval("SELECT count(*) FROM audit_pending") == 0
    assert await servicekit_database.fetchval("SELECT count(*) FROM audit_log") == 0
    assert await servicekit_database.fetchval("SELECT count(*) FROM outbox") == 0


async def test_concurrent_transactions_each_chain_together_in_append_order(
        servicekit_database: asyncpg.Pool) -> None:
    async def one(t: int) -> list[uuid.UUID]:
        emitter = Emitter(SystemClock(), "c")
        async with servicekit_database.acquire() as conn, conn.transaction():
            ids = [emit(emitter, n, f"agg-{t}-{n % 2}") for n in range(3)]
            await emitter.flush(conn)  # two appends in one transaction
            ids += [emit(emitter, n, f"agg-{t}-x") for n in range(3, 5)]
            await emitter.flush(conn)
        return ids

    runs = await asyncio.gather(*(one(t) for t in range(20)))
    entries = [uuid.UUID(e.event_id) for e in await chain(servicekit_database)]
    assert len(entries) == 100
    by_first = {ids[0]: ids for ids in runs}
    at = 0
    while at < len(entries):  # the chain is the transactions' runs, back to back
        ids = by_first.pop(entries[at])
        assert entries[at:at + len(ids)] == ids
        at += len(ids)
    assert not by_first
