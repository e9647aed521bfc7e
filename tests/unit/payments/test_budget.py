"""Revised budget, first version (R15): the total, the months, the amounts, every reason."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from contracts.base import Actor, Reason
from contracts.payments import (
    RevisedBudgetApproved,
    RevisedBudgetPendingApproval,
    RevisedBudgetRejected,
    RevisedBudgetSubmitted,
)
from contracts.refusal import Refusal
from services.payments.domain import (
    budget_status,
    category_of,
    lapse_overdue,
    submit_revised_budget,
)
from tests.unit.payments.builders import (
    CVR,
    DEADLINE,
    GRANTEE,
    MATERIALS,
    ONE_SECOND,
    OTHER_CVR,
    STAFF,
    Driver,
    even_months,
    opened,
)

AWARD = 150_000_000
# 48 months of the 2023-01..2026-12 period, exactly the award.
FULL = even_months("2023-01", 48, {STAFF: 2_500_000, MATERIALS: 625_000})


def submit(months: Any, **award_kwargs: Any) -> list[Any]:
    return submit_revised_budget(opened(**award_kwargs), months, GRANTEE, CVR)


def codes(events: list[Any]) -> list[tuple[str, str | None]]:
    rejected = [e for e in events if isinstance(e, RevisedBudgetRejected)]
    assert len(rejected) == 1, events
    return [(r.code, r.path) for r in rejected[0].reasons]


def test_full_budget_is_exactly_the_award_and_approved_automatically() -> None:
    assert sum(sum(p.values()) for p in FULL.values()) == AWARD
    events = submit(FULL)
    assert [type(e) for e in events] == [RevisedBudgetSubmitted, RevisedBudgetApproved]
    submitted, approved = events
    assert submitted.budget_version == approved.budget_version == 1
    assert submitted.total_oere == approved.total_oere == AWARD
    assert submitted.submitted_by == GRANTEE.id
    assert approved.approval == "automatic" and approved.approved_by is None
    assert approved.award_oere == AWARD
    assert approved.months == FULL


def test_one_oere_over_the_award_is_rejected() -> None:
    months = {**FULL, "2026-12": {STAFF: 2_500_000, MATERIALS: 625_001}}
    events = submit(months)
    assert [type(e) for e in events] == [RevisedBudgetSubmitted, RevisedBudgetRejected]
    assert codes(events) == [("exceeds_award", "total_oere")]


def test_less_than_the_award_is_fine() -> None:
    events = submit({"2023-01": {STAFF: 1}})
    assert isinstance(events[-1], RevisedBudgetApproved)


@pytest.mark.parametrize("month", ["2023-01", "2026-12"])
def test_first_and_last_month_of_the_period_are_inside(month: str) -> None:
    assert isinstance(submit({month: {STAFF: 100}})[-1], RevisedBudgetApproved)


@pytest.mark.parametrize("month", ["2022-12", "2027-01"])
def test_a_month_one_day_outside_the_period_is_rejected(month: str) -> None:
    events = submit({"2023-06": {STAFF: 100}, month: {STAFF: 100}})
    assert codes(events) == [("month_outside_period", f"months.{month}")]


def test_a_month_overlapping_a_mid_month_period_edge_is_inside() -> None:
    # Period 2023-01-15..2026-06-10: January 2023 and June 2026 overlap it.
    kwargs = {"start": date(2023, 1, 15), "end": date(2026, 6, 10)}
    assert isinstance(submit({"2023-01": {STAFF: 1}, "2026-06": {STAFF: 1}}, **kwargs)[-1],
                      RevisedBudgetApproved)
    assert codes(submit({"2026-07": {STAFF: 1}}, **kwargs)) == [
        ("month_outside_period", "months.2026-07")]


def test_delayed_start_shifts_the_first_month_not_the_end() -> None:
    delayed = even_months("2023-09", 40, {STAFF: 1_000_000})  # 2023-09 .. 2026-12
    assert isinstance(submit(delayed)[-1], RevisedBudgetApproved)
    shifted_end = even_months("2023-09", 41, {STAFF: 1_000_000})  # runs into 2027-01
    assert codes(submit(shifted_end)) == [("month_outside_period", "months.2027-01")]


def test_delayed_start_refused_when_the_award_does_not_allow_it() -> None:
    late = {"2023-01": {STAFF: 0}, "2023-02": {STAFF: 100}}
    assert codes(submit(late, delayed_start_allowed=False)) == [
        ("delayed_start_not_allowed", "months.2023-02")]
    on_time = {"2023-01": {STAFF: 100}, "2023-02": {STAFF: 100}}
    assert isinstance(submit(on_time, delayed_start_allowed=False)[-1], RevisedBudgetApproved)


@pytest.mark.parametrize("key", ["2023-13", "2023-1", "23-01", "2023/01", "2023-00", "", "abc"])
def test_bad_month_keys(key: str) -> None:
    events = submit({key: {STAFF: 100}, "2023-01": {STAFF: 100}})
    # Not representable as a MonthlyBudget: only the rejection is emitted.
    assert [type(e) for e in events] == [RevisedBudgetRejected]
    assert codes(events) == [("month_invalid", f"months.{key}")]


def test_month_value_must_be_a_mapping() -> None:
    assert codes(submit({"2023-01": 100})) == [("month_invalid", "months.2023-01"),
                                               ("budget_empty", "months")]


def test_negative_amounts_are_reported_with_their_place() -> None:
    events = submit({"2023-01": {STAFF: 100}, "2023-02": {STAFF: -1, MATERIALS: 5}})
    assert [type(e) for e in events] == [RevisedBudgetRejected]
    assert codes(events) == [("amount_negative", "months.2023-02.project staff")]


@pytest.mark.parametrize("amount", [1.5, 100.0, "100", None, True])
def test_amounts_are_whole_oere(amount: Any) -> None:
    events = submit({"2023-01": {STAFF: 100, MATERIALS: amount}})
    assert codes(events) == [("amount_invalid", "months.2023-01.materials and meetings")]


@pytest.mark.parametrize("post", ["", "   ", "x" * 201])
def test_post_names_must_be_sensible(post: str) -> None:
    assert codes(submit({"2023-01": {STAFF: 100, post: 1}})) == [
        ("post_invalid", f"months.2023-01.{post}")]


@pytest.mark.parametrize("months", [{}, {"2023-01": {}}, {"2023-01": {STAFF: 0}}])
def test_empty_budgets(months: dict[str, Any]) -> None:
    events = submit(months)
    assert [type(e) for e in events] == [RevisedBudgetSubmitted, RevisedBudgetRejected]
    assert codes(events) == [("budget_empty", "months")]


def test_not_a_mapping_at_all() -> None:
    assert codes(submit([1, 2, 3])) == [("month_invalid", "months")]


def test_every_reason_is_reported_at_once() -> None:
    months = {
        "2022-12": {STAFF: 100},
        "2023-02": {STAFF: -5, MATERIALS: 1.5},
        "2023-13": {STAFF: 1},
        "2023-03": {STAFF: AWARD},
    }
    assert codes(submit(months)) == [
        ("month_outside_period", "months.2022-12"),
        ("amount_invalid", "months.2023-02.materials and meetings"),
        ("amount_negative", "months.2023-02.project staff"),
        ("month_invalid", "months.2023-13"),
        ("exceeds_award", "total_oere"),
    ]


def test_reasons_carry_messages() -> None:
    (reason,) = [r for e in submit({"2027-01": {STAFF: 1}}) if isinstance(e, RevisedBudgetRejected)
                 for r in e.reasons]
    assert isinstance(reason, Reason) and reason.message


def test_posts_may_move_between_indicative_lines_in_a_first_budget() -> None:
    # Indicative: staff 120 M / materials 30 M. Everything into materials is still fine.
    events = submit({"2023-01": {MATERIALS: AWARD}})
    assert isinstance(events[-1], RevisedBudgetApproved)


def test_a_post_not_in_the_indicative_budget_waits_for_a_caseworker() -> None:
    events = submit({"2023-01": {STAFF: 100, "coffee": 5}})
    assert [type(e) for e in events] == [RevisedBudgetSubmitted, RevisedBudgetPendingApproval]
    assert [(r.code, r.path) for r in events[-1].reasons] == [("new_post", "posts.coffee")]


def test_a_new_post_with_zero_money_is_not_a_new_cost_item() -> None:
    assert isinstance(submit({"2023-01": {STAFF: 100, "coffee": 0}})[-1], RevisedBudgetApproved)


def test_categories_follow_the_indicative_line_of_the_same_name() -> None:
    state = opened()
    assert category_of(state, STAFF) == "salary"
    assert category_of(state, MATERIALS) == "other"
    assert category_of(state, "coffee") is None


def test_submit_needs_the_grantee() -> None:
    with pytest.raises(Refusal) as excinfo:
        submit_revised_budget(opened(), FULL, GRANTEE, OTHER_CVR)
    assert excinfo.value.code == "cvr_mismatch"
    with pytest.raises(Refusal) as excinfo:
        submit_revised_budget(opened(), FULL, Actor(id="c", role="caseworker"), CVR)
    assert excinfo.value.code == "role_not_allowed"


def test_submitting_before_acceptance_is_allowed() -> None:
    state = opened()
    assert not state.is_accepted
    assert isinstance(submit_revised_budget(state, FULL, GRANTEE, CVR)[-1], RevisedBudgetApproved)


def test_a_lapsed_grant_refuses_a_budget() -> None:
    grant = Driver.for_award()
    grant(lapse_overdue, DEADLINE + ONE_SECOND)
    with pytest.raises(Refusal) as excinfo:
        submit_revised_budget(grant.state, FULL, GRANTEE, CVR)
    assert (excinfo.value.code, excinfo.value.kind) == ("award_lapsed", "conflict")


def test_versions_count_every_submission_and_each_approved_one_is_kept() -> None:
    grant = Driver.for_award()
    grant(submit_revised_budget, {"2027-01": {STAFF: 1}}, GRANTEE, CVR)  # v1 rejected
    grant(submit_revised_budget, {"2023-01": {STAFF: -1}}, GRANTEE, CVR)  # v2 rejected, no months
    grant(submit_revised_budget, {"2023-01": {STAFF: 10}}, GRANTEE, CVR)  # v3 approved
    grant(submit_revised_budget, {"2023-02": {STAFF: 10}}, GRANTEE, CVR)  # v4 approved
    statuses = [(b.version, b.status) for b in grant.state.budgets]
    assert statuses == [(1, "rejected"), (2, "rejected"), (3, "approved"), (4, "approved")]
    assert grant.state.budget(2).months is None  # type: ignore[union-attr]
    assert grant.state.budget(3).months == {"2023-01": {STAFF: 10}}  # type: ignore[union-attr]
    assert grant.state.latest_approved_budget.version == 4  # type: ignore[union-attr]


def test_resending_the_approved_budget_is_a_retry() -> None:
    grant = Driver.for_award()
    grant(submit_revised_budget, FULL, GRANTEE, CVR)
    assert grant(submit_revised_budget, dict(FULL), GRANTEE, CVR) == []
    assert len(grant.state.budgets) == 1


def test_resending_a_rejected_budget_is_judged_again() -> None:
    grant = Driver.for_award()
    grant(submit_revised_budget, {"2027-01": {STAFF: 1}}, GRANTEE, CVR)
    events = grant(submit_revised_budget, {"2027-01": {STAFF: 1}}, GRANTEE, CVR)
    assert events[-1].budget_version == 2


def test_budget_status_for_the_read_side() -> None:
    grant = Driver.for_award()
    assert budget_status(grant.state).status == "none"
    grant(submit_revised_budget, {"2027-01": {STAFF: 1}}, GRANTEE, CVR)
    view = budget_status(grant.state)
    assert (view.status, view.version, view.reason_codes, view.governing_version) == (
        "rejected", 1, ["month_outside_period"], None)
    grant(submit_revised_budget, FULL, GRANTEE, CVR)
    view = budget_status(grant.state)
    assert (view.status, view.version, view.reason_codes, view.governing_version) == (
        "approved", 2, [], 2)
