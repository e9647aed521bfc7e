"""Payment periods of the governing budget (R17).

Payments fall due in advance per calendar period of the award's frequency (quarters Jan–Mar,
Apr–Jun, …; half-years Jan–Jun, Jul–Dec; years; months), clipped to the project period: a
period's due date is its first day, its amount the sum of its budget months. The project period
and the frequency are fixed per award, so a period's bounds never change; what a run instructs
for them is the ledger's business (:mod:`.ledger`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

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
    """Money counted against the award: every instruction at what it counts (a replaced
    failure at nothing, an executed one at what finance paid), less what was claimed back."""
    return (sum(r.counted_oere for r in state.instructions)
            - sum(c.amount_oere for c in state.claims))


def payment_cap_oere(state: GrantAccount) -> int:
    """Never instruct more than the governing budget, itself never more than the award."""
    approved = state.latest_approved_budget
    budget_total = approved.total_oere if approved is not None else 0
    return min(state.amount_oere, budget_total)
