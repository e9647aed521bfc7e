"""Lapsed and withdrawn awards free their money (R12, issue 16 item 5): allocation run again
awards the next eligible application in rank, exactly to the øre, and nothing twice."""

from __future__ import annotations

from datetime import timedelta

import pytest

from contracts.assessment import GrantAwarded
from contracts.payments import AwardLapsed
from contracts.refusal import Refusal
from services.assessment.domain import pool_overview

from .builders import T0, Harness, app_id
from .test_allocation import AARHUS, HORSENS, MID, MID_OERE, RANDERS, VIBORG, one_region_pool
from .test_allocation import outcome, scored

LAPSED_AT = T0 + timedelta(days=60)


def lapse(h: Harness, ref: str, reason: str = "acceptance_deadline_passed") -> None:
    h.apply(AwardLapsed(application_id=app_id(ref), reason=reason,  # type: ignore[arg-type]
                        lapsed_at=LAPSED_AT))


def _round_of_three(**pool: object) -> Harness:
    h = Harness(one_region_pool(**pool))  # type: ignore[arg-type]
    scored(h, "FIRST", RANDERS, 60_000_000, 24)
    scored(h, "SECOND", HORSENS, 50_000_000, 20)
    scored(h, "THIRD", AARHUS, 45_000_000, 15)
    h.allocate()
    assert outcome(h, "FIRST")[0] == "awarded"
    assert outcome(h, "SECOND")[:2] == ("rejected", ("sub_pool_exhausted",))
    assert outcome(h, "THIRD")[:2] == ("rejected", ("sub_pool_exhausted",))
    return h


@pytest.mark.parametrize("reason", ["acceptance_deadline_passed", "project_not_started",
                                    "withdrawn"])
def test_a_released_award_funds_the_next_in_rank(reason: str) -> None:
    h = _round_of_three()
    lapse(h, "FIRST", reason)
    assert h.decision("FIRST").released == reason  # type: ignore[union-attr]
    decisions = h.allocate(approver="approver-y")
    assert [(type(d).__name__, d.application_id) for d in decisions] == [
        ("GrantAwarded", app_id("SECOND")), ("GrantAwarded", app_id("THIRD"))]
    assert outcome(h, "SECOND") == ("awarded", (), 2, 50_000_000)
    # 50,000,000 remained after SECOND: THIRD (45,000,000) fits as well, in its rank place.
    assert outcome(h, "THIRD") == ("awarded", (), 3, 45_000_000)
    assert pool_overview(h.round).sub_pools[0].awarded_oere == 95_000_000


def test_the_fill_rule_applies_to_the_rewalk() -> None:
    h = Harness(one_region_pool())
    scored(h, "FIRST", RANDERS, 60_000_000, 24)
    scored(h, "SECOND", HORSENS, 50_000_000, 20)
    scored(h, "THIRD", AARHUS, 40_000_000, 15)
    h.allocate()
    assert outcome(h, "THIRD")[0] == "awarded"  # 40,000,000 fitted beside FIRST
    lapse(h, "FIRST")
    h.allocate()
    # 60,000,000 free: SECOND (50,000,000) now fits; THIRD keeps its award.
    assert outcome(h, "SECOND")[:2] == ("awarded", ())
    assert pool_overview(h.round).sub_pools[0].awarded_oere == 90_000_000


def test_exactly_the_released_amount_and_one_oere_more() -> None:
    for applied, expected in ((60_000_000, "awarded"), (60_000_001, "rejected")):
        h = Harness(one_region_pool())
        scored(h, "FIRST", RANDERS, 60_000_000, 24)
        scored(h, "SECOND", HORSENS, 40_000_000, 22)
        scored(h, "NEXT", AARHUS, applied, 20)
        h.allocate()
        assert outcome(h, "NEXT")[:2] == ("rejected", ("sub_pool_exhausted",))
        lapse(h, "FIRST")
        h.allocate()
        assert outcome(h, "NEXT")[0] == expected, applied


def test_fill_off_stops_the_rewalk_at_the_first_that_still_does_not_fit() -> None:
    h = Harness(one_region_pool(fill_with_smaller_after_exhausted=False))
    scored(h, "FIRST", RANDERS, 30_000_000, 25)
    scored(h, "SECOND", HORSENS, 60_000_000, 24)
    scored(h, "BIG", AARHUS, 50_000_000, 20)
    scored(h, "SMALL", VIBORG, 5_000_000, 15)
    h.allocate()
    lapse(h, "FIRST")  # 40,000,000 free: BIG (50,000,000) still does not fit
    assert h.allocate() == []
    assert outcome(h, "BIG")[:2] == ("rejected", ("sub_pool_exhausted",))
    assert outcome(h, "SMALL")[:2] == ("rejected", ("sub_pool_exhausted",))  # stopped at BIG


def test_no_release_no_rewalk_and_released_twice_is_once() -> None:
    h = _round_of_three()
    assert h.allocate() == []  # nothing released: rejections stand
    lapse(h, "FIRST")
    lapse(h, "FIRST")
    h.allocate()
    assert h.allocate() == []  # the re-walk is idempotent
    awarded = [d for d in h.events if isinstance(d, GrantAwarded)]
    assert [d.application_id for d in awarded] == [
        app_id("FIRST"), app_id("SECOND"), app_id("THIRD")]
    # the released award itself is never awarded again
    assert h.decision("FIRST").outcome == "awarded"  # type: ignore[union-attr]


def test_overview_counts_awards_in_force_and_lists_released_ones() -> None:
    h = _round_of_three()
    lapse(h, "FIRST", "withdrawn")
    sub = pool_overview(h.round).sub_pools[0]
    assert sub.region_code == MID
    assert (sub.awarded_oere, sub.remaining_oere, sub.awards) == (0, MID_OERE, 0)
    assert sub.applications["released"] == (app_id("FIRST"),)
    h.allocate()
    sub = pool_overview(h.round).sub_pools[0]
    assert (sub.awarded_oere, sub.awards) == (95_000_000, 2)


def test_a_lapse_for_a_rejected_or_unknown_decision_changes_nothing() -> None:
    h = _round_of_three()
    before = h.round
    lapse(h, "SECOND")  # rejected: nothing to release
    assert h.round == before


def test_the_released_applicant_still_counts_as_funded_in_the_programme() -> None:
    h = Harness(one_region_pool())
    scored(h, "FIRST", RANDERS, 60_000_000, 24)
    scored(h, "AGAIN", RANDERS, 50_000_000, 20)  # same municipality, lower
    h.allocate()
    lapse(h, "FIRST")
    h.allocate()
    assert outcome(h, "AGAIN")[0] == "rejected"
    assert outcome(h, "AGAIN")[1] != ("sub_pool_exhausted",)


def test_the_rewalk_is_approved_with_segregation_of_duties_as_before() -> None:

    h = _round_of_three()
    lapse(h, "FIRST")
    with pytest.raises(Refusal) as refused:
        h.allocate(approver="assessor-a")  # scored SECOND and THIRD
    assert refused.value.code == "segregation_of_duties"
    assert outcome(h, "SECOND")[0] == "rejected"
