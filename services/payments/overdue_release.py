"""The consumer side of :mod:`services.payments.domain.overdue_release`: reporting's
``OverdueReportResolved`` releases the hold its overdue notice caused, in the consumer's
transaction."""

from __future__ import annotations

from datetime import datetime

from contracts.reporting import OverdueReportResolved
from servicekit.outbox import Cause, Emitter
from services.payments.domain import evolve_holds
from services.payments.domain.overdue_release import release_resolved_overdue
from services.payments.store import PaymentsStore


async def release_for_resolved_report(store: PaymentsStore, resolved: OverdueReportResolved,
                                      emitter: Emitter, cause: Cause, now: datetime) -> None:
    book = await store.lock_hold_book(resolved.cvr)
    events = release_resolved_overdue(book, resolved, now)
    for event in events:
        assert book is not None
        book = evolve_holds(book, event)
        emitter.emit(event, aggregate_id=str(resolved.application_id), cause=cause)
    if events:
        assert book is not None
        await store.save_hold_book(book)
