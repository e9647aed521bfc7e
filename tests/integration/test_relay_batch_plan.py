"""The relay's next-batch query (``servicekit.relay._NEXT_BATCH``) stays linear in a burst on
PostgreSQL, whatever the statistics say: 10,000 unsent rows arrive after the outbox was last
analysed (so the planner believes in one unsent row), and one batch of 2,000 must read a few
pages per row, not the whole backlog per row (the correlated anti-join it replaced read ~4
million buffers here: 1.5-10 s a batch). Counted in buffers, not timed. A held row (one key
stopped) keeps the rows behind it back and lets every other key through."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import asyncpg
import pytest

from servicekit.relay import _NEXT_BATCH

pytestmark = pytest.mark.integration
BATCH = 2000


@pytest.fixture
async def burst(servicekit_database: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    async with servicekit_database.acquire() as conn:
        await conn.execute(
            "INSERT INTO outbox (event_id, topic, key, value, sent_at) SELECT"
            " gen_random_uuid(), 't', 'k' || g, repeat('x', 1500)::bytea, now()"
            " FROM generate_series(1, 200) g")
        await conn.execute("ANALYZE outbox")  # statistics from before the burst
        await conn.execute(
            "INSERT INTO outbox (event_id, topic, key, value) SELECT"
            " gen_random_uuid(), 't', 'k' || (g % 500), repeat('x', 1500)::bytea"
            " FROM generate_series(1, 10000) g")
        yield conn


def _buffers(plan: dict) -> int:  # type: ignore[type-arg]
    return int(plan.get("Shared Hit Blocks", 0)) + int(plan.get("Shared Read Blocks", 0))


async def test_a_batch_reads_pages_per_row_not_the_backlog_per_row(
        burst: asyncpg.Connection) -> None:
    [row] = await burst.fetch("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + _NEXT_BATCH, BATCH)
    plan = json.loads(row[0])[0]["Plan"]
    assert plan["Actual Rows"] == BATCH
    assert _buffers(plan) < 20 * BATCH, json.dumps(plan)[:2000]


async def test_a_held_row_keeps_back_only_its_own_key(burst: asyncpg.Connection) -> None:
    first = await burst.fetchval("SELECT min(id) FROM outbox WHERE sent_at IS NULL")
    await burst.execute("UPDATE outbox SET held_at = now() WHERE id = $1", first + 7)
    held_key = await burst.fetchval("SELECT key FROM outbox WHERE id = $1", first + 7)
    rows = await burst.fetch(_NEXT_BATCH, BATCH)
    assert len(rows) == BATCH
    assert [r["id"] for r in rows] == sorted(r["id"] for r in rows)
    assert all(r["key"] != held_key or r["id"] < first + 7 for r in rows)
    assert first + 7 not in {r["id"] for r in rows}
    ahead = [r for r in rows if r["key"] == held_key]
    assert all(r["id"] < first + 7 for r in ahead)
