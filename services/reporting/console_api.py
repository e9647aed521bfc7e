"""Read API the staff's console needs: every event about one application, in order, with who
caused it (the envelope's pseudonymous actor and role) — the application's timeline across the
services. Reporting keeps every event of its input topics (``events``), so this is a query: it
changes nothing and emits nothing."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends

from servicekit.identity import Principal
from servicekit.service import requires
from services.reporting.domain.pool_overview import summarise
from services.reporting.routes import Runtime
from services.reporting.store import ReportingStore


router = APIRouter(tags=["reporting: console reads"])
Staff = Annotated[Principal, Depends(requires("caseworker", "assessor", "approver", "finance",
                                              "auditor"))]


@router.get("/applications/{application_id}/events",
            summary="Every event about an application, in the order it occurred")
async def events(application_id: UUID, runtime: Runtime, _: Staff) -> dict[str, Any]:
    async with runtime.pool.acquire() as conn:
        envelopes = await ReportingStore(conn).events_of_application(application_id)
    return {"application_id": str(application_id), "events": [
        {"occurred_at": e.occurred_at.isoformat(), "event_type": e.event_type,
         "actor": e.actor.model_dump(mode="json"), "summary": summarise(e),
         "correlation_id": e.correlation_id} for e in envelopes]}
