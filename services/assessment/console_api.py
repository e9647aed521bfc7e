"""Read APIs the staff's console needs and the command API did not give: the published pools,
a pool's applications (filtered, searchable) and the allocation plan an approver would approve,
with who may not approve it (segregation of duties shown before it is enforced).

Queries only: nothing here changes state or emits an event. The router is the module's, its
dependencies those of :mod:`.routes` (the running service, the verified caller).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from contracts.assessment import PoolPublished
from contracts.pools import PoolDefinition
from services.assessment.domain.overview import status_of
from services.assessment.domain.pools import decision_region, sub_pool_names
from services.assessment.domain.scoring import exact_score, participants, shown
from services.assessment.domain.state import ApplicationFile, PoolRound
from services.assessment.register_routes import Staff
from services.assessment.routes import Anyone, Runtime
from services.assessment.service import preview_allocation, round_in_parts

MAX_ROWS = 2000
Filter = Annotated[str | None, Query(max_length=100)]


def _reasons(file: ApplicationFile) -> list[str]:
    if file.decision is not None:
        return list(file.decision.reasons)
    if file.eligibility is not None and not file.eligibility.eligible:
        return list(file.eligibility.reasons)
    return []


def application_row(state: PoolRound, file: ApplicationFile) -> dict[str, Any] | None:
    version = file.accepted or (file.versions[-1] if file.versions else None)
    if version is None:
        return None
    return {
        "application_id": str(file.application_id), "status": status_of(file),
        "applicant": version.applicant.model_dump(mode="json"),
        "region_code": decision_region(state.definition, version.region_code),
        "applied_oere": version.applied_oere, "versions": len(file.versions),
        "budget_lines": [line.model_dump(mode="json") for line in version.budget_lines],
        "received_at": version.received_at.isoformat(),
        "aggregate_score": shown(exact_score(file)), "reasons": _reasons(file),
        "awarded_oere": (file.decision.amount_oere if file.decision is not None else 0),
        "assessors": sorted(participants(file)),
    }


def _regions(definition: PoolDefinition) -> dict[str, str]:
    """Sub-pool key → name; ``""`` is the whole pool of a pool without sub-pools."""
    return {key or "": name for key, name in sub_pool_names(definition).items()}


def _matches(row: dict[str, Any], status: str | None, region: str | None, reason: str | None,
             q: str | None) -> bool:
    if status and row["status"] != status:
        return False
    if region and (row["region_code"] or "") != region:
        return False
    if reason and reason not in row["reasons"]:
        return False
    if q:
        needle = q.casefold().strip()
        applicant = row["applicant"]
        haystack = " ".join([applicant["name"], applicant["cvr"], applicant["municipality_code"],
                             row["application_id"]]).casefold()
        return needle in haystack
    return True


router = APIRouter(tags=["assessment: console reads"])


@router.get("/pools", summary="Every published pool (the version in force)")
async def pools(runtime: Runtime, _: Anyone) -> dict[str, Any]:
    async with runtime.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT pool FROM pool_rounds WHERE pool IS NOT NULL ORDER BY pool_id")
    out = []
    for row in rows:
        published = PoolPublished.model_validate_json(row["pool"])
        d = published.definition
        out.append({"pool_id": published.pool_id, "version": published.version,
                    "title": d.title, "programme": d.programme_id,
                    "deadline_local": d.deadline_local.isoformat() if d.deadline_local
                    else None, "total_oere": d.total_oere,
                    "sub_pools": [{"region_code": s.region_code, "region": s.region}
                                  for s in d.sub_pools]})
    return {"pools": out}


@router.get("/pools/{pool_id}/applications",
            summary="A pool's applications, filtered by status, region, reason; search")
async def applications(pool_id: str, runtime: Runtime, _: Staff, status: Filter = None,
                       region: Filter = None, reason: Filter = None, q: Filter = None
                       ) -> dict[str, Any]:
    total, shown_rows, definition = 0, [], None
    async with runtime.pool.acquire() as conn:
        async for part in round_in_parts(conn, pool_id):  # never every parsed file at once
            definition = part.definition
            for f in part.files():
                if (row := application_row(part, f)) is not None:
                    total += 1
                    if _matches(row, status, region, reason, q):
                        shown_rows.append(row)
    assert definition is not None  # round_in_parts yields at least one part or refuses
    shown_rows.sort(key=lambda r: r["application_id"])  # the order of the whole round's files
    return {"pool_id": pool_id, "total": total, "matching": len(shown_rows),
            "applications": shown_rows[:MAX_ROWS], "truncated": len(shown_rows) > MAX_ROWS,
            "regions": _regions(definition)}


@router.get("/pools/{pool_id}/allocation-plan",
            summary="What approving now would decide, per sub-pool, and who may not approve")
async def allocation_plan(pool_id: str, runtime: Runtime, principal: Staff) -> dict[str, Any]:
    async with runtime.pool.acquire() as conn:
        preview = await preview_allocation(conn, pool_id, principal.subject[:128])
    return {
        **preview.plan.model_dump(mode="json"),
        "regions": _regions(preview.pool.definition),
        "applicants": {str(a): name for a, name in preview.names.items()},
        "you_assessed": [str(a) for a in preview.assessed_by_caller],
        "may_approve": "approver" in principal.roles and not preview.assessed_by_caller,
    }
