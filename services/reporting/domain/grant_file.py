"""The grant file: what reporting knows of one grant, rebuilt only from events.

One :class:`GrantFile` per application id. It is a frozen, JSON-serialisable pydantic model
(stored as JSONB) changed only by :func:`evolve`, so replaying the events gives the same file.

Sources:
- ``GrantAwarded`` — the award's terms (amount, project period, reporting deadlines, CVR);
- ``AwardAccepted`` / ``AwardLapsed`` — whether the grant runs;
- ``RevisedBudgetApproved`` — the latest approved budget, summed per post (what accounts may
  hold);
- ``PaymentInstructed`` + ``PaymentExecuted`` / ``PaymentFailed`` (or payments' own
  ``PaymentResultRecorded``, which carries the application id) — paid = what finance reported
  paid on the executed instructions, less payments' own ``OverpaymentClaimed``;
- reporting's own events — reports, overdue notices, repayment claims and waivers.

Events reach a file in the order of their own topic only; across topics they may arrive in any
order, so nothing here needs the award first: a file starts empty and the award fills it in.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from contracts.assessment import GrantAwarded, ReportingDeadline
from contracts.base import ApplicantKind, ProjectPeriod, UtcDatetime
from contracts.envelope import Envelope
from contracts.finance import PaymentExecuted, PaymentFailed
from contracts.payments import (
    AwardAccepted, AwardLapsed, OverpaymentClaimed, PaymentInstructed, PaymentResultRecorded,
    RevisedBudgetApproved,
)
from contracts.reporting import (
    OverdueReportResolved, RepaymentClaimed, RepaymentWaived, ReportAccepted, ReportOverdue,
    ReportRejected, ReportSubmitted,
)
from services.reporting.domain.grant_money import (
    Instruction, _claimed, _instructed, _overpayment, _payment_result, _result_recorded, _waived,
)


class State(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AwardTerms(State):
    """The parts of a ``GrantAwarded`` that reporting and the exports use."""

    pool_id: str
    programme: str
    region_code: str | None
    municipality_code: str
    cvr: str
    recipient_name: str
    recipient_kind: ApplicantKind
    amount_oere: int
    applied_oere: int
    project_period: ProjectPeriod
    reporting_deadlines: tuple[ReportingDeadline, ...]
    awarded_at: UtcDatetime

    @classmethod
    def from_event(cls, event: GrantAwarded) -> AwardTerms:
        return cls(
            pool_id=event.pool_id, programme=event.programme, region_code=event.region_code,
            municipality_code=event.municipality_code, cvr=event.applicant.cvr,
            recipient_name=event.applicant.name, recipient_kind=event.applicant.kind,
            amount_oere=event.amount_oere, applied_oere=event.applied_oere,
            project_period=event.project_period,
            reporting_deadlines=tuple(event.reporting_deadlines), awarded_at=event.decided_at,
        )


class ApprovedBudget(State):
    """The latest approved revised budget, summed per post over its months."""

    version: int
    posts: dict[str, int]
    total_oere: int


class ReportRecord(State):
    kind: Literal["status", "final"]
    status: Literal["submitted", "accepted", "rejected"]
    submitted_at: UtcDatetime
    # What was submitted, so the same report sent again is recognised (idempotency).
    fingerprint: str = ""
    spent_oere: int | None = None
    reasons: tuple[str, ...] = ()


class GrantFile(State):
    application_id: UUID
    award: AwardTerms | None = None
    accepted_at: UtcDatetime | None = None
    lapsed: bool = False
    budget: ApprovedBudget | None = None
    instructions: dict[str, Instruction] = {}
    reports: dict[str, ReportRecord] = {}
    final_report_id: str | None = None
    final_spent_oere: int | None = None
    # Of the final spending, what was beyond a post's approved amount (R20): not eligible.
    final_ineligible_oere: int = 0
    overpayment_claimed_oere: int = 0
    overpayment_claims: tuple[str, ...] = ()  # claim ids seen (a redelivery counts once)
    claimed_oere: int = 0
    waived_oere: int = 0
    overdue_notified: tuple[str, ...] = ()
    # notified deadlines a late report has met since (OverdueReportResolved): their holds go
    overdue_resolved: tuple[str, ...] = ()

    @classmethod
    def new(cls, application_id: UUID) -> GrantFile:
        return cls(application_id=application_id)

    @property
    def paid_oere(self) -> int:
        """What finance reported paid on the executed instructions (R17, R22), less what
        payments claims back itself (``OverpaymentClaimed``: a lowered budget with nothing
        left to offset against), so R22 does not claim that money a second time."""
        paid = sum(i.paid_oere for i in self.instructions.values())
        return paid - self.overpayment_claimed_oere

    @property
    def final_accepted(self) -> bool:
        return self.final_report_id is not None

    def accepted_reports(self, kind: str) -> int:
        return sum(1 for r in self.reports.values() if r.kind == kind and r.status == "accepted")


def overdue_key(kind: str, due: date) -> str:
    return f"{kind}:{due.isoformat()}"


def application_of(event: Envelope[Any]) -> UUID | None:
    """The grant an event belongs to, if the event names it.

    ``PaymentExecuted`` / ``PaymentFailed`` name only the instruction: the handler routes them by
    an instruction → application index (or uses ``PaymentResultRecorded``, which names both).
    """
    return getattr(event.payload, "application_id", None)


def evolve(state: GrantFile, event: Envelope[Any]) -> GrantFile:
    """Apply one event. Unrelated event types and unknown instructions leave the file as is."""
    return apply_payload(state, event.payload, event.occurred_at)


def apply_payload(state: GrantFile, p: Any, occurred_at: datetime) -> GrantFile:
    """:func:`evolve` for a payload not (yet) in an envelope, e.g. one just decided."""
    if isinstance(p, (PaymentExecuted, PaymentFailed)):
        return _payment_result(state, str(p.instruction_id), p, occurred_at)
    target = getattr(p, "application_id", None)
    if target is not None and target != state.application_id:
        raise ValueError(f"{type(p).__name__} for {target} applied to the file of "
                         f"{state.application_id}")
    handler = _HANDLERS.get(type(p))
    return handler(state, p, occurred_at) if handler else state


def _awarded(s: GrantFile, p: GrantAwarded, _at: datetime) -> GrantFile:
    return s.model_copy(update={"award": AwardTerms.from_event(p)})


def _accepted(s: GrantFile, p: AwardAccepted, _at: datetime) -> GrantFile:
    return s.model_copy(update={"accepted_at": p.accepted_at})


def _lapsed(s: GrantFile, _p: AwardLapsed, _at: datetime) -> GrantFile:
    return s.model_copy(update={"lapsed": True})


def _budget(s: GrantFile, p: RevisedBudgetApproved, _at: datetime) -> GrantFile:
    # "Latest" is the highest version: a redelivered older approval must not win.
    if s.budget is not None and s.budget.version > p.budget_version:
        return s
    posts: dict[str, int] = {}
    for month in sorted(p.months):
        for post, amount in p.months[month].items():
            posts[post] = posts.get(post, 0) + amount
    budget = ApprovedBudget(version=p.budget_version, posts=posts, total_oere=sum(posts.values()))
    return s.model_copy(update={"budget": budget})


def _report_submitted(s: GrantFile, p: ReportSubmitted, _at: datetime) -> GrantFile:
    key = str(p.report_id)
    if key in s.reports:
        return s
    record = ReportRecord(kind=p.kind, status="submitted", submitted_at=p.submitted_at,
                          fingerprint=report_fingerprint(p.kind, p.text, p.accounts,
                                                         p.audit_statement,
                                                         p.audit_statement_type,
                                                         p.performance_audit))
    return s.model_copy(update={"reports": {**s.reports, key: record}})


def _report_decided(s: GrantFile, p: ReportAccepted | ReportRejected, at: datetime) -> GrantFile:
    key = str(p.report_id)
    record = s.reports.get(key)
    if record is None:  # the decision without its submission: keep what the decision says
        record = ReportRecord(kind=p.kind, status="submitted", submitted_at=at)
    if isinstance(p, ReportAccepted):
        record = record.model_copy(update={"status": "accepted", "spent_oere": p.spent_oere})
    else:
        record = record.model_copy(
            update={"status": "rejected", "reasons": tuple(r.code for r in p.reasons)})
    update: dict[str, Any] = {"reports": {**s.reports, key: record}}
    if isinstance(p, ReportAccepted) and p.kind == "final" and s.final_report_id is None:
        update |= {"final_report_id": key, "final_spent_oere": p.spent_oere or 0,
                   "final_ineligible_oere": p.ineligible_oere or 0}
    return s.model_copy(update=update)


def _overdue(s: GrantFile, p: ReportOverdue, _at: datetime) -> GrantFile:
    key = overdue_key(p.kind, p.due)
    if key in s.overdue_notified:
        return s
    return s.model_copy(update={"overdue_notified": (*s.overdue_notified, key)})


def _resolved(s: GrantFile, p: OverdueReportResolved, _at: datetime) -> GrantFile:
    key = overdue_key(p.kind, p.due)
    if key in s.overdue_resolved:
        return s
    return s.model_copy(update={"overdue_resolved": (*s.overdue_resolved, key)})


def report_fingerprint(
    kind: str, text: str, accounts: dict[str, int] | None, audit_statement: str | None,
    statement_type: str | None = None, performance_audit: str | None = None,
) -> str:
    """A stable summary of a report's content, to tell a resend from a different report (a v1
    report's, without a typed statement, is what it always was)."""
    lines = sorted(f"{post}={amount}" for post, amount in (accounts or {}).items())
    typed = ([f"type={statement_type or ''}", f"performance={performance_audit or ''}"]
             if statement_type is not None or performance_audit is not None else [])
    return "|".join([kind, text, audit_statement or "", *lines, *typed])


_HANDLERS: dict[type, Any] = {
    GrantAwarded: _awarded,
    AwardAccepted: _accepted,
    AwardLapsed: _lapsed,
    RevisedBudgetApproved: _budget,
    PaymentInstructed: _instructed,
    OverpaymentClaimed: _overpayment,
    PaymentResultRecorded: _result_recorded,
    ReportSubmitted: _report_submitted,
    ReportAccepted: _report_decided,
    ReportRejected: _report_decided,
    ReportOverdue: _overdue,
    OverdueReportResolved: _resolved,
    RepaymentClaimed: _claimed,
    RepaymentWaived: _waived,
}
