"""What reporting's HTTP requests look like: their bodies."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from contracts.reporting import AuditStatementType


class RequestBody(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EmptyBody(RequestBody):
    pass


class AuditStatementBody(RequestBody):
    """A typed statement (R21): what it is, its reference and, over 500,000 DKK, the reference
    of the performance audit."""

    type: AuditStatementType
    reference: Annotated[str, Field(max_length=200)]
    performance_audit: Annotated[str, Field(max_length=200)] | None = None


class ReportBody(RequestBody):
    """A status report (text) or the final report (accounts per post in øre, the statement —
    a bare reference (v1: the statement the audit level requires) or typed — optionally what was
    spent per month). Amounts are raw integers: the domain names a negative one by its post."""

    kind: Literal["status", "final"]
    text: str | None = None
    accounts: dict[str, StrictInt] | None = None
    audit_statement: Annotated[str, Field(max_length=200)] | AuditStatementBody | None = None
    spent_months: dict[str, dict[str, StrictInt]] | None = None

    def statement(self) -> tuple[str | None, AuditStatementType | None, str | None]:
        """(reference, type, performance audit) of the statement, however it was written."""
        s = self.audit_statement
        if isinstance(s, AuditStatementBody):
            return s.reference, s.type, s.performance_audit
        return s, None, None
