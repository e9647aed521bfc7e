"""The IT-problem exception rules (R6–R8) as plain functions of instants.

Two questions are answered here: is a contact refused by rule at once (and why), and does an
exception cover a given late version (did the version follow the contact closely enough)?
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from uuid import UUID

from contracts.pools import PoolDefinition

from services.intake.domain.commands import ReportItProblem
from services.intake.domain.deadline import is_on_time
from services.intake.domain.state import ApplicationState, ExceptionRecord, VersionRecord


def contact_kind(
    contacted_at: datetime, deadline: datetime
) -> Literal["before_deadline", "after_deadline"]:
    """A contact at the deadline instant is before it, like a submission at that instant."""
    return "before_deadline" if is_on_time(contacted_at, deadline) else "after_deadline"


def contact_refusal_reasons(
    command: ReportItProblem, deadline: datetime, late_contact_window: timedelta
) -> list[str]:
    """Reason codes that refuse a contact by rule; empty means a caseworker must decide.

    A contact later than the late-contact window is "not considered" (R8), so it gets that one
    reason only: listing what else it lacks would suggest that supplying it could help.
    """
    if contact_kind(command.contacted_at, deadline) == "before_deadline":
        return [] if command.documentation else ["documentation_missing"]
    if command.contacted_at > deadline + late_contact_window:
        return ["contact_after_48h"]
    # R7: the screenshot with a visible time is the minimum documentation of the problem, so the
    # ``documentation`` flag is not required on top of it after the deadline.
    reasons: list[str] = []
    if not command.attempted_before_deadline:
        reasons.append("attempt_not_documented")
    if command.screenshot_at is None:
        reasons.append("screenshot_missing")
    elif command.screenshot_at > deadline:
        reasons.append("screenshot_after_deadline")
    return reasons


def late_contact_window(pool: PoolDefinition) -> timedelta:
    return timedelta(hours=pool.late_contact_window_hours)


def submission_window(pool: PoolDefinition) -> timedelta:
    return timedelta(hours=pool.exception_submission_window_hours)


def covers(exception: ExceptionRecord, received_at: datetime, window: timedelta) -> bool:
    """Whether a late version received at ``received_at`` falls under the exception.

    Only the end of the window bounds it: a late version sent before the applicant got through
    to the agency (one minute late, then a phone call) is exactly what R7 is for.
    """
    return received_at <= exception.contacted_at + window


@dataclass(frozen=True)
class LateVerdict:
    """What happens to a late version on arrival."""

    outcome: Literal["accept", "pending", "reject"]
    exception_id: UUID | None = None  # the admitting exception when outcome == "accept"
    reasons: tuple[str, ...] = ()


def judge_late_version(
    state: ApplicationState, received_at: datetime, window: timedelta
) -> LateVerdict:
    """Judge a late version against the application's latest exception.

    At most one exception is open (pending or granted) at a time: a new contact is refused while
    one is, so the latest exception is the only one that can still admit a version.
    """
    latest = state.latest_exception
    if latest is None:
        return LateVerdict("reject", reasons=("deadline_passed",))
    covered = covers(latest, received_at, window)
    if latest.status == "granted" and covered:
        return LateVerdict("accept", exception_id=latest.exception_id)
    if latest.status == "pending" and covered:
        return LateVerdict("pending")
    if latest.status == "refused" and covered:
        reasons = tuple(dict.fromkeys(("deadline_passed", *latest.reasons)))
        return LateVerdict("reject", reasons=reasons)
    if latest.status in ("pending", "granted"):
        return LateVerdict(
            "reject", reasons=("deadline_passed", "submission_outside_exception_window")
        )
    return LateVerdict("reject", reasons=("deadline_passed",))


def version_to_admit(
    state: ApplicationState, exception: ExceptionRecord, window: timedelta
) -> VersionRecord | None:
    """The newest late version the exception covers, unless a newer version is already accepted."""
    covered = [
        v
        for v in state.versions
        if v.timeliness == "late" and covers(exception, v.received_at, window)
    ]
    if not covered:
        return None
    newest = covered[-1]
    if state.accepted is not None and state.accepted.version >= newest.version:
        return None
    return newest
