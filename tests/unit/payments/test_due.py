"""When payments' time-driven rules are next due (services.payments.domain.due): each answer
agrees with its rule's own predicate at every instant around it — never later (a skipped tick
that would have acted), never earlier than needed — across DST changes and day ends."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest

from services.payments.domain import (
    a_period_fell_due, lapse_not_started, lapse_overdue, next_payment_due, run_date,
    submit_revised_budget,
)
from services.payments.domain.account import PROJECT_ZONE
from services.payments.domain.due import (
    RESOLUTION, day_starts, lapse_from, payment_run_from, start_check_from,
)
from services.payments.domain.start_check import start_check_due
from services.payments.domain.state import GrantAccount
from tests.unit.payments.builders import CASEWORKER, CVR, DEADLINE, GRANTEE, STAFF, Driver
from tests.unit.payments.test_account import budget_from


def _around(*instants: datetime) -> list[datetime]:
    steps = (timedelta(0), RESOLUTION, timedelta(seconds=1), timedelta(hours=1),
             timedelta(days=1))
    return sorted({i + s for i in instants for s in steps} | {i - s for i in instants
                                                              for s in steps})


def _agrees(due: datetime | None, holds: Callable[[datetime], bool],
            instants: list[datetime]) -> None:
    for now in instants:
        assert holds(now) == (due is not None and now >= due), (due, now)


def test_a_copenhagen_day_starts_at_its_midnight_on_every_day_dst_changes_included() -> None:
    day = date(2022, 1, 1)
    while day < date(2026, 1, 1):
        start = day_starts(day)
        assert start.astimezone(PROJECT_ZONE).date() == day
        assert (start - RESOLUTION).astimezone(PROJECT_ZONE).date() == day - timedelta(days=1)
        day += timedelta(days=1)


def test_the_acceptance_lapse_is_due_just_after_the_deadline() -> None:
    pending = Driver.for_award().state
    due = lapse_from(pending.acceptance_deadline)
    _agrees(due, lambda now: bool(lapse_overdue(pending, now)), _around(DEADLINE))
    assert due == DEADLINE + RESOLUTION
    with pytest.raises(ValueError):
        lapse_from(datetime(2022, 12, 1))


def _paying() -> list[GrantAccount]:
    """Grants whose due dates fall on DST change days and on ordinary ones."""
    out = []
    for first in ("2023-01", "2023-03", "2023-04", "2023-10", "2023-11"):
        grant = Driver.accepted()
        months = {f"2023-{m:02d}": {STAFF: 1_000_000} for m in range(int(first[5:]), 13)}
        grant(submit_revised_budget, months, GRANTEE, CVR)
        out.append(grant.state)
    return out


def test_the_scheduled_run_is_due_from_the_first_instant_of_the_due_date() -> None:
    for state in _paying():
        due_date = next_payment_due(state)
        assert due_date is not None
        due = payment_run_from(due_date)
        start = datetime.combine(due_date, datetime.min.time(), tzinfo=UTC)
        _agrees(due, lambda now, state=state: a_period_fell_due(state, run_date(now)),
                _around(start, due, start + timedelta(hours=22), start - timedelta(hours=2)))


def _start_checked() -> list[GrantAccount]:
    unaccepted = Driver.for_award()
    plain = Driver.accepted()
    started = Driver.accepted()
    started(submit_revised_budget, budget_from("2023-03"), GRANTEE, CVR)
    late_start = Driver.accepted()
    late_start(submit_revised_budget, budget_from("2023-08"), GRANTEE, CVR)
    lapsed = Driver.accepted()
    lapsed(lapse_not_started, CASEWORKER, datetime(2023, 7, 2, 12, tzinfo=UTC))
    return [g.state for g in (unaccepted, plain, started, late_start, lapsed)]


def test_the_start_check_is_due_from_the_copenhagen_day_after_the_window() -> None:
    window_over = datetime(2023, 7, 1, 22, 0, tzinfo=UTC)  # 2023-07-02 00:00 Copenhagen
    dues = []
    for state in _start_checked():
        due = start_check_from(state)
        dues.append(due)
        _agrees(due, lambda now, state=state: start_check_due(state, now), _around(window_over))
    assert dues == [None, window_over, None, window_over, None]
