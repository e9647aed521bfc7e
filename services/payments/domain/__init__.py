"""The payments domain: pure rules R14–R19 (acceptance, revised budgets, payment instructions,
finance results, holds and the two-person rules).

Shape: command functions take the state (and ``now`` / the actor where it matters) and return
contract payloads from :mod:`contracts.payments`; ``evolve``/``apply`` fold events into the state
(``evolve_holds`` for the per-CVR ``HoldBook``). Refusals without an event raise
:class:`Refusal`. No I/O, no clock, no random ids: ids are uuid5 (:mod:`.ids`).

Adapter recipe, e.g. for an award::

    events = open_account(state, award)
    state = apply(state, [award, *events])   # the account is born from the GrantAwarded
"""

from services.payments.domain.account import (
    START_WINDOW_MONTHS,
    accept_award,
    lapse_not_started,
    lapse_overdue,
    open_account,
    project_started,
    require_reader,
    start_window_end,
)
from services.payments.domain.budget import (
    approval_reasons,
    approve_pending_budget,
    decide_pending_budget,
    reject_pending_budget,
    submit_revised_budget,
)
from services.payments.domain.budget_rules import (
    MOVE_AMOUNT_LIMIT_OERE,
    MOVE_SHARE_LIMIT_PERCENT,
    BudgetCheck,
    check_budget,
    moved_oere,
    post_totals,
)
from services.payments.domain.evolve import account_from_award, apply, evolve
from services.payments.domain.holds import (
    Hold,
    HoldBook,
    HoldEvent,
    ReleaseRequest,
    evolve_holds,
    hold_for_overdue_report,
    is_held,
    release_hold,
    request_release,
    require_two_people,
)
from services.payments.domain.ids import (
    NAMESPACE,
    claim_id,
    instruction_id,
    overdue_hold_id,
    reissue_id,
)
from services.payments.domain.ledger import (
    LedgerLine,
    RunEvent,
    a_period_fell_due,
    instruct_due,
    next_payment_due,
    run_date,
    ledger,
    outstanding_oere,
)
from services.payments.domain.queries import (
    BudgetStatusView,
    budget_status,
    category_of,
    instructed_oere,
    paid_oere,
)
from contracts.reason_codes.payments import REASON_CODES
from services.payments.domain.results import (
    AMOUNT_MISMATCH,
    record_result,
    reissue_failed,
    request_reissue,
    may_move_money,
    require_not_grant_approver,
    resolve_reconciliation,
)
from services.payments.domain.schedule import (
    PaymentPeriod,
    committed_oere,
    payment_cap_oere,
    payment_periods,
)
from services.payments.domain.state import (
    BudgetVersion,
    ClaimRecord,
    GrantAccount,
    InstructionRecord,
    Lapse,
    Reconciliation,
)

__all__ = [
    "MOVE_AMOUNT_LIMIT_OERE", "MOVE_SHARE_LIMIT_PERCENT", "NAMESPACE", "REASON_CODES",
    "START_WINDOW_MONTHS", "BudgetCheck", "BudgetStatusView",
    "BudgetVersion", "ClaimRecord", "LedgerLine", "Reconciliation",
    "claim_id", "ledger", "outstanding_oere", "RunEvent", "run_date", "a_period_fell_due",
    "next_payment_due",
    "AMOUNT_MISMATCH", "request_reissue", "require_not_grant_approver", "may_move_money", "resolve_reconciliation", "GrantAccount", "Hold", "HoldBook", "HoldEvent", "InstructionRecord",
    "Lapse", "PaymentPeriod", "accept_award", "account_from_award", "apply", "approval_reasons",
    "approve_pending_budget", "budget_status", "category_of", "decide_pending_budget",
    "require_reader",
    "check_budget", "committed_oere", "evolve", "evolve_holds", "hold_for_overdue_report",
    "instruct_due", "instructed_oere", "instruction_id", "is_held", "lapse_not_started",
    "lapse_overdue", "moved_oere", "open_account", "overdue_hold_id", "paid_oere",
    "payment_cap_oere", "payment_periods", "post_totals", "project_started", "record_result",
    "ReleaseRequest", "reissue_failed", "reissue_id", "reject_pending_budget", "release_hold",
    "request_release",
    "require_two_people", "start_window_end", "submit_revised_budget",
]
