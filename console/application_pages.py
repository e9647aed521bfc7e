"""A pool's applications (filters, search), one application (versions, budget, receipts,
eligibility, scores, decision, timeline), the IT-problem exceptions queue with its decide form,
and the assessor's scoring form with the conflict-of-interest declaration."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from console.services import Refused
from console.web import back, console_of, form_lists, form_of, render, signed_in

STATUSES = ("received", "awaiting_eligibility", "ineligible", "awaiting_scores", "scored",
            "awarded", "rejected")


async def _optional(call: Any) -> tuple[Any, Refused | None]:
    """A part of a page another role may not see: the page shows why instead of failing."""
    try:
        return await call, None
    except Refused as exc:
        if exc.status >= 500:
            raise
        return None, exc


def router() -> APIRouter:
    r = APIRouter()

    @r.get("/pools/{pool_id}/applications", response_class=HTMLResponse)
    async def applications(request: Request, pool_id: str, status: str = "", region: str = "",
                           reason: str = "", q: str = "") -> HTMLResponse:
        session = signed_in(request)
        services = console_of(request).services
        pool = await services.get("assessment", f"/pools/{pool_id}", session.token)
        found = await services.get("assessment", f"/pools/{pool_id}/applications",
                                   session.token, status=status, region=region,
                                   reason=reason, q=q[:100])
        everything = await services.get("assessment", f"/pools/{pool_id}/applications",
                                        session.token)
        reasons = sorted({c for a in everything["applications"] for c in a["reasons"]})
        return render(request, "applications.html", pool=pool, found=found,
                      statuses=STATUSES, reasons=reasons,
                      chosen={"status": status, "region": region, "reason": reason, "q": q})

    @r.get("/applications/{application_id}", response_class=HTMLResponse)
    async def application(request: Request, application_id: str) -> HTMLResponse:
        session = signed_in(request)
        services = console_of(request).services
        token = session.token
        assessed = await services.get("assessment", f"/applications/{application_id}", token)
        pool = await services.get("assessment", f"/pools/{assessed['pool_id']}", token)
        intake, intake_refused = await _optional(
            services.get("intake", f"/applications/{application_id}", token))
        events, events_refused = await _optional(
            services.get("reporting", f"/applications/{application_id}/events", token))
        rows = await services.get("assessment", f"/pools/{assessed['pool_id']}/applications",
                                  token, q=application_id)
        row = rows["applications"][0] if rows["applications"] else None
        return render(request, "application.html", a=assessed, pool=pool, row=row,
                      intake=intake, intake_refused=intake_refused,
                      events=(events or {}).get("events", []), events_refused=events_refused,
                      me=session.subject)

    @r.post("/applications/{application_id}/scores")
    async def score(request: Request, application_id: str) -> Response:
        session = signed_in(request)
        form = await form_of(request, session)
        recuse = form.get("conflict_of_interest") == "yes"
        body: dict[str, Any] = {"justification": form.get("justification", "")[:20000],
                                "conflict_of_interest": recuse}
        if not recuse:
            scores: dict[str, int] = {}
            for key, values in (await form_lists(request)).items():
                if key.startswith("criterion-") and values and values[-1].isdigit():
                    scores[key.removeprefix("criterion-")] = int(values[-1])
            body["scores"] = scores
        to = f"/applications/{application_id}"
        try:
            await console_of(request).services.post(
                "assessment", f"/applications/{application_id}/scores", session.token, body)
        except Refused as exc:
            return back(request, session, to, refused=exc)
        return back(request, session, to, ok="score.recused" if recuse else "score.saved")

    @r.get("/exceptions", response_class=HTMLResponse)
    async def exceptions(request: Request) -> HTMLResponse:
        session = signed_in(request)
        found = await console_of(request).services.get("intake", "/exceptions", session.token)
        return render(request, "exceptions.html", exceptions=found["exceptions"])

    @r.post("/applications/{application_id}/exception-decision")
    async def decide_exception(request: Request, application_id: str) -> Response:
        session = signed_in(request)
        form = await form_of(request, session)
        approve = form.get("decision") == "approve"
        to = form.get("back") or "/exceptions"
        try:
            await console_of(request).services.post(
                "intake", f"/applications/{application_id}/it-problem-decision", session.token,
                {"approve": approve})
        except Refused as exc:
            return back(request, session, to, refused=exc)
        return back(request, session, to,
                    ok="exceptions.approved" if approve else "exceptions.refused")

    return r
