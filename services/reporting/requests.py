"""What reporting's HTTP requests look like: their bodies."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from contracts.bounds import (
    LONG_TEXT, SignedAmount, multi_line, single_line, text_keyed,
)
from contracts.reporting import AuditStatementType


class RequestBody(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EmptyBody(RequestBody):
    pass


class AuditStatementBody(RequestBody):
    """A typed statement (R21): what it is, its reference and, over 500,000 DKK, the reference
    of the performance audit."""

    type: AuditStatementType
    reference: single_line(200)
    performance_audit: single_line(200) | None = None


class ReportBody(RequestBody):
    """A status report (text) or the final report (accounts per post in øre, the statement —
    a bare reference (v1: the statement the audit level requires) or typed — optionally what was
    spent per month). Amounts are raw integers: the domain names a negative one by its post."""

    # Within the bounds of ReportSubmitted (contracts.bounds): what is accepted here can be
    # recorded; a longer text, a larger amount, more posts are refused with their codes.
    kind: Literal["status", "final"]
    text: multi_line(LONG_TEXT) | None = None
    accounts: text_keyed(SignedAmount, 200) | None = None
    audit_statement: single_line(200) | AuditStatementBody | None = None
    spent_months: text_keyed(text_keyed(SignedAmount, 200), 200) | None = None

    def statement(self) -> tuple[str | None, AuditStatementType | None, str | None]:
        """(reference, type, performance audit) of the statement, however it was written."""
        s = self.audit_statement
        if isinstance(s, AuditStatementBody):
            return s.reference, s.type, s.performance_audit
        return s, None, None
