"""The grant file is rebuilt from events only, and survives a JSON round trip."""

from __future__ import annotations

import pytest

from contracts import finance as f
from contracts import payments as p
from contracts.reporting import RepaymentClaimed
from services.reporting.domain.grant_file import GrantFile, application_of, evolve
from tests.unit.reporting.builders import at, envelope, uid
from tests.unit.reporting.grants import APP, CVR, awarded, execute, instruct, paid, with_budget


def test_award_terms_are_taken_from_grant_awarded() -> None:
    state = awarded(12_345_678)
    assert state.award is not None
    assert state.award.amount_oere == 12_345_678
    assert state.award.cvr == CVR
    assert [d.kind for d in state.award.reporting_deadlines] == ["status", "final"]


def test_events_before_the_award_are_kept() -> None:
    # Across topics the award may arrive after the budget: nothing is lost.
    state = with_budget(GrantFile.new(APP))
    assert state.award is None and state.budget is not None
    assert state.budget.posts == {"project staff": 120_000_000,
                                  "materials and meetings": 30_000_000}


def test_the_latest_approved_budget_is_the_highest_version() -> None:
    state = with_budget(awarded(), {"2025-07": {"travel": 1}}, version=2)
    state = with_budget(state, {"2025-07": {"project staff": 5}}, version=1)  # a late redelivery
    assert state.budget is not None and state.budget.version == 2
    assert set(state.budget.posts) == {"travel"}


def test_paid_is_the_sum_of_executed_instructions() -> None:
    state, first = instruct(awarded(), 0, 75_000_000)
    state, second = instruct(state, 1, 75_000_000)
    assert state.paid_oere == 0
    state = execute(state, first, 75_000_000)
    assert state.paid_oere == 75_000_000
    failed = f.PaymentFailed(instruction_id=second, failed_at=at("2025-07-16T10:00:00+02:00"),
                             reason="NemKonto not found")
    state = evolve(state, envelope(failed, at("2025-07-16T10:00:00+02:00")))
    assert state.paid_oere == 75_000_000
    assert state.instructions[str(second)].outcome == "failed"


def test_an_executed_instruction_stays_executed_and_counts_once() -> None:
    state, first = instruct(awarded(), 0, 10_000)
    state = execute(state, first, 10_000)
    state = execute(state, first, 10_000, n=1)  # finance resent its result
    late_failure = f.PaymentFailed(instruction_id=first, failed_at=at("2025-07-17T09:00:00+02:00"),
                                   reason="late")
    state = evolve(state, envelope(late_failure, at("2025-07-17T09:00:00+02:00")))
    state, _ = instruct(state, 0, 10_000)  # the same stable id instructed again: no new payment
    assert state.paid_oere == 10_000
    assert len(state.instructions) == 1


def test_results_for_unknown_instructions_change_nothing() -> None:
    state = awarded()
    unknown = f.PaymentExecuted(instruction_id=uid("nope"), amount_oere=5,
                                executed_at=at("2025-07-16T09:00:00+02:00"))
    assert evolve(state, envelope(unknown, at("2025-07-16T09:00:00+02:00"))) == state


def test_payments_own_result_event_also_counts() -> None:
    state, first = instruct(awarded(), 0, 42_000)
    recorded = p.PaymentResultRecorded(instruction_id=first, application_id=APP, outcome="executed")
    state = evolve(state, envelope(recorded, at("2025-07-16T09:00:00+02:00")))
    assert state.paid_oere == 42_000
    dup = p.PaymentResultRecorded(instruction_id=first, application_id=APP, outcome="duplicate")
    assert evolve(state, envelope(dup, at("2025-07-16T09:01:00+02:00"))) == state


def test_an_event_of_another_grant_is_refused() -> None:
    other = RepaymentClaimed(application_id=uid("other"), cvr=CVR, paid_oere=2, spent_oere=1,
                             amount_oere=1)
    with pytest.raises(ValueError):
        evolve(awarded(), envelope(other, at("2026-01-01T00:00:00+01:00")))


def test_application_of_names_the_grant() -> None:
    claim = RepaymentClaimed(application_id=APP, cvr=CVR, paid_oere=2, spent_oere=1, amount_oere=1)
    assert application_of(envelope(claim, at("2026-01-01T00:00:00+01:00"))) == APP
    executed = f.PaymentExecuted(instruction_id=uid("i"), amount_oere=1,
                                 executed_at=at("2026-01-01T00:00:00+01:00"))
    assert application_of(envelope(executed, at("2026-01-01T00:00:00+01:00"))) is None


def test_the_file_is_json_serialisable_and_round_trips() -> None:
    state = paid(with_budget(awarded()), 75_000_000, 1)
    data = state.model_dump(mode="json")
    assert GrantFile.model_validate(data) == state
    assert GrantFile.model_validate_json(state.model_dump_json()) == state
