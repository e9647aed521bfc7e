"""Reporting's event consumer and its time-driven rule (the HTTP routes are in :mod:`.routes`,
the command handlers they run in :mod:`.service`).

Each input event and each command is one transaction: record the event(s) the overview needs,
lock the grant file it changes, evolve it with the domain, emit what the domain decided, save.
Events this service emits are also recorded (after an explicit flush to the outbox, in the same
transaction), so a grant's timeline and the pool overview show reporting's own events at once.

Aggregate id: the application id, for every event about one grant.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import asyncpg

from contracts.assessment import GrantAwarded
from contracts.envelope import Envelope
from contracts.finance import PaymentExecuted, PaymentFailed
from contracts.payments import (
    AwardAccepted, AwardLapsed, OverpaymentClaimed, PaymentInstructed, PaymentResultRecorded,
    RevisedBudgetApproved,
)
from servicekit.clock import Clock
from servicekit.consumer import Handler, Incoming
from servicekit.logging import get_logger
from servicekit.outbox import Cause, Emitter, cause_of_event
from servicekit.scheduler import Tick
from servicekit.service import ServiceRuntime
from services.reporting.domain import apply_payload, evolve, settle_repayment
from services.reporting.scheduled import overdue_reports_due
from services.reporting.service import flush_and_record, sweep_overdue
from services.reporting.store import ReportingStore

log = get_logger(__name__)
FINANCE_ROLE = "finance"
# The input events that change a grant file (finance results are routed by instruction).
_FILE_EVENTS = (GrantAwarded, AwardAccepted, AwardLapsed, RevisedBudgetApproved,
                PaymentInstructed, PaymentResultRecorded, OverpaymentClaimed)


# -- consumer ----------------------------------------------------------------------------------

def event_handler(runtime: ServiceRuntime) -> Handler:
    """One handler for every input topic: keep the event, evolve the grant file it names, and
    settle a repayment a late finance result changed (R22)."""

    async def on_event(conn: asyncpg.Connection, item: Incoming, emitter: Emitter) -> None:
        envelope, payload = item.envelope, item.envelope.payload
        store = ReportingStore(conn)
        cause = cause_of_event(envelope, runtime.name)
        if isinstance(payload, (PaymentExecuted, PaymentFailed)):
            if envelope.actor.role != FINANCE_ROLE:
                # Payments dead-letters it; here it is simply not a payment result.
                log.warning("finance_result_not_from_finance", role=envelope.actor.role)
                return
            owner = await store.grant_of_instruction(payload.instruction_id)
            await store.record_events([envelope], origin="consumed", application_id=owner,
                                      topic=item.topic)
            if owner is not None:
                await _evolve(store, emitter, runtime.clock, owner, [envelope], cause)
            return  # else applied when its instruction arrives
        await store.record_events([envelope], origin="consumed", topic=item.topic)
        application_id = getattr(payload, "application_id", None)
        if not isinstance(payload, _FILE_EVENTS) or application_id is None:
            return
        later: list[Envelope[Any]] = []
        if isinstance(payload, PaymentInstructed):
            await store.index_instruction(payload.instruction_id, application_id)
            later = await store.unrouted_results(payload.instruction_id)
            await store.route_results(payload.instruction_id, application_id)
        await _evolve(store, emitter, runtime.clock, application_id, [envelope, *later], cause)

    return on_event


async def _evolve(store: ReportingStore, emitter: Emitter, clock: Clock, application_id: UUID,
                  envelopes: Sequence[Envelope[Any]], cause: Cause) -> None:
    state = await store.lock_file(application_id, create=True)
    assert state is not None
    updated = state
    for envelope in envelopes:
        updated = evolve(updated, envelope)
    # A payment result after the accepted final report: the difference is claimed now.
    settled = settle_repayment(updated)
    for event in settled:
        updated = apply_payload(updated, event, clock.now())
        emitter.emit(event, aggregate_id=str(application_id), cause=cause)
    if updated != state:
        await store.save_file(updated)
    if settled:
        await flush_and_record(store, emitter)


def scheduled_rules(runtime: ServiceRuntime) -> None:
    """Reporting's time-driven rules, run by the service's scheduler on its clock."""

    async def overdue_reports(tick: Tick) -> dict[str, Any]:
        return {"overdue": await sweep_overdue(runtime, tick.now, tick.cause)}

    runtime.schedule("overdue_reports", overdue_reports, overdue_reports_due)
