"""Later budget changes (R16): thresholds on both sides, new posts, the caseworker's decision."""

from __future__ import annotations

from typing import Any

import pytest

from contracts.base import Actor
from contracts.payments import (
    RevisedBudgetApproved,
    RevisedBudgetPendingApproval,
    RevisedBudgetRejected,
)
from contracts.refusal import Refusal
from services.payments.domain import (
    accept_award,
    approve_pending_budget,
    decide_pending_budget,
    instruct_due,
    moved_oere,
    reject_pending_budget,
    submit_revised_budget,
)
from tests.unit.payments.builders import (
    CASEWORKER,
    CVR,
    DEADLINE,
    GRANTEE,
    MATERIALS,
    STAFF,
    Driver,
    at,
)

# Award 150,000,000 øre: 10 % is 15,000,000 (150,000 DKK), so 100,000 DKK binds first.
# Award 50,000,000 øre: 10 % is 5,000,000 (50,000 DKK), so 10 % binds first.


def first_budget(award: int) -> dict[str, dict[str, int]]:
    half = award // 2
    return {"2023-01": {STAFF: half}, "2023-02": {MATERIALS: award - half}}


def moved(award: int, amount: int) -> dict[str, dict[str, int]]:
    """The first budget with ``amount`` moved from staff to materials (total unchanged)."""
    half = award // 2
    return {"2023-01": {STAFF: half - amount}, "2023-02": {MATERIALS: award - half + amount}}


def with_first_budget(award: int) -> Driver:
    grant = Driver.for_award(amount=award)
    events = grant(submit_revised_budget, first_budget(award), GRANTEE, CVR)
    assert isinstance(events[-1], RevisedBudgetApproved)
    return grant


def verdict(grant: Driver, months: dict[str, Any]) -> tuple[type, list[str]]:
    events = grant(submit_revised_budget, months, GRANTEE, CVR)
    last = events[-1]
    return type(last), [r.code for r in getattr(last, "reasons", [])]


class TestThresholds:
    def test_exactly_100000_dkk_applies_at_once(self) -> None:
        grant = with_first_budget(150_000_000)
        assert verdict(grant, moved(150_000_000, 10_000_000)) == (RevisedBudgetApproved, [])

    def test_one_oere_over_100000_dkk_waits(self) -> None:
        grant = with_first_budget(150_000_000)
        assert verdict(grant, moved(150_000_000, 10_000_001)) == (
            RevisedBudgetPendingApproval, ["move_over_100000_dkk"])

    def test_exactly_10_percent_applies_at_once(self) -> None:
        grant = with_first_budget(50_000_000)
        assert verdict(grant, moved(50_000_000, 5_000_000)) == (RevisedBudgetApproved, [])

    def test_one_oere_over_10_percent_waits(self) -> None:
        grant = with_first_budget(50_000_000)
        assert verdict(grant, moved(50_000_000, 5_000_001)) == (
            RevisedBudgetPendingApproval, ["move_over_10_percent"])

    def test_ten_percent_of_an_odd_award_is_not_rounded(self) -> None:
        # 10 % of 50,000,005 is 5,000,000.5: 5,000,000 applies, 5,000,001 waits.
        at_limit, over = with_first_budget(50_000_005), with_first_budget(50_000_005)
        assert verdict(at_limit, moved(50_000_005, 5_000_000))[0] is RevisedBudgetApproved
        assert verdict(over, moved(50_000_005, 5_000_001))[0] is RevisedBudgetPendingApproval

    def test_both_limits_exceeded_gives_both_reasons(self) -> None:
        grant = with_first_budget(150_000_000)
        assert verdict(grant, moved(150_000_000, 15_000_001)) == (
            RevisedBudgetPendingApproval, ["move_over_10_percent", "move_over_100000_dkk"])



class TestBaseline:
    """R16 cumulatively: every change is measured against the last budget a caseworker approved
    (else the first approved), so small automatic moves cannot chain past the limits."""

    def test_chained_moves_reach_100000_dkk_exactly_and_then_one_oere_over(self) -> None:
        grant = with_first_budget(150_000_000)
        for step in (2_500_000, 5_000_000, 7_500_000, 10_000_000):  # 25,000 DKK at a time
            assert verdict(grant, moved(150_000_000, step)) == (RevisedBudgetApproved, [])
        assert verdict(grant, moved(150_000_000, 10_000_001)) == (
            RevisedBudgetPendingApproval, ["move_over_100000_dkk"])

    def test_ten_9_percent_moves_do_not_pass_without_a_caseworker(self) -> None:
        grant = with_first_budget(50_000_000)
        steps = [4_500_000 * n // 9 for n in range(1, 10)]  # 0.5 %… 4.5 % of the award
        kinds = [verdict(grant, moved(50_000_000, step))[0] for step in steps]
        assert kinds == [RevisedBudgetApproved] * 9
        assert verdict(grant, moved(50_000_000, 5_000_000))[0] is RevisedBudgetApproved
        assert verdict(grant, moved(50_000_000, 5_000_001)) == (
            RevisedBudgetPendingApproval, ["move_over_10_percent"])

    def test_a_caseworkers_approval_is_the_new_baseline(self) -> None:
        grant = with_first_budget(150_000_000)
        (pending, _) = verdict(grant, moved(150_000_000, 10_000_001))
        assert pending is RevisedBudgetPendingApproval
        grant(approve_pending_budget, 2, CASEWORKER)
        # measured from version 2 now: another 100,000 DKK applies, one øre more waits
        assert verdict(grant, moved(150_000_000, 20_000_001))[0] is RevisedBudgetApproved
        assert verdict(grant, moved(150_000_000, 20_000_002))[0] is RevisedBudgetPendingApproval

    def test_moving_back_towards_the_baseline_is_not_a_move(self) -> None:
        grant = with_first_budget(150_000_000)
        assert verdict(grant, moved(150_000_000, 10_000_000))[0] is RevisedBudgetApproved
        assert verdict(grant, moved(150_000_000, 0))[0] is RevisedBudgetApproved

    def test_posts_compare_like_intake_compares_them(self) -> None:
        grant = with_first_budget(150_000_000)
        same = {"2023-01": {"  Project   STAFF ": 75_000_000}, "2023-02": {MATERIALS: 75_000_000}}
        assert verdict(grant, same) == (RevisedBudgetApproved, [])
        other = {"2023-01": {"project staffing": 75_000_000}, "2023-02": {MATERIALS: 75_000_000}}
        assert verdict(grant, other) == (RevisedBudgetPendingApproval, [
            "move_over_10_percent", "move_over_100000_dkk", "new_post"])


class TestWhatCountsAsAMove:

    def test_moving_money_between_months_of_one_post_moves_nothing(self) -> None:
        grant = with_first_budget(150_000_000)
        later = {"2024-06": {STAFF: 75_000_000}, "2025-01": {MATERIALS: 75_000_000}}
        assert verdict(grant, later) == (RevisedBudgetApproved, [])

    def test_moved_is_the_sum_of_increases(self) -> None:
        before = {"a": 100, "b": 100, "c": 100}
        after = {"a": 40, "b": 130, "c": 110, "d": 20}
        assert moved_oere(before, after) == 30 + 10 + 20

    def test_a_post_missing_from_the_latest_approved_version_is_new(self) -> None:
        # Materials is in the indicative budget but not in the approved version 1.
        grant = Driver.for_award()
        grant(submit_revised_budget, {"2023-01": {STAFF: 1_000_000}}, GRANTEE, CVR)
        assert verdict(grant, {"2023-01": {STAFF: 900_000, MATERIALS: 100_000}}) == (
            RevisedBudgetPendingApproval, ["new_post"])

    def test_a_rejected_change_is_still_judged_against_the_rules_first(self) -> None:
        grant = with_first_budget(150_000_000)
        kind, reasons = verdict(grant, {"2027-01": {STAFF: 1}, "2023-01": {"coffee": 20_000_000}})
        assert (kind, reasons) == (RevisedBudgetRejected, ["month_outside_period"])


def pending_change() -> Driver:
    grant = with_first_budget(150_000_000)
    verdict(grant, moved(150_000_000, 10_000_001))
    return grant


class TestCaseworkerDecision:
    def test_pending_change_does_not_govern_until_approved(self) -> None:
        grant = pending_change()
        assert grant.state.latest_approved_budget.version == 1  # type: ignore[union-attr]
        grant(accept_award, GRANTEE, CVR, DEADLINE)
        (first,) = instruct_due(grant.state, at(2023, 1, 1).date(), None)
        assert first.budget_version == 1 and first.amount_oere == 75_000_000 + 75_000_000

    def test_caseworker_approves_and_it_governs(self) -> None:
        grant = pending_change()
        events = grant(approve_pending_budget, 2, CASEWORKER)
        assert len(events) == 1
        assert events[0].approval == "caseworker" and events[0].approved_by == CASEWORKER.id
        assert events[0].months == moved(150_000_000, 10_000_001)
        assert events[0].total_oere == 150_000_000
        assert grant.state.latest_approved_budget.version == 2  # type: ignore[union-attr]

    def test_caseworker_rejects_and_the_old_version_keeps_governing(self) -> None:
        grant = pending_change()
        events = grant(reject_pending_budget, 2, CASEWORKER, "move not justified")
        assert isinstance(events[0], RevisedBudgetRejected)
        assert events[0].rejected_by == CASEWORKER.id
        assert [(r.code, r.message) for r in events[0].reasons] == [
            ("rejected_by_caseworker", "move not justified")]
        assert grant.state.latest_approved_budget.version == 1  # type: ignore[union-attr]

    @pytest.mark.parametrize("approve", [True, False])
    def test_a_decision_is_the_approval_or_the_rejection(self, approve: bool) -> None:
        state = pending_change().state
        expected = (approve_pending_budget(state, 2, CASEWORKER) if approve
                    else reject_pending_budget(state, 2, CASEWORKER, "no"))
        assert decide_pending_budget(state, 2, approve, CASEWORKER, "no") == expected

    @pytest.mark.parametrize("command", [approve_pending_budget, reject_pending_budget])
    def test_the_grantee_cannot_decide(self, command: Any) -> None:
        with pytest.raises(Refusal) as excinfo:
            command(pending_change().state, 2, GRANTEE)
        assert (excinfo.value.code, excinfo.value.kind) == ("role_not_allowed", "forbidden")

    def test_only_a_pending_version_can_be_decided(self) -> None:
        grant = pending_change()
        with pytest.raises(Refusal) as excinfo:
            approve_pending_budget(grant.state, 1, CASEWORKER)
        assert (excinfo.value.code, excinfo.value.kind) == ("budget_not_pending", "conflict")
        with pytest.raises(Refusal) as excinfo:
            approve_pending_budget(grant.state, 9, CASEWORKER)
        assert (excinfo.value.code, excinfo.value.kind) == (
            "budget_version_not_found", "not_found")

    def test_deciding_twice_is_refused(self) -> None:
        grant = pending_change()
        grant(approve_pending_budget, 2, CASEWORKER)
        with pytest.raises(Refusal) as excinfo:
            approve_pending_budget(grant.state, 2, CASEWORKER)
        assert excinfo.value.code == "budget_not_pending"

    def test_a_newer_submission_supersedes_a_pending_one(self) -> None:
        grant = pending_change()
        assert verdict(grant, moved(150_000_000, 1))[0] is RevisedBudgetApproved
        assert grant.state.budget(2).status == "superseded"  # type: ignore[union-attr]
        with pytest.raises(Refusal) as excinfo:
            approve_pending_budget(grant.state, 2, CASEWORKER)
        assert (excinfo.value.code, excinfo.value.kind) == (
            "budget_version_superseded", "conflict")

    def test_resending_the_pending_budget_is_a_retry(self) -> None:
        grant = pending_change()
        assert grant(submit_revised_budget, moved(150_000_000, 10_000_001), GRANTEE, CVR) == []

    def test_a_new_post_in_a_first_budget_is_approved_by_a_caseworker(self) -> None:
        grant = Driver.for_award()
        grant(submit_revised_budget, {"2023-01": {"coffee": 10}}, GRANTEE, CVR)
        grant(approve_pending_budget, 1, Actor(id="cw-2", role="caseworker"))
        assert grant.state.latest_approved_budget.version == 1  # type: ignore[union-attr]
