"""Payments' time-driven rules, run by the service's scheduler on its clock
(:mod:`servicekit.scheduler`): ``acceptance_lapse`` — an award not accepted by its deadline
lapses (R14), the same decision ``/ops/sweep`` makes for an operator; ``payment_run`` — on a
grant's due dates (a period of its governing budget has begun and has no instruction yet) the
ledger's run pays what is due by the service's date (R17), the same run ``POST /payment-runs``
makes for a caseworker. Each rule says when it is next due (:mod:`.domain.due`), read from
indexed columns or from the few rows a rule could act on, never by decoding every grant."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from servicekit.outbox import Cause
from servicekit.scheduler import ANY_TIME, Tick
from servicekit.service import ServiceRuntime
from contracts.payments import PaymentInstructed
from services.payments.domain import GrantAccount, run_date
from services.payments.domain.due import lapse_from, payment_run_from, start_check_from
from services.payments.domain.start_check import KIND, close_start_check
from services.payments.service import LapseUnaccepted, RunPayments, lapse_unaccepted, run_payments


async def pay_due_periods(runtime: ServiceRuntime, now: datetime, cause: Cause
                          ) -> dict[str, int]:
    """The scheduled payment run at ``now``: only grants for which a due date has come."""
    result = await runtime.handle(run_payments, RunPayments(run_date(now), None, cause))
    instructions = sum(isinstance(e, PaymentInstructed) for e in result.events)
    return {"instructions": instructions, "claims": len(result.events) - instructions}


async def payment_run_due(conn: asyncpg.Connection) -> datetime | None:
    """The scheduled run reads the running grants whose stored due date has come, and any row
    whose stored date is not known to be current (004_payment_due.sql): the earliest such date,
    by the due-date index, or any time while a row is not current."""
    if await conn.fetchval("SELECT EXISTS (SELECT 1 FROM grant_accounts"
                           " WHERE payment_due_of IS DISTINCT FROM updated_at)"):
        return ANY_TIME
    first = await conn.fetchval(
        "SELECT payment_due FROM grant_accounts WHERE payment_due IS NOT NULL"
        " AND state->>'accepted_at' IS NOT NULL AND state->>'lapse' IS NULL"
        " ORDER BY payment_due LIMIT 1")
    return None if first is None else payment_run_from(first)


async def acceptance_lapse_due(conn: asyncpg.Connection) -> datetime | None:
    """The earliest deadline among the awards neither accepted nor lapsed (the rows the lapse
    rule reads), just after it."""
    deadlines = await conn.fetch(
        "SELECT state->>'acceptance_deadline' AS deadline FROM grant_accounts"
        " WHERE state->>'accepted_at' IS NULL AND state->>'lapse' IS NULL")
    return min((lapse_from(datetime.fromisoformat(r["deadline"])) for r in deadlines),
               default=None)


async def project_start_check_due(conn: asyncpg.Connection) -> datetime | None:
    """Any time while an open task's grant would close it; else the earliest day a running
    grant with no task yet is due its task (the rows the rule reads)."""
    open_tasks = await conn.fetch(
        "SELECT t.task_id, g.state FROM caseworker_tasks t JOIN grant_accounts g"
        " USING (application_id) WHERE t.kind = $1 AND t.closed_at IS NULL", KIND)
    for row in open_tasks:
        if close_start_check(GrantAccount.model_validate_json(row["state"]), row["task_id"],
                             ANY_TIME):
            return ANY_TIME
    rows = await conn.fetch(
        "SELECT g.state FROM grant_accounts g WHERE g.state->>'accepted_at' IS NOT NULL"
        " AND g.state->>'lapse' IS NULL AND NOT EXISTS (SELECT 1 FROM caseworker_tasks t"
        "  WHERE t.application_id = g.application_id AND t.kind = $1)", KIND)
    dues = (start_check_from(GrantAccount.model_validate_json(r["state"])) for r in rows)
    return min((d for d in dues if d is not None), default=None)


def scheduled_rules(runtime: ServiceRuntime) -> None:
    async def acceptance_lapse(tick: Tick) -> dict[str, Any]:
        return {"lapsed": await runtime.handle(lapse_unaccepted,
                                               LapseUnaccepted(tick.now, tick.cause))}

    async def payment_run(tick: Tick) -> dict[str, Any]:
        return await pay_due_periods(runtime, tick.now, tick.cause)

    runtime.schedule("acceptance_lapse", acceptance_lapse, acceptance_lapse_due)
    runtime.schedule("payment_run", payment_run, payment_run_due)
