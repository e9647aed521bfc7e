"""Business validation of a parsed submission (R3).

Every violation is reported, each with the field path it concerns, so a portal can show all of
them at once instead of making the applicant fix one error per round trip.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from contracts.assessment import PoolPublished
from contracts.base import BudgetLine, IndicativeBudget, Reason
from contracts.intake import SubmitApplication
from contracts.municipalities import municipalities
from contracts.base import post_key
from contracts.register import cvr_is_valid

from services.intake.domain.reason_codes import reason

__all__ = ["cvr_is_valid", "validate_budget", "validate_budget_lines", "validate_pool_reference",
           "validate_submission"]


def _post_key(post: str) -> str:
    # "Project staff" and "project  staff " are the same post (the rule lives in contracts).
    return post_key(post)


def validate_budget_lines(lines: Sequence[BudgetLine], path: str = "budget.lines") -> list[Reason]:
    """Per-line rules: salary lines carry rate × quantity = amount; post names are unique."""
    reasons: list[Reason] = []
    if not lines:
        return [reason("budget_empty", path)]
    first_index_of: dict[str, int] = {}
    for i, line in enumerate(lines):
        here = f"{path}.{i}"
        if line.category == "salary":
            if line.rate_oere is None:
                reasons.append(reason("salary_rate_missing", f"{here}.rate_oere"))
            if line.quantity is None:
                reasons.append(reason("salary_rate_missing", f"{here}.quantity"))
        if line.rate_oere is not None and line.quantity is not None:
            product = line.rate_oere * line.quantity
            if product != line.amount_oere:
                code = "line_amount_mismatch"
                if line.category == "salary":
                    code = "salary_amount_mismatch"
                reasons.append(
                    reason(
                        code,
                        f"{here}.amount_oere",
                        f"rate {line.rate_oere} × quantity {line.quantity} = {product} øre, "
                        f"amount is {line.amount_oere} øre",
                    )
                )
        key = _post_key(line.post)
        if key in first_index_of:
            reasons.append(
                reason(
                    "duplicate_post",
                    f"{here}.post",
                    f"post {line.post!r} already appears at {path}.{first_index_of[key]}",
                )
            )
        else:
            first_index_of[key] = i
    return reasons


def validate_budget(budget: IndicativeBudget, path: str = "budget") -> list[Reason]:
    """All budget rules, including that the applied-for total equals the sum of the lines."""
    reasons = validate_budget_lines(budget.lines, f"{path}.lines")
    if budget.lines:
        line_sum = sum(line.amount_oere for line in budget.lines)
        if line_sum != budget.total_oere:
            reasons.append(
                reason(
                    "budget_total_mismatch",
                    f"{path}.total_oere",
                    f"lines sum to {line_sum} øre, total_oere is {budget.total_oere} øre",
                )
            )
    return reasons


def validate_pool_reference(pool_id: str, pools: Mapping[str, PoolPublished]) -> list[Reason]:
    """The pool must be published and have a deadline (a pool without one takes no applications)."""
    pool = pools.get(pool_id)
    if pool is None:
        return [reason("pool_unknown", "pool_id")]
    if pool.definition.deadline_instant() is None:
        return [reason("pool_not_open", "pool_id")]
    return []


def validate_submission(
    command: SubmitApplication, pools: Mapping[str, PoolPublished]
) -> list[Reason]:
    """Every business-rule violation of a parsed submission; empty means valid."""
    reasons: list[Reason] = []
    if not cvr_is_valid(command.applicant.cvr):
        reasons.append(reason("cvr_invalid", "applicant.cvr"))
    if command.applicant.municipality_code not in municipalities():
        reasons.append(reason("municipality_unknown", "applicant.municipality_code"))
    reasons.extend(validate_pool_reference(command.pool_id, pools))
    reasons.extend(validate_budget(command.budget))
    return reasons
