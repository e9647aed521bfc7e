"""Inbox: a consumer records each event id it processed in the same transaction as the effect.

A duplicate delivery finds its id already there and is skipped: offsets are not identity.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar
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


class _Delivery(Protocol):
    @property
    def dedup_id(self) -> UUID | None: ...


D = TypeVar("D", bound=_Delivery)


def first_deliveries(items: Sequence[D], fresh: set[UUID]) -> list[D]:
    """The deliveries to process: those without an id, and the first copy of each id claimed now.
    A second copy in the same batch (a re-published record next to its original) is a duplicate
    delivery as much as one in a later batch."""
    unclaimed = set(fresh)
    todo: list[D] = []
    for item in items:
        if item.dedup_id is None:
            todo.append(item)
        elif item.dedup_id in unclaimed:
            unclaimed.discard(item.dedup_id)
            todo.append(item)
    return todo
