"""Payments' time-driven rules, run by the service's scheduler on its clock
(:mod:`servicekit.scheduler`): ``acceptance_lapse`` — an award not accepted by its deadline
lapses (R14), the same decision ``/ops/sweep`` makes for an operator."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from servicekit.outbox import Cause
from servicekit.scheduler import Tick
from servicekit.service import ServiceRuntime, UnitOfWork
from services.payments.domain import lapse_overdue
from services.payments.handlers import _instant, _save
from services.payments.store import PaymentsStore


async def lapse_unaccepted(runtime: ServiceRuntime, now: datetime, cause: Cause
                           ) -> list[dict[str, Any]]:
    """Every award still unaccepted after its deadline at ``now`` lapses, once."""

    async def work(uow: UnitOfWork) -> list[dict[str, Any]]:
        store = PaymentsStore(uow.conn)
        lapsed = []
        for state in await store.lock_unaccepted_grants():
            events = lapse_overdue(state, now)
            await _save(uow, store, state, events, cause)
            lapsed += [{"application_id": str(e.application_id), "reason": e.reason,
                        "lapsed_at": _instant(e.lapsed_at)} for e in events]
        return lapsed

    return await runtime.in_transaction(work)


def scheduled_rules(runtime: ServiceRuntime) -> None:
    async def acceptance_lapse(tick: Tick) -> dict[str, Any]:
        return {"lapsed": await lapse_unaccepted(runtime, tick.now, tick.cause)}

    runtime.schedule("acceptance_lapse", acceptance_lapse)
