"""Payments' service layer: plain command handlers, each one unit of work around the domain.

A handler takes the unit of work and a command (``handler(uow, command)``, run by
``runtime.handle``): it locks the state the command changes (lock order in :mod:`.store`: hold
books, then grants), asks the domain, emits the events through the outbox and saves the folded
state. No rule lives here; routes (:mod:`.routes`) and scheduled rules only build commands.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from contracts.base import Actor, Contract
from contracts.payments import PaymentInstructed
from contracts.refusal import Refusal
from servicekit.outbox import Cause
from servicekit.service import UnitOfWork
from services.payments.domain import (
    GrantAccount,
    Hold,
    HoldBook,
    HoldEvent,
    RunEvent,
    a_period_fell_due,
    apply,
    evolve_holds,
    instruct_due,
    lapse_overdue,
    may_move_money,
    release_hold,
    request_release,
)
from services.payments.store import PaymentsStore
from services.payments.views import instant


def grant_not_found(application_id: UUID) -> Refusal:
    return Refusal("grant_not_found", f"no grant account for application {application_id}",
                   "not_found")


async def locked_grant(store: PaymentsStore, application_id: UUID) -> GrantAccount:
    state = await store.lock_grant(application_id)
    if state is None:
        raise grant_not_found(application_id)
    return state


async def save_grant(uow: UnitOfWork, store: PaymentsStore, state: GrantAccount,
                     events: Sequence[Contract], cause: Cause) -> GrantAccount:
    """Emit a grant's events, fold them into its state and store it."""
    if not events:
        return state
    for event in events:
        uow.emit(event, aggregate_id=str(state.application_id), cause=cause)
    updated = apply(state, events)  # type: ignore[arg-type]  # callers pass only grant events
    assert updated is not None
    await store.save_grant(updated)
    return updated


@dataclass(frozen=True)
class ChangeGrant:
    """Any command on one grant: ``decide`` is the domain's answer for its locked state."""

    application_id: UUID
    decide: Callable[[GrantAccount], Sequence[Contract]]
    cause: Cause


async def change_grant(uow: UnitOfWork, cmd: ChangeGrant) -> GrantAccount:
    store = PaymentsStore(uow.conn)
    state = await locked_grant(store, cmd.application_id)
    return await save_grant(uow, store, state, cmd.decide(state), cmd.cause)


@dataclass(frozen=True)
class RunPayments:
    """A payment run through ``today``: a caseworker's (``actor``), or the scheduler's
    (no actor, and only the grants one of whose due dates has come)."""

    today: date
    actor: Actor | None
    cause: Cause


@dataclass(frozen=True)
class RunResult:
    events: list[RunEvent]
    refused: list[dict[str, str]]


async def run_payments(uow: UnitOfWork, cmd: RunPayments) -> RunResult:
    """Every accepted grant's due instructions, except the grants the caseworker approved
    (R19), which are listed as refused."""
    store = PaymentsStore(uow.conn)
    books = await store.share_lock_hold_books()  # lock order: books, then grants
    result = RunResult([], [])
    for state in await store.lock_accepted_grants(cmd.today if cmd.actor is None else None):
        if cmd.actor is None and not a_period_fell_due(state, cmd.today):
            continue
        if cmd.actor is not None and not may_move_money(state, cmd.actor):
            result.refused.append({"application_id": str(state.application_id),
                                   "error": "segregation_of_duties"})
            continue
        events = instruct_due(state, cmd.today, books.get(state.cvr))
        for event in events:
            if isinstance(event, PaymentInstructed):
                await store.index_instruction(event.instruction_id, event.application_id)
        await save_grant(uow, store, state, events, cmd.cause)
        result.events.extend(events)
    return result


@dataclass(frozen=True)
class LapseUnaccepted:
    now: datetime
    cause: Cause


async def lapse_unaccepted(uow: UnitOfWork, cmd: LapseUnaccepted) -> list[dict[str, Any]]:
    """Every award still unaccepted after its deadline at ``now`` lapses, once (the operators'
    /ops/sweep and the scheduler's acceptance_lapse rule)."""
    store = PaymentsStore(uow.conn)
    lapsed = []
    for state in await store.lock_unaccepted_grants():
        events = lapse_overdue(state, cmd.now)
        await save_grant(uow, store, state, events, cmd.cause)
        lapsed += [{"application_id": str(e.application_id), "reason": e.reason,
                    "lapsed_at": instant(e.lapsed_at)} for e in events]
    return lapsed


async def _locked_book(store: PaymentsStore, hold_id: UUID) -> HoldBook:
    cvr = await store.cvr_of_hold(hold_id)
    book = await store.lock_hold_book(cvr) if cvr is not None else None
    if book is None or book.hold(hold_id) is None:
        raise Refusal("hold_not_found", f"no hold {hold_id}", "not_found")
    return book


async def _change_hold(uow: UnitOfWork, hold_id: UUID,
                       decide: Callable[[HoldBook, set[str]], Sequence[HoldEvent]],
                       cause: Cause) -> tuple[HoldBook, Hold]:
    """A step of a hold's release: lock its grantee's book, let the domain ``decide`` from the
    book and who approved the grantee's grants (R19), emit and fold the events, store the book.
    Returns the book and the hold after the step."""
    store = PaymentsStore(uow.conn)
    book = await _locked_book(store, hold_id)
    events = decide(book, await store.grant_approvers(book.cvr))
    for event in events:
        book = evolve_holds(book, event)
        hold = book.hold(hold_id)
        assert hold is not None
        # keyed by the application, else by the hold: never by the CVR, which for a sole
        # proprietorship is personal data and must not be a Kafka key
        uow.emit(event, aggregate_id=str(hold.application_id or f"hold:{hold_id}"), cause=cause)
    if events:
        await store.save_hold_book(book)
    hold = book.hold(hold_id)
    assert hold is not None
    return book, hold


@dataclass(frozen=True)
class RequestRelease:
    hold_id: UUID
    requester: str
    now: datetime
    cause: Cause


async def ask_release(uow: UnitOfWork, cmd: RequestRelease) -> tuple[HoldBook, Hold]:
    """The first person asks to release a hold (R19); the same person again changes nothing."""
    return await _change_hold(uow, cmd.hold_id, lambda book, approvers: request_release(
        book, cmd.hold_id, cmd.requester, approvers, cmd.now), cmd.cause)


@dataclass(frozen=True)
class ApproveRelease:
    hold_id: UUID
    approver: str
    now: datetime
    cause: Cause


async def approve_release(uow: UnitOfWork, cmd: ApproveRelease) -> tuple[HoldBook, Hold]:
    """The second person releases the hold (R19); once released, asking again changes nothing."""
    return await _change_hold(uow, cmd.hold_id, lambda book, approvers: release_hold(
        book, cmd.hold_id, cmd.approver, approvers, cmd.now), cmd.cause)
