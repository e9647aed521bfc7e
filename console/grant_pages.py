"""A grant: award, acceptance, budget versions with the change against the baseline and what
needs approval, the payment ledger, holds with the four-eyes release, reports and accounts with
the audit level; the caseworker's commands on it (budget decision, payment run, hold release)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from console.application_pages import _optional
from console.services import Refused
from console.web import back, console_of, form_of, render, signed_in


def post_totals(months: dict[str, dict[str, int]]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for posts in months.values():
        for post, amount in posts.items():
            totals[post] = totals.get(post, 0) + int(amount)
    return totals


def budget_rows(grant: dict[str, Any]) -> list[dict[str, Any]]:
    """Each revised budget version with its per-post change against the baseline: the indicative
    budget of the application for the first, the latest approved version before it after."""
    baseline = {line["post"]: line["amount_oere"] for line in grant.get("budget_lines", [])}
    rows = []
    for budget in grant.get("budgets", []):
        posts = post_totals(budget.get("months", {}))
        names = sorted(set(posts) | set(baseline))
        rows.append({**budget, "changes": [
            {"post": p, "baseline_oere": baseline.get(p, 0), "amount_oere": posts.get(p, 0),
             "change_oere": posts.get(p, 0) - baseline.get(p, 0), "new": p not in baseline}
            for p in names]})
        if budget.get("status") == "approved":
            baseline = posts
    return rows


def router() -> APIRouter:
    r = APIRouter()

    @r.get("/grants/{application_id}", response_class=HTMLResponse)
    async def grant(request: Request, application_id: str) -> HTMLResponse:
        session = signed_in(request)
        services = console_of(request).services
        payments, payments_refused = await _optional(
            services.get("payments", f"/grants/{application_id}", session.token))
        reporting, reporting_refused = await _optional(
            services.get("reporting", f"/grants/{application_id}", session.token))
        if payments is None and reporting is None:
            raise payments_refused or reporting_refused  # type: ignore[misc]  # both None only if both refused
        return render(request, "grant.html", application_id=application_id, p=payments,
                      p_refused=payments_refused, rep=reporting, rep_refused=reporting_refused,
                      budgets=budget_rows(payments) if payments else [])

    @r.post("/grants/{application_id}/budgets/{version}/decision")
    async def decide_budget(request: Request, application_id: str, version: int) -> Response:
        session = signed_in(request)
        form = await form_of(request, session)
        approve = form.get("decision") == "approve"
        to = f"/grants/{application_id}"
        try:
            await console_of(request).services.post(
                "payments", f"/grants/{application_id}/revised-budgets/{version}/decision",
                session.token, {"approve": approve, "message": form.get("message", "")[:2000]})
        except Refused as exc:
            return back(request, session, to, refused=exc)
        return back(request, session, to,
                    ok="budget.approved" if approve else "budget.rejected", version=version)

    @r.post("/holds/{hold_id}/release")
    async def release(request: Request, hold_id: str) -> Response:
        session = signed_in(request)
        form = await form_of(request, session)
        step = "release-approvals" if form.get("step") == "approve" else "release-requests"
        to = form.get("back") or "/"
        try:
            await console_of(request).services.post("payments", f"/holds/{hold_id}/{step}",
                                                    session.token, {})
        except Refused as exc:
            return back(request, session, to, refused=exc)
        return back(request, session, to, ok=f"hold.{step}")

    @r.post("/payment-runs")
    async def payment_run(request: Request) -> Response:
        session = signed_in(request)
        form = await form_of(request, session)
        to = form.get("back") or "/"
        try:
            result = await console_of(request).services.post(
                "payments", "/payment-runs", session.token, {"through": form.get("through", "")})
        except Refused as exc:
            return back(request, session, to, refused=exc)
        return back(request, session, to, ok="payments.run_done",
                    count=len(result["instructions"]))

    return r
