"""When a scheduler's rules are next due: per rule an instant, None or "always", the earliest
over the rules, and whether a tick at an instant could do anything (servicekit.scheduler)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from servicekit.clock import SystemClock
from servicekit.scheduler import ALWAYS, ANY_TIME, NextDue, Scheduler, Tick

T = datetime(2023, 3, 26, 1, 0, tzinfo=UTC)  # 03:00 Copenhagen, the spring DST change


def _scheduler(**dues: object) -> Scheduler:
    scheduler = Scheduler("svc", clock=SystemClock(), dsn=lambda: "unused", interval_s=0)

    async def rule(tick: Tick) -> None:
        return None

    for name, answer in dues.items():
        if answer == "no due":
            scheduler.rule(name, rule)
            continue

        async def due(answer: object = answer) -> datetime | None:
            if isinstance(answer, Exception):
                raise answer
            return answer  # type: ignore[return-value]

        scheduler.rule(name, rule, due)
    return scheduler


async def test_the_earliest_instant_over_the_rules_and_due_from_it_on() -> None:
    later = T + timedelta(days=3)
    answer = await _scheduler(a=later, b=T, c=None).next_due()
    assert answer.rules == {"a": later, "b": T, "c": None}
    assert answer.at == T and not answer.always
    assert not answer.due_by(T - timedelta(microseconds=1))
    assert answer.due_by(T) and answer.due_by(later)
    assert answer.as_json() == {"always": False, "at": "2023-03-26T01:00:00Z", "rules": {
        "a": "2023-03-29T01:00:00Z", "b": "2023-03-26T01:00:00Z", "c": None}}


async def test_nothing_due_is_never_due_and_any_time_is_always_due() -> None:
    nothing = await _scheduler(a=None, b=None).next_due()
    assert nothing.at is None and not nothing.due_by(datetime.max.replace(tzinfo=UTC))
    assert (await _scheduler(a=ANY_TIME, b=None).next_due()).due_by(T)


async def test_a_rule_without_due_or_whose_due_fails_is_due_at_every_instant() -> None:
    for scheduler in (_scheduler(a=None, b="no due"),
                      _scheduler(a=None, b=RuntimeError("database away"))):
        answer = await scheduler.next_due()
        assert answer.rules["b"] == ALWAYS and answer.always
        assert answer.due_by(datetime.min.replace(tzinfo=UTC))
        assert answer.as_json()["rules"]["b"] == "always"


async def test_a_naive_instant_is_refused() -> None:
    with pytest.raises(ValueError):
        await _scheduler(a=datetime(2023, 1, 1)).next_due()


def test_an_empty_answer_is_never_due() -> None:
    assert not NextDue({}).due_by(T) and NextDue({}).at is None
