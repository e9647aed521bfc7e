"""The payment ledger (R17): top-ups, offsets, claims, the run's date, stable ids."""

from __future__ import annotations

from datetime import UTC, date, datetime
from uuid import uuid5

import pytest

from contracts.finance import PaymentExecuted
from contracts.payments import OverpaymentClaimed, PaymentInstructed, PeriodAmount
from contracts.refusal import Refusal
from services.payments.domain import (
    NAMESPACE,
    approve_pending_budget,
    instruct_due,
    instructed_oere,
    ledger,
    outstanding_oere,
    record_result,
    run_date,
    submit_revised_budget,
)
from tests.unit.payments.builders import APP_ID, CASEWORKER, CVR, GRANTEE, STAFF, Driver, at


def ready(months: dict[str, dict[str, int]], amount: int) -> Driver:
    grant = Driver.accepted(amount=amount)
    events = grant(submit_revised_budget, months, GRANTEE, CVR)
    assert type(events[-1]).__name__ == "RevisedBudgetApproved", events
    return grant


def change(grant: Driver, months: dict[str, dict[str, int]]) -> None:
    """Submit a later budget and, if it waits, have a caseworker approve it."""
    events = grant(submit_revised_budget, months, GRANTEE, CVR)
    if type(events[-1]).__name__ == "RevisedBudgetPendingApproval":
        grant(approve_pending_budget, events[-1].budget_version, CASEWORKER)
    assert grant.state.latest_approved_budget.months == months  # type: ignore[union-attr]


def run(grant: Driver, today: date) -> list[PaymentInstructed | OverpaymentClaimed]:
    return grant(instruct_due, today, None)


def amounts(events: list[object]) -> list[tuple[str, str, int]]:
    out = []
    for e in events:
        if isinstance(e, PaymentInstructed):
            out.append(("instructed", e.period_start, e.amount_oere))
        elif isinstance(e, OverpaymentClaimed):
            out.append(("claimed", e.periods[0].period_start, e.amount_oere))
    return out


class TestTopUps:
    def test_the_issues_q1_case_pays_the_difference_as_its_own_instruction(self) -> None:
        # Q1 paid at 19,999,998 øre, then a caseworker-approved budget raises Q1 to 30,000,000:
        # the next run pays the 10,000,002 difference as a top-up, beside Q2.
        months = {"2023-01": {STAFF: 19_999_998}, "2023-04": {STAFF: 30_000_000}}
        grant = ready(months, amount=100_000_000)
        (q1,) = run(grant, date(2023, 1, 2))
        assert q1.amount_oere == 19_999_998
        change(grant, {"2023-01": {STAFF: 30_000_000}, "2023-04": {STAFF: 30_000_000}})
        top_up, q2 = run(grant, date(2023, 4, 1))
        assert (top_up.period_start, top_up.amount_oere) == ("2023-01", 10_000_002)
        assert (q2.period_start, q2.amount_oere) == ("2023-04", 30_000_000)
        assert top_up.instruction_id not in (q1.instruction_id, q2.instruction_id)
        assert top_up.budget_version == 2 and top_up.offsets == []
        assert instructed_oere(grant.state) == 60_000_000
        assert run(grant, date(2023, 4, 1)) == []

    def test_a_top_up_is_paid_by_the_very_next_run_even_before_the_next_period(self) -> None:
        grant = ready({"2023-01": {STAFF: 100}, "2023-07": {STAFF: 100}}, amount=300)
        run(grant, date(2023, 1, 1))
        change(grant, {"2023-01": {STAFF: 150}, "2023-07": {STAFF: 100}})
        assert amounts(run(grant, date(2023, 2, 1))) == [("instructed", "2023-01", 50)]

    def test_top_up_ids_are_stable_per_period_and_count(self) -> None:
        grant = ready({"2023-01": {STAFF: 100}}, amount=300)
        first = run(grant, date(2023, 1, 1))[0]
        change(grant, {"2023-01": {STAFF: 150}})
        second = run(grant, date(2023, 1, 1))[0]
        change(grant, {"2023-01": {STAFF: 200}})
        third = run(grant, date(2023, 1, 1))[0]
        assert first.instruction_id == uuid5(NAMESPACE, f"{APP_ID}:2023-01")
        assert second.instruction_id == uuid5(NAMESPACE, f"{APP_ID}:2023-01:topup:1")
        assert third.instruction_id == uuid5(NAMESPACE, f"{APP_ID}:2023-01:topup:2")

    def test_a_future_period_is_never_paid_early(self) -> None:
        grant = ready({"2023-01": {STAFF: 100}, "2023-04": {STAFF: 100}}, amount=200)
        assert amounts(run(grant, date(2023, 3, 31))) == [("instructed", "2023-01", 100)]
        assert amounts(run(grant, date(2023, 4, 1))) == [("instructed", "2023-04", 100)]


class TestOffsetsAndClaims:
    def test_a_lowered_period_is_offset_against_the_next_instruction(self) -> None:
        grant = ready({"2023-01": {STAFF: 100}, "2023-04": {STAFF: 100}}, amount=200)
        run(grant, date(2023, 1, 1))
        change(grant, {"2023-01": {STAFF: 70}, "2023-04": {STAFF: 130}})
        assert run(grant, date(2023, 2, 1)) == []  # the credit waits for Q2
        (q2,) = run(grant, date(2023, 4, 1))
        assert q2.amount_oere == 100
        assert q2.offsets == [PeriodAmount(period_start="2023-01", amount_oere=30)]
        assert [line.difference_oere for line in ledger(grant.state)] == [0, 0]

    def test_an_offset_once_recorded_is_not_made_again(self) -> None:
        grant = ready({"2023-01": {STAFF: 100}, "2023-04": {STAFF: 100},
                       "2023-07": {STAFF: 100}}, amount=300)
        run(grant, date(2023, 1, 1))
        change(grant, {"2023-01": {STAFF: 70}, "2023-04": {STAFF: 130}, "2023-07": {STAFF: 100}})
        run(grant, date(2023, 4, 1))
        assert amounts(run(grant, date(2023, 7, 1))) == [("instructed", "2023-07", 100)]

    def test_a_credit_larger_than_the_next_period_waits_for_the_one_after(self) -> None:
        grant = ready({"2023-01": {STAFF: 300}, "2023-04": {STAFF: 50},
                       "2023-07": {STAFF: 100}}, amount=450)
        run(grant, date(2023, 1, 1))
        change(grant, {"2023-01": {STAFF: 150}, "2023-04": {STAFF: 100},
                       "2023-07": {STAFF: 200}})
        assert run(grant, date(2023, 4, 1)) == []  # Q2 (100) is covered by Q1's 150 credit
        (paid,) = run(grant, date(2023, 7, 1))  # 450 due, 300 instructed
        assert paid.amount_oere == 150
        assert outstanding_oere(grant.state, date(2023, 7, 1)) == 0

    def test_where_nothing_follows_the_credit_is_claimed(self) -> None:
        grant = ready({"2023-01": {STAFF: 100}, "2023-04": {STAFF: 100}}, amount=200)
        run(grant, date(2023, 4, 1))
        change(grant, {"2023-01": {STAFF: 60}, "2023-04": {STAFF: 100}})
        (claim,) = run(grant, date(2023, 4, 2))
        assert isinstance(claim, OverpaymentClaimed)
        assert claim.amount_oere == 40 and claim.claimed_on == date(2023, 4, 2)
        assert claim.periods == [PeriodAmount(period_start="2023-01", amount_oere=40)]
        assert instructed_oere(grant.state) == 160
        assert run(grant, date(2023, 4, 2)) == []
        # a later raise after the claim is a top-up again
        change(grant, {"2023-01": {STAFF: 100}, "2023-04": {STAFF: 100}})
        assert amounts(run(grant, date(2023, 5, 1))) == [("instructed", "2023-01", 40)]

    def test_no_claim_while_a_later_period_with_money_can_take_the_offset(self) -> None:
        grant = ready({"2023-01": {STAFF: 100}, "2023-10": {STAFF: 10}}, amount=200)
        run(grant, date(2023, 1, 1))
        change(grant, {"2023-01": {STAFF: 50}, "2023-10": {STAFF: 10}})
        assert run(grant, date(2023, 5, 1)) == []
        (claim,) = run(grant, date(2023, 10, 1))  # 60 due, 100 instructed, nothing follows
        assert isinstance(claim, OverpaymentClaimed) and claim.amount_oere == 40


class TestExecutedAmountsCount:
    def test_what_finance_paid_is_what_the_ledger_counts(self) -> None:
        grant = ready({"2023-01": {STAFF: 100}}, amount=100)
        (q1,) = run(grant, date(2023, 1, 1))
        grant(record_result, PaymentExecuted(instruction_id=q1.instruction_id, amount_oere=100,
                                             executed_at=at(2023, 1, 2)))
        assert outstanding_oere(grant.state, date(2023, 1, 2)) == 0


class TestRunDate:
    NOW = datetime(2023, 3, 31, 22, 30, tzinfo=UTC)  # already 1 April in Copenhagen

    def test_the_run_date_is_the_services_copenhagen_date(self) -> None:
        assert run_date(self.NOW) == date(2023, 4, 1)

    def test_an_earlier_through_narrows_the_run(self) -> None:
        assert run_date(self.NOW, date(2023, 1, 15)) == date(2023, 1, 15)
        assert run_date(self.NOW, date(2023, 4, 1)) == date(2023, 4, 1)

    def test_a_later_through_is_refused(self) -> None:
        with pytest.raises(Refusal) as caught:
            run_date(self.NOW, date(2023, 4, 2))
        assert (caught.value.code, caught.value.kind) == ("payment_run_in_future", "invalid")


class TestScheduledRunsOnDueDates:
    def test_a_due_date_has_come_when_a_begun_period_has_no_instruction(self) -> None:
        from services.payments.domain import a_period_fell_due
        grant = ready({"2023-01": {STAFF: 100}, "2023-04": {STAFF: 100}}, amount=300)
        assert not a_period_fell_due(grant.state, date(2022, 12, 31))
        assert a_period_fell_due(grant.state, date(2023, 1, 1))
        run(grant, date(2023, 1, 1))
        assert not a_period_fell_due(grant.state, date(2023, 3, 31))
        # a top-up waits for the next due date (or a caseworker's run)
        change(grant, {"2023-01": {STAFF: 150}, "2023-04": {STAFF: 100}})
        assert not a_period_fell_due(grant.state, date(2023, 3, 31))
        assert a_period_fell_due(grant.state, date(2023, 4, 1))
        assert amounts(run(grant, date(2023, 4, 1))) == [
            ("instructed", "2023-01", 50), ("instructed", "2023-04", 100)]

    def test_the_stored_next_due_date_is_the_first_unpaid_period_with_money(self) -> None:
        """What payments stores beside each grant (004_payment_due.sql): the scheduled run reads
        only grants whose date has come, so it must agree with a_period_fell_due on every day."""
        from services.payments.domain import a_period_fell_due, next_payment_due
        grant = ready({"2023-01": {STAFF: 100}, "2023-02": {STAFF: 0}, "2023-04": {STAFF: 100}},
                      amount=300)
        days = [date(2022, 12, 31), date(2023, 1, 1), date(2023, 3, 31), date(2023, 4, 1),
                date(2024, 1, 1)]

        def agrees() -> bool:
            due = next_payment_due(grant.state)
            return all(a_period_fell_due(grant.state, d) == (due is not None and due <= d)
                       for d in days)

        assert next_payment_due(grant.state) == date(2023, 1, 1) and agrees()
        run(grant, date(2023, 1, 1))
        assert next_payment_due(grant.state) == date(2023, 4, 1) and agrees()  # 2023-02 has none
        run(grant, date(2023, 4, 1))
        assert next_payment_due(grant.state) is None and agrees()

