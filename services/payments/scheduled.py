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
from servicekit.service import ServiceRuntime
from contracts.payments import PaymentInstructed
from services.payments.domain import run_date
from services.payments.service import LapseUnaccepted, RunPayments, lapse_unaccepted, run_payments


async def pay_due_periods(runtime: ServiceRuntime, now: datetime, cause: Cause
                          ) -> dict[str, int]:
    """The scheduled payment run at ``now``: only grants for which a due date has come."""
    result = await runtime.handle(run_payments, RunPayments(run_date(now), None, cause))
    instructions = sum(isinstance(e, PaymentInstructed) for e in result.events)
    return {"instructions": instructions, "claims": len(result.events) - instructions}


def scheduled_rules(runtime: ServiceRuntime) -> None:
    async def acceptance_lapse(tick: Tick) -> dict[str, Any]:
        return {"lapsed": await runtime.handle(lapse_unaccepted,
                                               LapseUnaccepted(tick.now, tick.cause))}

    async def payment_run(tick: Tick) -> dict[str, Any]:
        return await pay_due_periods(runtime, tick.now, tick.cause)

    runtime.schedule("acceptance_lapse", acceptance_lapse)
    runtime.schedule("payment_run", payment_run)
