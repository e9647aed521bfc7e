"""The numeric rules of reporting: audit level by size (R21), the repayment threshold (R22),
report deadlines and the project period (R18, R20). Pure functions over integers and dates.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from contracts.base import ProjectPeriod
from contracts.reporting import AuditLevel, AuditStatementType

COPENHAGEN = ZoneInfo("Europe/Copenhagen")

# R21: "up to 100,000 DKK" is inclusive; "over 100,000" / "over 500,000" are strict.
REVIEWER_MAX_OERE = 10_000_000
"""Awards up to and including 100,000.00 DKK need only an independent, competent reviewer."""
PERFORMANCE_AUDIT_ABOVE_OERE = 50_000_000
"""Awards over 500,000.00 DKK also need a performance audit."""

REPAYMENT_THRESHOLD_OERE = 50_000
"""R22: unspent money under 500 DKK is not collected; exactly 500.00 DKK is claimed."""


def audit_level(award_oere: int) -> AuditLevel:
    """The audit a final report needs for an award of this size (R21)."""
    if award_oere <= REVIEWER_MAX_OERE:
        return "reviewer"
    if award_oere <= PERFORMANCE_AUDIT_ABOVE_OERE:
        return "auditor_statement"
    return "auditor_statement_and_performance_audit"


def statement_type_suffices(award_oere: int, statement: AuditStatementType) -> bool:
    """R21: an auditor's statement serves every level; a reviewer's only up to 100,000 DKK."""
    return statement == "auditor_statement" or award_oere <= REVIEWER_MAX_OERE


def needs_performance_audit(award_oere: int) -> bool:
    """R21: over 500,000.00 DKK (one øre over) also needs a performance audit."""
    return award_oere > PERFORMANCE_AUDIT_ABOVE_OERE


def ineligible_per_post(spent: dict[str, int], approved: dict[str, int]) -> dict[str, int]:
    """R20: per post, what was spent beyond the approved amount (posts with nothing beyond are
    left out). A post the budget does not hold is refused before this (post_not_in_budget)."""
    return {post: amount - approved.get(post, 0) for post, amount in sorted(spent.items())
            if amount > approved.get(post, 0)}


RepaymentKind = Literal["claim", "waive"]


def repayment_for(paid_oere: int, spent_oere: int) -> tuple[RepaymentKind, int] | None:
    """What R22 makes of paid − spent: a claim, a recorded waiver, or nothing (≤ 0)."""
    unspent = paid_oere - spent_oere
    if unspent <= 0:
        return None
    if unspent < REPAYMENT_THRESHOLD_OERE:
        return ("waive", unspent)
    return ("claim", unspent)


def end_of_day(due: date) -> datetime:
    """The first instant after ``due`` in Copenhagen: a report due on a date may arrive all day.

    Built from the next local midnight, so a DST change on the due date cannot shift it.
    """
    return datetime.combine(due + timedelta(days=1), time(0, 0), tzinfo=COPENHAGEN)


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def month_in_period(month: str, period: ProjectPeriod) -> bool:
    """``YYYY-MM`` within the project period, first and last month included.

    A delayed start shifts the first month the grantee spends in, never the end; months before
    the planned start are outside whatever the start was.
    """
    return month_of(period.start) <= month <= month_of(period.end)
