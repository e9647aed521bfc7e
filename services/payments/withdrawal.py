"""``POST /grants/{application_id}/withdrawal``: a caseworker withdraws an award
(:mod:`services.payments.domain.withdrawal`). Its own router, so the payments handlers stay as
they are."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Request

from servicekit.http import cause_of_request
from servicekit.identity import Principal
from servicekit.service import ServiceRuntime
from services.payments.domain.withdrawal import withdraw_award
from services.payments.requests import EmptyBody, actor_of
from services.payments.service import ChangeGrant, change_grant
from services.payments.views import json_of


def withdrawal_router(runtime: ServiceRuntime) -> APIRouter:
    router = APIRouter(tags=["payments"])
    caseworker = Depends(runtime.require("caseworker"))

    @router.post("/grants/{application_id}/withdrawal")
    async def withdraw(application_id: UUID, request: Request, _: EmptyBody | None = Body(None),
                       principal: Principal = caseworker) -> dict[str, Any]:
        actor, now = actor_of(principal, "caseworker"), runtime.clock.now()
        state = await runtime.handle(change_grant, ChangeGrant(
            application_id, lambda s: withdraw_award(s, actor, now),
            cause_of_request(request, principal, "caseworker")))
        assert state.lapse is not None
        return {"application_id": str(application_id), **json_of(state.lapse)}

    return router
