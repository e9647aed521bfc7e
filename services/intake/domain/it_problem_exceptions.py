"""Deciding IT-problem contacts and caseworker decisions on them (R6–R8).

A contact is refused by rule at once when it lacks what R6/R7 require or comes too late (R8);
otherwise it waits for a caseworker. A granted exception admits the newest late version it covers,
now or when one arrives within the submission window; a refused one settles the versions that
waited for it as rejected late.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from contracts.assessment import PoolPublished
from contracts.base import Reason
from contracts.intake import (
    ApplicationAccepted,
    ApplicationRejectedLate,
    ItProblemExceptionDecided,
    ItProblemExceptionRequested,
)
from contracts.refusal import Refusal

from services.intake.domain.authorisation import (
    Claims,
    authorise_contact,
    authorise_exception_decision,
)
from services.intake.domain.commands import DecideItProblemException, ReportItProblem
from services.intake.domain.deadline import deadline_of, require_aware
from services.intake.domain.decision import Decision
from services.intake.domain.it_problem_rules import (
    contact_kind,
    contact_refusal_reasons,
    late_contact_window,
    submission_window,
    version_to_admit,
)
from services.intake.domain.reason_codes import CASEWORKER_REFUSAL_CODES
from services.intake.domain.state import ApplicationState, IntakeEvent


def _refuse_on(reasons: list[Reason]) -> None:
    if reasons:
        message = "; ".join(r.message for r in reasons)
        raise Refusal(reasons[0].code, message, "forbidden", reasons=reasons)


def _open_pool(pools: Mapping[str, PoolPublished], pool_id: str) -> tuple[PoolPublished, datetime]:
    pool = pools.get(pool_id)
    if pool is None:
        raise Refusal("pool_unknown", f"no published pool {pool_id!r}", "invalid")
    deadline = deadline_of(pool)
    if deadline is None:
        raise Refusal("pool_not_open", f"pool {pool_id!r} has no deadline", "conflict")
    return pool, deadline


def decide_contact(
    state: ApplicationState,
    command: ReportItProblem,
    now: datetime,
    *,
    claims: Claims,
    pools: Mapping[str, PoolPublished],
) -> Decision:
    """Record an IT-problem contact: refused by rule at once, or pending for a caseworker."""
    require_aware(now, "now")
    if state.application_id != command.application_id:
        raise ValueError("state is not the state of the command's application")
    _refuse_on(authorise_contact(claims, command.applicant_cvr))
    if not state.belongs_to(command.applicant_cvr, command.pool_id):
        raise Refusal(
            "application_id_conflict", "the application belongs to another applicant or pool",
            "conflict",
        )
    if state.exception(command.exception_id) is not None:
        return Decision(events=())
    pool, deadline = _open_pool(pools, command.pool_id)
    if command.contacted_at > now:
        raise Refusal(
            "contacted_at_in_future", "a contact cannot be recorded before it happens", "invalid"
        )
    latest = state.latest_exception
    if latest is not None and latest.status == "pending":
        raise Refusal(
            "exception_already_pending", f"exception {latest.exception_id} awaits a decision",
            "conflict",
        )
    if latest is not None and latest.status == "granted":
        raise Refusal(
            "exception_already_granted", f"exception {latest.exception_id} is granted", "conflict"
        )
    reasons = contact_refusal_reasons(command, deadline, late_contact_window(pool.definition))
    event = ItProblemExceptionRequested(
        exception_id=command.exception_id,
        application_id=command.application_id,
        pool_id=command.pool_id,
        applicant_cvr=command.applicant_cvr,
        contacted_at=command.contacted_at,
        contact=contact_kind(command.contacted_at, deadline),
        documentation=command.documentation,
        attempted_before_deadline=command.attempted_before_deadline,
        screenshot_at=command.screenshot_at,
        evidence_refs=list(command.evidence_refs),
        status="refused" if reasons else "pending",
        reasons=reasons,
    )
    return Decision(events=(event,), answer="created")


def _refusal_reasons(command: DecideItProblemException) -> list[str]:
    if command.approved:
        if command.reasons:
            raise Refusal(
                "reasons_on_approval", "an approval carries no refusal reasons", "invalid"
            )
        return []
    unknown = [code for code in command.reasons if code not in CASEWORKER_REFUSAL_CODES]
    if unknown:
        raise Refusal(
            "reason_unknown",
            f"{unknown} not among the refusal reasons {sorted(CASEWORKER_REFUSAL_CODES)}",
            "invalid",
        )
    return list(dict.fromkeys(command.reasons)) or ["exception_refused"]


def decide_exception_decision(
    state: ApplicationState,
    command: DecideItProblemException,
    now: datetime,
    *,
    claims: Claims,
    pools: Mapping[str, PoolPublished],
) -> Decision:
    """A caseworker grants or refuses a pending exception; ``sub`` names the decision's maker."""
    require_aware(now, "now")
    if state.application_id != command.application_id:
        raise ValueError("state is not the state of the command's application")
    _refuse_on(authorise_exception_decision(claims, state.applicant_cvr))
    if command.exception_id is None:
        exception = state.latest_exception
    else:
        exception = state.exception(command.exception_id)
    if exception is None:
        wanted = command.exception_id or "at all"
        raise Refusal("exception_unknown", f"the application has no exception {wanted}",
                      "not_found")
    if exception.status != "pending":
        raise Refusal(
            "exception_already_decided", f"the exception is already {exception.status}", "conflict"
        )
    reasons = _refusal_reasons(command)
    assert state.pool_id is not None, "an exception binds the application to its pool"
    pool, deadline = _open_pool(pools, state.pool_id)
    decided = ItProblemExceptionDecided(
        exception_id=exception.exception_id,
        application_id=state.application_id,
        pool_id=state.pool_id,
        approved=command.approved,
        decided_by=str(claims["sub"]),
        decided_at=now,
        # The decision carries all its evidence, so the record explains it on its own (R8).
        evidence_refs=list(dict.fromkeys([*exception.evidence_refs, *command.evidence_refs])),
        reasons=reasons,
    )
    events: list[IntakeEvent] = [decided]
    if command.approved:
        admitted = version_to_admit(state, exception, submission_window(pool.definition))
        if admitted is not None:
            events.append(
                ApplicationAccepted(
                    application_id=state.application_id,
                    submission_id=admitted.submission_id,
                    version=admitted.version,
                    pool_id=state.pool_id,
                    basis="exception_granted",
                    exception_id=exception.exception_id,
                )
            )
    else:
        for waiting in (v for v in state.versions if v.status == "exception_pending"):
            events.append(
                ApplicationRejectedLate(
                    application_id=state.application_id,
                    submission_id=waiting.submission_id,
                    pool_id=state.pool_id,
                    received_at=waiting.received_at,
                    deadline=deadline,
                    reasons=list(dict.fromkeys(["deadline_passed", *reasons])),
                )
            )
    return Decision(events=tuple(events))
