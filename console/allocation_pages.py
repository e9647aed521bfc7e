"""Allocation per sub-pool: the ranking, what fits and what does not and why, and the approve
button — shown as refused, with the reason, to anyone who assessed one of the applications
(segregation of duties shown, not only enforced: assessment refuses it too)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from console.services import Refused
from console.web import back, console_of, form_of, render, signed_in


def by_sub_pool(plan: dict[str, Any]) -> list[dict[str, Any]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for rec in plan["recommendations"]:
        groups.setdefault(rec["region_code"] or "", []).append(rec)
    out = []
    for key, name in plan["regions"].items():
        recs = groups.get(key, [])
        out.append({"region_code": key, "region": name, "recommendations": recs,
                    "awarded_oere": sum(r["amount_oere"] for r in recs),
                    "amount_oere": next((r["sub_pool_amount_oere"] for r in recs
                                         if r["sub_pool_amount_oere"] is not None), None)})
    return out


def router() -> APIRouter:
    r = APIRouter()

    @r.get("/pools/{pool_id}/allocation", response_class=HTMLResponse)
    async def allocation(request: Request, pool_id: str) -> HTMLResponse:
        session = signed_in(request)
        services = console_of(request).services
        pool = await services.get("assessment", f"/pools/{pool_id}", session.token)
        plan = await services.get("assessment", f"/pools/{pool_id}/allocation-plan",
                                  session.token)
        return render(request, "allocation.html", pool=pool, plan=plan,
                      groups=by_sub_pool(plan))

    @r.post("/pools/{pool_id}/allocation")
    async def approve(request: Request, pool_id: str) -> Response:
        session = signed_in(request)
        await form_of(request, session)
        to = f"/pools/{pool_id}/allocation"
        try:
            result = await console_of(request).services.post(
                "assessment", f"/pools/{pool_id}/allocations", session.token, {})
        except Refused as exc:
            return back(request, session, to, refused=exc)
        awarded = sum(1 for d in result["decisions"] if d["decision"] == "awarded")
        return back(request, session, to, ok="allocation.approved",
                    decided=len(result["decisions"]), awarded=awarded)

    return r
