"""Pools and sub-pools: amount, awarded, accepted, paid, repaid, remaining, as numbers and bars.

Figures come from reporting's overview (what the event log says happened to the money) and
assessment's (what remains to allocate and how many applications are in each status).
"""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

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


def programme_rows(pools: list[dict[str, Any]], applications: dict[str, list[dict[str, Any]]]
                   ) -> list[dict[str, Any]]:
    """Per pool (round) and applicant kind: applications, awards, applied and awarded — the
    table a ministry status note is made of."""
    rows = []
    for pool in pools:
        by_kind: dict[str, dict[str, Any]] = {}
        for a in applications.get(pool["pool_id"], []):
            kind = a["applicant"]["kind"]
            row = by_kind.setdefault(kind, {"pool_id": pool["pool_id"], "title": pool["title"],
                                            "kind": kind, "applications": 0, "awards": 0,
                                            "applied_oere": 0, "awarded_oere": 0})
            row["applications"] += 1
            row["applied_oere"] += a["applied_oere"]
            if a["status"] == "awarded":
                row["awards"] += 1
                row["awarded_oere"] += a["awarded_oere"]
        rows += [by_kind[k] for k in sorted(by_kind)]
    return rows


def programme_csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["pool_id", "title", "applicant_kind", "applications", "awards",
                     "applied_dkk", "awarded_dkk"])
    for r in rows:
        writer.writerow([r["pool_id"], r["title"], r["kind"], r["applications"], r["awards"],
                         f"{r['applied_oere'] / 100:.2f}", f"{r['awarded_oere'] / 100:.2f}"])
    return out.getvalue()


async def _programme(request: Request, programme: str) -> tuple[list[dict[str, Any]],
                                                               list[dict[str, Any]]]:
    session = signed_in(request)
    services = console_of(request).services
    pools = [p for p in (await services.get("assessment", "/pools", session.token))["pools"]
             if p["programme"] == programme]
    applications = {p["pool_id"]: (await services.get(
        "assessment", f"/pools/{p['pool_id']}/applications", session.token))["applications"]
        for p in pools}
    return pools, programme_rows(pools, applications)


def router() -> APIRouter:
    r = APIRouter()

    @r.get("/programmes/{programme}", response_class=HTMLResponse)
    async def programme(request: Request, programme: str) -> HTMLResponse:
        pools, rows = await _programme(request, programme)
        if not pools:
            raise Refused("assessment", 404, "pool_not_published")
        keys = ("applications", "awards", "applied_oere", "awarded_oere")
        total = {k: sum(r[k] for r in rows) for k in keys}
        return render(request, "programme.html", programme=programme, pools=pools, rows=rows,
                      total=total)

    @r.get("/programmes/{programme}/export.csv")
    async def programme_export(request: Request, programme: str) -> Response:
        _, rows = await _programme(request, programme)
        return Response(programme_csv(rows), media_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": 'attachment; filename="programme.csv"'})

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
