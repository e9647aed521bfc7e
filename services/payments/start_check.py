"""The 6-month no-start check as a caseworker task (:mod:`services.payments.domain.start_check`):
the scheduler rule ``project_start_check`` that opens and closes tasks, the command handlers
(:func:`check_project_starts`, :func:`dismiss_task`), and the caseworkers' routes
``GET /tasks`` and ``POST /tasks/{task_id}/dismissal`` (a module-level router, dependencies as
in :mod:`.routes`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Body, Query

from contracts.base import Actor
from contracts.refusal import Refusal
from servicekit.outbox import Cause
from servicekit.scheduler import Tick
from servicekit.service import ServiceRuntime, UnitOfWork
from services.payments.domain import GrantAccount
from services.payments.domain.account import PROJECT_ZONE
from services.payments.domain.start_check import (
    KIND, close_start_check, dismiss_start_check, open_start_check,
)
from services.payments.requests import AsCaseworker, Caseworker, EmptyBody, Runtime
from services.payments.scheduled import project_start_check_due

_COLUMNS = "task_id, kind, application_id, due, opened_at, closed_at, outcome, closed_by"


class TaskStore:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def unchecked_grants(self, started_before: date) -> list[GrantAccount]:
        """Accepted, running grants with no start-check task yet whose period started before
        ``started_before`` (a coarse filter; the domain decides)."""
        rows = await self.conn.fetch(
            "SELECT g.state FROM grant_accounts g WHERE g.state->>'accepted_at' IS NOT NULL"
            " AND g.state->>'lapse' IS NULL"
            " AND (g.state->'project_period'->>'start')::date < $1"
            " AND NOT EXISTS (SELECT 1 FROM caseworker_tasks t"
            "  WHERE t.application_id = g.application_id AND t.kind = $2)"
            " ORDER BY g.application_id", started_before, KIND)
        return [GrantAccount.model_validate_json(r["state"]) for r in rows]

    async def open_tasks_with_grants(self) -> list[tuple[UUID, GrantAccount]]:
        rows = await self.conn.fetch(
            "SELECT t.task_id, g.state FROM caseworker_tasks t JOIN grant_accounts g"
            " USING (application_id) WHERE t.kind = $1 AND t.closed_at IS NULL"
            " ORDER BY t.task_id", KIND)
        return [(r["task_id"], GrantAccount.model_validate_json(r["state"])) for r in rows]

    async def insert(self, task_id: UUID, application_id: UUID, due: date,
                     opened_at: datetime) -> bool:
        inserted = await self.conn.fetchval(
            "INSERT INTO caseworker_tasks (task_id, kind, application_id, due, opened_at)"
            " VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING task_id",
            task_id, KIND, application_id, due, opened_at)
        return inserted is not None

    async def close(self, task_id: UUID, outcome: str, closed_by: str | None,
                    closed_at: datetime) -> bool:
        closed = await self.conn.fetchval(
            "UPDATE caseworker_tasks SET closed_at = $2, outcome = $3, closed_by = $4"
            " WHERE task_id = $1 AND closed_at IS NULL RETURNING task_id",
            task_id, closed_at, outcome, closed_by)
        return closed is not None

    async def lock(self, task_id: UUID) -> asyncpg.Record | None:
        return await self.conn.fetchrow(
            f"SELECT {_COLUMNS} FROM caseworker_tasks WHERE task_id = $1 FOR UPDATE", task_id)

    async def list(self, status: str) -> list[asyncpg.Record]:
        where = {"open": "closed_at IS NULL", "closed": "closed_at IS NOT NULL", "all": "true"}
        return list(await self.conn.fetch(
            f"SELECT {_COLUMNS} FROM caseworker_tasks WHERE {where[status]}"
            " ORDER BY opened_at, task_id LIMIT 1000"))


def _view(row: asyncpg.Record) -> dict[str, Any]:
    def instant(moment: datetime | None) -> str | None:
        return None if moment is None else moment.isoformat().replace("+00:00", "Z")
    return {"task_id": str(row["task_id"]), "kind": row["kind"],
            "application_id": str(row["application_id"]), "due": row["due"].isoformat(),
            "opened_at": instant(row["opened_at"]), "status": "open" if row["closed_at"] is None
            else "closed", "outcome": row["outcome"], "closed_by": row["closed_by"],
            "closed_at": instant(row["closed_at"])}


def _emit(uow: UnitOfWork, events: list[Any], cause: Cause) -> None:
    for event in events:
        uow.emit(event, aggregate_id=str(event.application_id), cause=cause)


@dataclass(frozen=True)
class CheckProjectStarts:
    """The scheduler's tick of ``project_start_check``: its time and cause."""

    now: datetime
    cause: Cause


async def check_project_starts(uow: UnitOfWork, cmd: CheckProjectStarts) -> dict[str, list[str]]:
    """The command handler: open a task for every project the window passed without a start;
    close the open tasks whose grant lapsed or now shows its start (the domain decides both)."""
    started_before = cmd.now.astimezone(PROJECT_ZONE).date() - timedelta(days=150)
    store = TaskStore(uow.conn)
    opened, closed = [], []
    for state in await store.unchecked_grants(started_before):
        for event in open_start_check(state, cmd.now):
            if await store.insert(event.task_id, event.application_id, event.due, cmd.now):
                _emit(uow, [event], cmd.cause)
                opened.append(str(event.application_id))
    for task_id, state in await store.open_tasks_with_grants():
        for ended in close_start_check(state, task_id, cmd.now):
            if await store.close(task_id, ended.outcome, None, cmd.now):
                _emit(uow, [ended], cmd.cause)
                closed.append(str(ended.application_id))
    return {"opened": opened, "closed": closed}


def start_check_rules(runtime: ServiceRuntime) -> None:
    async def project_start_check(tick: Tick) -> dict[str, list[str]]:
        return await runtime.handle(check_project_starts,
                                    CheckProjectStarts(tick.now, tick.cause))

    runtime.schedule("project_start_check", project_start_check, project_start_check_due)


@dataclass(frozen=True)
class DismissTask:
    """A caseworker dismisses an open start-check task (the grant goes on as it is)."""

    task_id: UUID
    actor: Actor
    now: datetime
    cause: Cause


async def dismiss_task(uow: UnitOfWork, cmd: DismissTask) -> dict[str, Any]:
    """The command handler: lock the task, ask the domain, close it and emit what it says."""
    store = TaskStore(uow.conn)
    row = await store.lock(cmd.task_id)
    if row is None:
        raise Refusal("task_not_found", f"no task {cmd.task_id}", "not_found")
    events = dismiss_start_check(cmd.task_id, row["application_id"], cmd.actor, cmd.now,
                                 row["outcome"] if row["closed_at"] is not None else None)
    if not events:
        return _view(row)
    await store.close(cmd.task_id, "dismissed", cmd.actor.id, cmd.now)
    _emit(uow, list(events), cmd.cause)
    closed = await store.lock(cmd.task_id)
    assert closed is not None
    return _view(closed)


router = APIRouter(tags=["payments"])


@router.get("/tasks")
async def tasks(runtime: Runtime, _: Caseworker,
                status: Annotated[Literal["open", "closed", "all"], Query()] = "open"
                ) -> dict[str, Any]:
    async with runtime.pool.acquire() as conn:
        rows = await TaskStore(conn).list(status)
    return {"tasks": [_view(r) for r in rows]}


@router.post("/tasks/{task_id}/dismissal")
async def dismiss(task_id: UUID, call: AsCaseworker, runtime: Runtime,
                  _: EmptyBody | None = Body(None)) -> dict[str, Any]:
    return await runtime.handle(dismiss_task, DismissTask(task_id, call.actor, call.now,
                                                          call.cause))
