"""The intake state of one application, and how each intake event changes it.

The adapter stores this state as JSONB per application (``model_dump(mode="json")`` /
``model_validate``) and can rebuild it by folding the application's events with :func:`evolve`,
so everything a receipt or an outcome needs is derived from events alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from contracts.base import Reason, UtcDatetime
from contracts.intake import (
    ApplicationAccepted,
    ApplicationReceived,
    ApplicationRejectedLate,
    ItProblemExceptionDecided,
    ItProblemExceptionRequested,
    Receipt,
    SubmissionInvalid,
    SubmissionUnauthorized,
)
from contracts.reason_codes.intake import REASON_CODES

from services.intake.domain.deadline import local_iso
from services.intake.domain.reason_codes import TIMING_ONLY_CODES

IntakeEvent = (
    ApplicationReceived
    | ApplicationAccepted
    | ApplicationRejectedLate
    | SubmissionInvalid
    | SubmissionUnauthorized
    | ItProblemExceptionRequested
    | ItProblemExceptionDecided
)

VersionStatus = Literal[
    "on_time", "exception_pending", "exception_granted", "late_rejected", "exception_refused"
]


class _State(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class VersionRecord(_State):
    """One stored version. ``status`` is what its receipt says now (see :func:`receipt_for`).

    A late version starts as ``exception_pending`` and is settled by the events that follow it:
    accepted by a granted exception, or rejected late (``exception_refused`` when a refused
    exception is among the reasons, ``late_rejected`` when timing alone decided).
    """

    submission_id: UUID
    version: int
    received_at: UtcDatetime
    timeliness: Literal["on_time", "late"]
    status: VersionStatus
    reasons: tuple[str, ...] = ()


class AcceptedVersion(_State):
    """The version that currently proceeds to assessment."""

    submission_id: UUID
    version: int
    basis: Literal["on_time", "exception_granted"]
    exception_id: UUID | None = None


class ExceptionRecord(_State):
    exception_id: UUID
    contacted_at: UtcDatetime
    contact: Literal["before_deadline", "after_deadline"]
    status: Literal["pending", "refused", "granted"]
    reasons: tuple[str, ...] = ()
    evidence_refs: tuple[str, ...] = ()
    decided_by: str | None = None
    decided_at: UtcDatetime | None = None


class RefusedSubmission(_State):
    """A submission refused by validation (``invalid``) or authorisation (``unauthorized``)."""

    submission_id: UUID | None
    received_at: UtcDatetime
    status: Literal["invalid", "unauthorized"]
    reasons: tuple[Reason, ...]


class ApplicationState(_State):
    """Everything intake knows about one application id.

    ``pool_id`` and ``applicant_cvr`` are bound by the first stored version or IT-problem
    contact; refused submissions never bind them, so nobody can claim an id by sending garbage.
    """

    application_id: UUID
    pool_id: str | None = None
    applicant_cvr: str | None = None
    versions: tuple[VersionRecord, ...] = ()
    accepted: AcceptedVersion | None = None
    exceptions: tuple[ExceptionRecord, ...] = ()
    refused_submissions: tuple[RefusedSubmission, ...] = ()

    def version_of(self, submission_id: UUID) -> VersionRecord | None:
        return next((v for v in self.versions if v.submission_id == submission_id), None)

    def refused_submission(self, submission_id: UUID) -> RefusedSubmission | None:
        # The latest one: an unauthorised attempt may be retried with the same id.
        return next(
            (r for r in reversed(self.refused_submissions) if r.submission_id == submission_id),
            None,
        )

    def exception(self, exception_id: UUID) -> ExceptionRecord | None:
        return next((e for e in self.exceptions if e.exception_id == exception_id), None)

    @property
    def latest_exception(self) -> ExceptionRecord | None:
        return self.exceptions[-1] if self.exceptions else None

    @property
    def latest_version(self) -> VersionRecord | None:
        return self.versions[-1] if self.versions else None

    def belongs_to(self, applicant_cvr: str, pool_id: str) -> bool:
        """True when unbound, or bound to this applicant and pool."""
        if self.applicant_cvr is None:
            return True
        return self.applicant_cvr == applicant_cvr and self.pool_id == pool_id


def _replace(items: tuple, old: object, new: object) -> tuple:  # type: ignore[type-arg]  # tuples of any record
    return tuple(new if item is old else item for item in items)


def _check_same_application(state: ApplicationState, application_id: UUID | None) -> None:
    if application_id is not None and application_id != state.application_id:
        raise ValueError(
            f"event for application {application_id} applied to state of {state.application_id}"
        )


def _bind(state: ApplicationState, applicant_cvr: str, pool_id: str) -> ApplicationState:
    if state.applicant_cvr is not None:
        return state
    return state.model_copy(update={"applicant_cvr": applicant_cvr, "pool_id": pool_id})


def _version_status_after_rejection(reasons: Iterable[str]) -> VersionStatus:
    return "late_rejected" if set(reasons) <= TIMING_ONLY_CODES else "exception_refused"


def evolve(state: ApplicationState, event: IntakeEvent) -> ApplicationState:
    """The state after ``event``. Pure; raises ``TypeError`` for an event intake does not emit."""
    match event:
        case ApplicationReceived():
            _check_same_application(state, event.application_id)
            state = _bind(state, event.applicant.cvr, event.pool_id)
            record = VersionRecord(
                submission_id=event.submission_id,
                version=event.version,
                received_at=event.received_at,
                timeliness=event.timeliness,
                status="on_time" if event.timeliness == "on_time" else "exception_pending",
            )
            return state.model_copy(update={"versions": (*state.versions, record)})
        case ApplicationAccepted():
            _check_same_application(state, event.application_id)
            accepted = AcceptedVersion(
                submission_id=event.submission_id,
                version=event.version,
                basis=event.basis,
                exception_id=event.exception_id,
            )
            versions = state.versions
            record = state.version_of(event.submission_id)
            if record is not None and event.basis == "exception_granted":
                settled = record.model_copy(update={"status": "exception_granted", "reasons": ()})
                versions = _replace(versions, record, settled)
            return state.model_copy(update={"accepted": accepted, "versions": versions})
        case ApplicationRejectedLate():
            _check_same_application(state, event.application_id)
            record = state.version_of(event.submission_id)
            if record is None:
                return state
            settled = record.model_copy(
                update={
                    "status": _version_status_after_rejection(event.reasons),
                    "reasons": tuple(event.reasons),
                }
            )
            return state.model_copy(update={"versions": _replace(state.versions, record, settled)})
        case SubmissionInvalid() | SubmissionUnauthorized():
            if isinstance(event, SubmissionInvalid):
                _check_same_application(state, event.application_id)
            refused = RefusedSubmission(
                submission_id=event.submission_id,
                received_at=event.received_at,
                status="invalid" if isinstance(event, SubmissionInvalid) else "unauthorized",
                reasons=tuple(event.reasons),
            )
            return state.model_copy(
                update={"refused_submissions": (*state.refused_submissions, refused)}
            )
        case ItProblemExceptionRequested():
            _check_same_application(state, event.application_id)
            state = _bind(state, event.applicant_cvr, event.pool_id)
            record = ExceptionRecord(
                exception_id=event.exception_id,
                contacted_at=event.contacted_at,
                contact=event.contact,
                status=event.status,
                reasons=tuple(event.reasons),
                evidence_refs=tuple(event.evidence_refs),
            )
            return state.model_copy(update={"exceptions": (*state.exceptions, record)})
        case ItProblemExceptionDecided():
            _check_same_application(state, event.application_id)
            exception = state.exception(event.exception_id)
            if exception is None:
                return state
            decided = exception.model_copy(
                update={
                    "status": "granted" if event.approved else "refused",
                    "reasons": tuple(event.reasons),
                    "evidence_refs": tuple(event.evidence_refs),
                    "decided_by": event.decided_by,
                    "decided_at": event.decided_at,
                }
            )
            versions = state.versions
            if event.approved:
                # Versions waiting on this exception are all covered by it; the newest is accepted
                # by the ApplicationAccepted that follows, the older ones are superseded by it.
                versions = tuple(
                    v.model_copy(update={"status": "exception_granted"})
                    if v.status == "exception_pending"
                    else v
                    for v in versions
                )
            return state.model_copy(
                update={
                    "exceptions": _replace(state.exceptions, exception, decided),
                    "versions": versions,
                }
            )
    raise TypeError(f"intake state does not evolve on {type(event).__name__}")


def evolve_all(state: ApplicationState, events: Iterable[IntakeEvent]) -> ApplicationState:
    for event in events:
        state = evolve(state, event)
    return state


def _reasons_from_codes(codes: Iterable[str]) -> list[Reason]:
    return [Reason(code=c, message=REASON_CODES.get(c, "")) for c in codes]


def receipt_for(state: ApplicationState, submission_id: UUID) -> Receipt | None:
    """The receipt for a submission, as the record stands now; ``None`` if intake never saw it.

    A stored version's receipt carries its current status, so a resend after an exception was
    decided shows the decision; until then a resend gets exactly the receipt it got the first time.
    """
    version = state.version_of(submission_id)
    if version is not None:
        return Receipt(
            submission_id=version.submission_id,
            application_id=state.application_id,
            version=version.version,
            received_at=version.received_at,
            received_at_local=local_iso(version.received_at),
            status=version.status,
            reasons=_reasons_from_codes(version.reasons),
        )
    refused = state.refused_submission(submission_id)
    if refused is not None:
        return refused_receipt(state.application_id, refused)
    return None


def refused_receipt(application_id: UUID | None, refused: RefusedSubmission) -> Receipt:
    return Receipt(
        submission_id=refused.submission_id,
        application_id=application_id,
        version=None,
        received_at=refused.received_at,
        received_at_local=local_iso(refused.received_at),
        status=refused.status,
        reasons=list(refused.reasons),
    )
