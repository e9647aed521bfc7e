"""What intake's HTTP requests look like: the IT-problem bodies. (``POST /submissions`` reads
its raw body: an invalid submission is a decision too, so it is parsed by the domain.)"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from contracts.base import UtcDatetime
from contracts.bounds import single_line
from services.intake.domain import ReportItProblem

# Evidence references end up in the JSONB state: no control characters (NUL cannot be stored);
# the one-line text kind of contracts.bounds, whose schema states the rule.
EvidenceRef = single_line(500, min_length=1)


class ItProblemContact(BaseModel):
    """``POST /applications/{id}/it-problem-contacts``: when the agency got it is the server's
    clock, and the exception id comes from the request key, never from this body."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    pool_id: Annotated[str, Field(min_length=1, max_length=80)]
    documentation: bool
    attempted_before_deadline: bool
    screenshot_at: UtcDatetime | None = None
    evidence_refs: Annotated[list[EvidenceRef], Field(max_length=100)] = []

    def report(self, exception_id: UUID, application_id: UUID, contacted_at: datetime,
               applicant_cvr: str) -> ReportItProblem:
        """The domain command, once the unit of work knows whose contact it is."""
        return ReportItProblem(
            exception_id=exception_id, application_id=application_id, pool_id=self.pool_id,
            applicant_cvr=applicant_cvr, documentation=self.documentation,
            attempted_before_deadline=self.attempted_before_deadline,
            screenshot_at=self.screenshot_at, evidence_refs=self.evidence_refs,
            contacted_at=contacted_at)


class ItProblemDecision(BaseModel):
    """``POST /applications/{id}/it-problem-decision``: the latest pending exception is decided."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    approve: bool
    evidence_refs: Annotated[list[EvidenceRef], Field(max_length=100)] = []
