"""What intake's HTTP answers look like: a receipt with its status, an application's record,
an IT-problem exception."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from fastapi.responses import JSONResponse

from contracts.base import Reason
from contracts.intake import ItProblemExceptionDecided, Receipt
from services.intake.domain import (
    REASON_CODES, Answer, ApplicationState, Decision, intake_outcome,
)

ANSWER_STATUS: dict[Answer, int] = {
    "ok": 200, "created": 201, "unauthenticated": 401, "forbidden": 403, "invalid": 422,
}
"""The HTTP status of each answer a decision gives (docs/http-api.md)."""

RECEIPT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": Receipt, "description": "decided: on_time, late_rejected, exception_*"},
    401: {"model": Receipt, "description": "no valid token (receipt status unauthorized)"},
    403: {"model": Receipt, "description": "token not allowed (receipt status unauthorized)"},
    422: {"model": Receipt, "description": "invalid submission (receipt status invalid)"},
}


def reasons_of(codes: Sequence[str]) -> list[dict[str, Any]]:
    return [Reason(code=c, message=REASON_CODES.get(c, "")).model_dump(mode="json") for c in codes]


def receipt_response(decision: Decision) -> JSONResponse:
    assert decision.receipt is not None
    headers = {"WWW-Authenticate": "Bearer"} if decision.answer == "unauthenticated" else None
    return JSONResponse(decision.receipt.model_dump(mode="json"),
                        status_code=ANSWER_STATUS[decision.answer], headers=headers)


def application_view(state: ApplicationState) -> dict[str, Any]:
    status, reasons = intake_outcome(state)
    return {
        "application_id": str(state.application_id), "status": status,
        "reasons": reasons_of(reasons),
        "versions": [v.model_dump(mode="json") for v in state.versions],
        "exceptions": [e.model_dump(mode="json") for e in state.exceptions],
    }


def contact_response(exception_id: UUID, decision: Decision, state: ApplicationState
                     ) -> JSONResponse:
    record = state.exception(exception_id)
    assert record is not None
    return JSONResponse({"exception_id": str(exception_id), "status": record.status,
                         "reasons": reasons_of(record.reasons)},
                        status_code=ANSWER_STATUS[decision.answer])


def exception_decided_view(decision: Decision, state: ApplicationState) -> dict[str, Any]:
    decided = decision.events[0]  # the decision; a late version's re-decision may follow
    assert isinstance(decided, ItProblemExceptionDecided)
    return {"exception_id": str(decided.exception_id), "approved": decided.approved,
            "application_status": intake_outcome(state)[0]}
