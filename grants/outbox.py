"""The operators' view of outbox rows the relay holds (servicekit.relay: a row the broker
refused for good holds back only its own topic and key, see docs/production.md "Outbox held
rows"): list them per service, and clear a hold after the cause is fixed so the relay tries again.
Never reads a row's payload (it may hold personal data)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import asyncpg

from contracts.topics import PLATFORM_SERVICES, namespaced
from servicekit.outbox import notify_channel


@dataclass(frozen=True)
class HeldRow:
    service: str
    id: int
    topic: str
    key: str
    event_type: str | None
    held_at: datetime
    error: str
    behind: int  # unsent rows of the same topic and key waiting behind it

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "held_at": self.held_at.isoformat()}


def database_url(pg_url: str, service: str) -> str:
    """A service's database on the server at ``pg_url`` (no database in it), as the stack
    names it (under ``GRANTS_NAMESPACE`` too)."""
    return f"{pg_url.rstrip('/')}/{namespaced(service, '_')}"


_HELD = """
SELECT o.id, o.topic, o.key, o.headers, o.held_at, o.held_error,
       (SELECT count(*) FROM outbox b WHERE b.sent_at IS NULL AND b.held_at IS NULL
          AND b.topic = o.topic AND b.key = o.key AND b.id > o.id) AS behind
FROM outbox o WHERE o.held_at IS NOT NULL AND o.sent_at IS NULL ORDER BY o.id
"""


def _event_type(headers: Any) -> str | None:
    """The ``event_type`` header of the outbox row (its jsonb headers, never its value)."""
    if isinstance(headers, str):
        headers = json.loads(headers)
    value = headers.get("event_type") if isinstance(headers, dict) else None
    return value if isinstance(value, str) else None


async def held_rows(pg_url: str, services: Sequence[str] = PLATFORM_SERVICES) -> list[HeldRow]:
    rows: list[HeldRow] = []
    for service in services:
        conn = await asyncpg.connect(database_url(pg_url, service))
        try:
            for r in await conn.fetch(_HELD):
                rows.append(HeldRow(service, r["id"], r["topic"], r["key"],
                                    _event_type(r["headers"]), r["held_at"],
                                    r["held_error"] or "", r["behind"]))
        finally:
            await conn.close()
    return rows


async def retry(pg_url: str, service: str, ids: Sequence[int] | None) -> list[int]:
    """Clear the hold of the rows ``ids`` (every held row when None) of ``service``; the relay
    publishes them on its next poll, then the rows of their keys behind them, in order. Returns
    the ids cleared; an id that is not held is not touched."""
    conn = await asyncpg.connect(database_url(pg_url, service))
    try:
        cleared = await _clear(conn, ids)
        if cleared:  # wake the relay now instead of at its next poll
            await conn.execute("SELECT pg_notify($1, '')",
                               notify_channel(namespaced(service, "_")))
        return cleared
    finally:
        await conn.close()


async def _clear(conn: asyncpg.Connection, ids: Sequence[int] | None) -> list[int]:
    if ids is None:
        cleared = await conn.fetch(
            "UPDATE outbox SET held_at = NULL WHERE held_at IS NOT NULL AND sent_at IS NULL"
            " RETURNING id")
    else:
        cleared = await conn.fetch(
            "UPDATE outbox SET held_at = NULL WHERE id = ANY($1::bigint[])"
            " AND held_at IS NOT NULL AND sent_at IS NULL RETURNING id", list(ids))
    return sorted(r["id"] for r in cleared)
