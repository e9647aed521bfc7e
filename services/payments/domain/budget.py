"""Revised budget commands: the grantee submits, the rules or a caseworker decide (R15/R16).

A submission always gets the next version number and ends in exactly one verdict event:
``RevisedBudgetApproved(approval="automatic")``, ``RevisedBudgetPendingApproval`` or
``RevisedBudgetRejected``, preceded by ``RevisedBudgetSubmitted`` whenever the input can be
written as a contract ``MonthlyBudget``. Submitting before acceptance is allowed (the grantee may
prepare the budget while deciding; nothing is paid until acceptance anyway); a lapsed grant
refuses it.
"""

from __future__ import annotations

from typing import Literal

from contracts.base import Actor, Reason
from contracts.payments import (
    RevisedBudgetApproved,
    RevisedBudgetPendingApproval,
    RevisedBudgetRejected,
    RevisedBudgetSubmitted,
)
from contracts.refusal import Refusal
from services.payments.domain.account import require_grantee, require_not_lapsed, require_role
from services.payments.domain.budget_rules import (
    change_reasons,
    check_budget,
    new_post_reasons,
    post_totals,
)
from services.payments.domain.state import BudgetVersion, GrantAccount

BudgetEvent = (
    RevisedBudgetSubmitted | RevisedBudgetApproved | RevisedBudgetPendingApproval
    | RevisedBudgetRejected
)

CASEWORKER_ROLES = ("caseworker",)


def submit_revised_budget(state: GrantAccount, months: object, actor: Actor,
                          cvr: str) -> list[BudgetEvent]:
    """Judge a raw ``{"YYYY-MM": {post: øre}}`` mapping. Resending exactly the budget that is
    already approved or waiting for approval is a retry and emits nothing."""
    require_grantee(state, actor, cvr)
    require_not_lapsed(state)
    check = check_budget(months, state.project_period, state.amount_oere)
    latest = state.latest_budget
    if (check.months is not None and latest is not None and latest.months == check.months
            and latest.status in ("approved", "pending_approval")):
        return []
    version = len(state.budgets) + 1
    events: list[BudgetEvent] = []
    if check.months is not None:
        events.append(RevisedBudgetSubmitted(
            application_id=state.application_id, budget_version=version, months=check.months,
            total_oere=check.total_oere, submitted_by=actor.id))
    if check.reasons:
        events.append(RevisedBudgetRejected(application_id=state.application_id,
                                            budget_version=version, reasons=list(check.reasons)))
        return events
    assert check.months is not None  # no reasons means the input was representable
    waiting = approval_reasons(state, check.months)
    if waiting:
        events.append(RevisedBudgetPendingApproval(application_id=state.application_id,
                                                   budget_version=version, reasons=waiting))
    else:
        events.append(_approved(state, version, check.months, check.total_oere, "automatic",
                                None))
    return events


def approval_reasons(state: GrantAccount, months: dict[str, dict[str, int]]) -> list[Reason]:
    """R16. Against the baseline when there is one (:func:`baseline_budget`); a first budget may
    move money freely between the indicative posts but may not add a post without approval."""
    baseline = baseline_budget(state)
    if baseline is None or baseline.months is None:
        return new_post_reasons(state.indicative_posts, post_totals(months))
    return change_reasons(baseline.months, months, state.amount_oere)


def baseline_budget(state: GrantAccount) -> BudgetVersion | None:
    """What later changes are measured against (R16): the last version a caseworker approved,
    else the first approved one. Automatic approvals never move it, so ten 9 % moves in a row
    are measured as one 90 % move."""
    approved = [b for b in state.budgets if b.status == "approved"]
    by_caseworker = [b for b in approved if b.approval == "caseworker"]
    if by_caseworker:
        return by_caseworker[-1]
    return approved[0] if approved else None


def _approved(state: GrantAccount, version: int, months: dict[str, dict[str, int]], total: int,
              approval: Literal["automatic", "caseworker"],
              approved_by: str | None) -> RevisedBudgetApproved:
    return RevisedBudgetApproved(application_id=state.application_id, budget_version=version,
                                 months=months, total_oere=total, award_oere=state.amount_oere,
                                 approval=approval, approved_by=approved_by)


def _pending(state: GrantAccount, version: int) -> BudgetVersion:
    budget = state.budget(version)
    if budget is None:
        raise Refusal("budget_version_not_found", f"no revised budget version {version}",
                      "not_found")
    if budget.status == "superseded":
        raise Refusal("budget_version_superseded",
                      f"version {version} was replaced by a newer submission", "conflict")
    if budget.status != "pending_approval":
        raise Refusal("budget_not_pending",
                      f"version {version} is {budget.status}, not waiting for approval", "conflict")
    return budget


def approve_pending_budget(state: GrantAccount, version: int,
                           actor: Actor) -> list[RevisedBudgetApproved]:
    """A caseworker (never the grantee) lets a waiting change govern payments (R16)."""
    require_role(actor, *CASEWORKER_ROLES)
    require_not_lapsed(state)
    budget = _pending(state, version)
    assert budget.months is not None  # only representable budgets can be pending
    return [_approved(state, version, budget.months, budget.total_oere, "caseworker", actor.id)]


def reject_pending_budget(state: GrantAccount, version: int, actor: Actor,
                          message: str = "") -> list[RevisedBudgetRejected]:
    """A caseworker refuses a waiting change; the latest approved version keeps governing."""
    require_role(actor, *CASEWORKER_ROLES)
    require_not_lapsed(state)
    _pending(state, version)
    reason = Reason(code="rejected_by_caseworker", message=message)
    return [RevisedBudgetRejected(application_id=state.application_id, budget_version=version,
                                  reasons=[reason], rejected_by=actor.id)]


def decide_pending_budget(state: GrantAccount, version: int, approve: bool, actor: Actor,
                          message: str = "") -> list[RevisedBudgetApproved | RevisedBudgetRejected]:
    """A caseworker's decision on a waiting change: approve it, or reject it with ``message``."""
    if approve:
        return list(approve_pending_budget(state, version, actor))
    return list(reject_pending_budget(state, version, actor, message))
