"""When reporting's time-driven rule is next due (:mod:`servicekit.scheduler`, "next due"):
the overdue sweep (``overdue_reports``) reads the open files whose stored ``overdue_from`` has
come (:func:`~.domain.overdue_from`, 003_overdue_from.sql) and any row whose stored instant is
not known to be current, so it is next due at the earliest such instant, read by that column's
index, or at any time while a row is not current."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from servicekit.scheduler import ANY_TIME


async def overdue_reports_due(conn: asyncpg.Connection) -> datetime | None:
    if await conn.fetchval("SELECT EXISTS (SELECT 1 FROM grant_files"
                           " WHERE overdue_from_of IS DISTINCT FROM updated_at)"):
        return ANY_TIME
    first: datetime | None = await conn.fetchval(
        "SELECT overdue_from FROM grant_files WHERE overdue_from IS NOT NULL"
        " AND jsonb_typeof(state->'award') = 'object' AND NOT (state->>'lapsed')::boolean"
        " AND state->>'final_report_id' IS NULL ORDER BY overdue_from LIMIT 1")
    return first
