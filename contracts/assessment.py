"""Assessment: pools, eligibility, scores, and the decisions (tilsagn / afslag)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field

from contracts.base import (
    Applicant, ApplicantKind, BudgetLine, Contract, Currency, Cvr, MunicipalityCode, Oere,
    ProjectPeriod, ReasonCode, RegionCode, UtcDatetime,
)
from contracts.bounds import LONG_TEXT, multi_line
from contracts.pools import PaymentFrequency, PoolDefinition, content_hash


class PoolPublished(Contract):
    """A pool version is in force. A decision names the version it was made under (R1)."""

    pool_id: str
    version: Annotated[int, Field(ge=1)]
    content_hash: str
    definition: PoolDefinition
    deadline: UtcDatetime | None = None

    @classmethod
    def of(cls, definition: PoolDefinition, version: int) -> PoolPublished:
        """The event putting ``definition`` in force as ``version``: hash and deadline derived."""
        return cls(pool_id=definition.pool_id, version=version,
                   content_hash=content_hash(definition), definition=definition,
                   deadline=definition.deadline_instant())


class PriorAwardImported(Contract):
    """An award from an earlier round of a programme, for once-per-applicant (R2).

    ``cvr`` names the grantee (the legal entity); ``kind`` is its kind in the register. An event
    without ``cvr`` names a municipality: it counts for that municipality's own entry (the
    applicant of kind ``municipality`` with that code), as do all events from before the register.
    """

    programme: str
    municipality_code: MunicipalityCode
    pool_id: str
    cvr: Cvr | None = None
    kind: ApplicantKind | None = None


class EligibilityAssessed(Contract):
    """The minimum-criteria gate (R10) on the accepted version of an application."""

    application_id: UUID
    submission_id: UUID
    pool_id: str
    pool_version: int
    municipality_code: MunicipalityCode
    region_code: RegionCode | None
    applied_oere: Oere
    eligible: bool
    reasons: list[ReasonCode] = []


class ApplicationScored(Contract):
    """One assessor's scores (0–5 per criterion) or recusal (R11); a rescore is a new event."""

    application_id: UUID
    assessor: str
    scores: dict[str, Annotated[int, Field(ge=0, le=5)]] = {}
    justification: multi_line(LONG_TEXT, min_length=1)
    recused: bool = False
    aggregate_score: float | None = Field(
        default=None, description="the application's score after this event (mean of totals)"
    )


class ReportingDeadline(Contract):
    kind: Literal["status", "final"]
    due: date


class GrantAwarded(Contract):
    """An approved award (tilsagn) (R13). ``applicant`` is the register's entry the accepted
    version names (R2): the grantee, by CVR."""

    application_id: UUID
    pool_id: str
    pool_version: int
    programme: str
    region_code: RegionCode | None
    sub_pool_amount_oere: Oere
    municipality_code: MunicipalityCode
    applicant: Applicant
    currency: Currency = "DKK"
    amount_oere: Oere
    applied_oere: Oere
    score: float
    rank: Annotated[int, Field(ge=1)]
    project_period: ProjectPeriod
    acceptance_deadline: UtcDatetime
    payment_frequency: PaymentFrequency
    reporting_deadlines: list[ReportingDeadline]
    budget_lines: list[BudgetLine]
    approved_by: str
    decided_at: UtcDatetime
    register_revision: Annotated[int, Field(ge=1)] | None = Field(
        default=None, description="the organisation register revision ``applicant`` is from")


class ApplicationRejected(Contract):
    """An approved rejection (afslag) with its reason codes (R10–R13)."""

    application_id: UUID
    pool_id: str
    pool_version: int
    programme: str
    region_code: RegionCode | None
    municipality_code: MunicipalityCode
    applied_oere: Oere
    score: float | None = None
    rank: Annotated[int, Field(ge=1)] | None = None
    reasons: Annotated[list[ReasonCode], Field(min_length=1)]
    approved_by: str
    decided_at: UtcDatetime
