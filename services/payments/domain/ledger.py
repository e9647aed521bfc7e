"""The payment ledger of one grant (R17): per period, what the governing budget makes due minus
what was instructed, and the run that settles the differences of the periods that have begun.

A period's line is covered by its instructions (each at what it counts: the instructed amount,
what finance paid once executed, nothing once a re-issue replaced it), plus the offsets recorded
on them, less the offsets other periods took from it and what was claimed back from it. A run on
``today`` looks at every period whose due date (its first day) is on or before ``today``:

- shortfalls (due > covered) are instructed in period order: the first instruction of a period
  under its historic id, a later one as a *top-up* with its own stable id;
- excesses (covered > due, a later budget lowered a period already instructed) are a credit: it
  is offset against the next instructions (the earliest shortfalls first; the reduction is
  recorded as ``offsets`` on the instruction), or waits for the next period's instruction; when
  no period with money follows in the governing budget, the credit left is claimed back
  (``OverpaymentClaimed``).

So a run instructs exactly ``max(0, due so far − counted so far)`` and never a period that has
not begun; running again issues nothing. Every id is a function of the grant, the period and how
many instructions the period already has, so a replay or a re-run mints the same ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from contracts.payments import OverpaymentClaimed, PaymentInstructed, PeriodAmount
from contracts.refusal import Refusal
from services.payments.domain.account import PROJECT_ZONE
from services.payments.domain.holds import HoldBook, is_held
from services.payments.domain.ids import claim_id, instruction_id
from services.payments.domain.months import first_day
from services.payments.domain.schedule import payment_periods
from services.payments.domain.state import BudgetVersion, GrantAccount, require_aware

RunEvent = PaymentInstructed | OverpaymentClaimed


@dataclass(frozen=True)
class LedgerLine:
    """One payment period of a grant: what is due, what covers it, the difference."""

    period_start: str
    period_end: str
    due_oere: int
    instructed_oere: int = 0  # instructions of this period, each at what it counts
    offset_in_oere: int = 0  # covered by money instructed for other periods
    offset_out_oere: int = 0  # this period's excess that covered other periods
    claimed_oere: int = 0  # this period's excess claimed back
    instructions: int = 0  # first instructions and top-ups (not re-issues): the id counter

    @property
    def due_date(self) -> date:
        return first_day(self.period_start)

    @property
    def covered_oere(self) -> int:
        return (self.instructed_oere + self.offset_in_oere - self.offset_out_oere
                - self.claimed_oere)

    @property
    def difference_oere(self) -> int:
        """Positive: still to pay; negative: instructed beyond what is due (a credit)."""
        return self.due_oere - self.covered_oere


def run_date(now: datetime, through: date | None = None) -> date:
    """The date a payment run pays through: the service's own Copenhagen date. A caller may
    narrow a run to an earlier ``through``, never widen it: "quarterly in advance" pays what has
    fallen due, and a later date is refused (``payment_run_in_future``)."""
    today = require_aware(now).astimezone(PROJECT_ZONE).date()
    if through is None:
        return today
    if through > today:
        raise Refusal("payment_run_in_future",
                      f"a run pays what is due by today ({today.isoformat()}), not "
                      f"through {through.isoformat()}", "invalid")
    return through


def ledger(state: GrantAccount) -> list[LedgerLine]:
    """Every period that the governing budget makes anything due in or that has instructions,
    in period order."""
    approved = state.latest_approved_budget
    lines: dict[str, dict[str, object]] = {}

    def line(start: str, end: str) -> dict[str, object]:
        return lines.setdefault(start, {"period_start": start, "period_end": end, "due_oere": 0,
                                        "instructed_oere": 0, "offset_in_oere": 0,
                                        "offset_out_oere": 0, "claimed_oere": 0,
                                        "instructions": 0})

    def add(entry: dict[str, object], key: str, amount: int) -> None:
        entry[key] = int(entry[key]) + amount  # type: ignore[call-overload]  # the sums are ints

    if approved is not None and approved.months is not None:
        for period in payment_periods(state, approved.months):
            line(period.start, period.end)["due_oere"] = period.amount_oere
    for record in state.instructions:
        i = record.instruction
        entry = line(i.period_start, i.period_end)
        if i.replaces_instruction_id is None:
            add(entry, "instructions", 1)
        add(entry, "instructed_oere", record.counted_oere)
        if not record.counts_against_cap:
            continue  # a replaced failure: its re-issue carries its offsets now
        for offset in i.offsets:
            add(entry, "offset_in_oere", offset.amount_oere)
            add(_existing(lines, offset.period_start), "offset_out_oere", offset.amount_oere)
    for claim in state.claims:
        for start, amount in claim.periods.items():
            add(_existing(lines, start), "claimed_oere", amount)
    return [LedgerLine(**lines[k]) for k in sorted(lines)]  # type: ignore[arg-type]  # the fields built above


def _existing(lines: dict[str, dict[str, object]], start: str) -> dict[str, object]:
    """Offsets and claims name periods that had instructions, so their line exists already."""
    if start not in lines:
        raise ValueError(f"an offset or claim names period {start}, which has no instruction")
    return lines[start]


def due_on(lines: list[LedgerLine], today: date) -> list[LedgerLine]:
    """The periods that have begun on ``today`` (in advance: due on their first day)."""
    return [line for line in lines if line.due_date <= today]


def outstanding_oere(state: GrantAccount, today: date) -> int:
    """Due so far minus counted so far: what a run on ``today`` would instruct when positive,
    the credit when negative."""
    return sum(line.difference_oere for line in due_on(ledger(state), today))


def next_payment_due(state: GrantAccount) -> date | None:
    """The first due date of a period of the governing budget with money and no instruction
    yet (None when there is none): the date from which :func:`a_period_fell_due` holds, stored
    beside the grant so the scheduled run reads only the grants whose date has come."""
    return min((line.due_date for line in ledger(state)
                if line.due_oere > 0 and line.instructions == 0), default=None)


def a_period_fell_due(state: GrantAccount, today: date) -> bool:
    """Whether a due date has come for the scheduled run: a period of the governing budget with
    money has begun and has no instruction yet. Top-ups of periods already paid wait for the next
    due date (or a caseworker's run)."""
    due = next_payment_due(state)
    return due is not None and due <= today


def instruct_due(state: GrantAccount, today: date, holds: HoldBook | None) -> list[RunEvent]:
    """The run on ``today`` (the service's own date): the instructions (first ones, top-ups)
    and, where nothing follows, the claim that settle every begun period. Nothing before
    acceptance, after lapse, while the grantee is held (``holds`` is its CVR's book, None if it
    has none), while a reconciliation is open, or without an approved budget."""
    if holds is not None and holds.cvr != state.cvr:
        raise ValueError("the hold book belongs to another CVR")
    approved = state.latest_approved_budget
    if (not state.is_accepted or state.is_lapsed or is_held(holds) or approved is None
            or approved.months is None or state.reconciliation_open):
        return []
    lines = ledger(state)
    begun = due_on(lines, today)
    shortfalls = [line for line in begun if line.difference_oere > 0]
    credits = [[line.period_start, -line.difference_oere] for line in begun
               if line.difference_oere < 0]
    outstanding = sum(line.difference_oere for line in begun)
    if outstanding > 0:
        return _instructions(state, approved, shortfalls, credits)
    if outstanding < 0 and not _anything_follows(lines, today):
        parts = _take(credits, -outstanding)
        return [OverpaymentClaimed(
            claim_id=claim_id(state.application_id, len(state.claims)),
            application_id=state.application_id, cvr=state.cvr, amount_oere=-outstanding,
            periods=parts, budget_version=approved.version, claimed_on=today)]
    return []


def _instructions(state: GrantAccount, approved: BudgetVersion, shortfalls: list[LedgerLine],
                  credits: list[list[object]]) -> list[RunEvent]:
    """The credit is offset against the earliest shortfalls first, so a reduction lands on the
    next instruction. A shortfall the credit covers whole gets no instruction (there is nothing
    to pay); it stays covered by that credit in every later run, which derives it again."""
    events: list[RunEvent] = []
    for line in shortfalls:
        offsets = _take(credits, min(line.difference_oere, _left(credits)))
        amount = line.difference_oere - sum(o.amount_oere for o in offsets)
        if amount == 0:
            continue
        events.append(PaymentInstructed(
            instruction_id=instruction_id(state.application_id, line.period_start,
                                          line.instructions),
            application_id=state.application_id, cvr=state.cvr, amount_oere=amount,
            due_date=line.due_date, period_start=line.period_start, period_end=line.period_end,
            budget_version=approved.version, offsets=offsets))
    return events


def _left(credits: list[list[object]]) -> int:
    return sum(int(c[1]) for c in credits)  # type: ignore[call-overload]  # [ref, amount] pairs


def _take(credits: list[list[object]], amount: int) -> list[PeriodAmount]:
    """Consume ``amount`` from the credits, earliest period first."""
    parts = []
    for credit in credits:
        if amount <= 0:
            break
        available = int(credit[1])  # type: ignore[call-overload]  # [ref, amount] pairs
        used = min(available, amount)
        if used > 0:
            parts.append(PeriodAmount(period_start=str(credit[0]), amount_oere=used))
            credit[1] = available - used
            amount -= used
    if amount > 0:
        raise AssertionError("the credits cannot cover the offset")  # the sums say they do
    return parts


def _anything_follows(lines: list[LedgerLine], today: date) -> bool:
    """Whether a later period of the governing budget makes money due (an instruction that a
    credit can still be offset against)."""
    return any(line.due_date > today and line.due_oere > 0 for line in lines)
