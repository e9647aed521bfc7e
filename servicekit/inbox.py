"""Inbox: a consumer records each event id it processed in the same transaction as the effect.

A duplicate delivery finds its id already there and is skipped: offsets are not identity.
"""

from __future__ import annotations

from uuid import UUID

import asyncpg


async def claim(conn: asyncpg.Connection, consumer: str, event_ids: list[UUID]) -> set[UUID]:
    """Record ``event_ids`` for ``consumer``; return those not processed before."""
    if not event_ids:
        return set()
    rows = await conn.fetch(
        "INSERT INTO inbox (consumer, event_id) SELECT $1, unnest($2::uuid[])"
        " ON CONFLICT DO NOTHING RETURNING event_id",
        consumer, event_ids,
    )
    return {r["event_id"] for r in rows}
