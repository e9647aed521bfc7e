"""Grant account, acceptance (R14) and lapse (R14/R18)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from contracts.base import Actor
from contracts.payments import AwardAccepted, AwardLapsed, GrantAccountOpened
from contracts.refusal import Refusal
from services.payments.domain import (
    accept_award,
    apply,
    lapse_not_started,
    lapse_overdue,
    open_account,
    project_started,
    require_reader,
    start_window_end,
    submit_revised_budget,
)
from tests.unit.payments.builders import (
    APP_ID,
    APPROVER,
    CASEWORKER,
    CVR,
    DEADLINE,
    GRANTEE,
    MATERIALS,
    ONE_SECOND,
    OTHER_CVR,
    STAFF,
    Driver,
    award,
    opened,
    refusal,
)


class TestOpenAccount:
    def test_award_opens_an_account_with_the_award_terms(self) -> None:
        grant = award(frequency="monthly")
        events = open_account(None, grant)
        assert events == [GrantAccountOpened(application_id=APP_ID, cvr=CVR,
                                             amount_oere=150_000_000,
                                             acceptance_deadline=DEADLINE)]
        state = apply(None, [grant, *events])
        assert state is not None
        assert state.amount_oere == 150_000_000
        assert state.project_period == grant.project_period
        assert state.acceptance_deadline == DEADLINE
        assert state.payment_frequency == "monthly"
        assert [(line.post, line.category) for line in state.budget_lines] == [
            (STAFF, "salary"), (MATERIALS, "other")]
        assert state.approved_by == APPROVER
        assert state.cvr == CVR
        assert not state.is_accepted and not state.is_lapsed

    def test_same_award_twice_opens_no_second_account(self) -> None:
        grant = award()
        state = apply(None, [grant, *open_account(None, grant)])
        assert open_account(state, grant) == []
        assert apply(state, [grant]) == state


class TestAcceptance:
    def test_accept_exactly_at_the_deadline(self) -> None:
        events = accept_award(opened(), GRANTEE, CVR, DEADLINE)
        assert events == [AwardAccepted(application_id=APP_ID, accepted_by=GRANTEE.id,
                                        accepted_at=DEADLINE)]

    def test_accept_one_second_before_the_deadline(self) -> None:
        assert len(accept_award(opened(), GRANTEE, CVR, DEADLINE - ONE_SECOND)) == 1

    def test_accept_one_second_after_the_deadline_is_refused(self) -> None:
        with pytest.raises(Refusal) as excinfo:
            accept_award(opened(), GRANTEE, CVR, DEADLINE + ONE_SECOND)
        assert refusal(excinfo) == ("acceptance_deadline_passed", "conflict")

    def test_deadline_compares_instants_not_wall_clocks(self) -> None:
        from zoneinfo import ZoneInfo
        # 23:59:59 in Copenhagen (winter, +01:00) is the deadline 22:59:59Z itself.
        local = datetime(2022, 12, 1, 23, 59, 59, tzinfo=ZoneInfo("Europe/Copenhagen"))
        assert len(accept_award(opened(), GRANTEE, CVR, local)) == 1
        with pytest.raises(Refusal):
            accept_award(opened(), GRANTEE, CVR, local + ONE_SECOND)

    def test_token_cvr_must_be_the_grantee(self) -> None:
        with pytest.raises(Refusal) as excinfo:
            accept_award(opened(), GRANTEE, OTHER_CVR, DEADLINE)
        assert refusal(excinfo) == ("cvr_mismatch", "forbidden")

    @pytest.mark.parametrize("role", ["caseworker", "approver", "finance", "system"])
    def test_only_the_applicant_role_accepts(self, role: str) -> None:
        with pytest.raises(Refusal) as excinfo:
            accept_award(opened(), Actor(id="x", role=role), CVR, DEADLINE)
        assert refusal(excinfo) == ("role_not_allowed", "forbidden")

    def test_accepting_twice_emits_nothing_new_even_after_the_deadline(self) -> None:
        grant = Driver.for_award()
        grant(accept_award, GRANTEE, CVR, DEADLINE - ONE_SECOND)
        assert grant.state.accepted_at == DEADLINE - ONE_SECOND
        assert grant(accept_award, GRANTEE, CVR, DEADLINE) == []
        assert grant(accept_award, GRANTEE, CVR, DEADLINE + ONE_SECOND) == []

    def test_a_lapsed_award_cannot_be_accepted(self) -> None:
        grant = Driver.for_award(deadline=DEADLINE)
        grant(lapse_overdue, DEADLINE + ONE_SECOND)
        with pytest.raises(Refusal) as excinfo:
            accept_award(grant.state, GRANTEE, CVR, DEADLINE)
        assert refusal(excinfo) == ("award_lapsed", "conflict")

    def test_naive_now_is_a_programming_error(self) -> None:
        with pytest.raises(ValueError):
            accept_award(opened(), GRANTEE, CVR, datetime(2022, 12, 1))


class TestLapseSweep:
    def test_nothing_lapses_at_the_deadline_itself(self) -> None:
        assert lapse_overdue(opened(), DEADLINE) == []

    def test_unaccepted_award_lapses_one_second_after(self) -> None:
        events = lapse_overdue(opened(), DEADLINE + ONE_SECOND)
        assert events == [AwardLapsed(application_id=APP_ID, reason="acceptance_deadline_passed",
                                      lapsed_at=DEADLINE + ONE_SECOND)]

    def test_accepted_award_never_lapses_by_the_sweep(self) -> None:
        grant = Driver.accepted()
        assert lapse_overdue(grant.state, datetime(2030, 1, 1, tzinfo=UTC)) == []

    def test_sweeping_twice_lapses_once(self) -> None:
        grant = Driver.for_award()
        assert len(grant(lapse_overdue, DEADLINE + ONE_SECOND)) == 1
        assert grant(lapse_overdue, DEADLINE + 2 * ONE_SECOND) == []
        assert grant.state.lapse is not None
        assert grant.state.lapse.reason == "acceptance_deadline_passed"


def budget_from(first_month: str) -> dict[str, dict[str, int]]:
    return {first_month: {STAFF: 1_000_000}}


class TestProjectNotStarted:
    """Period starts 2023-01-01: the window ends 2023-07-01; lapsing is allowed from 2023-07-02
    (Copenhagen date) when the latest approved budget has no money in a month starting on or
    before 2023-07-01."""

    def test_window_end_is_six_months_after_start(self) -> None:
        assert start_window_end(opened()) == date(2023, 7, 1)
        assert start_window_end(opened(start=date(2023, 8, 31))) == date(2024, 2, 29)

    def test_too_early_on_the_last_day_of_the_window(self) -> None:
        # 2023-07-01 23:30 Copenhagen (summer, +02:00) is still the window's last day.
        now = datetime(2023, 7, 1, 21, 30, tzinfo=UTC)
        with pytest.raises(Refusal) as excinfo:
            lapse_not_started(opened(), CASEWORKER, now)
        assert refusal(excinfo) == ("project_start_window_open", "conflict")

    def test_without_an_approved_budget_it_lapses_the_day_after(self) -> None:
        now = datetime(2023, 7, 1, 22, 0, tzinfo=UTC)  # 2023-07-02 00:00 in Copenhagen
        events = lapse_not_started(opened(), CASEWORKER, now)
        assert events == [AwardLapsed(application_id=APP_ID, reason="project_not_started",
                                      decided_by=CASEWORKER.id, lapsed_at=now)]

    @pytest.mark.parametrize("first_month", ["2023-01", "2023-06", "2023-07"])
    def test_a_budget_starting_within_six_months_means_started(self, first_month: str) -> None:
        grant = Driver.for_award()
        grant(submit_revised_budget, budget_from(first_month), GRANTEE, CVR)
        assert project_started(grant.state)
        with pytest.raises(Refusal) as excinfo:
            lapse_not_started(grant.state, CASEWORKER, datetime(2024, 1, 1, tzinfo=UTC))
        assert refusal(excinfo) == ("project_started", "conflict")

    def test_a_budget_starting_later_means_not_started(self) -> None:
        grant = Driver.for_award()
        grant(submit_revised_budget, budget_from("2023-08"), GRANTEE, CVR)
        assert not project_started(grant.state)
        events = grant(lapse_not_started, CASEWORKER, datetime(2024, 1, 1, tzinfo=UTC))
        assert [e.reason for e in events] == ["project_not_started"]
        assert grant.state.is_lapsed

    def test_only_a_caseworker_lapses(self) -> None:
        with pytest.raises(Refusal) as excinfo:
            lapse_not_started(opened(), GRANTEE, datetime(2024, 1, 1, tzinfo=UTC))
        assert refusal(excinfo) == ("role_not_allowed", "forbidden")

    def test_lapsing_a_lapsed_grant_emits_nothing(self) -> None:
        grant = Driver.for_award()
        grant(lapse_overdue, DEADLINE + ONE_SECOND)
        assert grant(lapse_not_started, CASEWORKER, datetime(2024, 1, 1, tzinfo=UTC)) == []


class TestReader:
    @pytest.mark.parametrize(("roles", "cvr"), [
        ({"caseworker"}, None), ({"caseworker"}, OTHER_CVR), ({"applicant", "caseworker"}, None),
        ({"applicant"}, CVR)])
    def test_a_caseworker_reads_any_grant_a_grantee_its_own(self, roles: set[str],
                                                             cvr: str | None) -> None:
        require_reader(opened(), roles, cvr)

    @pytest.mark.parametrize(("roles", "cvr"), [
        ({"applicant"}, OTHER_CVR), ({"applicant"}, None), (set(), CVR[:-1])])
    def test_anyone_else_is_refused(self, roles: set[str], cvr: str | None) -> None:
        with pytest.raises(Refusal) as excinfo:
            require_reader(opened(), roles, cvr)
        assert refusal(excinfo) == ("cvr_mismatch", "forbidden")
