"""Holds on a grantee's payments (R18) and the two-person rules (R19).

Holds belong to the grantee (a CVR), not to one grant: a missed report on any of its grants stops
new instructions for all of them. So holds live in their own state, one ``HoldBook`` per CVR,
beside the grant accounts; ``instruct_due`` reads it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from uuid import UUID

from pydantic import AwareDatetime

from contracts.payments import PaymentsHeld, PaymentsReleased
from contracts.reporting import ReportOverdue
from contracts.refusal import Refusal
from services.payments.domain.ids import overdue_hold_id
from services.payments.domain.state import DomainState, require_aware


class Hold(DomainState):
    hold_id: UUID
    reason: str
    application_id: UUID | None = None
    held_at: AwareDatetime
    released_at: AwareDatetime | None = None
    requested_by: str | None = None
    approved_by: str | None = None

    @property
    def active(self) -> bool:
        return self.released_at is None


class HoldBook(DomainState):
    """Every hold ever placed on one grantee, released ones included (they keep a redelivered
    ``ReportOverdue`` from holding the grantee a second time)."""

    cvr: str
    holds: tuple[Hold, ...] = ()

    @property
    def active_holds(self) -> tuple[Hold, ...]:
        return tuple(h for h in self.holds if h.active)

    def hold(self, hold_id: UUID) -> Hold | None:
        return next((h for h in self.holds if h.hold_id == hold_id), None)


def is_held(book: HoldBook | None) -> bool:
    return book is not None and bool(book.active_holds)


def hold_for_overdue_report(book: HoldBook | None, report: ReportOverdue,
                            now: datetime) -> list[PaymentsHeld]:
    """One hold per overdue report (grant, kind, due date), however often it is delivered."""
    require_aware(now)
    if book is not None and book.cvr != report.cvr:
        raise ValueError("the hold book belongs to another CVR")
    hold_id = overdue_hold_id(report.application_id, report.kind, report.due)
    if book is not None and book.hold(hold_id) is not None:
        return []
    return [PaymentsHeld(hold_id=hold_id, cvr=report.cvr, application_id=report.application_id,
                         reason="report_overdue", held_at=now)]


def require_two_people(requested_by: str, approved_by: str) -> None:
    """R19: the person who asks for a sensitive change is not the one who approves it."""
    if requested_by == approved_by:
        raise Refusal("two_person_rule",
                      "the requester and the approver must be two different people", "forbidden")


def _found(book: HoldBook | None, hold_id: UUID) -> Hold:
    hold = book.hold(hold_id) if book is not None else None
    if hold is None:
        raise Refusal("hold_not_found", f"no hold {hold_id} on this grantee", "not_found")
    return hold


def _require_no_grant_approver(people: Iterable[str], grant_approvers: Iterable[str]) -> None:
    """R19: nobody who approved a grant of this grantee takes part in releasing its payments."""
    if set(people) & set(grant_approvers):
        raise Refusal("segregation_of_duties",
                      "whoever approved a grant may not release its payments", "forbidden")


def request_release(book: HoldBook | None, hold_id: UUID, requester: str,
                    requested_by: str | None, grant_approvers: Iterable[str]) -> bool:
    """R19, the first of the two people: may ``requester`` ask to release the hold?

    ``requested_by`` is who asked already, if anyone. True: record the request; False: the
    same person asked again (nothing new). A second person asks by approving it instead.
    """
    hold = _found(book, hold_id)
    if not hold.active:
        raise Refusal("hold_released", "the hold is already released", "conflict")
    _require_no_grant_approver([requester], grant_approvers)
    if requested_by is not None and requested_by != requester:
        raise Refusal("release_already_requested",
                      "another caseworker asked to release this hold; a second person approves "
                      "it at release-approvals", "conflict")
    return requested_by is None


def release_hold(book: HoldBook | None, hold_id: UUID, requested_by: str | None,
                 approved_by: str, grant_approvers: Iterable[str],
                 now: datetime) -> list[PaymentsReleased]:
    """R19: two different people release a hold, neither of whom approved a grant whose payments
    it releases. ``grant_approvers`` are the ``approved_by`` of every grant of this CVR: a hold
    stops all of them, so its release resumes all of them. Releasing a released hold again
    emits nothing. ``requested_by`` None: nobody asked first (:func:`request_release`)."""
    require_aware(now)
    hold = _found(book, hold_id)
    assert book is not None
    if requested_by is None:
        if not hold.active:
            return []  # released before, and its request with it: once
        raise Refusal("release_not_requested",
                      "a first caseworker asks at release-requests before a second one approves",
                      "conflict")
    require_two_people(requested_by, approved_by)
    _require_no_grant_approver([requested_by, approved_by], grant_approvers)
    if not hold.active:
        return []
    return [PaymentsReleased(hold_id=hold_id, cvr=book.cvr, requested_by=requested_by,
                             approved_by=approved_by, released_at=now)]


def evolve_holds(book: HoldBook | None, event: PaymentsHeld | PaymentsReleased) -> HoldBook:
    if isinstance(event, PaymentsHeld):
        book = book if book is not None else HoldBook(cvr=event.cvr)
        if book.hold(event.hold_id) is not None:
            return book
        hold = Hold(hold_id=event.hold_id, reason=event.reason,
                    application_id=event.application_id, held_at=event.held_at)
        return HoldBook(cvr=book.cvr, holds=(*book.holds, hold))
    if book is None or book.hold(event.hold_id) is None:
        raise ValueError(f"PaymentsReleased for unknown hold {event.hold_id}")
    holds = tuple(
        Hold.model_validate({**dict(h), "released_at": event.released_at,
                             "requested_by": event.requested_by,
                             "approved_by": event.approved_by})
        if h.hold_id == event.hold_id else h
        for h in book.holds
    )
    return HoldBook(cvr=book.cvr, holds=holds)
