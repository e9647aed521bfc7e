"""The pool overview: per pool and sub-pool what was applied for, awarded, accepted, paid,
spent and repaid, and per application its timeline.

Built from the same events as the auditors' replay, and from the replay's per-application
projection, so the overview and the audit can never disagree on a figure.

Figures (all øre, counts are applications):
- ``applications`` / ``applied_oere`` — every application received for the pool (the accepted
  version's total, else the highest received version's), late and rejected ones included;
- ``awards`` / ``awarded_oere`` — the award in force per application; a lapsed or withdrawn award
  no longer counts there (its money is free in its sub-pool) but under ``released`` /
  ``released_oere``;
- ``accepted`` / ``accepted_oere`` — awards the grantee accepted;
- ``paid_oere`` — executed payment instructions; ``spent_oere`` — accepted final accounts;
- ``repaid_oere`` — repayment claimed (R22); ``waived_oere`` — unspent money not collected.
An application no regional event names (e.g. rejected as late) is placed by its municipality's
region when that is a sub-pool of the pool, else under the sub-pool key ``"unassigned"``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from audit.replay import ApplicationView, LoggedEvent, PoolView, Replay
from contracts.envelope import Envelope
from contracts.money import format_dkk
from contracts.municipalities import region_of

UNASSIGNED = "unassigned"


class _View(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PoolFigures(_View):
    applications: int = 0
    applied_oere: int = 0
    awards: int = 0
    awarded_oere: int = 0
    released: int = 0
    released_oere: int = 0
    accepted: int = 0
    accepted_oere: int = 0
    paid_oere: int = 0
    spent_oere: int = 0
    repaid_oere: int = 0
    waived_oere: int = 0


class PoolSummary(_View):
    pool_id: str
    total: PoolFigures
    sub_pools: dict[str, PoolFigures]


class TimelineEntry(_View):
    occurred_at: datetime
    event_type: str
    summary: str


class PoolOverview(_View):
    pools: dict[str, PoolSummary]
    timelines: dict[str, list[TimelineEntry]]


def pool_overview(events: Iterable[LoggedEvent | Envelope[Any]]) -> PoolOverview:
    replay = Replay()
    entries: dict[str, list[tuple[datetime, int, str, str]]] = {}
    by_instruction: list[tuple[UUID, tuple[datetime, int, str, str]]] = []
    for n, event in enumerate(events):
        if isinstance(event, LoggedEvent):
            replay.apply_logged(event)
            envelope = event.envelope
        else:
            replay.apply_envelope(event)
            envelope = event
        entry = (envelope.occurred_at, n, envelope.event_type, summarise(envelope))
        app_id = getattr(envelope.payload, "application_id", None)
        if app_id is not None:
            entries.setdefault(str(app_id), []).append(entry)
        elif envelope.event_type in ("PaymentExecuted", "PaymentFailed"):
            by_instruction.append((envelope.payload.instruction_id, entry))
    # Finance results name only the instruction; they join their grant once the log is read.
    for instruction_id, entry in by_instruction:
        owner = replay.facts.instruction_app.get(instruction_id.int)
        if owner is not None:
            entries.setdefault(str(UUID(int=owner[0])), []).append(entry)
    result = replay.result()
    timelines = {
        app_id: [TimelineEntry(occurred_at=e[0], event_type=e[2], summary=e[3])
                 for e in sorted(app_entries)]
        for app_id, app_entries in sorted(entries.items())
    }
    pools = _pool_figures(result.applications.values(), result.pools)
    return PoolOverview(pools=pools, timelines=timelines)


def _pool_figures(
    views: Iterable[ApplicationView], pools: Mapping[str, PoolView],
) -> dict[str, PoolSummary]:
    totals: dict[str, dict[str, int]] = {}
    subs: dict[str, dict[str, dict[str, int]]] = {}
    for view in views:
        if view.pool_id is None:
            continue
        region = view.region_code or _region_by_municipality(view, pools) or UNASSIGNED
        for figures in (totals.setdefault(view.pool_id, {}),
                        subs.setdefault(view.pool_id, {}).setdefault(region, {})):
            _add(figures, view)
    return {
        pool_id: PoolSummary(
            pool_id=pool_id, total=PoolFigures(**totals[pool_id]),
            sub_pools={code: PoolFigures(**f) for code, f in sorted(subs[pool_id].items())})
        for pool_id in sorted(totals)
    }


def _region_by_municipality(view: ApplicationView, pools: Mapping[str, PoolView]) -> str | None:
    pool = pools.get(view.pool_id or "")
    region = region_of(view.municipality_code) if view.municipality_code else None
    return region if pool is not None and region in pool.sub_pools else None


def _add(figures: dict[str, int], view: ApplicationView) -> None:
    released = view.decision == "awarded" and view.lapsed
    awarded = view.decision == "awarded" and not view.lapsed
    accepted = awarded and view.award_accepted
    for key, value in (
        ("applications", 1), ("applied_oere", view.applied_oere),
        ("awards", int(awarded)), ("awarded_oere", view.award_oere if awarded else 0),
        ("released", int(released)), ("released_oere", view.award_oere if released else 0),
        ("accepted", int(accepted)), ("accepted_oere", view.award_oere if accepted else 0),
        ("paid_oere", view.paid_oere), ("spent_oere", view.spent_oere or 0),
        ("repaid_oere", view.repayment_oere), ("waived_oere", view.waived_oere),
    ):
        figures[key] = figures.get(key, 0) + value


def _codes(reasons: Iterable[Any]) -> str:
    return ", ".join(getattr(r, "code", r) for r in reasons)


_SUMMARIES: dict[str, Any] = {
    "ApplicationReceived": lambda p: (f"version {p.version} received ({p.timeliness}), "
                                      f"applied for {format_dkk(p.budget.total_oere)}"),
    "ApplicationAccepted": lambda p: f"version {p.version} accepted ({p.basis})",
    "ApplicationRejectedLate": lambda p: f"rejected as late: {_codes(p.reasons)}",
    "SubmissionInvalid": lambda p: f"submission invalid: {_codes(p.reasons)}",
    "ItProblemExceptionRequested": lambda p: (f"IT-problem exception requested "
                                              f"({p.contact}, {p.status})"),
    "ItProblemExceptionDecided": lambda p: ("IT-problem exception approved" if p.approved else
                                            f"IT-problem exception refused {_codes(p.reasons)}"),
    "EligibilityAssessed": lambda p: ("eligible" if p.eligible else
                                      f"not eligible: {_codes(p.reasons)}"),
    "ApplicationScored": lambda p: (f"assessor {p.assessor} recused" if p.recused else
                                    f"scored by {p.assessor}; aggregate {p.aggregate_score}"),
    "GrantAwarded": lambda p: f"awarded {format_dkk(p.amount_oere)} (rank {p.rank})",
    "ApplicationRejected": lambda p: f"rejected: {_codes(p.reasons)}",
    "GrantAccountOpened": lambda p: f"grant account opened for {format_dkk(p.amount_oere)}",
    "AwardAccepted": lambda p: "award accepted",
    "AwardLapsed": lambda p: f"award lapsed ({p.reason})",
    "RevisedBudgetSubmitted": lambda p: (f"revised budget v{p.budget_version} submitted, "
                                         f"{format_dkk(p.total_oere)}"),
    "RevisedBudgetApproved": lambda p: (f"revised budget v{p.budget_version} approved "
                                        f"({p.approval}), {format_dkk(p.total_oere)}"),
    "RevisedBudgetPendingApproval": lambda p: (f"revised budget v{p.budget_version} awaits "
                                               f"approval: {_codes(p.reasons)}"),
    "RevisedBudgetRejected": lambda p: (f"revised budget v{p.budget_version} rejected: "
                                        f"{_codes(p.reasons)}"),
    "PaymentInstructed": lambda p: (f"payment of {format_dkk(p.amount_oere)} instructed, "
                                    f"due {p.due_date.isoformat()}"),
    "PaymentsHeld": lambda p: f"payments held ({p.reason})",
    "HoldReleaseRequested": lambda p: "release of a payments hold requested (first of two)",
    "PaymentResultRecorded": lambda p: (f"finance result recorded: {p.outcome}"
                                        + (f" ({p.reason})" if p.reason else "")),
    "OverpaymentClaimed": lambda p: f"overpayment of {format_dkk(p.amount_oere)} claimed back",
    "PaymentReconciliationHeld": lambda p: (f"payments held for reconciliation: executed "
                                            f"{format_dkk(p.executed_oere)} of "
                                            f"{format_dkk(p.instructed_oere)}"),
    "PaymentReconciliationResolved": lambda p: "reconciliation resolved",
    "ReissueRequested": lambda p: "re-issue of a failed payment requested",
    "BankDetailsChangeRequested": lambda p: "bank master data change requested",
    "BankDetailsChanged": lambda p: "bank master data changed by two people",
    "PaymentExecuted": lambda p: f"payment of {format_dkk(p.amount_oere)} executed",
    "PaymentFailed": lambda p: f"payment failed: {p.reason}",
    "ReportSubmitted": lambda p: f"{p.kind} report submitted",
    "ReportAccepted": lambda p: (f"{p.kind} report accepted" if p.spent_oere is None else
                                 f"{p.kind} report accepted, spent {format_dkk(p.spent_oere)}"),
    "ReportRejected": lambda p: f"{p.kind} report rejected: {_codes(p.reasons)}",
    "ReportOverdue": lambda p: f"{p.kind} report overdue (due {p.due.isoformat()})",
    "CaseworkerTaskOpened": lambda p: f"caseworker task {p.kind} opened (window ended {p.due})",
    "CaseworkerTaskClosed": lambda p: f"caseworker task {p.kind} closed: {p.outcome}",
    "OverdueReportResolved": lambda p: (f"{p.kind} report due {p.due.isoformat()} accepted "
                                        "late: its hold is released"),
    "RepaymentClaimed": lambda p: f"repayment of {format_dkk(p.amount_oere)} claimed",
    "RepaymentWaived": lambda p: (f"repayment of {format_dkk(p.amount_oere)} waived (under "
                                  f"{format_dkk(p.threshold_oere)})"),
}


def summarise(envelope: Envelope[Any]) -> str:
    """One line about an event for a timeline: amounts and codes, no personal data."""
    render = _SUMMARIES.get(envelope.event_type)
    return render(envelope.payload) if render else envelope.event_type
