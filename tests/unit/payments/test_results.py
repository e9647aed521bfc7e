"""Finance results and re-issue of failed instructions (R17)."""

from __future__ import annotations

from datetime import date
from uuid import UUID, uuid5

import pytest

from contracts.base import Actor
from contracts.finance import PaymentExecuted, PaymentFailed
from contracts.payments import PaymentInstructed, PaymentResultRecorded
from contracts.reporting import ReportOverdue
from services.payments.domain import (
    NAMESPACE,
    DomainRefusal,
    apply,
    evolve_holds,
    hold_for_overdue_report,
    instruct_due,
    instructed_oere,
    lapse_not_started,
    paid_oere,
    record_result,
    reissue_failed,
    submit_revised_budget,
)
from tests.unit.payments.builders import (
    APP_ID,
    CASEWORKER,
    CVR,
    GRANTEE,
    STAFF,
    Driver,
    at,
)

UNKNOWN = UUID("00000000-0000-0000-0000-000000000001")


def instructed() -> tuple[Driver, PaymentInstructed, PaymentInstructed]:
    grant = Driver.accepted(amount=1_000)
    grant(submit_revised_budget, {"2023-01": {STAFF: 400}, "2023-04": {STAFF: 600}}, GRANTEE, CVR)
    first, second = grant(instruct_due, date(2023, 4, 1), None)
    return grant, first, second


def executed(instruction: PaymentInstructed) -> PaymentExecuted:
    return PaymentExecuted(instruction_id=instruction.instruction_id,
                           amount_oere=instruction.amount_oere, executed_at=at(2023, 4, 2))


def failed(instruction: PaymentInstructed) -> PaymentFailed:
    return PaymentFailed(instruction_id=instruction.instruction_id, failed_at=at(2023, 4, 2),
                         reason="account closed")


def outcome(events: list[PaymentResultRecorded]) -> str:
    (event,) = events
    return event.outcome


class TestResults:
    def test_executed_is_recorded_and_counts_as_paid(self) -> None:
        grant, first, _ = instructed()
        events = grant(record_result, executed(first))
        assert events == [PaymentResultRecorded(instruction_id=first.instruction_id,
                                                application_id=APP_ID, outcome="executed")]
        assert paid_oere(grant.state) == 400
        assert instructed_oere(grant.state) == 1_000

    def test_failed_is_recorded_and_is_not_paid(self) -> None:
        grant, first, _ = instructed()
        assert outcome(grant(record_result, failed(first))) == "failed"
        assert paid_oere(grant.state) == 0
        record = grant.state.instruction(first.instruction_id)
        assert record is not None and record.outcome == "failed"

    def test_unknown_instruction_without_a_grant(self) -> None:
        events = record_result(None, PaymentFailed(instruction_id=UNKNOWN, failed_at=at(2023, 1, 1),
                                                   reason="?"))
        assert events == [PaymentResultRecorded(instruction_id=UNKNOWN, application_id=None,
                                                outcome="unknown_instruction")]
        assert apply(None, events) is None  # a replay passes over it

    def test_unknown_instruction_on_a_known_grant(self) -> None:
        grant, _, _ = instructed()
        before = grant.state
        events = grant(record_result, PaymentExecuted(instruction_id=UNKNOWN, amount_oere=1,
                                                      executed_at=at(2023, 1, 1)))
        assert [(e.outcome, e.application_id) for e in events] == [("unknown_instruction", APP_ID)]
        assert grant.state == before

    @pytest.mark.parametrize("second", [executed, failed])
    def test_a_second_result_is_a_duplicate_and_changes_nothing(self, second: object) -> None:
        grant, first, _ = instructed()
        grant(record_result, executed(first))
        before = grant.state
        assert outcome(grant(record_result, second(first))) == "duplicate"  # type: ignore[operator]
        assert grant.state == before
        assert paid_oere(grant.state) == 400


class TestReissue:
    def test_caseworker_reissues_a_failed_instruction_with_a_new_stable_id(self) -> None:
        grant, first, _ = instructed()
        grant(record_result, failed(first))
        (again,) = grant(reissue_failed, first.instruction_id, CASEWORKER, None)
        assert again.instruction_id == uuid5(NAMESPACE, f"{first.instruction_id}:reissue")
        assert again.replaces_instruction_id == first.instruction_id
        assert (again.amount_oere, again.period_start, again.period_end, again.due_date) == (
            first.amount_oere, first.period_start, first.period_end, first.due_date)
        # The failed one no longer counts; its re-issue does: still 1,000 in all.
        assert instructed_oere(grant.state) == 1_000
        assert grant(instruct_due, date(2026, 12, 31), None) == []
        grant(record_result, executed(again))
        assert paid_oere(grant.state) == 400

    def test_reissuing_twice_reissues_once(self) -> None:
        grant, first, _ = instructed()
        grant(record_result, failed(first))
        grant(reissue_failed, first.instruction_id, CASEWORKER, None)
        assert grant(reissue_failed, first.instruction_id, CASEWORKER, None) == []

    def test_a_failed_reissue_is_reissued_in_a_chain(self) -> None:
        grant, first, _ = instructed()
        grant(record_result, failed(first))
        (again,) = grant(reissue_failed, first.instruction_id, CASEWORKER, None)
        grant(record_result, failed(again))
        (third,) = grant(reissue_failed, again.instruction_id, CASEWORKER, None)
        assert third.instruction_id == uuid5(NAMESPACE, f"{again.instruction_id}:reissue")
        assert third.replaces_instruction_id == again.instruction_id
        assert instructed_oere(grant.state) == 1_000

    def test_only_failed_instructions_are_reissued(self) -> None:
        grant, first, second = instructed()
        grant(record_result, executed(first))
        for instruction in (first, second):  # executed; still waiting for a result
            with pytest.raises(DomainRefusal) as excinfo:
                reissue_failed(grant.state, instruction.instruction_id, CASEWORKER, None)
            assert (excinfo.value.code, excinfo.value.http_status) == (
                "instruction_not_failed", 409)

    def test_unknown_instruction_cannot_be_reissued(self) -> None:
        grant, _, _ = instructed()
        with pytest.raises(DomainRefusal) as excinfo:
            reissue_failed(grant.state, UNKNOWN, CASEWORKER, None)
        assert (excinfo.value.code, excinfo.value.http_status) == ("instruction_not_found", 404)

    def test_only_a_caseworker_reissues(self) -> None:
        grant, first, _ = instructed()
        grant(record_result, failed(first))
        for actor in (GRANTEE, Actor(id="fin", role="finance")):
            with pytest.raises(DomainRefusal) as excinfo:
                reissue_failed(grant.state, first.instruction_id, actor, None)
            assert excinfo.value.code == "role_not_allowed"

    def test_no_reissue_while_held_or_after_lapse(self) -> None:
        grant, first, _ = instructed()
        grant(record_result, failed(first))
        report = ReportOverdue(application_id=APP_ID, cvr=CVR, kind="status", due=date(2023, 3, 1))
        (held,) = hold_for_overdue_report(None, report, at(2023, 4, 3))
        with pytest.raises(DomainRefusal) as excinfo:
            reissue_failed(grant.state, first.instruction_id, CASEWORKER, evolve_holds(None, held))
        assert (excinfo.value.code, excinfo.value.http_status) == ("payments_held", 409)
        lapsed = Driver.for_award()
        lapsed(lapse_not_started, CASEWORKER, at(2024, 1, 1))
        with pytest.raises(DomainRefusal):
            reissue_failed(lapsed.state, first.instruction_id, CASEWORKER, None)
