"""Pools and sub-pools: amount, awarded, accepted, paid, repaid, remaining, as numbers and bars.

Figures come from reporting's overview (what the event log says happened to the money) and
assessment's (what remains to allocate and how many applications are in each status).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from console.services import Refused
from console.web import console_of, render, signed_in


def sub_pool_rows(assessment: dict[str, Any], reporting: dict[str, Any] | None
                  ) -> list[dict[str, Any]]:
    """One row per sub-pool: assessment's amount and remaining, reporting's money figures."""
    money = (reporting or {}).get("sub_pools", {})
    rows = []
    for sub in assessment["sub_pools"]:
        key = sub["region_code"]
        figures = money.get(key or "") or money.get(str(key)) or {}
        if key is None and reporting is not None and len(assessment["sub_pools"]) == 1:
            figures = reporting.get("total", {})
        rows.append({
            "region_code": key, "region": sub["region"], "amount_oere": sub["amount_oere"],
            "awarded_oere": sub["awarded_oere"], "remaining_oere": sub["remaining_oere"],
            "awards": sub["awards"],
            "accepted_oere": figures.get("accepted_oere", 0),
            "paid_oere": figures.get("paid_oere", 0),
            "repaid_oere": figures.get("repaid_oere", 0),
            "applications": sum(len(ids) for ids in sub["applications"].values()),
            "by_status": {status: len(ids) for status, ids in sub["applications"].items()},
        })
    return rows


def totals(rows: list[dict[str, Any]]) -> dict[str, int]:
    keys = ("amount_oere", "awarded_oere", "remaining_oere", "accepted_oere", "paid_oere",
            "repaid_oere", "applications", "awards")
    return {k: sum(int(r[k]) for r in rows) for k in keys}


def router() -> APIRouter:
    r = APIRouter()

    @r.get("/", response_class=HTMLResponse)
    async def home(request: Request) -> RedirectResponse:
        signed_in(request)
        return RedirectResponse("/pools", status_code=303)

    @r.get("/pools", response_class=HTMLResponse)
    async def pools(request: Request) -> HTMLResponse:
        session = signed_in(request)
        found = await console_of(request).services.get("assessment", "/pools", session.token)
        return render(request, "pools.html", pools=found["pools"])

    @r.get("/pools/{pool_id}", response_class=HTMLResponse)
    async def pool(request: Request, pool_id: str) -> HTMLResponse:
        session = signed_in(request)
        services = console_of(request).services
        definition = await services.get("assessment", f"/pools/{pool_id}", session.token)
        overview = await services.get("assessment", f"/pools/{pool_id}/overview", session.token)
        try:
            money = await services.get("reporting", f"/pools/{pool_id}/overview", session.token)
        except Refused as exc:
            if exc.status != 404:
                raise
            money = None  # reporting has not seen an event of the pool yet
        rows = sub_pool_rows(overview, money)
        return render(request, "pool.html", pool=definition, rows=rows, total=totals(rows))

    return r
