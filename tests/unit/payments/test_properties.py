"""Property tests of the ledger: whatever the budgets, run dates and finance results, what counts
against the award never exceeds it, a run leaves nothing begun unpaid, a re-run issues nothing,
and once every period has begun exactly the governing budget counts."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.base import Actor
from contracts.finance import PaymentExecuted, PaymentFailed
from contracts.payments import RevisedBudgetApproved, RevisedBudgetPendingApproval
from services.payments.domain import (
    apply,
    approve_pending_budget,
    committed_oere,
    instruct_due,
    ledger,
    outstanding_oere,
    record_result,
    reissue_failed,
    request_reissue,
    resolve_reconciliation,
    submit_revised_budget,
)
from services.payments.domain.months import month_of, shift_month
from tests.unit.payments.builders import (
    CASEWORKER,
    CVR,
    GRANTEE,
    MATERIALS,
    STAFF,
    Driver,
    at,
)

FREQUENCIES = st.sampled_from(["monthly", "quarterly", "half_yearly", "yearly"])


@st.composite
def grants(draw: st.DrawFn) -> dict[str, Any]:
    start = draw(st.dates(min_value=date(2023, 1, 1), max_value=date(2024, 12, 31)))
    months = draw(st.integers(min_value=1, max_value=48))
    end_month = shift_month(month_of(start), months - 1)
    end_day = draw(st.integers(min_value=1, max_value=28))
    end = max(start, date(int(end_month[:4]), int(end_month[5:]), end_day))
    return {"amount": draw(st.integers(min_value=1, max_value=10_000_000_000)),
            "start": start, "end": end, "frequency": draw(FREQUENCIES)}


def period_months(terms: dict[str, Any]) -> list[str]:
    first, last = month_of(terms["start"]), month_of(terms["end"])
    months = [first]
    while months[-1] < last:
        months.append(shift_month(months[-1], 1))
    return months


@st.composite
def budgets(draw: st.DrawFn, terms: dict[str, Any]) -> dict[str, dict[str, int]]:
    """Budgets near the award: sometimes over it (to be rejected), often exactly on it."""
    months = draw(st.lists(st.sampled_from(period_months(terms)), min_size=1, unique=True))
    weights = {m: {p: draw(st.integers(min_value=0, max_value=100))
                   for p in draw(st.sets(st.sampled_from([STAFF, MATERIALS]), min_size=1))}
               for m in months}
    target = draw(st.sampled_from([terms["amount"], terms["amount"] // 2, terms["amount"] + 1]))
    total_weight = sum(w for posts in weights.values() for w in posts.values())
    if total_weight == 0:
        return weights  # all zeros: an empty budget, to be rejected
    budget = {m: {p: w * target // total_weight for p, w in posts.items()}
              for m, posts in weights.items()}
    # Hand the rounding remainder to one entry so "exactly the award" really happens.
    month, posts = next((m, p) for m, p in budget.items() if any(weights[m].values()))
    post = next(p for p in posts if weights[month][p])
    budget[month][post] += target - sum(a for ps in budget.values() for a in ps.values())
    return budget


def run_dates(terms: dict[str, Any]) -> st.SearchStrategy[list[date]]:
    return st.lists(st.dates(min_value=terms["start"] - timedelta(days=100),
                             max_value=terms["end"] + timedelta(days=100)), max_size=6)


def check_invariants(grant: Driver) -> None:
    state = grant.state
    instructions = [r.instruction for r in state.instructions]
    # What counts against the award never exceeds it (finance in these tests never pays more
    # than it was told), and the instructions themselves, replaced failures aside and net of
    # claims, never exceed it either.
    assert committed_oere(state) <= state.amount_oere
    gross = sum(r.instruction.amount_oere for r in state.instructions if r.counts_against_cap)
    shortfalls = sum(r.instruction.amount_oere - r.counted_oere for r in state.instructions
                     if r.counts_against_cap)
    assert gross - shortfalls - sum(c.amount_oere for c in state.claims) <= state.amount_oere
    assert len({i.instruction_id for i in instructions}) == len(instructions)
    first, last = month_of(state.project_period.start), month_of(state.project_period.end)
    for i in instructions:
        assert i.amount_oere > 0
        assert first <= i.period_start <= i.period_end <= last
        assert i.due_date.day == 1 and month_of(i.due_date) == i.period_start
    for line in ledger(state):
        assert line.covered_oere >= 0


def settled(grant: Driver, today: date) -> None:
    """Right after a run that was not gated: nothing begun is left unpaid, and a credit is left
    only while a later period with money can take it."""
    outstanding = outstanding_oere(grant.state, today)
    assert outstanding <= 0
    if outstanding < 0:
        assert any(line.due_date > today and line.due_oere > 0 for line in ledger(grant.state))


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=st.data())
def test_one_budget_is_paid_exactly_and_never_more(data: st.DataObject) -> None:
    terms = data.draw(grants())
    budget = data.draw(budgets(terms))
    grant = Driver.accepted(**terms)
    verdict = grant(submit_revised_budget, budget, GRANTEE, CVR)[-1]
    total = sum(a for posts in budget.values() for a in posts.values())
    assert isinstance(verdict, RevisedBudgetApproved) == (0 < total <= terms["amount"])
    for through in sorted(data.draw(run_dates(terms))):
        issued = grant(instruct_due, through, None)
        assert all(i.due_date <= through for i in issued)
        assert instruct_due(grant.state, through, None) == []  # a re-run issues nothing
        check_invariants(grant)
    grant(instruct_due, terms["end"], None)
    check_invariants(grant)
    expected = total if isinstance(verdict, RevisedBudgetApproved) else 0
    assert committed_oere(grant.state) == expected
    assert not grant.state.claims  # one budget never over-instructs
    assert len({r.instruction.period_start for r in grant.state.instructions}) == len(
        grant.state.instructions)  # … nor tops up
    assert apply(None, grant.log) == grant.state


STEPS = st.sampled_from(["budget", "run", "run", "execute", "underpay", "fail", "reissue",
                         "resolve"])
SECOND = Actor(id="caseworker-2", role="caseworker")


def reissue(grant: Driver, instruction_id: Any) -> None:
    """The two-person re-issue: one caseworker asks, another approves."""
    grant(request_reissue, instruction_id, CASEWORKER, None, at(2030, 1, 1))
    grant(reissue_failed, instruction_id, SECOND, None)


def resolve_all(grant: Driver) -> None:
    for case in [c for c in grant.state.reconciliations if c.open]:
        grant(resolve_reconciliation, case.instruction_id, SECOND, "", at(2030, 1, 2))


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=st.data())
def test_the_ledger_over_random_budgets_runs_and_results(data: st.DataObject) -> None:
    terms = data.draw(grants())
    grant = Driver.accepted(**terms)
    steps = data.draw(st.lists(STEPS, min_size=1, max_size=12))
    day_offsets = sorted(data.draw(st.lists(st.integers(min_value=-100, max_value=1600),
                                            min_size=len(steps), max_size=len(steps))))
    for step, offset in zip(steps, day_offsets, strict=True):
        today = terms["start"] + timedelta(days=offset)
        pending = [r for r in grant.state.instructions if r.outcome == "instructed"]
        failed = [r for r in grant.state.instructions
                  if r.outcome == "failed" and r.reissued_as is None]
        if step == "budget":
            events = grant(submit_revised_budget, data.draw(budgets(terms)), GRANTEE, CVR)
            if (events and isinstance(events[-1], RevisedBudgetPendingApproval)
                    and data.draw(st.booleans())):
                grant(approve_pending_budget, events[-1].budget_version, CASEWORKER)
        elif step == "run":
            grant(instruct_due, today, None)
            assert instruct_due(grant.state, today, None) == []  # a re-run issues nothing
            if (grant.state.latest_approved_budget is not None
                    and not grant.state.reconciliation_open):
                settled(grant, today)
        elif step in ("execute", "underpay", "fail") and pending:
            record = data.draw(st.sampled_from(pending))
            amount = record.instruction.amount_oere
            if step == "underpay":
                amount = data.draw(st.integers(min_value=0, max_value=amount))
            result = (PaymentFailed(instruction_id=record.instruction_id, failed_at=at(2030, 1, 1),
                                    reason="account closed") if step == "fail" else
                      PaymentExecuted(instruction_id=record.instruction_id, amount_oere=amount,
                                      executed_at=at(2030, 1, 1)))
            events = grant(record_result, result)
            assert (len(events) == 2) == (step == "underpay" and amount != record.instruction.amount_oere)
        elif step == "reissue" and failed:
            reissue(grant, data.draw(st.sampled_from(failed)).instruction_id)
        elif step == "resolve":
            resolve_all(grant)
        check_invariants(grant)
    end = terms["end"] + timedelta(days=400)
    for record in [r for r in grant.state.instructions if r.outcome == "failed"
                   and r.reissued_as is None]:
        reissue(grant, record.instruction_id)
    resolve_all(grant)
    grant(instruct_due, end, None)
    check_invariants(grant)
    approved = grant.state.latest_approved_budget
    # Once every period has begun and nothing is held, what counts is exactly the budget.
    assert committed_oere(grant.state) == (approved.total_oere if approved else 0)
    assert apply(None, grant.log) == grant.state
