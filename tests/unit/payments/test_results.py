"""Finance results and re-issue of failed instructions (R17)."""

from __future__ import annotations

from datetime import date
from uuid import UUID, uuid5

import pytest

from contracts.base import Actor
from contracts.finance import PaymentExecuted, PaymentFailed
from contracts.payments import PaymentInstructed, PaymentResultRecorded
from contracts.reporting import ReportOverdue
from contracts.refusal import Refusal
from services.payments.domain import (
    NAMESPACE,
    apply,
    evolve_holds,
    hold_for_overdue_report,
    instruct_due,
    instructed_oere,
    lapse_not_started,
    paid_oere,
    record_result,
    reissue_failed,
    request_reissue,
    resolve_reconciliation,
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
                                                application_id=APP_ID, outcome="executed",
                                                executed_oere=400)]
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


SECOND = Actor(id="caseworker-2", role="caseworker")
APPROVER_ACTOR = Actor(id="approver-x", role="caseworker")


def reissue(grant: Driver, instruction_id: UUID) -> list[PaymentInstructed]:
    """One caseworker asks, a second approves (R19)."""
    grant(request_reissue, instruction_id, CASEWORKER, None, at(2023, 4, 3))
    return grant(reissue_failed, instruction_id, SECOND, None)


class TestReissue:
    def test_caseworker_reissues_a_failed_instruction_with_a_new_stable_id(self) -> None:
        grant, first, _ = instructed()
        grant(record_result, failed(first))
        (again,) = reissue(grant, first.instruction_id)
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
        reissue(grant, first.instruction_id)
        assert grant(reissue_failed, first.instruction_id, SECOND, None) == []
        assert grant(request_reissue, first.instruction_id, CASEWORKER, None,
                     at(2023, 4, 4)) == []

    def test_a_failed_reissue_is_reissued_in_a_chain(self) -> None:
        grant, first, _ = instructed()
        grant(record_result, failed(first))
        (again,) = reissue(grant, first.instruction_id)
        grant(record_result, failed(again))
        (third,) = reissue(grant, again.instruction_id)
        assert third.instruction_id == uuid5(NAMESPACE, f"{again.instruction_id}:reissue")
        assert third.replaces_instruction_id == again.instruction_id
        assert instructed_oere(grant.state) == 1_000

    def test_only_failed_instructions_are_reissued(self) -> None:
        grant, first, second = instructed()
        grant(record_result, executed(first))
        for instruction in (first, second):  # executed; still waiting for a result
            with pytest.raises(Refusal) as excinfo:
                request_reissue(grant.state, instruction.instruction_id, CASEWORKER, None,
                                at(2023, 4, 3))
            assert (excinfo.value.code, excinfo.value.kind) == (
                "instruction_not_failed", "conflict")

    def test_unknown_instruction_cannot_be_reissued(self) -> None:
        grant, _, _ = instructed()
        with pytest.raises(Refusal) as excinfo:
            reissue_failed(grant.state, UNKNOWN, CASEWORKER, None)
        assert (excinfo.value.code, excinfo.value.kind) == ("instruction_not_found", "not_found")

    def test_only_a_caseworker_reissues(self) -> None:
        grant, first, _ = instructed()
        grant(record_result, failed(first))
        for actor in (GRANTEE, Actor(id="fin", role="finance")):
            with pytest.raises(Refusal) as excinfo:
                reissue_failed(grant.state, first.instruction_id, actor, None)
            assert excinfo.value.code == "role_not_allowed"

    def test_no_reissue_while_held_or_after_lapse(self) -> None:
        grant, first, _ = instructed()
        grant(record_result, failed(first))
        report = ReportOverdue(application_id=APP_ID, cvr=CVR, kind="status", due=date(2023, 3, 1))
        (held,) = hold_for_overdue_report(None, report, at(2023, 4, 3))
        with pytest.raises(Refusal) as excinfo:
            reissue_failed(grant.state, first.instruction_id, CASEWORKER, evolve_holds(None, held))
        assert (excinfo.value.code, excinfo.value.kind) == ("payments_held", "conflict")
        lapsed = Driver.for_award()
        lapsed(lapse_not_started, CASEWORKER, at(2024, 1, 1))
        with pytest.raises(Refusal):
            reissue_failed(lapsed.state, first.instruction_id, CASEWORKER, None)


class TestTwoPeopleReissue:
    def test_one_person_cannot_ask_and_approve(self) -> None:
        grant, first, _ = instructed()
        grant(record_result, failed(first))
        grant(request_reissue, first.instruction_id, CASEWORKER, None, at(2023, 4, 3))
        with pytest.raises(Refusal) as excinfo:
            reissue_failed(grant.state, first.instruction_id, CASEWORKER, None)
        assert (excinfo.value.code, excinfo.value.kind) == ("two_person_rule", "forbidden")

    def test_an_approval_without_a_request_is_refused(self) -> None:
        grant, first, _ = instructed()
        grant(record_result, failed(first))
        with pytest.raises(Refusal) as excinfo:
            reissue_failed(grant.state, first.instruction_id, SECOND, None)
        assert (excinfo.value.code, excinfo.value.kind) == ("reissue_not_requested", "conflict")

    def test_a_second_request_by_another_person_is_refused(self) -> None:
        grant, first, _ = instructed()
        grant(record_result, failed(first))
        grant(request_reissue, first.instruction_id, CASEWORKER, None, at(2023, 4, 3))
        with pytest.raises(Refusal) as excinfo:
            request_reissue(grant.state, first.instruction_id, SECOND, None, at(2023, 4, 3))
        assert excinfo.value.code == "reissue_already_requested"

    @pytest.mark.parametrize("step", ["request", "approve"])
    def test_the_grants_approver_can_neither_ask_nor_approve(self, step: str) -> None:
        grant, first, _ = instructed()
        grant(record_result, failed(first))
        if step == "approve":
            grant(request_reissue, first.instruction_id, CASEWORKER, None, at(2023, 4, 3))
        with pytest.raises(Refusal) as excinfo:
            if step == "request":
                request_reissue(grant.state, first.instruction_id, APPROVER_ACTOR, None,
                                at(2023, 4, 3))
            else:
                reissue_failed(grant.state, first.instruction_id, APPROVER_ACTOR, None)
        assert (excinfo.value.code, excinfo.value.kind) == ("segregation_of_duties", "forbidden")


class TestReconciliation:
    @pytest.mark.parametrize("paid", [1, 399, 401, 4_000])
    def test_a_different_amount_counts_only_what_was_paid_and_holds_the_grant(
            self, paid: int) -> None:
        grant, first, _ = instructed()
        events = grant(record_result, PaymentExecuted(
            instruction_id=first.instruction_id, amount_oere=paid, executed_at=at(2023, 4, 2),
            finance_reference="FIN-7"), at(2023, 4, 2, 9))
        recorded, held = events
        assert (recorded.outcome, recorded.executed_oere, recorded.reason,
                recorded.finance_reference) == ("executed", paid, "payment_amount_mismatch",
                                                "FIN-7")
        assert (held.instructed_oere, held.executed_oere) == (400, paid)
        assert held.held_at == at(2023, 4, 2, 9)
        assert paid_oere(grant.state) == paid
        assert grant.state.reconciliation_open
        assert grant(instruct_due, date(2026, 12, 31), None) == []  # held until resolved

    def test_the_exact_amount_is_no_mismatch(self) -> None:
        grant, first, _ = instructed()
        (recorded,) = grant(record_result, executed(first))
        assert recorded.reason is None and not grant.state.reconciliation_open

    def test_a_caseworker_resolves_and_the_next_run_pays_the_shortfall(self) -> None:
        grant, first, _ = instructed()
        grant(record_result, PaymentExecuted(instruction_id=first.instruction_id, amount_oere=1,
                                             executed_at=at(2023, 4, 2)))
        with pytest.raises(Refusal) as excinfo:
            resolve_reconciliation(grant.state, first.instruction_id, APPROVER_ACTOR, "",
                                   at(2023, 4, 3))
        assert excinfo.value.code == "segregation_of_duties"
        (resolved,) = grant(resolve_reconciliation, first.instruction_id, CASEWORKER,
                            "finance confirmed", at(2023, 4, 3))
        assert resolved.resolved_by == CASEWORKER.id and not grant.state.reconciliation_open
        assert grant(resolve_reconciliation, first.instruction_id, CASEWORKER, "",
                     at(2023, 4, 4)) == []
        (top_up,) = grant(instruct_due, date(2023, 4, 5), None)
        assert (top_up.period_start, top_up.amount_oere) == ("2023-01", 399)

    def test_an_overpayment_is_offset_against_the_next_period(self) -> None:
        grant = Driver.accepted(amount=1_000)
        grant(submit_revised_budget, {"2023-01": {STAFF: 400}, "2023-04": {STAFF: 600}},
              GRANTEE, CVR)
        (q1,) = grant(instruct_due, date(2023, 1, 1), None)
        grant(record_result, PaymentExecuted(instruction_id=q1.instruction_id, amount_oere=500,
                                             executed_at=at(2023, 1, 2)))
        grant(resolve_reconciliation, q1.instruction_id, CASEWORKER, "", at(2023, 1, 3))
        (q2,) = grant(instruct_due, date(2023, 4, 1), None)
        assert q2.amount_oere == 500 and q2.offsets[0].amount_oere == 100

    def test_unknown_case(self) -> None:
        grant, first, _ = instructed()
        with pytest.raises(Refusal) as excinfo:
            resolve_reconciliation(grant.state, first.instruction_id, CASEWORKER, "",
                                   at(2023, 4, 3))
        assert (excinfo.value.code, excinfo.value.kind) == ("reconciliation_not_found",
                                                           "not_found")
