"""Payment instructions (R17): periods, due dates, stable ids, gates, caps."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import UUID, uuid5

import pytest

from contracts.finance import PaymentExecuted
from contracts.payments import PaymentInstructed
from contracts.reporting import ReportOverdue
from services.payments.domain import (
    NAMESPACE,
    accept_award,
    approve_pending_budget,
    evolve_holds,
    hold_for_overdue_report,
    instruct_due,
    instructed_oere,
    lapse_not_started,
    paid_oere,
    record_result,
    submit_revised_budget,
)
from tests.unit.payments.builders import (
    APP_ID,
    CASEWORKER,
    CVR,
    DEADLINE,
    GRANTEE,
    MATERIALS,
    STAFF,
    Driver,
    at,
    even_months,
    released_by_two,
)


def ready(months: dict[str, dict[str, int]], **award_kwargs: object) -> Driver:
    """An accepted grant with ``months`` as its approved first budget."""
    grant = Driver.accepted(**award_kwargs)  # type: ignore[arg-type]
    events = grant(submit_revised_budget, months, GRANTEE, CVR)
    assert events[-1].__class__.__name__ == "RevisedBudgetApproved", events
    return grant


def run(grant: Driver, through: date) -> list[PaymentInstructed]:
    return grant(instruct_due, through, None)


def summary(instructions: list[PaymentInstructed]) -> list[tuple[str, str, date, int]]:
    return [(i.period_start, i.period_end, i.due_date, i.amount_oere) for i in instructions]


class TestExampleSmall:
    """KBH in shared/scenarios/example-small.json: award 150,000,000 øre, 25,000,000 a month
    Jul–Dec 2025, quarterly; runs through 2025-07-15 and 2025-10-15."""

    def test_two_quarterly_instructions_of_75_million(self) -> None:
        kbh = Driver.for_award(
            amount=150_000_000, start=date(2025, 7, 1), end=date(2025, 12, 31),
            deadline=datetime(2025, 7, 1, 21, 59, 59, tzinfo=UTC), cvr="27998194")
        kbh(accept_award, GRANTEE, "27998194", at(2025, 6, 2, 8))
        months = even_months("2025-07", 6, {STAFF: 20_000_000, MATERIALS: 5_000_000})
        kbh(submit_revised_budget, months, GRANTEE, "27998194")

        july = run(kbh, date(2025, 7, 15))
        assert summary(july) == [("2025-07", "2025-09", date(2025, 7, 1), 75_000_000)]
        kbh(record_result, PaymentExecuted(instruction_id=july[0].instruction_id,
                                           amount_oere=75_000_000, executed_at=at(2025, 7, 16)))
        october = run(kbh, date(2025, 10, 15))
        assert summary(october) == [("2025-10", "2025-12", date(2025, 10, 1), 75_000_000)]
        kbh(record_result, PaymentExecuted(instruction_id=october[0].instruction_id,
                                           amount_oere=75_000_000, executed_at=at(2025, 10, 16)))

        assert paid_oere(kbh.state) == instructed_oere(kbh.state) == 150_000_000
        assert all(i.cvr == "27998194" and i.budget_version == 1 for i in july + october)
        assert run(kbh, date(2026, 12, 31)) == []


FULL_2023 = even_months("2023-01", 12, {STAFF: 1_000_000})


class TestFrequencies:
    def test_quarterly_is_the_calendar_quarter_due_on_its_first_day(self) -> None:
        grant = ready(FULL_2023, frequency="quarterly")
        assert summary(run(grant, date(2023, 12, 31))) == [
            ("2023-01", "2023-03", date(2023, 1, 1), 3_000_000),
            ("2023-04", "2023-06", date(2023, 4, 1), 3_000_000),
            ("2023-07", "2023-09", date(2023, 7, 1), 3_000_000),
            ("2023-10", "2023-12", date(2023, 10, 1), 3_000_000),
        ]

    def test_monthly(self) -> None:
        grant = ready({"2023-01": {STAFF: 5}, "2023-02": {STAFF: 7}}, frequency="monthly")
        assert summary(run(grant, date(2023, 12, 31))) == [
            ("2023-01", "2023-01", date(2023, 1, 1), 5),
            ("2023-02", "2023-02", date(2023, 2, 1), 7),
        ]

    def test_half_yearly(self) -> None:
        grant = ready(FULL_2023, frequency="half_yearly")
        assert summary(run(grant, date(2023, 12, 31))) == [
            ("2023-01", "2023-06", date(2023, 1, 1), 6_000_000),
            ("2023-07", "2023-12", date(2023, 7, 1), 6_000_000),
        ]

    def test_yearly(self) -> None:
        months = {**FULL_2023, "2024-03": {STAFF: 9}}
        grant = ready(months, frequency="yearly")
        assert summary(run(grant, date(2024, 1, 1))) == [
            ("2023-01", "2023-12", date(2023, 1, 1), 12_000_000),
            ("2024-01", "2024-12", date(2024, 1, 1), 9),
        ]

    def test_periods_are_clipped_to_the_project_period(self) -> None:
        grant = ready({"2025-08": {STAFF: 10}, "2025-09": {STAFF: 20}, "2026-01": {STAFF: 5}},
                      start=date(2025, 8, 15), end=date(2026, 1, 31))
        assert summary(run(grant, date(2026, 12, 31))) == [
            ("2025-08", "2025-09", date(2025, 8, 1), 30),
            ("2026-01", "2026-01", date(2026, 1, 1), 5),
        ]


class TestDelayedStart:
    def test_quarter_sums_across_a_first_month_in_the_middle_of_a_quarter(self) -> None:
        # Budget starts in February: Q1 holds February and March only, due 1 January.
        months = even_months("2023-02", 7, {STAFF: 1_000_000, MATERIALS: 250_000})  # Feb–Aug
        grant = ready(months)
        assert summary(run(grant, date(2023, 12, 31))) == [
            ("2023-01", "2023-03", date(2023, 1, 1), 2_500_000),
            ("2023-04", "2023-06", date(2023, 4, 1), 3_750_000),
            ("2023-07", "2023-09", date(2023, 7, 1), 2_500_000),
        ]

    def test_start_in_the_last_month_of_a_quarter(self) -> None:
        grant = ready({"2023-03": {STAFF: 4}, "2023-04": {STAFF: 6}})
        assert summary(run(grant, date(2023, 12, 31))) == [
            ("2023-01", "2023-03", date(2023, 1, 1), 4),
            ("2023-04", "2023-06", date(2023, 4, 1), 6),
        ]

    def test_periods_without_money_issue_nothing(self) -> None:
        grant = ready({"2023-01": {STAFF: 0}, "2023-02": {STAFF: 0}, "2023-07": {STAFF: 8}})
        assert summary(run(grant, date(2023, 12, 31))) == [
            ("2023-07", "2023-09", date(2023, 7, 1), 8)]


class TestDueDatesAndIds:
    def test_due_on_the_run_date_is_issued_one_day_before_is_not(self) -> None:
        grant = ready(FULL_2023)
        assert run(grant, date(2023, 3, 31)) != []  # Q1, due 2023-01-01
        assert run(grant, date(2023, 3, 31)) == []
        assert summary(run(grant, date(2023, 4, 1))) == [
            ("2023-04", "2023-06", date(2023, 4, 1), 3_000_000)]

    def test_a_run_before_the_first_due_date_issues_nothing(self) -> None:
        assert run(ready(FULL_2023), date(2022, 12, 31)) == []

    def test_ids_are_uuid5_of_grant_and_period_start(self) -> None:
        (first,) = run(ready(FULL_2023), date(2023, 1, 1))
        assert first.instruction_id == uuid5(NAMESPACE, f"{APP_ID}:2023-01")
        assert first.application_id == APP_ID and first.cvr == CVR
        assert first.replaces_instruction_id is None and first.currency == "DKK"

    def test_running_again_issues_nothing_and_a_replay_issues_the_same_ids(self) -> None:
        grant = ready(FULL_2023)
        through = date(2023, 10, 1)
        first = run(grant, through)
        assert run(grant, through) == []
        assert run(grant, through - timedelta(days=200)) == []
        replayed = ready(FULL_2023)
        assert [i.instruction_id for i in run(replayed, through)] == [
            i.instruction_id for i in first]


class TestGates:
    def test_nothing_before_acceptance_then_every_due_period_at_once(self) -> None:
        grant = Driver.for_award()
        grant(submit_revised_budget, FULL_2023, GRANTEE, CVR)
        assert run(grant, date(2023, 6, 30)) == []
        grant(accept_award, GRANTEE, CVR, DEADLINE)
        assert [i.period_start for i in run(grant, date(2023, 6, 30))] == ["2023-01", "2023-04"]

    def test_nothing_without_an_approved_budget(self) -> None:
        grant = Driver.accepted()
        grant(submit_revised_budget, {"2023-01": {"coffee": 5}}, GRANTEE, CVR)  # pending
        assert run(grant, date(2026, 12, 31)) == []
        grant(approve_pending_budget, 1, CASEWORKER)
        assert summary(run(grant, date(2026, 12, 31))) == [
            ("2023-01", "2023-03", date(2023, 1, 1), 5)]

    def test_nothing_after_lapse(self) -> None:
        grant = Driver.accepted()
        grant(submit_revised_budget, {"2023-09": {STAFF: 5}}, GRANTEE, CVR)
        grant(lapse_not_started, CASEWORKER, at(2023, 8, 1))
        assert run(grant, date(2026, 12, 31)) == []

    def test_nothing_while_the_cvr_is_held_and_all_due_after_release(self) -> None:
        grant = ready(FULL_2023)
        report = ReportOverdue(application_id=APP_ID, cvr=CVR, kind="status",
                               due=date(2022, 12, 31))
        book = None
        for event in hold_for_overdue_report(book, report, at(2023, 1, 2)):
            book = evolve_holds(book, event)
        assert grant(instruct_due, date(2023, 6, 30), book) == []
        assert book is not None
        book, _, release = released_by_two(book, book.holds[0].hold_id, "cw-a", "cw-b",
                                           ["approver-x"], at(2023, 5, 1))
        book = evolve_holds(book, release)
        assert [i.period_start for i in grant(instruct_due, date(2023, 6, 30), book)] == [
            "2023-01", "2023-04"]

    def test_a_hold_book_of_another_cvr_is_a_programming_error(self) -> None:
        from services.payments.domain import HoldBook
        with pytest.raises(ValueError):
            instruct_due(ready(FULL_2023).state, date(2023, 1, 1), HoldBook(cvr="11111111"))


class TestCap:
    def test_a_later_budget_offsets_the_next_instruction_and_stays_within_its_total(self) -> None:
        # v1 pays 100 in Q1; v2 (approved) moves Q1's money later: Q1's 80 øre beyond what it
        # now makes due are offset against the next instruction (Q2), so everything together
        # stays within the award.
        grant = ready({"2023-01": {STAFF: 100}, "2023-04": {STAFF: 100}}, amount=200)
        assert [i.amount_oere for i in run(grant, date(2023, 1, 1))] == [100]
        grant(submit_revised_budget,
              {"2023-01": {STAFF: 20}, "2023-04": {STAFF: 90}, "2023-07": {STAFF: 90}},
              GRANTEE, CVR)
        # Same post total (200): a pure re-timing, approved automatically.
        assert grant.state.latest_approved_budget.version == 2  # type: ignore[union-attr]
        later = run(grant, date(2023, 12, 31))
        assert summary(later) == [("2023-04", "2023-06", date(2023, 4, 1), 10),
                                  ("2023-07", "2023-09", date(2023, 7, 1), 90)]
        assert [o.amount_oere for o in later[0].offsets] == [80]
        assert all(i.budget_version == 2 for i in later)
        assert instructed_oere(grant.state) == 200

    def test_a_smaller_later_budget_caps_at_its_total(self) -> None:
        grant = ready({"2023-01": {STAFF: 100}, "2023-04": {STAFF: 100}}, amount=200)
        run(grant, date(2023, 1, 1))
        grant(submit_revised_budget, {"2023-01": {STAFF: 100}, "2023-04": {STAFF: 50}},
              GRANTEE, CVR)
        assert summary(run(grant, date(2023, 12, 31))) == [
            ("2023-04", "2023-06", date(2023, 4, 1), 50)]
        grant(submit_revised_budget, {"2023-01": {STAFF: 100}}, GRANTEE, CVR)
        # nothing follows Q2 any more: the run claims Q2's 50 back
        (claim,) = run(grant, date(2023, 12, 31))
        assert claim.amount_oere == 50  # type: ignore[union-attr]
        assert instructed_oere(grant.state) == 100


def test_stable_id_helper_matches_instructions() -> None:
    from services.payments.domain import instruction_id
    assert instruction_id(APP_ID, "2023-01") == uuid5(NAMESPACE, f"{APP_ID}:2023-01")
    assert isinstance(NAMESPACE, UUID)
