"""Property tests: whatever the budgets and run dates, instructions never exceed the award or
the governing budget, never repeat a period, and a single budget is paid out exactly."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.payments import RevisedBudgetApproved, RevisedBudgetPendingApproval
from services.payments.domain import (
    apply,
    approve_pending_budget,
    committed_oere,
    instruct_due,
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
    assert committed_oere(state) <= state.amount_oere
    assert len({i.instruction_id for i in instructions}) == len(instructions)
    assert len({i.period_start for i in instructions}) == len(instructions)
    first, last = month_of(state.project_period.start), month_of(state.project_period.end)
    for i in instructions:
        assert i.amount_oere > 0
        assert first <= i.period_start <= i.period_end <= last
        assert i.due_date.day == 1 and month_of(i.due_date) == i.period_start


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=st.data())
def test_one_budget_is_paid_exactly_and_never_more(data: st.DataObject) -> None:
    terms = data.draw(grants())
    budget = data.draw(budgets(terms))
    grant = Driver.accepted(**terms)
    verdict = grant(submit_revised_budget, budget, GRANTEE, CVR)[-1]
    total = sum(a for posts in budget.values() for a in posts.values())
    assert isinstance(verdict, RevisedBudgetApproved) == (0 < total <= terms["amount"])
    for through in data.draw(run_dates(terms)):
        issued = grant(instruct_due, through, None)
        assert all(i.due_date <= through for i in issued)
        assert instruct_due(grant.state, through, None) == []  # a re-run issues nothing
        check_invariants(grant)
    grant(instruct_due, terms["end"], None)
    check_invariants(grant)
    expected = total if isinstance(verdict, RevisedBudgetApproved) else 0
    assert committed_oere(grant.state) == expected
    assert apply(None, grant.log) == grant.state


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=st.data())
def test_changing_budgets_never_pay_more_than_the_award(data: st.DataObject) -> None:
    terms = data.draw(grants())
    grant = Driver.accepted(**terms)
    steps = data.draw(st.lists(st.sampled_from(["budget", "run"]), min_size=1, max_size=8))
    dates = sorted(data.draw(st.lists(run_dates(terms).map(lambda d: d[:1]), min_size=8,
                                      max_size=8)), key=lambda d: d[0] if d else date.min)
    for step, through in zip(steps, dates, strict=False):
        if step == "budget":
            events = grant(submit_revised_budget, data.draw(budgets(terms)), GRANTEE, CVR)
            if (events and isinstance(events[-1], RevisedBudgetPendingApproval)
                    and data.draw(st.booleans())):
                grant(approve_pending_budget, events[-1].budget_version, CASEWORKER)
        elif through:
            before = committed_oere(grant.state)
            if grant(instruct_due, through[0], None):
                # What a run adds stays within the governing budget; what was instructed under
                # an earlier, larger budget is never taken back.
                approved = grant.state.latest_approved_budget
                assert approved is not None
                assert committed_oere(grant.state) <= max(before, approved.total_oere)
        check_invariants(grant)
    grant(instruct_due, terms["end"] + timedelta(days=400), None)
    check_invariants(grant)
    assert apply(None, grant.log) == grant.state
