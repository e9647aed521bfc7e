"""HTTP routes where money moves by two people (R19): the two-person re-issue of a failed
instruction, a caseworker's resolution of a reconciliation hold (a finance result whose amount
differed from its instruction), and changes of a grantee's bank master data (requested by one
caseworker, approved by another, kept as events with their history; the CVR travels in the body,
never in a URL). The rules live in :mod:`services.payments.domain.results` and `.bank`, the
units of work in :mod:`.money_service`; each route builds a command and runs it. The router is the
module's, its dependencies as in :mod:`.routes`."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body
from pydantic import Field

from contracts.base import Cvr
from services.payments import money_service
from services.payments.domain import reissue_failed, request_reissue, resolve_reconciliation
from services.payments.domain.bank import BankBook, bank_change_of
from services.payments.money_service import (
    ApproveBankChange,
    ChangeInstruction,
    RequestBankChange,
    change_instruction,
)
from services.payments.requests import (
    AsCaseworker, Caseworker, EmptyBody, RequestBody, Runtime,
)
from services.payments.service import ChangeGrant, change_grant
from services.payments.store import PaymentsStore
from services.payments.views import instant, json_of


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


router = APIRouter(tags=["payments"])


@router.post("/instructions/{instruction_id}/reissue-requests")
async def ask_reissue(instruction_id: UUID, call: AsCaseworker, runtime: Runtime,
                      _: EmptyBody | None = Body(None)) -> dict[str, Any]:
    state = await runtime.handle(change_instruction, ChangeInstruction(
        instruction_id,
        lambda s, book: request_reissue(s, instruction_id, call.actor, book, call.now),
        call.cause))
    record = state.instruction(instruction_id)
    assert record is not None
    status = "reissued" if record.reissued_as is not None else "reissue_requested"
    return {"instruction_id": str(instruction_id), "status": status,
            "requested_by": record.reissue_requested_by}


@router.post("/instructions/{instruction_id}/reissue-approvals")
async def approve_reissue(instruction_id: UUID, call: AsCaseworker, runtime: Runtime,
                          _: EmptyBody | None = Body(None)) -> dict[str, Any]:
    state = await runtime.handle(change_instruction, ChangeInstruction(
        instruction_id, lambda s, book: reissue_failed(s, instruction_id, call.actor, book),
        call.cause))
    failed = state.instruction(instruction_id)
    assert failed is not None and failed.reissued_as is not None
    replacement = state.instruction(failed.reissued_as)
    assert replacement is not None
    return json_of(replacement.instruction)


@router.post("/grants/{application_id}/reconciliations/{instruction_id}/resolution")
async def resolve(application_id: UUID, instruction_id: UUID, call: AsCaseworker,
                  runtime: Runtime, body: ResolutionBody | None = Body(None)) -> dict[str, Any]:
    note = body.note if body else ""
    state = await runtime.handle(change_grant, ChangeGrant(
        application_id,
        lambda s: resolve_reconciliation(s, instruction_id, call.actor, note, call.now),
        call.cause))
    case = next(c for c in state.reconciliations if c.instruction_id == instruction_id)
    assert case.resolved_at is not None
    return {"application_id": str(application_id), "instruction_id": str(instruction_id),
            "instructed_oere": case.instructed_oere, "executed_oere": case.executed_oere,
            "resolved_by": case.resolved_by, "resolved_at": instant(case.resolved_at),
            "reconciliation_open": state.reconciliation_open}


@router.post("/bank-details-changes", status_code=201)
async def ask_bank_change(body: BankChangeBody, call: AsCaseworker,
                          runtime: Runtime) -> dict[str, Any]:
    book = await runtime.handle(money_service.ask_bank_change, RequestBankChange(
        body.cvr, body.account_reference, call.actor, call.now, call.cause))
    assert book.waiting is not None
    return _bank_view(book, book.waiting.change_id)


@router.post("/bank-details-changes/{change_id}/approval")
async def approve_bank(change_id: UUID, call: AsCaseworker, runtime: Runtime,
                       _: EmptyBody | None = Body(None)) -> dict[str, Any]:
    book = await runtime.handle(money_service.approve_bank, ApproveBankChange(
        change_id, call.actor, call.now, call.cause))
    return _bank_view(book, change_id)


@router.get("/bank-details-changes/{change_id}")
async def bank_change(change_id: UUID, _: Caseworker, runtime: Runtime) -> dict[str, Any]:
    async with runtime.pool.acquire() as conn:
        store = PaymentsStore(conn)
        cvr = await store.cvr_of_bank_change(change_id)
        async with conn.transaction():
            book = await store.lock_bank_book(cvr) if cvr is not None else None
    found, _change = bank_change_of(book, change_id)
    return _bank_view(found, change_id)
