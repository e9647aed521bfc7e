"""Intake commands that are not portal contracts: the IT-problem exception path (R6–R8).

Submissions use :class:`contracts.intake.SubmitApplication` directly. These two commands come
from the HTTP API; the adapter fills identities and times it must not take from the client
(see each field).
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID, uuid5

from pydantic import BaseModel, ConfigDict, Field

from contracts.base import Cvr, ReasonCode, UtcDatetime

EvidenceRef = Annotated[str, Field(min_length=1, max_length=500)]

# Fixed namespace for ids the domain derives; changing it would change every derived id.
INTAKE_NAMESPACE = UUID("0b1f3c6e-7d4a-5b8e-9c2d-1a6f4e3b2c10")


class _Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ReportItProblem(_Command):
    """An applicant reports an IT problem that stopped or threatens a submission (R6/R7).

    ``exception_id`` is the idempotency key of the contact: the same id twice has one effect.
    ``contacted_at`` is when the agency received the contact: the adapter sets it from the
    server clock (or from a caseworker's record of a phone call), never from the applicant.
    ``screenshot_at`` is the date and time visible on the applicant's screenshot, if any.
    """

    exception_id: UUID
    application_id: UUID
    pool_id: Annotated[str, Field(min_length=1, max_length=80)]
    applicant_cvr: Cvr
    documentation: bool
    attempted_before_deadline: bool
    screenshot_at: UtcDatetime | None = None
    evidence_refs: list[EvidenceRef] = []
    contacted_at: UtcDatetime


class DecideItProblemException(_Command):
    """A caseworker grants or refuses a pending IT-problem exception (R8).

    Without ``exception_id`` the application's latest exception is decided (the HTTP API's
    ``/it-problem-decision`` names none). The maker is the token's subject, not a field here.
    ``reasons`` are refusal codes from ``CASEWORKER_REFUSAL_CODES`` (``exception_refused`` when
    none is given); an approval carries none. ``evidence_refs`` are added to the exception's own
    evidence on the record.
    """

    application_id: UUID
    exception_id: UUID | None = None
    approved: bool
    evidence_refs: list[EvidenceRef] = []
    reasons: list[ReasonCode] = []


def exception_id_for(application_id: UUID, request_key: str) -> UUID:
    """A deterministic exception id for adapters whose client sends a request key, not an id."""
    return uuid5(INTAKE_NAMESPACE, f"it-problem:{application_id}:{request_key}")
