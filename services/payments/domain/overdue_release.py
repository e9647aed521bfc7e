"""A late report, once accepted, releases the hold its overdue notice caused (R18, issue 16).

Reporting says so with ``OverdueReportResolved`` (the grant, the report kind and due date the
notice named, and the accepted report). The hold that notice placed has a deterministic id
(:func:`~services.payments.domain.ids.overdue_hold_id`), so exactly that hold is released — no
person is involved, so the two-person rule (R19) does not apply to it. Every other hold (placed
or kept by people) is released only by two people, as before.
"""

from __future__ import annotations

from datetime import datetime

from contracts.payments import PaymentsReleased
from contracts.reporting import OverdueReportResolved
from services.payments.domain.holds import HoldBook
from services.payments.domain.ids import overdue_hold_id
from services.payments.domain.state import require_aware

AUTOMATIC = "automatic"
"""``requested_by`` / ``approved_by`` of a release no person made."""


def release_resolved_overdue(book: HoldBook | None, resolved: OverdueReportResolved,
                             now: datetime) -> list[PaymentsReleased]:
    """The release of the resolved notice's hold, if it is still held; else nothing (released
    by people before, never placed, or a redelivery)."""
    require_aware(now)
    if book is not None and book.cvr != resolved.cvr:
        raise ValueError("the hold book belongs to another CVR")
    hold = book.hold(overdue_hold_id(resolved.application_id, resolved.kind, resolved.due)) \
        if book is not None else None
    if book is None or hold is None or not hold.active:
        return []
    return [PaymentsReleased(hold_id=hold.hold_id, cvr=book.cvr, requested_by=AUTOMATIC,
                             approved_by=AUTOMATIC, released_at=now,
                             resolved_by_report=resolved.report_id)]
