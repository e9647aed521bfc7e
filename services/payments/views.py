"""What payments' HTTP answers look like: the JSON views of its states and events."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from pydantic import BaseModel, TypeAdapter

from contracts.base import Reason
from contracts.payments import PaymentsReleased
from services.payments.domain import (
    GrantAccount,
    Hold,
    HoldBook,
    budget_status,
    instructed_oere,
    is_held,
    ledger,
    paid_oere,
)

_INSTANT = TypeAdapter(datetime)


def json_of(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json")


def instant(moment: datetime) -> str:
    """An instant as the events carry it (ISO-8601, UTC as ``Z``)."""
    return str(_INSTANT.dump_python(moment, mode="json"))


def reasons_of(reasons: Sequence[Reason]) -> list[dict[str, Any]]:
    return [json_of(r) for r in reasons]


def grant_view(state: GrantAccount, holds: HoldBook | None) -> dict[str, Any]:
    view = budget_status(state)
    status = ("lapsed" if state.is_lapsed else "accepted" if state.is_accepted
              else "awaiting_acceptance")
    return {
        **json_of(state),
        "status": status,
        "budget": {"status": view.status, "version": view.version,
                   "reasons": reasons_of(view.reasons),
                   "governing_version": view.governing_version},
        "instructed_oere": instructed_oere(state),
        "paid_oere": paid_oere(state),
        "held": is_held(holds),
        # the view of a hold as before its release request was part of its state (no new field)
        "holds": ([h.model_dump(mode="json", exclude={"release_request"})
                   for h in holds.active_holds] if holds is not None else []),
        "reconciliation_open": state.reconciliation_open,
        "ledger": [{**asdict(line), "due_date": line.due_date.isoformat(),
                    "covered_oere": line.covered_oere, "difference_oere": line.difference_oere}
                   for line in ledger(state)],
    }


def lapse_view(state: GrantAccount) -> dict[str, Any]:
    """A grant's end (lapsed, or withdrawn by a caseworker) as its answer."""
    assert state.lapse is not None
    return {"application_id": str(state.application_id), **json_of(state.lapse)}


def released_view(book: HoldBook, hold: Hold) -> dict[str, Any]:
    assert hold.released_at is not None
    assert hold.requested_by is not None and hold.approved_by is not None
    return json_of(PaymentsReleased(hold_id=hold.hold_id, cvr=book.cvr,
                                    requested_by=hold.requested_by,
                                    approved_by=hold.approved_by, released_at=hold.released_at))


def release_requested_view(book: HoldBook, hold: Hold) -> dict[str, Any]:
    request = hold.release_request
    assert request is not None
    return {"hold_id": str(hold.hold_id), "cvr": book.cvr, "status": "release_requested",
            "requested_by": request.requested_by, "requested_at": instant(request.requested_at)}
