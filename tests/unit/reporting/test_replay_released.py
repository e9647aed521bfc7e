"""R23 (a) with released money (issue 16 item 5): a lapsed or withdrawn award frees its amount
in log order, so re-awarding it verifies; awarding it before the release does not. The overview,
the scenario view and the audit report count only awards in force."""

from __future__ import annotations

from datetime import timedelta

from audit.report import pools as report_pools
from contracts import payments as p
from services.reporting.domain import pool_overview
from audit.replay import replay
from tests.unit.reporting.builders import at, example_round

LATER = at("2025-11-01T10:00:00+01:00")


def _lapse(rnd, ref: str, when, reason: str = "withdrawn") -> None:  # type: ignore[no-untyped-def]
    rnd.log.add(p.AwardLapsed(application_id=rnd.app[ref], reason=reason,  # type: ignore[arg-type]
                              decided_by="caseworker-c", lapsed_at=when), when)


def test_the_released_money_is_awarded_again_and_verifies() -> None:
    rnd = example_round()
    _lapse(rnd, "KBH", LATER - timedelta(seconds=1))
    rnd.award("GENTOFTE", LATER, rank=2)  # 100,000,000 into a sub-pool KBH had filled to 150 of 200
    result = replay(rnd.log.events)
    assert result.verified, result.violations
    region = rnd.region["GENTOFTE"]
    assert region == rnd.region["KBH"]
    assert result.pools["example-2025"].sub_pools[region].awarded_oere == (
        rnd.awarded["GENTOFTE"].amount_oere)
    assert result.applications[str(rnd.app["GENTOFTE"])].decision == "awarded"
    assert result.applications[str(rnd.app["KBH"])].lapsed


def test_awarding_before_the_release_is_named() -> None:
    rnd = example_round()
    rnd.award("GENTOFTE", LATER, rank=2)
    _lapse(rnd, "KBH", LATER + timedelta(seconds=1))
    result = replay(rnd.log.events)
    assert [v.invariant for v in result.violations] == ["sub_pool_within_amount"]
    assert result.violations[0].event_type == "GrantAwarded"


def test_a_release_frees_money_only_in_its_own_sub_pool() -> None:
    rnd = example_round()
    assert rnd.region["AARHUS"] != rnd.region["KBH"]
    _lapse(rnd, "AARHUS", LATER - timedelta(seconds=1), reason="acceptance_deadline_passed")
    rnd.award("GENTOFTE", LATER, rank=2)  # KBH still holds 150 of 200 there
    result = replay(rnd.log.events)
    assert [v.invariant for v in result.violations] == ["sub_pool_within_amount"]


def test_after_a_release_the_sub_pool_fills_to_the_oere_and_not_one_more() -> None:
    for amount, verified in ((50_000_000, True), (50_000_001, False)):
        rnd = example_round()
        _lapse(rnd, "KBH", LATER - timedelta(seconds=2))
        rnd.award("GENTOFTE", LATER - timedelta(seconds=1), rank=2)  # 100 of 200
        rnd.award("KBH", LATER, amount=amount + 50_000_000, rank=1)  # awarded again: 200 (+1 øre)
        invariants = [v.invariant for v in replay(rnd.log.events).violations]
        assert ("sub_pool_within_amount" not in invariants) is verified, (amount, invariants)


def test_overview_replay_and_audit_report_agree_on_released_awards() -> None:
    rnd = example_round()
    _lapse(rnd, "KBH", LATER - timedelta(seconds=1))
    rnd.award("GENTOFTE", LATER, rank=2)
    result = replay(rnd.log.events)
    region = rnd.region["KBH"]
    view = pool_overview([e for e in rnd.log.events]).pools["example-2025"]
    replayed = result.pools["example-2025"]
    assert view.total.awarded_oere == replayed.awarded_oere
    assert view.sub_pools[region].awarded_oere == replayed.sub_pools[region].awarded_oere
    assert (view.total.released, view.total.released_oere) == (1, rnd.awarded["KBH"].amount_oere)
    report = report_pools(result.model_dump(mode="json"))
    assert report[0]["awarded_oere"] == replayed.awarded_oere
    assert report[0]["awards"] == replayed.awards
    scenario = result.scenario_view()
    assert scenario["sub_pools"][region]["awarded_oere"] == replayed.sub_pools[region].awarded_oere


def test_a_release_and_the_award_it_enables_at_one_instant_verify() -> None:
    """In simulation the scheduler's tick (the lapse) and the allocation run it enables carry
    the same simulated instant; the release counts first."""
    rnd = example_round()
    _lapse(rnd, "KBH", LATER, reason="acceptance_deadline_passed")
    rnd.award("GENTOFTE", LATER, rank=2)
    assert replay(rnd.log.events).verified
