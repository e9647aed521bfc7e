"""HTTP routes where money moves by two people (R19): the two-person re-issue of a failed
instruction, a caseworker's resolution of a reconciliation hold (a finance result whose amount
differed from its instruction), and changes of a grantee's bank master data (requested by one
caseworker, approved by another, kept as events with their history; the CVR travels in the body,
never in a URL). The rules live in :mod:`services.payments.domain.results`;
each route is one transaction around them."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Request
from pydantic import Field

from contracts.base import Cvr
from contracts.refusal import Refusal
from servicekit.http import cause_of_request
from servicekit.identity import Principal
from servicekit.service import ServiceRuntime, UnitOfWork
from services.payments.domain import (
    GrantAccount,
    reissue_failed,
    request_reissue,
    resolve_reconciliation,
)
from services.payments.domain.bank import (
    BankBook,
    approve_bank_change,
    evolve_bank,
    request_bank_change,
)
from services.payments.requests import EmptyBody, RequestBody, actor_of
from services.payments.service import ChangeGrant, change_grant, locked_grant, save_grant
from services.payments.views import instant, json_of
from services.payments.store import PaymentsStore


class ResolutionBody(RequestBody):
    note: Annotated[str, Field(max_length=2000)] = ""


class BankChangeBody(RequestBody):
    cvr: Cvr
    account_reference: Annotated[str, Field(min_length=1, max_length=64)]


def _bank_view(book: BankBook, change_id: UUID) -> dict[str, Any]:
    change = book.change(change_id)
    assert change is not None
    current = book.current
    return {"change_id": str(change_id), "cvr": book.cvr,
            "status": "requested" if change.pending else "changed",
            "change": json_of(change),
            "current_account_reference": current.account_reference if current else None,
            "history": [json_of(c) for c in book.changes]}


async def _grant_of(store: PaymentsStore, instruction_id: UUID) -> tuple[GrantAccount, Any]:
    """The grant an instruction belongs to, locked after its grantee's hold book (lock order)."""
    application_id = await store.grant_of_instruction(instruction_id)
    known = await store.read_grant(application_id) if application_id else None
    if application_id is None or known is None:
        raise Refusal("instruction_not_found", f"no instruction {instruction_id}", "not_found")
    book = await store.lock_hold_book(known.cvr, share=True)
    return await locked_grant(store, application_id), book


def money_router(runtime: ServiceRuntime) -> APIRouter:
    router = APIRouter(tags=["payments"])
    caseworker = Depends(runtime.require("caseworker"))

    @router.post("/instructions/{instruction_id}/reissue-requests")
    async def ask_reissue(instruction_id: UUID, request: Request,
                          _: EmptyBody | None = Body(None),
                          principal: Principal = caseworker) -> dict[str, Any]:
        actor = actor_of(principal, "caseworker")
        cause = cause_of_request(request, principal, "caseworker")

        async def work(uow: UnitOfWork) -> GrantAccount:
            store = PaymentsStore(uow.conn)
            state, book = await _grant_of(store, instruction_id)
            events = request_reissue(state, instruction_id, actor, book, runtime.clock.now())
            return await save_grant(uow, store, state, events, cause)

        record = (await runtime.in_transaction(work)).instruction(instruction_id)
        assert record is not None
        status = "reissued" if record.reissued_as is not None else "reissue_requested"
        return {"instruction_id": str(instruction_id), "status": status,
                "requested_by": record.reissue_requested_by}

    @router.post("/instructions/{instruction_id}/reissue-approvals")
    async def approve_reissue(instruction_id: UUID, request: Request,
                              _: EmptyBody | None = Body(None),
                              principal: Principal = caseworker) -> dict[str, Any]:
        actor = actor_of(principal, "caseworker")
        cause = cause_of_request(request, principal, "caseworker")

        async def work(uow: UnitOfWork) -> dict[str, Any]:
            store = PaymentsStore(uow.conn)
            state, book = await _grant_of(store, instruction_id)
            events = reissue_failed(state, instruction_id, actor, book)
            for event in events:
                await store.index_instruction(event.instruction_id, event.application_id)
            state = await save_grant(uow, store, state, events, cause)
            failed = state.instruction(instruction_id)
            assert failed is not None and failed.reissued_as is not None
            replacement = state.instruction(failed.reissued_as)
            assert replacement is not None
            return json_of(replacement.instruction)

        return await runtime.in_transaction(work)

    @router.post("/grants/{application_id}/reconciliations/{instruction_id}/resolution")
    async def resolve(application_id: UUID, instruction_id: UUID, request: Request,
                      body: ResolutionBody | None = Body(None),
                      principal: Principal = caseworker) -> dict[str, Any]:
        actor, now, note = actor_of(principal, "caseworker"), runtime.clock.now(), (
            body.note if body else "")
        state = await runtime.handle(change_grant, ChangeGrant(
            application_id, lambda s: resolve_reconciliation(s, instruction_id, actor, note, now),
            cause_of_request(request, principal, "caseworker")))
        case = next(c for c in state.reconciliations if c.instruction_id == instruction_id)
        assert case.resolved_at is not None
        return {"application_id": str(application_id), "instruction_id": str(instruction_id),
                "instructed_oere": case.instructed_oere, "executed_oere": case.executed_oere,
                "resolved_by": case.resolved_by, "resolved_at": instant(case.resolved_at),
                "reconciliation_open": state.reconciliation_open}

    @router.post("/bank-details-changes", status_code=201)
    async def ask_bank_change(body: BankChangeBody, request: Request,
                              principal: Principal = caseworker) -> dict[str, Any]:
        actor = actor_of(principal, "caseworker")
        cause = cause_of_request(request, principal, "caseworker")

        async def work(uow: UnitOfWork) -> dict[str, Any]:
            store = PaymentsStore(uow.conn)
            book = await store.lock_bank_book(body.cvr)
            events = request_bank_change(book, body.cvr, body.account_reference, actor,
                                         await store.grant_approvers(body.cvr),
                                         runtime.clock.now())
            for event in events:
                book = evolve_bank(book, event)
                await store.index_bank_change(event.change_id, event.cvr)
                # keyed by the change, never by the CVR (personal data for a sole trader)
                uow.emit(event, aggregate_id=f"bank:{event.change_id}", cause=cause)
            if events:
                assert book is not None
                await store.save_bank_book(book)
            assert book is not None and book.waiting is not None
            return _bank_view(book, book.waiting.change_id)

        return await runtime.in_transaction(work)

    @router.post("/bank-details-changes/{change_id}/approval")
    async def approve_bank(change_id: UUID, request: Request, _: EmptyBody | None = Body(None),
                           principal: Principal = caseworker) -> dict[str, Any]:
        actor = actor_of(principal, "caseworker")
        cause = cause_of_request(request, principal, "caseworker")

        async def work(uow: UnitOfWork) -> dict[str, Any]:
            store = PaymentsStore(uow.conn)
            cvr = await store.cvr_of_bank_change(change_id)
            book = await store.lock_bank_book(cvr) if cvr is not None else None
            events = approve_bank_change(book, change_id, actor,
                                         await store.grant_approvers(cvr) if cvr else set(),
                                         runtime.clock.now())
            for event in events:
                book = evolve_bank(book, event)
                uow.emit(event, aggregate_id=f"bank:{change_id}", cause=cause)
            assert book is not None
            if events:
                await store.save_bank_book(book)
            return _bank_view(book, change_id)

        return await runtime.in_transaction(work)

    @router.get("/bank-details-changes/{change_id}")
    async def bank_change(change_id: UUID, principal: Principal = caseworker) -> dict[str, Any]:
        async with runtime.pool.acquire() as conn:
            store = PaymentsStore(conn)
            cvr = await store.cvr_of_bank_change(change_id)
            async with conn.transaction():
                book = await store.lock_bank_book(cvr) if cvr is not None else None
        if book is None or book.change(change_id) is None:
            raise Refusal("bank_change_not_found", f"no bank details change {change_id}",
                          "not_found")
        return _bank_view(book, change_id)

    return router
