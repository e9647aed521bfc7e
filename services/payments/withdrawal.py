"""``POST /grants/{application_id}/withdrawal``: a caseworker withdraws an award
(:mod:`services.payments.domain.withdrawal`). Its own router, so the payments handlers stay as
they are."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Request

from servicekit.http import cause_of_request
from servicekit.identity import Principal
from servicekit.service import ServiceRuntime, UnitOfWork
from services.payments.domain import GrantAccount
from services.payments.domain.withdrawal import withdraw_award
from services.payments.handlers import EmptyBody, _json, _locked_grant, _save, actor_of
from services.payments.store import PaymentsStore


def withdrawal_router(runtime: ServiceRuntime) -> APIRouter:
    router = APIRouter(tags=["payments"])
    caseworker = Depends(runtime.require("caseworker"))

    @router.post("/grants/{application_id}/withdrawal")
    async def withdraw(application_id: UUID, request: Request, _: EmptyBody | None = Body(None),
                       principal: Principal = caseworker) -> dict[str, Any]:
        actor = actor_of(principal, "caseworker")
        cause = cause_of_request(request, principal, "caseworker")

        async def work(uow: UnitOfWork) -> GrantAccount:
            store = PaymentsStore(uow.conn)
            state = await _locked_grant(store, application_id)
            return await _save(uow, store, state, withdraw_award(state, actor,
                                                                 runtime.clock.now()), cause)

        state = await runtime.in_transaction(work)
        assert state.lapse is not None
        return {"application_id": str(application_id), **_json(state.lapse)}

    return router
