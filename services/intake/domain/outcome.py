"""The overall intake status of an application, as the scenario result reports it."""

from __future__ import annotations

from typing import Literal

from services.intake.domain.state import ApplicationState

IntakeStatus = Literal[
    "on_time", "late_rejected", "exception_pending", "exception_granted", "exception_refused",
    "invalid",
]


def intake_outcome(state: ApplicationState) -> tuple[IntakeStatus, list[str]]:
    """(status, reason codes), in order of precedence.

    1. A version is accepted: ``on_time`` or ``exception_granted`` after its basis.
    2. The latest exception decides while nothing is accepted: pending, refused (with its
       reasons), or granted — granted only while no late version has been turned away, since a
       granted exception that admitted nothing means every late version came outside its window.
    3. Only late versions: ``late_rejected`` with the newest version's reasons.
    4. Only refused submissions: ``invalid`` with the newest refusal's reasons.
    """
    if state.accepted is not None:
        return state.accepted.basis, []
    latest_exception = state.latest_exception
    latest_version = state.latest_version
    if latest_exception is not None:
        if latest_exception.status == "pending":
            return "exception_pending", []
        if latest_exception.status == "refused":
            return "exception_refused", list(latest_exception.reasons)
        if latest_version is None:
            return "exception_granted", []
    if latest_version is not None:
        return "late_rejected", list(latest_version.reasons) or ["deadline_passed"]
    if state.refused_submissions:
        return "invalid", [r.code for r in state.refused_submissions[-1].reasons]
    return "invalid", ["nothing_submitted"]
