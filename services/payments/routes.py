"""Payments' HTTP routes for a grant's life (acceptance, revised budgets, lapse, runs, holds):
each builds a command from the request, runs its handler (:mod:`.service`) and maps the result
to the answer (:mod:`.views`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Request

from servicekit.http import cause_of_request
from servicekit.identity import Principal
from servicekit.openapi import raw_body
from servicekit.service import ServiceRuntime
from contracts.base import Actor, Contract
from contracts.payments import OverpaymentClaimed, PaymentInstructed
from contracts.refusal import Refusal
from services.payments.domain import (
    GrantAccount,
    accept_award,
    approve_pending_budget,
    lapse_not_started,
    reject_pending_budget,
    run_date,
    submit_revised_budget,
)
from services.payments.requests import (
    DecisionBody,
    EmptyBody,
    PaymentRunBody,
    RevisedBudgetBody,
    actor_of,
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
    reasons_of,
    release_requested_view,
    released_view,
)


def http_router(runtime: ServiceRuntime) -> APIRouter:
    router = APIRouter(tags=["payments"])
    applicant = Depends(runtime.require("applicant"))
    caseworker = Depends(runtime.require("caseworker"))
    reader = Depends(runtime.require("applicant", "caseworker"))

    def change(application_id: UUID, request: Request, principal: Principal, role: str,
               decide: Callable[[GrantAccount, Actor], Sequence[Contract]]
               ) -> Awaitable[GrantAccount]:
        """The unit of work of a command on one grant, run by ``runtime.handle``."""
        actor, cause = actor_of(principal, role), cause_of_request(request, principal, role)
        return runtime.handle(change_grant, ChangeGrant(
            application_id, lambda state: decide(state, actor), cause))

    @router.post("/grants/{application_id}/acceptance")
    async def accept(application_id: UUID, request: Request, _: EmptyBody | None = Body(None),
                     principal: Principal = applicant) -> dict[str, Any]:
        now, cvr = runtime.clock.now(), principal.cvr or ""
        state = await change(application_id, request, principal, "applicant",
                                           lambda s, actor: accept_award(s, actor, cvr, now))
        assert state.accepted_at is not None
        return {"accepted_at": instant(state.accepted_at)}

    @router.post("/grants/{application_id}/revised-budgets", status_code=201,
                 openapi_extra=raw_body(RevisedBudgetBody))
    async def revise(application_id: UUID, request: Request, raw: Any = Body(...),
                     principal: Principal = applicant) -> dict[str, Any]:
        months, cvr = months_of(raw), principal.cvr or ""
        state = await change(
            application_id, request, principal, "applicant",
            lambda s, actor: submit_revised_budget(s, months, actor, cvr))
        # No events means the very budget already approved or waiting was sent again: the
        # latest version is its verdict.
        budget = state.latest_budget
        assert budget is not None
        return {"budget_version": budget.version, "status": budget.status,
                "reasons": reasons_of(budget.reasons)}

    @router.post("/grants/{application_id}/revised-budgets/{version}/decision")
    async def decide_budget(application_id: UUID, version: int, body: DecisionBody,
                            request: Request, principal: Principal = caseworker) -> dict[str, Any]:
        def decide(s: GrantAccount, actor: Actor) -> Sequence[Contract]:
            return (approve_pending_budget(s, version, actor) if body.approve
                    else reject_pending_budget(s, version, actor, body.message))

        state = await change(application_id, request, principal, "caseworker",
                                           decide)
        decided = state.budget(version)
        assert decided is not None
        return {"status": decided.status}

    @router.post("/grants/{application_id}/lapse")
    async def lapse(application_id: UUID, request: Request, _: EmptyBody | None = Body(None),
                    principal: Principal = caseworker) -> dict[str, Any]:
        now = runtime.clock.now()
        state = await change(application_id, request, principal, "caseworker",
                                           lambda s, actor: lapse_not_started(s, actor, now))
        assert state.lapse is not None
        return {"application_id": str(application_id), **json_of(state.lapse)}

    @router.post("/payment-runs")
    async def payment_run(request: Request, body: PaymentRunBody | None = Body(None),
                          principal: Principal = caseworker) -> dict[str, Any]:
        today = run_date(runtime.clock.now(), body.through if body else None)
        result = await runtime.handle(run_payments, RunPayments(
            today, actor_of(principal, "caseworker"),
            cause_of_request(request, principal, "caseworker")))
        return {"run_date": today.isoformat(),
                "instructions": [json_of(e) for e in result.events
                                 if isinstance(e, PaymentInstructed)],
                "claims": [json_of(e) for e in result.events if isinstance(e, OverpaymentClaimed)],
                "refused": result.refused}

    @router.post("/holds/{hold_id}/release-requests")
    async def request_release(hold_id: UUID, request: Request, _: EmptyBody | None = Body(None),
                              principal: Principal = caseworker) -> dict[str, Any]:
        book, hold = await runtime.handle(ask_release, RequestRelease(
            hold_id, actor_of(principal, "caseworker").id, runtime.clock.now(),
            cause_of_request(request, principal, "caseworker")))
        return release_requested_view(book, hold)

    @router.post("/holds/{hold_id}/release-approvals")
    async def approve_release(hold_id: UUID, request: Request, _: EmptyBody | None = Body(None),
                              principal: Principal = caseworker) -> dict[str, Any]:
        book, hold = await runtime.handle(service.approve_release, ApproveRelease(
            hold_id, actor_of(principal, "caseworker").id, runtime.clock.now(),
            cause_of_request(request, principal, "caseworker")))
        return released_view(book, hold)

    @router.get("/grants/{application_id}")
    async def grant(application_id: UUID, principal: Principal = reader) -> dict[str, Any]:
        async with runtime.pool.acquire() as conn:
            store = PaymentsStore(conn)
            state = await store.read_grant(application_id)
            if state is None:
                raise grant_not_found(application_id)
            if "caseworker" not in principal.roles and principal.cvr != state.cvr:
                raise Refusal("cvr_mismatch", "the token's CVR is not the grantee's CVR",
                              "forbidden")
            holds = await store.read_hold_book(state.cvr)
        return grant_view(state, holds)

    @router.post("/ops/sweep")
    async def sweep(request: Request, _: EmptyBody | None = Body(None),
                    principal: Principal = caseworker) -> dict[str, Any]:
        return {"lapsed": await runtime.handle(lapse_unaccepted, LapseUnaccepted(
            runtime.clock.now(), cause_of_request(request, principal, "caseworker")))}

    return router
