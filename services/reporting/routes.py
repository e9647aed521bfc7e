"""Reporting's HTTP routes: reports, a grant's file, a pool's overview, the 360Giving exports.
Each builds a command or a query, runs it (:mod:`.service`, :mod:`.store`) and maps the result
(:mod:`.views`). The router is the module's; the running service comes in as a dependency
(:func:`servicekit.service.current_runtime`), the verified caller as another (``requires``)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import Response

from contracts.refusal import Refusal
from servicekit.http import cause_of_request
from servicekit.identity import Principal
from servicekit.service import ServiceRuntime, current_runtime, requires
from services.reporting import service
from services.reporting.domain import (
    audit_level, awarded, export_360giving, pool_overview, require_reader, to_csv, to_json,
)
from services.reporting.requests import EmptyBody, ReportBody
from services.reporting.service import ReportOnGrant, sweep_overdue
from services.reporting.settings import funder_id_of
from services.reporting.store import ReportingStore
from services.reporting.views import grant_view, json_of, pool_view

router = APIRouter(tags=["reporting"])
Runtime = Annotated[ServiceRuntime, Depends(current_runtime)]
Applicant = Annotated[Principal, Depends(requires("applicant"))]
Caseworker = Annotated[Principal, Depends(requires("caseworker"))]
Reader = Annotated[Principal, Depends(requires("applicant", "caseworker", "auditor"))]
Anyone = Annotated[Principal, Depends(requires())]


@router.post("/grants/{application_id}/reports", status_code=201)
async def submit_report(application_id: UUID, body: ReportBody, request: Request,
                        principal: Applicant, runtime: Runtime) -> dict[str, Any]:
    decided = await runtime.handle(service.submit_report, ReportOnGrant(
        application_id, body, principal.subject, principal.cvr, runtime.clock.now(),
        cause_of_request(request, principal, "applicant")))
    assert decided.file.award is not None
    rejected = decided.rejected
    return {"report_id": str(decided.report_id),
            "status": decided.file.reports[str(decided.report_id)].status,
            "reasons": [json_of(r) for r in rejected.reasons] if rejected else [],
            "audit_level": audit_level(decided.file.award.amount_oere)}


@router.get("/grants/{application_id}")
async def grant(application_id: UUID, principal: Reader, runtime: Runtime) -> dict[str, Any]:
    async with runtime.pool.acquire() as conn:
        store = ReportingStore(conn)
        state = awarded(await store.read_file(application_id), application_id)
        require_reader(state, principal.roles, principal.cvr)
        events = await store.events_of_application(application_id)
    timeline = pool_overview(events).timelines.get(str(application_id), [])
    return grant_view(state, timeline)


@router.get("/pools/{pool_id}/overview")
async def pool(pool_id: str, _: Anyone, runtime: Runtime) -> dict[str, Any]:
    async with runtime.pool.acquire() as conn:
        events = await ReportingStore(conn).events_of_pool(pool_id)
    if not events:
        raise Refusal("pool_not_found", f"no event names the pool {pool_id!r}", "not_found")
    return pool_view(pool_id, events)


async def _package(runtime: ServiceRuntime) -> dict[str, Any]:
    async with runtime.pool.acquire() as conn:
        store = ReportingStore(conn)
        files, titles = await store.awarded_files(), await store.pool_titles()
    return export_360giving(files, funder_id=funder_id_of(runtime.settings), pool_titles=titles)


@router.get("/exports/360giving.json")
async def export_json(_: Anyone, runtime: Runtime) -> Response:
    return Response(to_json(await _package(runtime)), media_type="application/json")


@router.get("/exports/360giving.csv", response_class=Response, responses={200: {
    "description": "the 360Giving rows as CSV",
    "content": {"text/csv": {"schema": {"type": "string"}}}}})
async def export_csv(_: Anyone, runtime: Runtime) -> Response:
    return Response(to_csv(await _package(runtime)), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="360giving.csv"'})


@router.post("/ops/sweep")
async def sweep(request: Request, principal: Caseworker, runtime: Runtime,
                _: EmptyBody | None = Body(None)) -> dict[str, Any]:
    cause = cause_of_request(request, principal, "caseworker")
    return {"overdue": await sweep_overdue(runtime, runtime.clock.now(), cause)}
