"""Bank master data of a grantee (R19): changed only by two people, neither of whom approved a
grant of that grantee, and kept as a history of events.

One ``BankBook`` per CVR holds every change ever requested. A change is requested
(``BankDetailsChangeRequested``) by one caseworker and takes effect when a different one approves
it (``BankDetailsChanged``). At most one change waits at a time, so a second request cannot
quietly replace the one a colleague is about to approve.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from uuid import UUID, uuid5

from pydantic import AwareDatetime

from contracts.base import Actor
from contracts.payments import BankDetailsChanged, BankDetailsChangeRequested
from contracts.refusal import Refusal
from services.payments.domain.account import require_role
from services.payments.domain.holds import require_two_people
from services.payments.domain.ids import NAMESPACE
from services.payments.domain.state import DomainState, require_aware

BankEvent = BankDetailsChangeRequested | BankDetailsChanged


class BankChange(DomainState):
    change_id: UUID
    account_reference: str
    requested_by: str
    requested_at: AwareDatetime
    approved_by: str | None = None
    changed_at: AwareDatetime | None = None

    @property
    def pending(self) -> bool:
        return self.approved_by is None


class BankBook(DomainState):
    cvr: str
    changes: tuple[BankChange, ...] = ()

    @property
    def current(self) -> BankChange | None:
        """The change in force: the last one two people made."""
        done = [c for c in self.changes if not c.pending]
        return max(done, key=lambda c: c.changed_at) if done else None  # type: ignore[arg-type, return-value]  # changed_at set once done

    @property
    def waiting(self) -> BankChange | None:
        return next((c for c in self.changes if c.pending), None)

    def change(self, change_id: UUID) -> BankChange | None:
        return next((c for c in self.changes if c.change_id == change_id), None)


def bank_change_id(cvr: str, earlier: int) -> UUID:
    """The grantee's change after ``earlier`` changes (deterministic: a retry names the same)."""
    return uuid5(NAMESPACE, f"bank:{cvr}:{earlier}")


def _not_an_approver(actor: Actor, grant_approvers: Iterable[str]) -> None:
    if actor.id in set(grant_approvers):
        raise Refusal("segregation_of_duties",
                      "whoever approved a grant of this grantee may not change its bank "
                      "master data", "forbidden")


def request_bank_change(book: BankBook | None, cvr: str, account_reference: str, actor: Actor,
                        grant_approvers: Iterable[str],
                        now: datetime) -> list[BankDetailsChangeRequested]:
    """The first person. The same request again is a retry; any other while one waits is
    refused (``bank_change_pending``)."""
    require_role(actor, "caseworker")
    _not_an_approver(actor, grant_approvers)
    book = book if book is not None else BankBook(cvr=cvr)
    waiting = book.waiting
    if waiting is not None:
        if (waiting.requested_by, waiting.account_reference) == (actor.id, account_reference):
            return []
        raise Refusal("bank_change_pending",
                      "another change of this grantee's bank master data waits for its "
                      "second person", "conflict")
    return [BankDetailsChangeRequested(
        change_id=bank_change_id(cvr, len(book.changes)), cvr=cvr,
        account_reference=account_reference, requested_by=actor.id,
        requested_at=require_aware(now))]


def bank_change_of(book: BankBook | None, change_id: UUID) -> tuple[BankBook, BankChange]:
    """The grantee's book and its change ``change_id``; refused when no book holds it."""
    change = book.change(change_id) if book is not None else None
    if book is None or change is None:
        raise Refusal("bank_change_not_found", f"no bank details change {change_id}", "not_found")
    return book, change


def approve_bank_change(book: BankBook | None, change_id: UUID, actor: Actor,
                        grant_approvers: Iterable[str], now: datetime) -> list[BankDetailsChanged]:
    """The second person, not the first, not a grant approver. Approving twice changes once."""
    require_role(actor, "caseworker")
    book, change = bank_change_of(book, change_id)
    if not change.pending:
        return []
    require_two_people(change.requested_by, actor.id)
    _not_an_approver(actor, grant_approvers)
    return [BankDetailsChanged(change_id=change_id, cvr=book.cvr,
                               account_reference=change.account_reference,
                               requested_by=change.requested_by, approved_by=actor.id,
                               changed_at=require_aware(now))]


def evolve_bank(book: BankBook | None, event: BankEvent) -> BankBook:
    if isinstance(event, BankDetailsChangeRequested):
        book = book if book is not None else BankBook(cvr=event.cvr)
        if book.change(event.change_id) is not None:
            return book
        change = BankChange(change_id=event.change_id, account_reference=event.account_reference,
                            requested_by=event.requested_by, requested_at=event.requested_at)
        return BankBook(cvr=book.cvr, changes=(*book.changes, change))
    if book is None or book.change(event.change_id) is None:
        raise ValueError(f"BankDetailsChanged for unknown change {event.change_id}")
    changes = tuple(BankChange.model_validate({**dict(c), "approved_by": event.approved_by,
                                               "changed_at": event.changed_at})
                    if c.change_id == event.change_id else c for c in book.changes)
    return BankBook(cvr=book.cvr, changes=changes)
