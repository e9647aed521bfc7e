"""asyncpg repositories for the reporting state: grant files, the instruction index, and the
events the overview, timelines and exports are built from.

A grant file is JSONB per application, written back whole after the domain evolved it. Writers
lock the file they change with ``SELECT … FOR UPDATE`` inside the caller's transaction; a
transaction that locks several (the sweep) locks them in ``application_id`` order.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from contracts.envelope import Envelope
from contracts.registry import EVENTS, decode
from services.reporting.domain import GrantFile, overdue_from
from servicekit.jsonb_repository import KeyIndex

# Routes a finance result (named by its instruction) to its grant file.
INSTRUCTIONS = KeyIndex("instruction_index", "instruction_id", "application_id")


class ReportingStore:
    """The repositories, bound to one connection (and its open transaction)."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    # -- grant files ---------------------------------------------------------------------------
    async def read_file(self, application_id: UUID) -> GrantFile | None:
        state = await self.conn.fetchval(
            "SELECT state FROM grant_files WHERE application_id = $1", application_id)
        return None if state is None else GrantFile.model_validate_json(state)

    async def lock_file(self, application_id: UUID, *, create: bool = False) -> GrantFile | None:
        """The file, locked; with ``create`` an empty one is made first if missing."""
        lock = "SELECT state FROM grant_files WHERE application_id = $1 FOR UPDATE"
        state = await self.conn.fetchval(lock, application_id)
        if state is None and create:
            # Only a missing file costs the insert (one round trip less per event on an existing
            # file); a concurrent creator makes ON CONFLICT a no-op and the lock waits for it.
            await self.conn.execute(
                "INSERT INTO grant_files (application_id, state) VALUES ($1, $2::jsonb)"
                " ON CONFLICT (application_id) DO NOTHING",
                application_id, GrantFile.new(application_id).model_dump_json())
            state = await self.conn.fetchval(lock, application_id)
        return None if state is None else GrantFile.model_validate_json(state)

    async def open_files(self, due_by: datetime | None = None) -> list[GrantFile]:
        """Every awarded file that neither lapsed nor has an accepted final report, unlocked
        (what the overdue sweep looks at; it locks the ones it changes). With ``due_by``, only
        those whose stored ``overdue_from`` is at or before it, and those whose stored instant
        is not known to be current (see 003_overdue_from.sql)."""
        due = ("" if due_by is None else
               " AND (overdue_from <= $1 OR overdue_from_of IS DISTINCT FROM updated_at)")
        rows = await self.conn.fetch(
            "SELECT state FROM grant_files WHERE jsonb_typeof(state->'award') = 'object'"
            " AND NOT (state->>'lapsed')::boolean AND state->>'final_report_id' IS NULL"
            f"{due} ORDER BY application_id", *(() if due_by is None else (due_by,)))
        return [GrantFile.model_validate_json(r["state"]) for r in rows]

    async def awarded_files(self) -> list[GrantFile]:
        rows = await self.conn.fetch(
            "SELECT state FROM grant_files WHERE jsonb_typeof(state->'award') = 'object'"
            " ORDER BY application_id")
        return [GrantFile.model_validate_json(r["state"]) for r in rows]

    async def save_file(self, state: GrantFile) -> None:
        await self.conn.execute(
            "INSERT INTO grant_files (application_id, state, overdue_from, overdue_from_of)"
            " VALUES ($1, $2::jsonb, $3, now())"
            " ON CONFLICT (application_id) DO UPDATE SET state = EXCLUDED.state,"
            " overdue_from = EXCLUDED.overdue_from, updated_at = now(), overdue_from_of = now()",
            state.application_id, state.model_dump_json(), overdue_from(state))

    # -- instruction index ---------------------------------------------------------------------
    async def index_instruction(self, instruction_id: UUID, application_id: UUID) -> None:
        await INSTRUCTIONS.put(self.conn, instruction_id, application_id)

    async def grant_of_instruction(self, instruction_id: UUID) -> UUID | None:
        value: UUID | None = await INSTRUCTIONS.get(self.conn, instruction_id)
        return value

    # -- events ----------------------------------------------------------------------------------
    async def record_events(
        self, envelopes: Iterable[Envelope[Any]], *, origin: str,
        application_id: UUID | None = None, topic: str | None = None,
    ) -> None:
        """Keep events for the overview; one row per event id (a redelivery is a no-op)."""
        rows = []
        for env in envelopes:
            p = env.payload
            app = getattr(p, "application_id", None) or application_id
            spec = EVENTS.get(env.event_type)
            rows.append((env.event_id, env.event_type,
                         topic or (spec.topic.name if spec else ""), origin, app,
                         getattr(p, "pool_id", None), getattr(p, "instruction_id", None),
                         env.occurred_at, env.model_dump_json()))
        await self.conn.executemany(
            "INSERT INTO events (event_id, event_type, topic, origin, application_id, pool_id,"
            " instruction_id, occurred_at, envelope)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb) ON CONFLICT DO NOTHING", rows)

    async def unrouted_results(self, instruction_id: UUID) -> list[Envelope[Any]]:
        """Finance results that arrived before their instruction, in the order they occurred."""
        rows = await self.conn.fetch(
            "SELECT envelope FROM events WHERE application_id IS NULL AND instruction_id = $1"
            " AND event_type IN ('PaymentExecuted', 'PaymentFailed')"
            " ORDER BY occurred_at, recorded_seq", instruction_id)
        return [_decode(r["envelope"]) for r in rows]

    async def route_results(self, instruction_id: UUID, application_id: UUID) -> None:
        await self.conn.execute(
            "UPDATE events SET application_id = $2 WHERE application_id IS NULL"
            " AND instruction_id = $1", instruction_id, application_id)

    async def events_of_application(self, application_id: UUID) -> list[Envelope[Any]]:
        rows = await self.conn.fetch(
            "SELECT envelope FROM events WHERE application_id = $1"
            " ORDER BY occurred_at, recorded_seq", application_id)
        return [_decode(r["envelope"]) for r in rows]

    async def events_of_pool(self, pool_id: str) -> list[Envelope[Any]]:
        """The pool's own events and every event of an application that names the pool."""
        rows = await self.conn.fetch(
            "SELECT envelope FROM events WHERE pool_id = $1 OR application_id IN ("
            " SELECT application_id FROM events WHERE pool_id = $1"
            " AND application_id IS NOT NULL)"
            " ORDER BY occurred_at, recorded_seq", pool_id)
        return [_decode(r["envelope"]) for r in rows]

    async def pool_titles(self) -> dict[str, str]:
        """Each pool's title in its highest published version."""
        rows = await self.conn.fetch(
            "SELECT DISTINCT ON (pool_id) pool_id, envelope->'payload'->'definition'->>'title'"
            " AS title FROM events WHERE event_type = 'PoolPublished'"
            " ORDER BY pool_id, (envelope->'payload'->>'version')::int DESC")
        return {r["pool_id"]: r["title"] for r in rows if r["title"]}


def _decode(raw: str) -> Envelope[Any]:
    return decode(json.loads(raw))
