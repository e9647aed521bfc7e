"""Payments' time-driven rules, run by the service's scheduler on its clock
(:mod:`servicekit.scheduler`): ``acceptance_lapse`` — an award not accepted by its deadline
lapses (R14), the same decision ``/ops/sweep`` makes for an operator; ``payment_run`` — on a
grant's due dates (a period of its governing budget has begun and has no instruction yet) the
ledger's run pays what is due by the service's date (R17), the same run ``POST /payment-runs``
makes for a caseworker."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from servicekit.outbox import Cause
from servicekit.scheduler import Tick
from servicekit.service import ServiceRuntime, UnitOfWork
from contracts.payments import PaymentInstructed
from services.payments.domain import a_period_fell_due, instruct_due, run_date
from services.payments.service import LapseUnaccepted, lapse_unaccepted, save_grant
from services.payments.store import PaymentsStore


async def pay_due_periods(runtime: ServiceRuntime, now: datetime, cause: Cause
                          ) -> dict[str, int]:
    """The scheduled payment run at ``now``: only grants for which a due date has come."""
    today = run_date(now)

    async def work(uow: UnitOfWork) -> dict[str, int]:
        store = PaymentsStore(uow.conn)
        books = await store.share_lock_hold_books()  # lock order: books, then grants
        counts = {"instructions": 0, "claims": 0}
        for state in await store.lock_accepted_grants():
            if not a_period_fell_due(state, today):
                continue
            events = instruct_due(state, today, books.get(state.cvr))
            for event in events:
                if isinstance(event, PaymentInstructed):
                    await store.index_instruction(event.instruction_id, event.application_id)
                    counts["instructions"] += 1
                else:
                    counts["claims"] += 1
            await save_grant(uow, store, state, events, cause)
        return counts

    return await runtime.in_transaction(work)


def scheduled_rules(runtime: ServiceRuntime) -> None:
    async def acceptance_lapse(tick: Tick) -> dict[str, Any]:
        return {"lapsed": await runtime.handle(lapse_unaccepted,
                                               LapseUnaccepted(tick.now, tick.cause))}

    async def payment_run(tick: Tick) -> dict[str, Any]:
        return await pay_due_periods(runtime, tick.now, tick.cause)

    runtime.schedule("acceptance_lapse", acceptance_lapse)
    runtime.schedule("payment_run", payment_run)
