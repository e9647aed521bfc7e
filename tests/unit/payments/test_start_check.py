"""The 6-month no-start check as a caseworker task (R18, issue 16 item 7). Period starts
2023-01-01: the window ends 2023-07-01; the task is due from 2023-07-02 (Copenhagen date)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from contracts.base import Actor
from contracts.refusal import Refusal
from services.payments.domain import lapse_not_started, submit_revised_budget
from services.payments.domain.start_check import (
    close_start_check, dismiss_start_check, open_start_check, start_check_due, start_check_id,
)
from tests.unit.payments.builders import APP_ID, CASEWORKER, CVR, GRANTEE, Driver, refusal
from tests.unit.payments.test_account import budget_from

LAST_DAY = datetime(2023, 7, 1, 21, 59, 59, tzinfo=UTC)  # 23:59:59 Copenhagen, the window's end
NEXT_DAY = datetime(2023, 7, 1, 22, 0, tzinfo=UTC)       # 2023-07-02 00:00 Copenhagen


def test_due_from_the_copenhagen_day_after_the_window() -> None:
    grant = Driver.accepted()
    assert not start_check_due(grant.state, LAST_DAY)
    assert open_start_check(grant.state, LAST_DAY) == []
    (task,) = open_start_check(grant.state, NEXT_DAY)
    assert (task.task_id, task.kind, task.application_id, task.due.isoformat()) == (
        start_check_id(APP_ID), "project_start_check", APP_ID, "2023-07-01")
    assert start_check_id(APP_ID) == task.task_id  # one task per grant, ever


@pytest.mark.parametrize(("first_month", "due"), [("2023-07", False), ("2023-08", True)])
def test_a_budget_with_money_within_the_window_means_started(first_month: str, due: bool) -> None:
    grant = Driver.accepted()
    grant(submit_revised_budget, budget_from(first_month), GRANTEE, CVR)
    assert start_check_due(grant.state, NEXT_DAY) is due


def test_not_for_an_unaccepted_or_lapsed_grant() -> None:
    assert not start_check_due(Driver.for_award().state, NEXT_DAY)
    grant = Driver.accepted()
    grant(lapse_not_started, CASEWORKER, NEXT_DAY)
    assert not start_check_due(grant.state, NEXT_DAY)


def test_the_task_closes_when_the_grant_lapses_or_the_project_shows_its_start() -> None:
    grant = Driver.accepted()
    task_id = start_check_id(APP_ID)
    assert close_start_check(grant.state, task_id, NEXT_DAY) == []
    grant(lapse_not_started, CASEWORKER, NEXT_DAY)
    assert [c.outcome for c in close_start_check(grant.state, task_id, NEXT_DAY)] == ["lapsed"]
    started = Driver.accepted()
    started(submit_revised_budget, budget_from("2023-03"), GRANTEE, CVR)
    assert [c.outcome for c in close_start_check(started.state, task_id, NEXT_DAY)] == [
        "started"]


def test_only_a_caseworker_dismisses() -> None:
    (closed,) = dismiss_start_check(start_check_id(APP_ID), APP_ID, CASEWORKER, NEXT_DAY)
    assert (closed.outcome, closed.closed_by) == ("dismissed", CASEWORKER.id)
    with pytest.raises(Refusal) as refused:
        dismiss_start_check(start_check_id(APP_ID), APP_ID, Actor(id="x", role="approver"),
                            NEXT_DAY)
    assert refusal(refused) == ("role_not_allowed", "forbidden")


def test_a_dismissed_task_is_dismissed_once_and_a_closed_one_not_at_all() -> None:
    task_id = start_check_id(APP_ID)
    assert dismiss_start_check(task_id, APP_ID, CASEWORKER, NEXT_DAY, "dismissed") == []
    for outcome in ("started", "lapsed"):
        with pytest.raises(Refusal) as refused:
            dismiss_start_check(task_id, APP_ID, CASEWORKER, NEXT_DAY, outcome)
        assert refusal(refused) == ("task_closed", "conflict")
