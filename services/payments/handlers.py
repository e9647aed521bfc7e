"""Payments' event consumer: awards, finance results and overdue reports (the HTTP routes are in
:mod:`.routes`, the command handlers they run in :mod:`.service`).

Each event is one transaction: lock the state it changes (see :mod:`.store` for the lock
order), run the domain, apply the returned events (``apply`` / ``evolve_holds``), emit them to the
outbox, save. Aggregate ids: the application id for everything about one grant; a hold's events
carry the application id of the overdue report that caused it (the CVR when it has none); a
finance result for an instruction no grant knows carries the instruction id.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

from contracts.assessment import GrantAwarded
from contracts.finance import PaymentExecuted, PaymentFailed
from contracts.payments import PaymentResultRecorded
from contracts.reporting import OverdueReportResolved, ReportOverdue
from servicekit.consumer import Handler, Incoming, PoisonMessage
from servicekit.logging import get_logger
from servicekit.outbox import Cause, Emitter, cause_of_event
from servicekit.service import ServiceRuntime
from services.payments.domain import (
    apply,
    evolve_holds,
    hold_for_overdue_report,
    open_account,
    record_result,
)
from services.payments.overdue_release import release_for_resolved_report
from services.payments.store import PaymentsStore

log = get_logger(__name__)
FINANCE_ROLE = "finance"


# -- consumer: awards, finance results, overdue reports ------------------------------------------

def event_handler(runtime: ServiceRuntime) -> Handler:
    """One handler for the three input topics; other event types on them are ignored. A late
    report accepted (``OverdueReportResolved``) releases the hold its notice caused."""

    async def on_event(conn: asyncpg.Connection, item: Incoming, emitter: Emitter) -> None:
        envelope = item.envelope
        event = envelope.payload
        cause = cause_of_event(envelope, runtime.name)
        store = PaymentsStore(conn)
        if isinstance(event, GrantAwarded):
            await _open_account(store, event, emitter, cause)
        elif isinstance(event, (PaymentExecuted, PaymentFailed)):
            if envelope.actor.role != FINANCE_ROLE:
                raise PoisonMessage(f"a finance result must come from role {FINANCE_ROLE!r}, "
                                    f"not {envelope.actor.role!r}")
            await _record_result(store, event, emitter, cause, runtime.clock.now())
        elif isinstance(event, ReportOverdue):
            await _hold(store, event, emitter, cause, runtime.clock.now())
        elif isinstance(event, OverdueReportResolved):
            await release_for_resolved_report(store, event, emitter, cause, runtime.clock.now())

    return on_event


async def _open_account(store: PaymentsStore, award: GrantAwarded, emitter: Emitter,
                        cause: Cause) -> None:
    await store.ensure_hold_book(award.applicant.cvr)  # lock order: the book exists first
    state = await store.lock_grant(award.application_id)
    events = open_account(state, award)
    if not events:
        return  # the same award again (another event id): opened once
    opened = apply(None, [award, *events])
    assert opened is not None
    await store.save_grant(opened)
    for event in events:
        emitter.emit(event, aggregate_id=str(award.application_id), cause=cause)


async def _record_result(store: PaymentsStore, result: PaymentExecuted | PaymentFailed,
                         emitter: Emitter, cause: Cause, now: datetime) -> None:
    application_id = await store.grant_of_instruction(result.instruction_id)
    state = await store.lock_grant(application_id) if application_id is not None else None
    events = record_result(state, result, now)
    for event in events:
        if isinstance(event, PaymentResultRecorded) and event.outcome == "unknown_instruction":
            log.warning("finance_result_unknown_instruction",
                        instruction_id=str(result.instruction_id))
        aggregate = event.application_id or event.instruction_id
        emitter.emit(event, aggregate_id=str(aggregate), cause=cause)
    if state is not None and any(not isinstance(e, PaymentResultRecorded)
                                 or e.outcome in ("executed", "failed") for e in events):
        updated = apply(state, events)
        assert updated is not None
        await store.save_grant(updated)


async def _hold(store: PaymentsStore, report: ReportOverdue, emitter: Emitter, cause: Cause,
                now: datetime) -> None:
    book = await store.lock_hold_book(report.cvr, create=True)
    events = hold_for_overdue_report(book, report, now)
    for event in events:
        book = evolve_holds(book, event)
        await store.index_hold(event.hold_id, event.cvr)
        emitter.emit(event, aggregate_id=str(report.application_id), cause=cause)
    if events:
        assert book is not None
        await store.save_hold_book(book)
