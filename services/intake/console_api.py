"""Read API the staff's console needs: the IT-problem exceptions queue (R6–R8), with each
exception's evidence, across applications. A query only: nothing changes, nothing is emitted."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request

from servicekit.service import runtime_of
from services.intake.domain.state import ApplicationState
from services.intake.routes import Caseworker

MAX_ROWS = 1000

console_router = APIRouter(tags=["intake: console reads"])


@console_router.get("/exceptions", summary="IT-problem exceptions by status (default: pending)")
async def exceptions(
    request: Request, _: Caseworker,
    status: Annotated[Literal["pending", "refused", "granted"], Query()] = "pending",
) -> dict[str, Any]:
    async with runtime_of(request).pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT state FROM applications WHERE EXISTS (SELECT 1 FROM"
            " jsonb_array_elements(state->'exceptions') e WHERE e->>'status' = $1)"
            " ORDER BY application_id LIMIT $2", status, MAX_ROWS)
    out = []
    for row in rows:
        state = ApplicationState.model_validate_json(row["state"])
        latest = state.versions[-1] if state.versions else None
        for record in state.exceptions:
            if record.status == status:
                out.append({
                    "application_id": str(state.application_id), "pool_id": state.pool_id,
                    "applicant_cvr": state.applicant_cvr,
                    "versions": len(state.versions),
                    "latest_received_at": latest.received_at.isoformat() if latest else None,
                    **record.model_dump(mode="json")})
    out.sort(key=lambda e: e["contacted_at"])
    return {"status": status, "exceptions": out}
