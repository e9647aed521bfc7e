"""Command handlers where money moves by two people (R19): re-issuing a failed instruction and
changing a grantee's bank master data. Each is one unit of work (``handler(uow, command)``, run
by ``runtime.handle``) around :mod:`services.payments.domain.results` and ``.bank``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from contracts.base import Actor, Contract
from contracts.payments import PaymentInstructed
from contracts.refusal import Refusal
from servicekit.outbox import Cause
from servicekit.service import UnitOfWork
from services.payments.domain import GrantAccount, HoldBook
from services.payments.domain.bank import (
    BankBook,
    BankEvent,
    approve_bank_change,
    evolve_bank,
    request_bank_change,
)
from services.payments.service import locked_grant, save_grant
from services.payments.store import PaymentsStore


async def _grant_of(store: PaymentsStore, instruction_id: UUID
                    ) -> tuple[GrantAccount, HoldBook | None]:
    """The grant an instruction belongs to, locked after its grantee's hold book (lock order)."""
    application_id = await store.grant_of_instruction(instruction_id)
    known = await store.read_grant(application_id) if application_id else None
    if application_id is None or known is None:
        raise Refusal("instruction_not_found", f"no instruction {instruction_id}", "not_found")
    book = await store.lock_hold_book(known.cvr, share=True)
    return await locked_grant(store, application_id), book


@dataclass(frozen=True)
class ChangeInstruction:
    """A command on the grant an instruction belongs to: ``decide`` answers for the locked
    grant and its grantee's hold book."""

    instruction_id: UUID
    decide: Callable[[GrantAccount, HoldBook | None], Sequence[Contract]]
    cause: Cause


async def change_instruction(uow: UnitOfWork, cmd: ChangeInstruction) -> GrantAccount:
    store = PaymentsStore(uow.conn)
    state, book = await _grant_of(store, cmd.instruction_id)
    events = cmd.decide(state, book)
    for event in events:
        if isinstance(event, PaymentInstructed):  # a re-issue is a new instruction
            await store.index_instruction(event.instruction_id, event.application_id)
    return await save_grant(uow, store, state, events, cmd.cause)


async def _save_bank(uow: UnitOfWork, store: PaymentsStore, book: BankBook | None,
                     events: Sequence[BankEvent], cause: Cause) -> BankBook | None:
    for event in events:
        book = evolve_bank(book, event)
        # keyed by the change, never by the CVR (personal data for a sole trader)
        uow.emit(event, aggregate_id=f"bank:{event.change_id}", cause=cause)
    if events:
        assert book is not None
        await store.save_bank_book(book)
    return book


@dataclass(frozen=True)
class RequestBankChange:
    cvr: str
    account_reference: str
    actor: Actor
    now: datetime
    cause: Cause


async def ask_bank_change(uow: UnitOfWork, cmd: RequestBankChange) -> BankBook:
    store = PaymentsStore(uow.conn)
    book = await store.lock_bank_book(cmd.cvr)
    events = request_bank_change(book, cmd.cvr, cmd.account_reference, cmd.actor,
                                 await store.grant_approvers(cmd.cvr), cmd.now)
    for event in events:
        await store.index_bank_change(event.change_id, event.cvr)
    saved = await _save_bank(uow, store, book, events, cmd.cause)
    assert saved is not None
    return saved


@dataclass(frozen=True)
class ApproveBankChange:
    change_id: UUID
    actor: Actor
    now: datetime
    cause: Cause


async def approve_bank(uow: UnitOfWork, cmd: ApproveBankChange) -> BankBook:
    store = PaymentsStore(uow.conn)
    cvr = await store.cvr_of_bank_change(cmd.change_id)
    book = await store.lock_bank_book(cvr) if cvr is not None else None
    events = approve_bank_change(book, cmd.change_id, cmd.actor,
                                 await store.grant_approvers(cvr) if cvr else set(), cmd.now)
    saved = await _save_bank(uow, store, book, events, cmd.cause)
    assert saved is not None
    return saved
