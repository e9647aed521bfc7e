"""Payments' HTTP routes for a grant's life (acceptance, revised budgets, lapse, runs, holds):
each builds a command from the request, runs its handler (:mod:`.service`) and maps the result
to the answer (:mod:`.views`). The router is the module's; the running service comes in as a
dependency (``Runtime``), the verified caller as another (``requires``, or the
:class:`~services.payments.requests.Call` that says who gives a command, when and why)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Depends

from servicekit.identity import Principal
from servicekit.openapi import raw_body
from servicekit.service import requires
from contracts.payments import OverpaymentClaimed, PaymentInstructed
from services.payments.domain import (
    accept_award,
    decide_pending_budget,
    lapse_not_started,
    require_reader,
    run_date,
    submit_revised_budget,
)
from services.payments.requests import (
    AsApplicant,
    AsCaseworker,
    DecisionBody,
    EmptyBody,
    PaymentRunBody,
    RevisedBudgetBody,
    Runtime,
    months_of,
)
from services.payments import service
from services.payments.service import (
    ApproveRelease,
    ChangeGrant,
    LapseUnaccepted,
    RequestRelease,
    RunPayments,
    ask_release,
    change_grant,
    grant_not_found,
    lapse_unaccepted,
    run_payments,
)
from services.payments.store import PaymentsStore
from services.payments.views import (
    grant_view,
    instant,
    json_of,
    lapse_view,
    reasons_of,
    release_requested_view,
    released_view,
)

router = APIRouter(tags=["payments"])
Reader = Annotated[Principal, Depends(requires("applicant", "caseworker"))]


@router.post("/grants/{application_id}/acceptance")
async def accept(application_id: UUID, call: AsApplicant, runtime: Runtime,
                 _: EmptyBody | None = Body(None)) -> dict[str, Any]:
    cvr = call.principal.cvr or ""
    state = await runtime.handle(change_grant, ChangeGrant(
        application_id, lambda s: accept_award(s, call.actor, cvr, call.now), call.cause))
    assert state.accepted_at is not None
    return {"accepted_at": instant(state.accepted_at)}


@router.post("/grants/{application_id}/revised-budgets", status_code=201,
             openapi_extra=raw_body(RevisedBudgetBody))
async def revise(application_id: UUID, call: AsApplicant, runtime: Runtime,
                 raw: Any = Body(...)) -> dict[str, Any]:
    months, cvr = months_of(raw), call.principal.cvr or ""
    state = await runtime.handle(change_grant, ChangeGrant(
        application_id, lambda s: submit_revised_budget(s, months, call.actor, cvr), call.cause))
    # No events means the very budget already approved or waiting was sent again: the latest
    # version is its verdict.
    budget = state.latest_budget
    assert budget is not None
    return {"budget_version": budget.version, "status": budget.status,
            "reasons": reasons_of(budget.reasons)}


@router.post("/grants/{application_id}/revised-budgets/{version}/decision")
async def decide_budget(application_id: UUID, version: int, body: DecisionBody,
                        call: AsCaseworker, runtime: Runtime) -> dict[str, Any]:
    state = await runtime.handle(change_grant, ChangeGrant(
        application_id, lambda s: decide_pending_budget(
            s, version, body.approve, call.actor, body.message), call.cause))
    decided = state.budget(version)
    assert decided is not None
    return {"status": decided.status}


@router.post("/grants/{application_id}/lapse")
async def lapse(application_id: UUID, call: AsCaseworker, runtime: Runtime,
                _: EmptyBody | None = Body(None)) -> dict[str, Any]:
    state = await runtime.handle(change_grant, ChangeGrant(
        application_id, lambda s: lapse_not_started(s, call.actor, call.now), call.cause))
    return lapse_view(state)


@router.post("/payment-runs")
async def payment_run(call: AsCaseworker, runtime: Runtime,
                      body: PaymentRunBody | None = Body(None)) -> dict[str, Any]:
    today = run_date(call.now, body.through if body else None)
    result = await runtime.handle(run_payments, RunPayments(today, call.actor, call.cause))
    return {"run_date": today.isoformat(),
            "instructions": [json_of(e) for e in result.events
                             if isinstance(e, PaymentInstructed)],
            "claims": [json_of(e) for e in result.events if isinstance(e, OverpaymentClaimed)],
            "refused": result.refused}


@router.post("/holds/{hold_id}/release-requests")
async def request_release(hold_id: UUID, call: AsCaseworker, runtime: Runtime,
                          _: EmptyBody | None = Body(None)) -> dict[str, Any]:
    book, hold = await runtime.handle(ask_release, RequestRelease(
        hold_id, call.actor.id, call.now, call.cause))
    return release_requested_view(book, hold)


@router.post("/holds/{hold_id}/release-approvals")
async def approve_release(hold_id: UUID, call: AsCaseworker, runtime: Runtime,
                          _: EmptyBody | None = Body(None)) -> dict[str, Any]:
    book, hold = await runtime.handle(service.approve_release, ApproveRelease(
        hold_id, call.actor.id, call.now, call.cause))
    return released_view(book, hold)


@router.get("/grants/{application_id}")
async def grant(application_id: UUID, principal: Reader, runtime: Runtime) -> dict[str, Any]:
    async with runtime.pool.acquire() as conn:
        store = PaymentsStore(conn)
        state = await store.read_grant(application_id)
        if state is None:
            raise grant_not_found(application_id)
        require_reader(state, principal.roles, principal.cvr)
        holds = await store.read_hold_book(state.cvr)
    return grant_view(state, holds)


@router.post("/ops/sweep")
async def sweep(call: AsCaseworker, runtime: Runtime,
                _: EmptyBody | None = Body(None)) -> dict[str, Any]:
    return {"lapsed": await runtime.handle(lapse_unaccepted, LapseUnaccepted(
        call.now, call.cause))}
