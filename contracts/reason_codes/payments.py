"""Every stable code the payments service produces, with its meaning.

One table for three uses, because a code means the same wherever it appears:
- ``Reason.code`` in ``RevisedBudgetRejected`` / ``RevisedBudgetPendingApproval`` (R15/R16);
- ``AwardLapsed.reason`` and ``PaymentsHeld.reason`` (R14/R18);
- ``Refusal.code`` for commands refused without an event.
"""

from __future__ import annotations

# Revised budget rejected (R15): every applicable reason is reported, each with its path.
BUDGET_REJECTION_CODES: dict[str, str] = {
    "budget_empty": "the revised budget holds no money: no months, no posts, or only zero amounts",
    "month_invalid": "a month key is not YYYY-MM (or its value is not a mapping of post to amount)",
    "month_outside_period": "a month does not overlap the project period",
    "delayed_start_not_allowed": (
        "the first month with money is after the project period's first month, and the award "
        "does not allow a delayed start"
    ),
    "post_invalid": "a post name is empty, blank or longer than 200 characters",
    "amount_invalid": "an amount is not a whole number of øre",
    "amount_negative": "an amount is negative",
    "exceeds_award": "the budget's total is more than the awarded amount",
    "rejected_by_caseworker": "a caseworker rejected a budget change that needed approval",
}

# Revised budget waits for a caseworker (R16); thresholds are strict: exactly 10 % / exactly
# 100,000 DKK still apply at once.
BUDGET_APPROVAL_CODES: dict[str, str] = {
    "move_over_10_percent": (
        "the sum of per-post increases against the latest approved budget is more than 10 % of "
        "the award"
    ),
    "move_over_100000_dkk": (
        "the sum of per-post increases against the latest approved budget is more than "
        "100,000 DKK"
    ),
    "new_post": (
        "a post with money that is not in the latest approved budget (for a first budget: not in "
        "the indicative budget of the application)"
    ),
}

LAPSE_CODES: dict[str, str] = {
    "acceptance_deadline_passed": (
        "the award was not accepted by its acceptance deadline (also refuses a late acceptance)"
    ),
    "project_not_started": (
        "a caseworker lapsed the award: no approved budget puts money in a month within 6 months "
        "of the project period's start"
    ),
    "withdrawn": (
        "a caseworker withdrew the award (e.g. the grantee declined it) before any payment was "
        "instructed; its money is free in its sub-pool again"
    ),
}

HOLD_CODES: dict[str, str] = {
    "report_overdue": "a status or final report passed its deadline without an accepted report",
}

REFUSAL_CODES: dict[str, str] = {
    "grant_not_found": "no grant account for this application (adapter-level: no state)",
    "role_not_allowed": "the actor's role may not perform this command",
    "cvr_mismatch": "the token's organisation (CVR) is not the grantee's",
    "award_lapsed": "the award has lapsed; nothing more happens on it",
    "task_not_found": "no caseworker task with that id",
    "task_closed": (
        "the caseworker task is closed already (the grant lapsed or the project started); only "
        "an open task can be dismissed"
    ),
    "payments_instructed": (
        "an award cannot be withdrawn once a payment was instructed for it (the money left or is "
        "on its way: settle it through the final accounts and repayment instead)"
    ),
    "acceptance_deadline_passed": LAPSE_CODES["acceptance_deadline_passed"],
    "project_start_window_open": (
        "a project cannot be lapsed as not started until 6 months after its period start"
    ),
    "project_started": "the latest approved budget shows the project started within 6 months",
    "budget_version_not_found": "no revised budget with that version",
    "budget_version_superseded": "a newer revised budget was submitted after this one",
    "budget_not_pending": "the revised budget version is not waiting for approval",
    "instruction_not_found": "no payment instruction with that id on this grant",
    "instruction_not_failed": "only a failed payment instruction can be re-issued",
    "payments_held": "payments to this grantee are held; no instruction can be issued",
    "payment_run_in_future": (
        "a payment run pays what is due by the service's own date; a later `through` is refused"
    ),
    "hold_not_found": "no hold with that id for this grantee",
    "hold_released": "the hold is already released",
    "release_already_requested": "a release of this hold already awaits its second person",
    "release_not_requested": "no release of this hold was requested, so there is nothing to "
                             "approve",
    "two_person_rule": "the requester and the approver must be two different people",
    "segregation_of_duties": (
        "whoever approved a grant (its allocation) may not run, release or re-issue its "
        "payments, resolve its reconciliation or change its grantee's bank master data"
    ),
    "reissue_not_requested": "a re-issue is approved by a second caseworker after a first asked",
    "reissue_already_requested": (
        "another caseworker already asked to re-issue this instruction; a second person approves"
    ),
    "bank_change_pending": (
        "another change of the grantee's bank master data waits for its second person"
    ),
    "bank_change_not_found": "no bank master data change with that id",
    "reconciliation_not_found": "no reconciliation case for that instruction on this grant",
    "payment_amount_mismatch": (
        "finance reported an executed amount that differs from the instruction: only the "
        "executed amount counts and the grant is on a reconciliation hold until a caseworker "
        "resolves it"
    ),
}

REASON_CODES: dict[str, str] = {
    **BUDGET_REJECTION_CODES,
    **BUDGET_APPROVAL_CODES,
    **LAPSE_CODES,
    **HOLD_CODES,
    **REFUSAL_CODES,
}
"""Every code the payments service emits or raises, with its meaning."""
