"""Read side: per sub-pool amount, awarded, remaining, and applications by status."""

from __future__ import annotations

from services.assessment.domain import pool_overview
from services.assessment.domain.overview import status_of

from .builders import Harness, app_id, pool_raw, received


def test_overview_follows_applications_through_their_statuses() -> None:
    h = Harness()
    h.apply(received("RECEIVED", "147", 1_000_00))
    h.submit("INELIGIBLE", "151", 1_000_00, target_group="nobody")
    h.submit("UNSCORED", "153", 1_000_00)
    h.submit("SCORED", "155", 1_000_00)
    h.score("SCORED", "assessor-a")
    h.submit("OUTSIDE", "461", 1_000_00)
    hov = pool_overview(h.round).sub_pools
    assert [s.region_code for s in hov] == ["1084", "1082"]
    assert hov[0].applications == {
        "awaiting_scores": (app_id("UNSCORED"),), "ineligible": (app_id("INELIGIBLE"),),
        "received": (app_id("RECEIVED"),), "scored": (app_id("SCORED"),)}
    assert pool_overview(h.round).outside_sub_pools == (app_id("OUTSIDE"),)

    h.submit("WINNER", "101", 150_000_000)
    h.score("WINNER", "assessor-a")
    h.allocate()
    overview = pool_overview(h.round)
    hovedstaden = overview.sub_pools[0]
    assert (hovedstaden.amount_oere, hovedstaden.awarded_oere, hovedstaden.remaining_oere,
            hovedstaden.awards) == (200_000_000, 150_100_000, 49_900_000, 2)
    assert set(hovedstaden.applications) == {"awarded", "rejected", "received"}
    assert overview.total_oere == 300_000_000 and overview.pool_version == 1
    midt = overview.sub_pools[1]
    assert (midt.awarded_oere, midt.remaining_oere, midt.applications) == (0, 100_000_000, {})


def test_awaiting_eligibility_when_the_gate_has_not_run_on_the_accepted_version() -> None:
    from .builders import accepted
    h = Harness()
    event = received("A", "101", 1_000_00)
    h.apply(event)
    h.apply(accepted(event))
    assert status_of(h.round.file(app_id("A"))) == "awaiting_eligibility"


def test_pool_without_sub_pools_has_one_entry() -> None:
    raw = pool_raw()
    del raw["sub_pools"]
    h = Harness(raw)
    h.submit("A", "461", 1_000_00)
    (only,) = pool_overview(h.round).sub_pools
    assert (only.region_code, only.region, only.amount_oere) == (None, "Example pool", 300_000_000)
    assert only.applications == {"awaiting_scores": (app_id("A"),)}
