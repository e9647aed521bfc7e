"""Payment instructions from the latest approved budget (R17), with holds (R18) and lapse (R14).

Payments fall due in advance per calendar period of the award's frequency (quarters Jan–Mar,
Apr–Jun, …; half-years Jan–Jun, Jul–Dec; years; months), clipped to the project period: a
period's due date is its first day, its amount the sum of its budget months. Each period is
instructed at most once, under the id ``uuid5(NAMESPACE, f"{application_id}:{period_start}")``;
the project period is fixed per award, so a period's id never changes, whichever budget version
or re-run produced it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from contracts.payments import PaymentInstructed
from services.payments.domain.holds import HoldBook, is_held
from services.payments.domain.ids import instruction_id
from services.payments.domain.months import first_day, month_of, period_bounds
from services.payments.domain.state import GrantAccount


@dataclass(frozen=True)
class PaymentPeriod:
    start: str  # YYYY-MM, first month of the period inside the project period
    end: str  # YYYY-MM, last month of the period inside the project period
    amount_oere: int

    @property
    def due_date(self) -> date:
        return first_day(self.start)


def payment_periods(state: GrantAccount, months: dict[str, dict[str, int]]) -> list[PaymentPeriod]:
    """The periods of ``months`` that hold money, in order. Months are assumed inside the
    project period (an approved budget's are)."""
    first, last = month_of(state.project_period.start), month_of(state.project_period.end)
    sums: dict[tuple[str, str], int] = {}
    for month, posts in months.items():
        start, end = period_bounds(month, state.payment_frequency)
        bounds = (max(start, first), min(end, last))
        sums[bounds] = sums.get(bounds, 0) + sum(posts.values())
    return [PaymentPeriod(start=s, end=e, amount_oere=amount)
            for (s, e), amount in sorted(sums.items()) if amount > 0]


def committed_oere(state: GrantAccount) -> int:
    """Money already promised to finance: every instruction except a failed one that a re-issue
    replaced (the re-issue carries that money now)."""
    return sum(r.instruction.amount_oere for r in state.instructions if r.counts_against_cap)


def payment_cap_oere(state: GrantAccount) -> int:
    """Never instruct more than the governing budget, itself never more than the award."""
    approved = state.latest_approved_budget
    budget_total = approved.total_oere if approved is not None else 0
    return min(state.amount_oere, budget_total)


def instruct_due(state: GrantAccount, through: date,
                 holds: HoldBook | None) -> list[PaymentInstructed]:
    """Every period due on or before ``through`` and not instructed yet, once accepted, not
    lapsed, not held (``holds`` is the grantee's CVR hold book, None if it has none).

    Running it again issues nothing new. When the budget changed after earlier periods were
    instructed, the later periods are capped so the total never exceeds the cap; a period
    already instructed is never instructed again, even if a later budget raised it.
    """
    if holds is not None and holds.cvr != state.cvr:
        raise ValueError("the hold book belongs to another CVR")
    approved = state.latest_approved_budget
    if (not state.is_accepted or state.is_lapsed or is_held(holds) or approved is None
            or approved.months is None):
        return []
    issued = {r.instruction_id for r in state.instructions}
    remaining = payment_cap_oere(state) - committed_oere(state)
    instructions = []
    for period in payment_periods(state, approved.months):
        if period.due_date > through:
            break
        stable_id = instruction_id(state.application_id, period.start)
        amount = min(period.amount_oere, remaining)
        if stable_id in issued or amount <= 0:
            continue
        instructions.append(PaymentInstructed(
            instruction_id=stable_id, application_id=state.application_id, cvr=state.cvr,
            amount_oere=amount, due_date=period.due_date, period_start=period.start,
            period_end=period.end, budget_version=approved.version))
        remaining -= amount
    return instructions
