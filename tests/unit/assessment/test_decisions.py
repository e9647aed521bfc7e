"""R13: approving recommendations into awards and rejections; segregation of duties."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from contracts.assessment import ApplicationRejected, GrantAwarded
from contracts.payments import AwardLapsed
from contracts.refusal import Refusal
from services.assessment.domain import (
    acceptance_deadline, add_months, approve, evolve_files, evolve_round, parse_pool_definition,
    reporting_deadlines,
)
from services.assessment.domain.decisions import end_of_month

from .builders import DECIDED_AT, Harness, app_id, pool_raw


@pytest.fixture
def h() -> Harness:
    harness = Harness()
    harness.submit("KBH", "101", 150_000_000)
    harness.score("KBH", "assessor-a")
    harness.submit("GENTOFTE", "157", 100_000_000)
    harness.score("GENTOFTE", "assessor-b", {"1": 5, "2": 4, "3": 3, "4": 3, "5": 3})
    return harness


def test_an_award_carries_everything_a_grantee_needs(h: Harness) -> None:
    decisions = h.allocate("approver-x", DECIDED_AT)
    award = next(d for d in decisions if isinstance(d, GrantAwarded))
    pool = h.round.definition
    version = h.round.file(app_id("KBH")).accepted
    assert version is not None
    assert award.application_id == app_id("KBH")
    assert (award.pool_id, award.pool_version, award.programme) == ("example-2025", 1, "example")
    assert (award.region_code, award.sub_pool_amount_oere) == ("1084", 200_000_000)
    assert (award.amount_oere, award.applied_oere) == (150_000_000, 150_000_000)
    assert (award.score, award.rank) == (22.0, 1)
    assert award.applicant == version.applicant and award.municipality_code == "101"
    assert award.budget_lines == list(version.budget_lines)
    assert award.project_period.start == pool.project_period.start
    assert award.project_period.end == pool.project_period.end
    assert award.project_period.delayed_start_allowed
    assert award.payment_frequency == "quarterly"
    # 2025-06-01 + 30 days = 2025-07-01, 23:59:59 summer time = 21:59:59 UTC.
    assert award.acceptance_deadline == datetime(2025, 7, 1, 21, 59, 59, tzinfo=UTC)
    assert [(r.kind, r.due) for r in award.reporting_deadlines] == [("final", date(2026, 3, 31))]
    assert (award.approved_by, award.decided_at) == ("approver-x", DECIDED_AT)


def test_a_rejection_carries_its_reasons_score_and_rank(h: Harness) -> None:
    decisions = h.allocate()
    rejection = next(d for d in decisions if isinstance(d, ApplicationRejected))
    assert rejection.application_id == app_id("GENTOFTE")
    assert rejection.reasons == ["sub_pool_exhausted"]
    assert (rejection.score, rejection.rank, rejection.region_code) == (18.0, 2, "1084")
    assert rejection.applied_oere == 100_000_000


def test_payment_frequency_and_reporting_schedule_come_from_the_pool() -> None:
    h = Harness(pool_raw(payment_frequency="half_yearly", status_report_months=[12, 3],
                         final_report_due_months=2, acceptance_deadline_days=14))
    h.submit("A", "101", 1_000_00)
    h.score("A", "assessor-a")
    award = h.allocate()[0]
    assert isinstance(award, GrantAwarded)
    assert award.payment_frequency == "half_yearly"
    assert [(r.kind, r.due) for r in award.reporting_deadlines] == [
        ("status", date(2025, 10, 1)), ("status", date(2026, 7, 1)), ("final", date(2026, 2, 28))]
    assert award.acceptance_deadline == datetime(2025, 6, 15, 21, 59, 59, tzinfo=UTC)


def test_the_approver_may_set_an_awards_payment_frequency(h: Harness) -> None:
    decisions = approve(h.round, h.ledger, "approver-x", DECIDED_AT,
                        payment_frequencies={app_id("KBH"): "monthly"})
    award = next(d for d in decisions if isinstance(d, GrantAwarded))
    assert award.payment_frequency == "monthly"


def test_a_frequency_for_an_application_not_awarded_is_refused(h: Harness) -> None:
    with pytest.raises(Refusal) as excinfo:
        approve(h.round, h.ledger, "approver-x", DECIDED_AT,
                payment_frequencies={app_id("GENTOFTE"): "monthly"})
    assert (excinfo.value.code, excinfo.value.kind) == ("payment_frequency_not_awarded",
                                                         "invalid")


def test_acceptance_deadline_uses_the_local_date_and_dst() -> None:
    pool = parse_pool_definition(pool_raw(acceptance_deadline_days=1))
    # 23:30 UTC on 31 Dec is already 1 Jan in Copenhagen: deadline is 2 Jan 23:59:59 (+01:00).
    late_evening = datetime(2024, 12, 31, 23, 30, tzinfo=UTC)
    assert acceptance_deadline(pool, late_evening) == datetime(2025, 1, 2, 22, 59, 59, tzinfo=UTC)
    # Across the spring change: decided in winter time, deadline in summer time.
    spring = parse_pool_definition(pool_raw(acceptance_deadline_days=30))
    decided = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
    assert acceptance_deadline(spring, decided) == datetime(2025, 4, 9, 21, 59, 59, tzinfo=UTC)


def test_month_arithmetic() -> None:
    assert add_months(date(2023, 1, 31), 1) == date(2023, 2, 28)
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert add_months(date(2023, 11, 15), 3) == date(2024, 2, 15)
    assert add_months(date(2023, 1, 1), 12) == date(2024, 1, 1)
    assert end_of_month(date(2027, 2, 3)) == date(2027, 2, 28)


def test_familiehus_final_report_matches_the_contract_example() -> None:
    from .builders import shared_json
    pool = parse_pool_definition(shared_json("data/pools/familiehus-2022.json"))
    assert [(r.kind, r.due) for r in reporting_deadlines(pool)] == [("final", date(2027, 3, 31))]


def test_an_assessor_cannot_approve_a_batch_they_scored_in(h: Harness) -> None:
    with pytest.raises(Refusal) as caught:
        h.allocate("assessor-b")
    error = caught.value
    assert (error.code, error.kind) == ("segregation_of_duties", "forbidden")
    assert str(app_id("GENTOFTE")) in error.message
    assert str(app_id("KBH")) not in error.message
    assert error.details == (str(app_id("GENTOFTE")),)
    assert all(f.decision is None for f in h.round.applications.values())  # nothing decided


def test_a_recused_assessor_cannot_approve_either(h: Harness) -> None:
    h.score("KBH", "assessor-c", conflict=True)
    with pytest.raises(Refusal) as caught:
        h.allocate("assessor-c")
    assert caught.value.code == "segregation_of_duties"
    assert str(app_id("KBH")) in caught.value.message


def test_scoring_an_application_outside_the_batch_does_not_block(h: Harness) -> None:
    h.allocate("approver-x")
    h.submit("AARHUS", "751", 1_000_00)
    h.score("AARHUS", "assessor-z")
    decisions = h.allocate("assessor-a")  # assessor-a only scored KBH, decided in the first batch
    assert [d.application_id for d in decisions] == [app_id("AARHUS")]


def test_approving_a_stale_plan_is_refused(h: Harness) -> None:
    seen = h.plan().plan_hash
    h.score("KBH", "assessor-d", {"1": 1, "2": 1, "3": 1, "4": 1, "5": 1})
    with pytest.raises(Refusal) as caught:
        approve(h.round, h.ledger, "approver-x", DECIDED_AT, expected_plan_hash=seen)
    assert (caught.value.code, caught.value.kind) == ("recommendations_changed", "conflict")
    fresh = h.plan().plan_hash
    assert approve(h.round, h.ledger, "approver-x", DECIDED_AT, expected_plan_hash=fresh)


def test_decided_at_must_be_an_instant(h: Harness) -> None:
    with pytest.raises(ValueError):
        approve(h.round, h.ledger, "approver-x", datetime(2025, 6, 1, 10, 0))


def test_decisions_are_recorded_in_state_and_ledger(h: Harness) -> None:
    h.allocate()
    kbh = h.decision("KBH")
    assert kbh is not None and kbh.outcome == "awarded" and kbh.amount_oere == 150_000_000
    assert kbh.approved_by == "approver-x" and kbh.pool_version == 1
    assert h.ledger.funded("example", frozenset({"municipality:101"}))
    assert not h.ledger.funded("example", frozenset({"municipality:157"}))


def test_state_round_trips_through_json(h: Harness) -> None:
    from services.assessment.domain import FundingLedger, PoolRound
    h.score("KBH", "assessor-c", conflict=True)
    h.allocate()
    again = PoolRound.model_validate_json(h.round.model_dump_json())
    assert again == h.round
    assert FundingLedger.model_validate_json(h.ledger.model_dump_json()) == h.ledger


def test_evolving_each_file_is_evolving_the_round_event_by_event(h: Harness) -> None:
    """The allocation applies a pool's decisions with ``evolve_files`` (one copy of the round);
    it must be ``evolve_round`` folded over the same events, files untouched by them kept."""
    h.submit("FREDERIKSBERG", "147", 50_000_000)  # accepted, never scored
    decisions = approve(h.round, h.ledger, "approver-x", DECIDED_AT)
    assert len(decisions) == 3
    for events in (decisions, decisions[:1], []):
        folded = h.round
        for decision in events:
            folded = evolve_round(folded, decision)
        assert evolve_files(h.round, events) == folded
    assert evolve_files(h.round, decisions[:1]).file(app_id("GENTOFTE")) \
        == h.round.file(app_id("GENTOFTE"))
    decided = evolve_files(h.round, decisions)
    award = next(d for d in decisions if isinstance(d, GrantAwarded))
    lapsed = AwardLapsed(application_id=award.application_id, reason="withdrawn",
                         lapsed_at=DECIDED_AT)
    released = evolve_files(decided, [lapsed])
    assert released == evolve_round(decided, lapsed) != decided
