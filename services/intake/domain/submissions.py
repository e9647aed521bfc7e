"""Deciding a submission (R3–R5, R9): refuse it, repeat its receipt, or store a new version.

The order of the checks matters and is deliberate:
1. authorisation: the token's organisation is the applicant the submission names (403);
2. a repeat of an invalid submission gets its refusal again (one effect per submission id);
3. an application id bound to another applicant or pool is refused, before any repeat of a
   stored version, so nobody sees the receipt of an application that is not theirs;
4. a repeat of a stored version gets its receipt again;
5. business validation, reporting every violation, and who the applicant is: the organisation
   register's entry for the CVR, against which the typed applicant is checked
   (:mod:`.applicant_identity`; only once the CVR and the municipality code are well-formed);
6. the deadline decision, and for a late version the IT-problem exception that may admit it.
   The stored version names the register's applicant and the register revision it came from.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Literal
from uuid import UUID, uuid5

from contracts.assessment import PoolPublished
from contracts.base import Reason
from contracts.intake import (
    ApplicationAccepted,
    ApplicationReceived,
    ApplicationRejectedLate,
    SubmissionInvalid,
    SubmissionUnauthorized,
    SubmitApplication,
)

from services.intake.domain.applicant_identity import (
    IDENTITY_PATHS, Identified, RegisterEntry, identify_applicant,
)
from services.intake.domain.authorisation import Claims, authorise_submission
from services.intake.domain.commands import INTAKE_NAMESPACE
from services.intake.domain.deadline import deadline_of, is_on_time, local_iso, require_aware
from services.intake.domain.decision import Decision
from services.intake.domain.input_errors import ParsedSubmission
from services.intake.domain.it_problem_rules import judge_late_version, submission_window
from services.intake.domain.reason_codes import reason
from services.intake.domain.state import (
    ApplicationState,
    IntakeEvent,
    RefusedSubmission,
    evolve_all,
    receipt_for,
    refused_receipt,
)
from services.intake.domain.submission_rules import validate_submission


def application_id_for(command: SubmitApplication) -> UUID:
    """The application id: the one given, or derived from the submission id for a first version.

    Derived with uuid5 so a resent first submission without an id lands on the same application.
    """
    if command.application_id is not None:
        return command.application_id
    return uuid5(INTAKE_NAMESPACE, f"application:{command.submission_id}")


def _decided(
    state: ApplicationState, submission_id: UUID, events: list[IntakeEvent]
) -> Decision:
    # The receipt is read from the state the events produce, so a repeat (which reads the stored
    # state) gives the same receipt as the first answer.
    receipt = receipt_for(evolve_all(state, events), submission_id)
    return Decision(events=tuple(events), receipt=receipt)


def _repeat(state: ApplicationState, submission_id: UUID) -> Decision:
    return Decision(events=(), receipt=receipt_for(state, submission_id))


def _repeat_of_invalid(state: ApplicationState, submission_id: UUID) -> Decision | None:
    """The stored refusal of a submission id that never became a version, if there is one.

    A submission id that is a stored version is never answered from here: whoever reuses it
    without being its owner must not see the owner's receipt, only a fresh refusal.
    """
    if state.version_of(submission_id) is not None:
        return None
    refused = next(
        (
            r
            for r in state.refused_submissions
            if r.submission_id == submission_id and r.status == "invalid"
        ),
        None,
    )
    if refused is None:
        return None
    receipt = refused_receipt(state.application_id, refused)
    # The same answer as the first time: a portal retrying after a timeout must not read success.
    return Decision(events=(), receipt=receipt, answer="invalid")


def _invalid(
    state: ApplicationState,
    command: SubmitApplication,
    now: datetime,
    reasons: list[Reason],
) -> Decision:
    event = SubmissionInvalid(
        submission_id=command.submission_id,
        application_id=state.application_id,
        pool_id=command.pool_id,
        received_at=now,
        reasons=reasons,
    )
    # Built from the refusal itself, not looked up by submission id: a conflicting submission
    # may carry the id of the owner's stored version, whose receipt it must not see.
    refused = RefusedSubmission(
        submission_id=command.submission_id,
        received_at=now,
        status="invalid",
        reasons=tuple(reasons),
    )
    return Decision(
        events=(event,), receipt=refused_receipt(state.application_id, refused), answer="invalid"
    )


def decide_submission(
    state: ApplicationState,
    command: SubmitApplication,
    now: datetime,
    *,
    claims: Claims,
    pools: Mapping[str, PoolPublished],
    register: Mapping[str, RegisterEntry],
    bound_to: UUID | None = None,
) -> Decision:
    """Decide a parsed submission received by the server at ``now``.

    ``state`` is the state of ``application_id_for(command)`` (a fresh ``ApplicationState`` for
    an id never seen); ``claims`` are the verified token's claims; ``pools`` the published pools;
    ``register`` intake's register entries by CVR (at least the applicant's, if it has one).
    ``bound_to`` is the application the adapter's submission index already binds the submission
    id to, if any: a submission id names one submission of one application (R9), so reusing it
    for another application is refused, after authorisation, like an application id conflict.
    """
    require_aware(now, "now")
    if state.application_id != application_id_for(command):
        raise ValueError("state is not the state of the command's application")
    submission_id = command.submission_id

    denied = authorise_submission(claims, command.applicant.cvr)
    if denied:
        # Not a repeat even if the id is known: the same submission may be retried with a
        # proper token, and must then take effect.
        event = SubmissionUnauthorized(
            submission_id=submission_id, received_at=now, status=403, reasons=denied
        )
        receipt = refused_receipt(
            state.application_id,
            RefusedSubmission(
                submission_id=submission_id,
                received_at=now,
                status="unauthorized",
                reasons=tuple(denied),
            ),
        )
        return Decision(events=(event,), receipt=receipt, answer="forbidden")

    repeated = _repeat_of_invalid(state, submission_id)
    if repeated is not None:
        return repeated

    if bound_to is not None and bound_to != state.application_id:
        taken = [reason("application_id_conflict", "submission_id",
                        "the submission id already belongs to another application")]
        return _invalid(state, command, now, taken)

    if not state.belongs_to(command.applicant.cvr, command.pool_id):
        conflict = [reason("application_id_conflict", "application_id")]
        return _invalid(state, command, now, conflict)

    if state.version_of(submission_id) is not None:
        return _repeat(state, submission_id)

    problems = validate_submission(command, pools)
    identified = None
    if not any(p.path in IDENTITY_PATHS for p in problems) and command.pool_id in pools:
        identified = identify_applicant(command.applicant, register.get(command.applicant.cvr),
                                        pools[command.pool_id].definition)
        problems.extend(identified.reasons)
    if problems:
        return _invalid(state, command, now, problems)
    assert identified is not None and identified.applicant is not None
    return _store_version(state, command, now, pools[command.pool_id], identified)


def _store_version(
    state: ApplicationState, command: SubmitApplication, now: datetime, pool: PoolPublished,
    identified: Identified,
) -> Decision:
    deadline = deadline_of(pool)
    assert deadline is not None, "validate_submission refuses a pool without a deadline"
    assert identified.applicant is not None, "an unidentified applicant is refused before"
    on_time = is_on_time(now, deadline)
    previous = state.latest_version
    received = ApplicationReceived(
        submission_id=command.submission_id,
        application_id=state.application_id,
        version=(previous.version + 1) if previous else 1,
        # Only an on-time version supersedes on arrival; a late one replaces the accepted version
        # only if an exception admits it, and ApplicationAccepted is what says so.
        supersedes_submission_id=previous.submission_id if (previous and on_time) else None,
        pool_id=command.pool_id,
        applicant=identified.applicant,
        register_revision=identified.register_revision,
        purpose=command.purpose,
        target_group=command.target_group,
        description=command.description,
        organisation=command.organisation,
        anchoring_plan=command.anchoring_plan,
        budget=command.budget,
        received_at=now,
        received_at_local=local_iso(now),
        client_sent_at=command.client_sent_at,
        deadline=deadline,
        timeliness="on_time" if on_time else "late",
    )
    events: list[IntakeEvent] = [received]
    if on_time:
        events.append(_accepted(received, "on_time", None))
        return _decided(state, command.submission_id, events)

    verdict = judge_late_version(state, now, submission_window(pool.definition))
    if verdict.outcome == "accept":
        events.append(_accepted(received, "exception_granted", verdict.exception_id))
    elif verdict.outcome == "reject":
        events.append(
            ApplicationRejectedLate(
                application_id=state.application_id,
                submission_id=command.submission_id,
                pool_id=command.pool_id,
                received_at=now,
                deadline=deadline,
                reasons=list(verdict.reasons),
            )
        )
    # "pending": the version waits for the caseworker's decision on the exception.
    return _decided(state, command.submission_id, events)


def _accepted(
    received: ApplicationReceived,
    basis: Literal["on_time", "exception_granted"],
    exception_id: UUID | None,
) -> ApplicationAccepted:
    return ApplicationAccepted(
        application_id=received.application_id,
        submission_id=received.submission_id,
        version=received.version,
        pool_id=received.pool_id,
        basis=basis,
        exception_id=exception_id,
    )


def decide_malformed(
    state: ApplicationState | None, parsed: ParsedSubmission, now: datetime
) -> Decision:
    """Refuse a submission that did not parse into the contract (R3).

    ``state`` is the state of ``parsed.application_id`` when the raw JSON named a readable one,
    else ``None``. A repeat of a known submission id gets that submission's receipt again.
    """
    require_aware(now, "now")
    if parsed.command is not None or not parsed.reasons:
        raise ValueError("decide_malformed takes a submission that failed to parse")
    if state is not None and parsed.application_id not in (None, state.application_id):
        raise ValueError("state is not the state of the submission's application")
    if state is not None and parsed.submission_id is not None:
        repeated = _repeat_of_invalid(state, parsed.submission_id)
        if repeated is not None:
            return repeated
    application_id = state.application_id if state is not None else parsed.application_id
    event = SubmissionInvalid(
        submission_id=parsed.submission_id,
        application_id=application_id,
        pool_id=parsed.pool_id,
        received_at=now,
        reasons=list(parsed.reasons),
    )
    receipt = refused_receipt(
        application_id,
        RefusedSubmission(
            submission_id=parsed.submission_id,
            received_at=now,
            status="invalid",
            reasons=parsed.reasons,
        ),
    )
    return Decision(events=(event,), receipt=receipt, answer="invalid")
