"""Decisions (R13): an approver turns the allocation's recommendations into awards and rejections.

Segregation of duties: an approver who scored or recused from *any* application in the batch is
refused (``segregation_of_duties``, 403) and nothing is decided — the batch is approved by
someone else. The batch is every recommendation of the current plan (all undecided accepted
applications of the pool). ``expected_plan_hash`` lets an approver approve exactly the plan they
saw: if scores or applications changed since, the approval is refused
(``recommendations_changed``, 409).

An award (``GrantAwarded``) carries:
- the full applied-for amount, the pool version and the sub-pool's amount;
- the project period = the pool's project period;
- ``acceptance_deadline`` = 23:59:59 local pool time (DST-aware) on the date
  ``acceptance_deadline_days`` after the decision's local date;
- the pool's ``payment_frequency``, unless the approver set one for that award (R13: the
  frequency is per award; payments' instructions follow it);
- ``reporting_deadlines``: a status report ``m`` months after project start for each ``m`` in
  ``status_report_months`` (a day past the month's end falls on its last day), and a final report
  due on the last day of the month ``final_report_due_months`` after the project's end month;
- the budget lines of the accepted version.

:func:`approve` does it for a whole round. In two steps, for a pool too large to hold at once:
:func:`check_approval` plans from the candidates (``allocation.Candidate``) and checks the
approval, then :func:`decide` makes each recommendation's decision from its application's
accepted version.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from uuid import UUID

from contracts.assessment import ApplicationRejected, GrantAwarded, PoolPublished, ReportingDeadline
from contracts.base import ProjectPeriod
from contracts.pools import PaymentFrequency, PoolDefinition
from contracts.refusal import Refusal
from services.assessment.domain.allocation import (
    AllocationPlan, Candidate, Recommendation, candidates_of, plan_candidates,
)
from services.assessment.domain.state import ApplicationVersion, FundingLedger, PoolRound

Decided = GrantAwarded | ApplicationRejected


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, or that month's last day when it has no such day."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def end_of_month(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def acceptance_deadline(pool: PoolDefinition, decided_at: datetime) -> datetime:
    local_day = decided_at.astimezone(pool.zone).date()
    last_day = local_day + timedelta(days=pool.acceptance_deadline_days)
    return datetime.combine(last_day, time(23, 59, 59), tzinfo=pool.zone)


def reporting_deadlines(pool: PoolDefinition) -> list[ReportingDeadline]:
    period = pool.project_period
    status = [ReportingDeadline(kind="status", due=add_months(period.start, m))
              for m in sorted(pool.status_report_months)]
    final_month = add_months(period.end.replace(day=1), pool.final_report_due_months)
    return [*status, ReportingDeadline(kind="final", due=end_of_month(final_month))]


@dataclass(frozen=True)
class Approval:
    """A plan an approver may approve, checked (hash, segregation of duties, frequencies): all a
    decision is made of but its application's accepted version (:func:`decide`)."""

    pool: PoolPublished
    plan: AllocationPlan
    approver: str
    decided_at: datetime
    frequencies: Mapping[UUID, PaymentFrequency]


def _with_offset(decided_at: datetime) -> None:
    if decided_at.tzinfo is None or decided_at.utcoffset() is None:
        raise ValueError("decided_at must carry an offset")


def check_approval(
    pool: PoolPublished, candidates: Sequence[Candidate], approver: str, decided_at: datetime,
    expected_plan_hash: str | None = None,
    payment_frequencies: Mapping[UUID, PaymentFrequency] | None = None,
) -> Approval:
    """Plan from every accepted application of the pool and check that ``approver`` may
    approve the plan (see :func:`approve`)."""
    _with_offset(decided_at)
    plan = plan_candidates(pool, candidates)
    if expected_plan_hash is not None and expected_plan_hash != plan.plan_hash:
        raise Refusal("recommendations_changed",
                      "the recommendations changed since they were shown; review again", "conflict")
    scored_by = {c.application_id: c.participants for c in candidates}
    conflicted: list[UUID] = [
        rec.application_id for rec in plan.recommendations
        if approver in scored_by[rec.application_id]
    ]
    if conflicted:
        raise Refusal(
            "segregation_of_duties",
            f"{approver} scored or recused from {', '.join(map(str, conflicted))} and cannot "
            "approve this batch", "forbidden", details=tuple(str(a) for a in conflicted))
    frequencies = dict(payment_frequencies or {})
    awarded = {rec.application_id for rec in plan.recommendations if rec.outcome != "reject"}
    stray = sorted(str(a) for a in set(frequencies) - awarded)
    if stray:
        raise Refusal("payment_frequency_not_awarded",
                      f"a payment frequency was set for {', '.join(stray)}, which this "
                      "batch does not award", "invalid", details=tuple(stray))
    return Approval(pool, plan, approver, decided_at, frequencies)


def decide(approval: Approval, rec: Recommendation,
           version: ApplicationVersion | None) -> Decided:
    """The decision for one recommendation of an approved plan; ``version`` is its
    application's accepted version."""
    assert version is not None
    published = approval.pool
    pool = published.definition
    decided_at = approval.decided_at
    common = dict(application_id=rec.application_id, pool_id=published.pool_id,
                  pool_version=published.version, programme=pool.programme_id,
                  region_code=rec.region_code, municipality_code=rec.municipality_code,
                  applied_oere=rec.applied_oere, approved_by=approval.approver,
                  decided_at=decided_at)
    if rec.outcome == "reject":
        return ApplicationRejected(**common, score=rec.score, rank=rec.rank,
                                   reasons=list(rec.reasons))
    assert rec.score is not None and rec.rank is not None and rec.sub_pool_amount_oere is not None
    period = pool.project_period
    return GrantAwarded(
        **common, sub_pool_amount_oere=rec.sub_pool_amount_oere, applicant=version.applicant,
        amount_oere=rec.amount_oere, score=rec.score, rank=rec.rank,
        project_period=ProjectPeriod(start=period.start, end=period.end,
                                     delayed_start_allowed=period.delayed_start_allowed),
        acceptance_deadline=acceptance_deadline(pool, decided_at),
        payment_frequency=approval.frequencies.get(rec.application_id, pool.payment_frequency),
        reporting_deadlines=reporting_deadlines(pool),
        budget_lines=list(version.budget_lines), register_revision=version.register_revision,
    )


def approve(
    state: PoolRound, ledger: FundingLedger, approver: str, decided_at: datetime,
    expected_plan_hash: str | None = None,
    payment_frequencies: Mapping[UUID, PaymentFrequency] | None = None,
) -> list[Decided]:
    """Approve the current recommendations; ``[]`` when nothing is undecided.
    ``payment_frequencies`` sets the frequency of named awards (default: the pool's); naming an
    application that this batch does not award is refused (``payment_frequency_not_awarded``)."""
    _with_offset(decided_at)
    candidates = candidates_of(state, ledger)
    assert state.pool is not None  # candidates_of refused an unpublished pool
    approval = check_approval(state.pool, candidates, approver, decided_at,
                              expected_plan_hash, payment_frequencies)
    return [decide(approval, rec, state.file(rec.application_id).accepted)
            for rec in approval.plan.recommendations]
