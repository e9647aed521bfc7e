"""Intake: the portal submission command and the events intake publishes.

Topic ``grants.portal.submissions.v1`` carries :class:`PortalSubmission` (a command with the
submitter's signed token); HTTP ``POST /submissions`` takes :class:`SubmitApplication` with the
token in ``Authorization: Bearer``. Both give the same :class:`Receipt`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field

from contracts.bounds import LONG_TEXT, MAX_LIST, multi_line, single_line
from contracts.base import Applicant, Contract, Cvr, IndicativeBudget, Reason, ReasonCode, UtcDatetime


class SubmitApplication(Contract):
    """Command: submit (a version of) an application with its indicative budget (R3).

    ``submission_id`` is the idempotency key: the same id twice has one effect (R9).
    ``application_id`` names the application across versions; a new ``submission_id`` with the
    same ``application_id`` is a new version (before the deadline it supersedes the old one).
    ``client_sent_at`` is recorded but never decides anything (R5).
    """

    submission_id: UUID
    application_id: UUID | None = None
    pool_id: single_line(80, min_length=1)
    applicant: Applicant
    purpose: multi_line(2000, min_length=1)
    target_group: multi_line(2000, min_length=1)
    description: multi_line(LONG_TEXT) = ""
    organisation: multi_line(LONG_TEXT) = ""
    anchoring_plan: multi_line(LONG_TEXT) = ""
    budget: IndicativeBudget
    client_sent_at: datetime | None = None


class PortalSubmission(Contract):
    """A message on the portal topic: the submitter's signed token and the command."""

    token: Annotated[str, Field(min_length=1, max_length=8192)]
    submission: SubmitApplication


ReceiptStatus = Literal[
    "on_time", "late_rejected", "exception_pending", "exception_granted", "exception_refused",
    "invalid", "unauthorized",
]


class Receipt(Contract):
    """What every submitter gets back, over HTTP or as an event on the topic path."""

    submission_id: UUID | None
    application_id: UUID | None
    version: int | None = None
    received_at: UtcDatetime
    received_at_local: str = Field(description="received-at in Europe/Copenhagen, ISO-8601")
    status: ReceiptStatus
    reasons: list[Reason] = []


class ApplicationReceived(Contract):
    """A valid, authenticated submission was stored (the receipt plus the application).

    ``timeliness`` is the server-side deadline decision (R5) at ``received_at``. ``applicant``
    is the organisation register's entry for the token's CVR (kind, municipality, region), the
    one at ``register_revision`` (R2, R4).
    """

    submission_id: UUID
    application_id: UUID
    version: Annotated[int, Field(ge=1)]
    supersedes_submission_id: UUID | None = None
    pool_id: single_line(80, min_length=1)
    applicant: Applicant
    purpose: multi_line(2000, min_length=1)
    target_group: multi_line(2000, min_length=1)
    description: multi_line(LONG_TEXT) = ""
    organisation: multi_line(LONG_TEXT) = ""
    anchoring_plan: multi_line(LONG_TEXT) = ""
    budget: IndicativeBudget
    received_at: UtcDatetime
    received_at_local: str
    client_sent_at: datetime | None = None
    deadline: UtcDatetime
    timeliness: Literal["on_time", "late"]
    register_revision: Annotated[int, Field(ge=1)] | None = Field(
        default=None,
        description="the organisation register revision of the applicant's entry that "
        "``applicant`` was taken from; null: admitted unregistered by a pool that allows it "
        "(or an event from before the register)")


class ApplicationAccepted(Contract):
    """The given version proceeds to assessment: on time, or late with a granted exception."""

    application_id: UUID
    submission_id: UUID
    version: Annotated[int, Field(ge=1)]
    pool_id: str
    basis: Literal["on_time", "exception_granted"]
    exception_id: UUID | None = None


class ApplicationRejectedLate(Contract):
    """A late version with no IT-problem exception that could admit it (R5)."""

    application_id: UUID
    submission_id: UUID
    pool_id: str
    received_at: UtcDatetime
    deadline: UtcDatetime
    reasons: list[ReasonCode]


class SubmissionInvalid(Contract):
    """A submission that failed validation (R3); nothing of it is stored as an application."""

    submission_id: UUID | None = None
    application_id: UUID | None = None
    pool_id: str | None = None
    received_at: UtcDatetime
    reasons: Annotated[list[Reason], Field(min_length=1)]


class SubmissionUnauthorized(Contract):
    """A submission refused by authentication (401) or authorisation (403) (R4)."""

    submission_id: UUID | None = None
    received_at: UtcDatetime
    status: Literal[401, 403]
    reasons: Annotated[list[Reason], Field(min_length=1)]


class ItProblemExceptionRequested(Contract):
    """An applicant reported an IT problem (R6/R7); rule-based refusals are decided at once."""

    exception_id: UUID
    application_id: UUID
    pool_id: str
    applicant_cvr: Cvr
    contacted_at: UtcDatetime
    contact: Literal["before_deadline", "after_deadline"]
    documentation: bool
    attempted_before_deadline: bool
    screenshot_at: UtcDatetime | None = None
    evidence_refs: Annotated[list[single_line(500)], Field(max_length=MAX_LIST)] = []
    status: Literal["pending", "refused"]
    reasons: list[ReasonCode] = []


class ItProblemExceptionDecided(Contract):
    """A caseworker granted or refused an exception (R8); evidence and maker stay on record."""

    exception_id: UUID
    application_id: UUID
    pool_id: str
    approved: bool
    decided_by: str
    decided_at: UtcDatetime
    evidence_refs: Annotated[list[single_line(500)], Field(max_length=MAX_LIST)] = []
    reasons: list[ReasonCode] = []
