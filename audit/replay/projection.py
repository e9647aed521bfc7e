"""From collected facts to the per-application and per-pool views of the replay.

Intake status, in order of precedence (the first that applies):
1. an ``ApplicationAccepted`` — its basis (``on_time`` / ``exception_granted``), no reasons;
2. an IT-problem exception — the state of the latest exception event: a refused request or a
   refusing decision → ``exception_refused``, an approving decision → ``exception_granted``,
   a pending request → ``exception_pending``; reasons from that event. An exception outranks a
   late rejection: the exception is what the applicant is waiting on or was refused;
3. an ``ApplicationRejectedLate`` → ``late_rejected`` with its reasons;
4. a ``SubmissionInvalid`` / ``SubmissionUnauthorized`` → ``invalid`` with its reason codes
   (for an application id only when nothing valid was received for it);
5. otherwise ``None``: received, no intake decision in the log.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal
from uuid import UUID

from audit.replay.checks import accepted_received, accepted_version
from audit.replay.models import (
    ApplicationView, IntakeStatus, PoolView, ReplayTotals, SubPoolView,
)
from audit.replay.state import AppFacts, LogFacts, Received

# One fields set shared by every full view: a view sets all its fields, and a set of 27 names
# per application (~2 KB) was most of a view's memory. Views are frozen: nothing adds to it.
_ALL_FIELDS = set(ApplicationView.model_fields)
_FIELD_ORDER = tuple(ApplicationView.model_fields)


def _construct(**values: Any) -> ApplicationView:
    """``ApplicationView.model_construct(_ALL_FIELDS, **values)`` (no validation: every value
    comes from validated events, in the field's type), with the fields set one by one, in field
    order, rather than as a dict of their own: CPython then keeps them in a key-sharing instance
    dict, ~280 B a view instead of ~830 B (27 MiB of views at 1M events)."""
    view = ApplicationView.__new__(ApplicationView)
    for name in _FIELD_ORDER:
        object.__setattr__(view, name, values[name])
    object.__setattr__(view, "__pydantic_fields_set__", _ALL_FIELDS)
    object.__setattr__(view, "__pydantic_extra__", None)
    object.__setattr__(view, "__pydantic_private__", None)
    return view


def _intake(app: AppFacts, facts: LogFacts) -> tuple[IntakeStatus | None, list[str]]:
    acceptance = accepted_version(app)
    if acceptance is not None:
        return acceptance.basis, []  # type: ignore[return-value]  # basis is a status name
    if app.exception is not None:
        return app.exception[1], list(app.exception[2])  # type: ignore[return-value]  # a status name
    if app.rejected_late is not None:
        return "late_rejected", list(app.rejected_late[1])
    if app.invalid is not None and not app.received:
        return "invalid", list(app.invalid[1])
    return None, []


Decision = Literal["awarded", "rejected", "none"]
BudgetOutcome = Literal["approved", "rejected", "pending", "none"]


def _decision(app: AppFacts) -> tuple[Decision, list[str], int | None, int]:
    """(decision, reasons, rank, award) from the latest decision event."""
    award = max(app.awards) if app.awards else None
    rejection = app.rejection
    if award is not None and (rejection is None or award.ref > rejection.ref):
        return "awarded", [], award.rank, award.amount_oere
    if rejection is not None:
        return "rejected", list(rejection.reasons), rejection.rank, 0
    return "none", [], None, 0


def _revised_budget(app: AppFacts) -> tuple[BudgetOutcome, list[str]]:
    if not app.budget_versions:
        return "none", []
    _version, _ref, outcome, reasons, _decisive = max(app.budget_versions)
    return outcome, list(reasons)  # type: ignore[return-value]  # one of the outcome names


def applied_version(app: AppFacts, facts: LogFacts) -> Received | None:
    """The received version that counts as applied for: the accepted one, else the highest."""
    if app.accepted:
        return accepted_received(facts, app)
    versions = [facts.submissions[s] for s in app.received if s in facts.submissions]
    return max(versions, key=lambda v: (v.version, v.ref)) if versions else None


def application_view(
    app: AppFacts | None, facts: LogFacts, refused: Sequence[str] | None = None,
) -> ApplicationView:
    if app is None:
        return ApplicationView(intake="invalid", intake_reasons=list(refused or []))
    intake, intake_reasons = _intake(app, facts)
    decision, decision_reasons, rank, award = _decision(app)
    budget, budget_reasons = _revised_budget(app)
    received = applied_version(app, facts)
    instructions = app.instructions()
    paid = sum(facts.executed_oere.get(iid, amount) for _ref, iid, amount, _r in instructions
               if iid in facts.executed_oere)
    final: Any = ("accepted" if app.final_accepted is not None
                  else app.final_report[1] if app.final_report is not None else "none")
    return _construct(
        pool_id=app.pool_id, municipality_code=app.municipality_code,
        region_code=app.region_code, intake=intake, intake_reasons=intake_reasons,
        eligible=app.eligible, eligibility_reasons=list(app.eligibility_reasons),
        score=app.score, rank=rank,
        decision=decision, decision_reasons=decision_reasons,
        applied_oere=received.total_oere if received else 0, award_oere=award,
        award_accepted=app.award_accepted is not None, lapsed=app.lapsed,
        revised_budget=budget, revised_budget_reasons=budget_reasons,
        instructed_oere=sum(i.amount_oere for i in instructions), paid_oere=paid,
        final_report=final,
        final_report_reasons=[] if final in ("accepted", "none") else list(app.final_reasons),
        spent_oere=app.final_accepted[1] if app.final_accepted else None,
        repayment_oere=app.claimed, waived_oere=app.waived, overdue_notices=app.overdue,
    )


def application_views(facts: LogFacts, release: bool = False) -> dict[str, ApplicationView]:
    """Every application's view by its id, then the refused submissions' by theirs. With
    ``release`` an application's facts leave ``facts.apps`` as soon as its view is built."""
    views = {}
    for app_id in sorted(facts.apps):  # sorting the int ids sorts their fixed-width hex forms
        app = facts.apps.pop(app_id) if release else facts.apps[app_id]
        views[str(UUID(int=app_id))] = application_view(app, facts)
    for key, (_ref, reasons) in sorted(facts.refused_submissions.items()):
        views.setdefault(key, application_view(None, facts, refused=reasons))
    return views


def pool_views(facts: LogFacts) -> dict[str, PoolView]:
    """Per pool: the published amounts (highest version) and what the awards in the log commit.

    ``awarded_oere``/``awards`` count each application's award in force once; a lapsed or
    withdrawn award no longer counts (its money is free in the sub-pool again). The sub-pool
    invariant (a) follows every GrantAwarded and AwardLapsed in log order instead.
    """
    pools: dict[str, dict[str, Any]] = {}
    for pool_id in facts.pool_ids():
        published = facts.latest_pool(pool_id)
        assert published is not None  # pool_ids() names only published pools
        definition = published.definition
        pools[pool_id] = {
            "pool_id": pool_id, "programme": definition.programme_id, "version": published.version,
            "total_oere": definition.total_oere, "awarded_oere": 0, "awards": 0,
            "sub_pools": {s.region_code: {"amount_oere": s.amount_oere, "awarded_oere": 0,
                                          "awards": 0} for s in definition.sub_pools},
        }
    for app in facts.apps.values():
        if not app.awards or app.lapsed:
            continue
        award = max(app.awards)
        pool = pools.setdefault(award.pool_id, {
            "pool_id": award.pool_id, "programme": award.programme, "version": None,
            "total_oere": None, "awarded_oere": 0, "awards": 0, "sub_pools": {},
        })
        pool["awarded_oere"] += award.amount_oere
        pool["awards"] += 1
        if award.region_code is not None:
            sub = pool["sub_pools"].setdefault(award.region_code, {
                "amount_oere": award.sub_pool_amount_oere, "awarded_oere": 0, "awards": 0})
            sub["awarded_oere"] += award.amount_oere
            sub["awards"] += 1
    return {
        pool_id: PoolView(**{**pool, "sub_pools": {
            code: SubPoolView(**sub) for code, sub in sorted(pool["sub_pools"].items())}})
        for pool_id, pool in sorted(pools.items())
    }


def replay_totals(views: Sequence[ApplicationView], applications: int) -> ReplayTotals:
    """The sums over every view; ``applications`` counts the received ones (a refused submission
    without one has a view, keyed by its submission, but is not an application)."""
    return ReplayTotals(
        applications=applications, refused_submissions=len(views) - applications,
        awards=sum(1 for v in views if v.decision == "awarded"),
        awarded_oere=sum(v.award_oere for v in views),
        instructed_oere=sum(v.instructed_oere for v in views),
        paid_oere=sum(v.paid_oere for v in views),
        spent_oere=sum(v.spent_oere or 0 for v in views),
        repayment_claimed_oere=sum(v.repayment_oere for v in views),
        repayment_waived_oere=sum(v.waived_oere for v in views),
    )
