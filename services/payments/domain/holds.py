"""Holds on a grantee's payments (R18) and the two-person rules (R19).

Holds belong to the grantee (a CVR), not to one grant: a missed report on any of its grants stops
new instructions for all of them. So holds live in their own state, one ``HoldBook`` per CVR,
beside the grant accounts; ``instruct_due`` reads it.

People release a hold in two steps, both events folded into the book by :func:`evolve_holds`: a
first caseworker asks (``HoldReleaseRequested``, kept on the hold as its ``release_request``),
a different second one approves (``PaymentsReleased``). Who may take part is decided in one
place, :func:`_require_release_people`, from the book alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from uuid import UUID

from pydantic import AwareDatetime

from contracts.payments import HoldReleaseRequested, PaymentsHeld, PaymentsReleased
from contracts.reporting import ReportOverdue
from contracts.refusal import Refusal
from services.payments.domain.ids import overdue_hold_id
from services.payments.domain.state import DomainState, require_aware


HoldEvent = PaymentsHeld | HoldReleaseRequested | PaymentsReleased


class ReleaseRequest(DomainState):
    """The first person's request to release a hold (R19), waiting for a second person."""

    requested_by: str
    requested_at: AwareDatetime


class Hold(DomainState):
    hold_id: UUID
    reason: str
    application_id: UUID | None = None
    held_at: AwareDatetime
    released_at: AwareDatetime | None = None
    requested_by: str | None = None  # the two people who released it (``PaymentsReleased``)
    approved_by: str | None = None
    release_request: ReleaseRequest | None = None  # the first person's request, kept after

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


def _require_release_people(requested_by: str, approved_by: str | None,
                            grant_approvers: Iterable[str]) -> None:
    """R19 for releasing a hold, the one place it is decided: the approver (once there is one)
    is not the requester, and nobody who approved a grant of this grantee takes part — a hold
    stops all of its grants, so its release resumes all of them."""
    if approved_by is not None:
        require_two_people(requested_by, approved_by)
    people = {requested_by} if approved_by is None else {requested_by, approved_by}
    if people & set(grant_approvers):
        raise Refusal("segregation_of_duties",
                      "whoever approved a grant may not release its payments", "forbidden")


def request_release(book: HoldBook | None, hold_id: UUID, requester: str,
                    grant_approvers: Iterable[str], now: datetime) -> list[HoldReleaseRequested]:
    """R19, the first of the two people: ``requester`` asks to release an active hold.

    ``grant_approvers`` are the ``approved_by`` of every grant of this CVR. The same person
    asking again is a retry (nothing new; the request keeps its first instant); anyone else
    while a request waits is refused: a second person approves it instead.
    """
    require_aware(now)
    hold = _found(book, hold_id)
    assert book is not None
    if not hold.active:
        raise Refusal("hold_released", "the hold is already released", "conflict")
    _require_release_people(requester, None, grant_approvers)
    pending = hold.release_request
    if pending is not None:
        if pending.requested_by == requester:
            return []
        raise Refusal("release_already_requested",
                      "another caseworker asked to release this hold; a second person approves "
                      "it at release-approvals", "conflict")
    return [HoldReleaseRequested(hold_id=hold_id, cvr=book.cvr, requested_by=requester,
                                 requested_at=now)]


def release_hold(book: HoldBook | None, hold_id: UUID, approver: str,
                 grant_approvers: Iterable[str], now: datetime) -> list[PaymentsReleased]:
    """R19, the second person: ``approver`` releases the hold the first person asked to
    release. Releasing a released hold again emits nothing (whoever asks: the release stands,
    and so does an automatic one, :mod:`.overdue_release`)."""
    require_aware(now)
    hold = _found(book, hold_id)
    assert book is not None
    if not hold.active:
        return []
    pending = hold.release_request
    if pending is None:
        raise Refusal("release_not_requested",
                      "a first caseworker asks at release-requests before a second one approves",
                      "conflict")
    _require_release_people(pending.requested_by, approver, grant_approvers)
    return [PaymentsReleased(hold_id=hold_id, cvr=book.cvr, requested_by=pending.requested_by,
                             approved_by=approver, released_at=now)]


def _replace(book: HoldBook, hold: Hold, **changes: object) -> HoldBook:
    updated = Hold.model_validate({**dict(hold), **changes})
    return HoldBook(cvr=book.cvr, holds=tuple(updated if h.hold_id == hold.hold_id else h
                                              for h in book.holds))


def evolve_holds(book: HoldBook | None, event: HoldEvent) -> HoldBook:
    """The book after ``event``; an event the book already shows (a redelivery) changes
    nothing."""
    if isinstance(event, PaymentsHeld):
        book = book if book is not None else HoldBook(cvr=event.cvr)
        if book.hold(event.hold_id) is not None:
            return book
        hold = Hold(hold_id=event.hold_id, reason=event.reason,
                    application_id=event.application_id, held_at=event.held_at)
        return HoldBook(cvr=book.cvr, holds=(*book.holds, hold))
    found = book.hold(event.hold_id) if book is not None else None
    if book is None or found is None:
        raise ValueError(f"{type(event).__name__} for unknown hold {event.hold_id}")
    if isinstance(event, HoldReleaseRequested):
        if not found.active or found.release_request is not None:
            return book
        return _replace(book, found, release_request=ReleaseRequest(
            requested_by=event.requested_by, requested_at=event.requested_at))
    if not found.active:
        return book
    return _replace(book, found, released_at=event.released_at,
                    requested_by=event.requested_by, approved_by=event.approved_by)
