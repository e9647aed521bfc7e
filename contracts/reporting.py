"""Reporting: status and final reports, accounts, overdue notices, repayment claims."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field

from contracts.bounds import LONG_TEXT, multi_line, single_line, text_keyed
from contracts.base import Contract, Currency, Cvr, Oere, Reason, UtcDatetime

AuditLevel = Literal["reviewer", "auditor_statement", "auditor_statement_and_performance_audit"]
AuditStatementType = Literal["reviewer_statement", "auditor_statement"]
"""What a final report's statement is (R21): an independent, competent reviewer's statement, or a
registered or state-authorised auditor's."""


class ReportSubmitted(Contract):
    report_id: UUID
    application_id: UUID
    kind: Literal["status", "final"]
    text: multi_line(LONG_TEXT) = ""
    accounts: text_keyed(Oere, 200) | None = None
    audit_statement: single_line(200) | None = None
    # Typed statements (issue 16): absent in v1 reports, whose bare reference declares the
    # statement their audit level requires.
    audit_statement_type: AuditStatementType | None = None
    performance_audit: single_line(200) | None = None
    submitted_by: str
    submitted_at: UtcDatetime


class ReportAccepted(Contract):
    report_id: UUID
    application_id: UUID
    kind: Literal["status", "final"]
    spent_oere: Oere | None = None
    audit_level: AuditLevel | None = None
    # Final report: what was spent beyond each post's approved amount, per post (not eligible,
    # R20; claimed back with the unspent money, R22). Absent when nothing was.
    ineligible_oere: Oere | None = None
    ineligible_posts: dict[str, Oere] | None = None


class ReportRejected(Contract):
    report_id: UUID
    application_id: UUID
    kind: Literal["status", "final"]
    reasons: Annotated[list[Reason], Field(min_length=1)]


class ReportOverdue(Contract):
    """A report deadline passed without an accepted report: payments holds the grantee (R18)."""

    application_id: UUID
    cvr: Cvr
    kind: Literal["status", "final"]
    due: date


class OverdueReportResolved(Contract):
    """A report accepted after its deadline meets the deadline a ``ReportOverdue`` named:
    payments releases the hold that notice caused, by itself (R18; holds placed by people keep
    the two-person release, R19)."""

    application_id: UUID
    cvr: Cvr
    kind: Literal["status", "final"]
    due: date
    report_id: UUID


class RepaymentClaimed(Contract):
    """Paid minus eligible spending, claimed back (R22)."""

    application_id: UUID
    cvr: Cvr
    currency: Currency = "DKK"
    paid_oere: Oere
    spent_oere: Oere
    amount_oere: Annotated[int, Field(gt=0)]
    # Of ``spent_oere``, what was not eligible (beyond a post's approved amount): the claim is
    # paid − (spent − ineligible).
    ineligible_oere: Oere = 0


class RepaymentWaived(Contract):
    """Unspent money under the collection threshold (500 DKK) is not claimed; recorded (R22)."""

    application_id: UUID
    cvr: Cvr
    paid_oere: Oere
    spent_oere: Oere
    amount_oere: Annotated[int, Field(gt=0)]
    threshold_oere: Oere
    ineligible_oere: Oere = 0
