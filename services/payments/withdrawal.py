"""``POST /grants/{application_id}/withdrawal``: a caseworker withdraws an award
(:mod:`services.payments.domain.withdrawal`). Its own router, so the payments handlers stay as
they are; the router is the module's, its dependencies as in :mod:`.routes`."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Body

from services.payments.domain.withdrawal import withdraw_award
from services.payments.requests import AsCaseworker, EmptyBody, Runtime
from services.payments.service import ChangeGrant, change_grant
from services.payments.views import lapse_view

router = APIRouter(tags=["payments"])


@router.post("/grants/{application_id}/withdrawal")
async def withdraw(application_id: UUID, call: AsCaseworker, runtime: Runtime,
                   _: EmptyBody | None = Body(None)) -> dict[str, Any]:
    state = await runtime.handle(change_grant, ChangeGrant(
        application_id, lambda s: withdraw_award(s, call.actor, call.now), call.cause))
    return lapse_view(state)
