"""R12 (ranking and allocation per sub-pool) and R2 within a round."""

from __future__ import annotations

from datetime import timedelta

from contracts.assessment import ApplicationRejected, GrantAwarded

from grants.scenario.demo import cvr_for
from services.assessment.domain import assess_eligibility, tie_draw

from .builders import T0, Harness, accepted, app_id, pool_raw, received, scores_summing

MID = "1082"  # Midtjylland: 1,000,000 DKK = 100,000,000 øre in pool_raw()
MID_OERE = 100_000_000


def one_region_pool(amount_dkk: int = 1_000_000, **overrides):  # type: ignore[no-untyped-def]
    return pool_raw(total_dkk=amount_dkk, sub_pools=[
        {"region_code": MID, "region": "Midtjylland", "amount_dkk": amount_dkk}], **overrides)


# Midtjylland municipalities
AARHUS, RANDERS, HORSENS, VIBORG, SILKEBORG, HERNING = "751", "730", "615", "791", "740", "657"


def scored(h: Harness, ref: str, municipality: str, applied: int, total: int, **kw) -> None:  # type: ignore[no-untyped-def]
    h.submit(ref, municipality, applied, **kw)
    h.score(ref, "assessor-a", scores_summing(total, first=min(total, 5)))


def outcome(h: Harness, ref: str) -> tuple[str, tuple[str, ...], int | None, int]:
    d = h.decision(ref)
    assert d is not None
    return d.outcome, d.reasons, d.rank, d.amount_oere


def test_ranked_by_score_awarded_in_full_while_money_lasts() -> None:
    h = Harness(one_region_pool())
    scored(h, "LOW", AARHUS, 30_000_000, 15)
    scored(h, "HIGH", RANDERS, 60_000_000, 24)
    scored(h, "MID", HORSENS, 50_000_000, 20)
    h.allocate()
    assert outcome(h, "HIGH") == ("awarded", (), 1, 60_000_000)
    assert outcome(h, "MID") == ("rejected", ("sub_pool_exhausted",), 2, 0)
    assert outcome(h, "LOW") == ("awarded", (), 3, 30_000_000)  # a smaller one still fits


def test_fill_with_smaller_switched_off_stops_at_the_first_that_does_not_fit() -> None:
    h = Harness(one_region_pool(fill_with_smaller_after_exhausted=False))
    scored(h, "HIGH", RANDERS, 60_000_000, 24)
    scored(h, "MID", HORSENS, 50_000_000, 20)
    scored(h, "LOW", AARHUS, 30_000_000, 15)
    h.allocate()
    assert outcome(h, "HIGH")[0] == "awarded"
    assert outcome(h, "MID")[:3] == ("rejected", ("sub_pool_exhausted",), 2)
    assert outcome(h, "LOW")[:3] == ("rejected", ("sub_pool_exhausted",), 3)


def test_exact_fit_is_awarded_one_oere_more_is_not() -> None:
    h = Harness(one_region_pool())
    scored(h, "A", AARHUS, MID_OERE - 1, 25)
    scored(h, "B", RANDERS, 1, 24)
    scored(h, "C", HORSENS, 1, 23)
    h.allocate()
    assert [outcome(h, r)[0] for r in "ABC"] == ["awarded", "awarded", "rejected"]
    assert outcome(h, "C")[1] == ("sub_pool_exhausted",)

    h2 = Harness(one_region_pool())
    scored(h2, "A", AARHUS, MID_OERE + 1, 25)
    h2.allocate()
    assert outcome(h2, "A")[:2] == ("rejected", ("sub_pool_exhausted",))


def test_tie_break_is_the_pools_draw_never_the_receipt_time() -> None:
    """Equal scores: the lower ``tie_draw(pool_id, cvr)`` wins, whoever came in first. Fails with
    the old tie-break (earlier ``received_at`` first) for one of the two orders below."""
    winner, loser = sorted((AARHUS, RANDERS), key=lambda m: tie_draw("example-2025", cvr_for(m)))
    for first_in in (winner, loser):
        h = Harness(one_region_pool())
        later = T0 + timedelta(days=3)
        scored(h, "W", winner, 60_000_000, 20, at=T0 if first_in == winner else later)
        scored(h, "L", loser, 60_000_000, 20, at=later if first_in == winner else T0)
        h.allocate()
        assert outcome(h, "W")[:3] == ("awarded", (), 1)
        assert outcome(h, "L")[:3] == ("rejected", ("sub_pool_exhausted",), 2)


def test_two_tied_applications_of_one_applicant_go_by_application_id() -> None:
    h = Harness(one_region_pool(once_per_applicant_in_programme=False))
    for ref in ("P", "Q"):
        scored(h, ref, AARHUS, 60_000_000, 20, at=T0)
    first = min(("P", "Q"), key=lambda r: str(app_id(r)))
    h.allocate()
    assert outcome(h, first)[:3] == ("awarded", (), 1)


def test_exact_fractions_rank_even_when_rounded_scores_look_equal() -> None:
    h = Harness(one_region_pool())
    h.submit("THIRDS", AARHUS, 60_000_000, at=T0)  # (21+21+22)/3 = 21.333…
    for assessor, total in (("a", 21), ("b", 21), ("c", 22)):
        h.score("THIRDS", assessor, scores_summing(total, first=5))
    h.submit("LATER", RANDERS, 60_000_000, at=T0 - timedelta(days=1))  # 21.5 beats 21.33
    for assessor, total in (("a", 21), ("b", 22)):
        h.score("LATER", assessor, scores_summing(total, first=5))
    h.allocate()
    assert outcome(h, "LATER")[2] == 1 and outcome(h, "THIRDS")[2] == 2


def test_ineligible_rejected_whatever_the_score_with_no_rank() -> None:
    h = Harness(one_region_pool())
    scored(h, "BAD", AARHUS, 10_000_000, 25, target_group="someone else")
    scored(h, "OK", RANDERS, 10_000_000, 10)
    h.allocate()
    assert outcome(h, "BAD") == ("rejected", ("target_group_not_eligible",), None, 0)
    assert outcome(h, "OK") == ("awarded", (), 1, 10_000_000)


def test_eligible_but_never_scored_is_rejected_not_scored() -> None:
    h = Harness(one_region_pool())
    h.submit("A", AARHUS, 10_000_000)
    h.submit("B", RANDERS, 10_000_000)
    h.score("B", "assessor-c", conflict=True)
    h.allocate()
    assert outcome(h, "A") == ("rejected", ("not_scored",), None, 0)
    assert outcome(h, "B") == ("rejected", ("not_scored",), None, 0)


def test_minimum_requirement_not_met_is_rejected_whatever_the_total() -> None:
    h = Harness(one_region_pool())
    h.submit("A", AARHUS, 10_000_000)
    h.score("A", "assessor-a", scores_summing(20, first=0))
    h.allocate()
    assert outcome(h, "A") == ("rejected", ("minimum_requirement_not_met",), None, 0)
    rejected = [e for e in h.events if isinstance(e, ApplicationRejected)][0]
    assert rejected.score == 20.0 and rejected.rank is None


def test_two_applications_from_one_municipality_never_both_win() -> None:
    h = Harness(one_region_pool())
    scored(h, "FIRST", AARHUS, 10_000_000, 24)
    scored(h, "SECOND", AARHUS, 10_000_000, 20)
    scored(h, "OTHER", RANDERS, 10_000_000, 22)
    h.allocate()
    assert outcome(h, "FIRST")[:3] == ("awarded", (), 1)
    assert outcome(h, "OTHER")[:3] == ("awarded", (), 2)
    assert outcome(h, "SECOND")[:3] == ("rejected", ("already_funded_in_programme",), 3)


def test_only_the_better_ranked_application_of_an_applicant_can_win() -> None:
    """R2 (issue 15): of one legal entity's applications in a round only the better-ranked can
    win, also when it loses for money; its smaller second one does not slip in. (The rule before
    let SMALL win here.)"""
    h = Harness(one_region_pool())
    scored(h, "BIG", AARHUS, MID_OERE + 1, 24)
    scored(h, "SMALL", AARHUS, 10_000_000, 20)
    scored(h, "OTHER", RANDERS, 10_000_000, 19)
    h.allocate()
    assert outcome(h, "BIG")[:2] == ("rejected", ("sub_pool_exhausted",))
    assert outcome(h, "SMALL")[:3] == ("rejected", ("applicant_has_better_application",), 2)
    assert outcome(h, "OTHER")[:3] == ("awarded", (), 3)  # the money goes on down the ranking


def test_once_per_applicant_off_allows_two_awards() -> None:
    h = Harness(one_region_pool(once_per_applicant_in_programme=False))
    scored(h, "FIRST", AARHUS, 10_000_000, 24)
    scored(h, "SECOND", AARHUS, 10_000_000, 20)
    h.allocate()
    assert outcome(h, "SECOND")[0] == "awarded"


def test_prior_award_rejects_at_allocation_even_if_imported_after_the_gate() -> None:
    h = Harness(one_region_pool())
    scored(h, "A", AARHUS, 10_000_000, 24)
    h.import_prior(AARHUS)  # the gate already said eligible
    h.allocate()
    assert outcome(h, "A") == ("rejected", ("already_funded_in_programme",), None, 0)


def test_sub_pools_are_allocated_independently() -> None:
    h = Harness()  # Hovedstaden 200,000,000 øre, Midtjylland 100,000,000 øre
    scored(h, "KBH", "101", 150_000_000, 22)
    scored(h, "GENTOFTE", "157", 100_000_000, 18)
    scored(h, "AARHUS", AARHUS, 75_000_000, 10)
    h.allocate()
    assert outcome(h, "KBH")[:3] == ("awarded", (), 1)
    assert outcome(h, "GENTOFTE")[:3] == ("rejected", ("sub_pool_exhausted",), 2)
    assert outcome(h, "AARHUS")[:3] == ("awarded", (), 1)  # rank is within its own sub-pool


def test_pool_without_sub_pools_is_one_pool() -> None:
    raw = pool_raw(total_dkk=1_000_000)
    del raw["sub_pools"]
    h = Harness(raw)
    scored(h, "KBH", "101", 60_000_000, 22)
    scored(h, "AARHUS", AARHUS, 60_000_000, 20)
    scored(h, "ODENSE", "461", 40_000_000, 18)
    decisions = h.allocate()
    assert outcome(h, "KBH")[:3] == ("awarded", (), 1)
    assert outcome(h, "AARHUS")[:3] == ("rejected", ("sub_pool_exhausted",), 2)
    assert outcome(h, "ODENSE")[:3] == ("awarded", (), 3)
    assert {d.region_code for d in decisions} == {None}
    assert {d.sub_pool_amount_oere for d in decisions if isinstance(d, GrantAwarded)} == {
        100_000_000}


def test_running_allocation_again_is_idempotent() -> None:
    h = Harness(one_region_pool())
    scored(h, "A", AARHUS, 60_000_000, 24)
    scored(h, "B", RANDERS, 50_000_000, 20)
    first = h.allocate()
    assert len(first) == 2
    assert h.plan().recommendations == ()
    assert h.allocate() == []


def test_a_later_allocation_decides_only_new_ones_with_the_money_left() -> None:
    h = Harness(one_region_pool())
    scored(h, "A", AARHUS, 60_000_000, 20)
    h.allocate()
    # Admitted later (e.g. an IT-problem exception): better score, but 40,000,000 øre remain.
    scored(h, "BIG", RANDERS, 50_000_000, 25)
    scored(h, "FITS", HORSENS, 40_000_000, 10)
    scored(h, "AGAIN", AARHUS, 10_000_000, 25)
    plan = h.plan()
    assert {r.application_id for r in plan.recommendations} == {
        app_id("BIG"), app_id("FITS"), app_id("AGAIN")}
    h.allocate()
    assert outcome(h, "A")[:3] == ("awarded", (), 1)  # keeps its decision and recorded rank
    assert outcome(h, "BIG")[:3] == ("rejected", ("sub_pool_exhausted",), 1)
    assert outcome(h, "FITS")[:4] == ("awarded", (), 3, 40_000_000)
    assert outcome(h, "AGAIN")[:2] == ("rejected", ("already_funded_in_programme",))
    awarded = sum(d.amount_oere for f in h.round.applications.values()
                  if (d := f.decision) is not None and d.outcome == "awarded")
    assert awarded == MID_OERE


def test_later_allocation_respects_an_earlier_stop_when_fill_is_off() -> None:
    h = Harness(one_region_pool(fill_with_smaller_after_exhausted=False))
    scored(h, "A", AARHUS, 60_000_000, 24)
    scored(h, "B", RANDERS, 50_000_000, 20)
    h.allocate()
    scored(h, "LOWER", HORSENS, 10_000_000, 10)
    scored(h, "HIGHER", VIBORG, 10_000_000, 22)
    h.allocate()
    assert outcome(h, "HIGHER")[0] == "awarded"  # ranked above the one that did not fit
    assert outcome(h, "LOWER")[:2] == ("rejected", ("sub_pool_exhausted",))


def test_received_only_applications_are_not_decided() -> None:
    from .builders import received
    h = Harness(one_region_pool())
    h.apply(received("PENDING", AARHUS, 10_000_000))
    assert h.plan().recommendations == ()


def test_plan_lists_recommendations_in_a_stable_order_with_a_hash() -> None:
    h = Harness()
    scored(h, "KBH", "101", 150_000_000, 22)
    scored(h, "AARHUS", AARHUS, 75_000_000, 10)
    h.submit("ODENSE", "461", 1_000)  # region_not_in_pool
    plan = h.plan()
    assert [r.region_code for r in plan.recommendations] == ["1082", "1083", "1084"]
    assert plan.plan_hash == h.plan().plan_hash
    odense = plan.recommendations[1]
    assert odense.reasons == ("region_not_in_pool",) and odense.sub_pool_amount_oere is None


def test_the_readmes_scoring_example() -> None:
    """README, "Scoring, ranking and allocation": the example, as the domain decides it (B is
    Aarhus here, whose draw in this pool is the lower of the two)."""
    assert tie_draw("example-2025", cvr_for(AARHUS)) < tie_draw("example-2025", cvr_for(RANDERS))
    h = Harness(one_region_pool())
    h.submit("A", RANDERS, 50_000_000)
    h.score("A", "a1", scores_summing(22, first=5))
    h.score("A", "a2", scores_summing(21, first=5))
    h.submit("B", AARHUS, 60_000_000)
    h.score("B", "a1", scores_summing(21, first=5))
    h.score("B", "a2", scores_summing(22, first=5))
    h.submit("C", HORSENS, 10_000_000)
    h.score("C", "a1", scores_summing(20, first=0))
    h.score("C", "a2", scores_summing(20, first=0))
    h.submit("D", VIBORG, 30_000_000)
    h.score("D", "a1", scores_summing(18, first=5))
    h.allocate()
    assert outcome(h, "C") == ("rejected", ("minimum_requirement_not_met",), None, 0)
    assert outcome(h, "B") == ("awarded", (), 1, 60_000_000)
    assert outcome(h, "A") == ("rejected", ("sub_pool_exhausted",), 2, 0)
    assert outcome(h, "D") == ("awarded", (), 3, 30_000_000)


def test_exception_admitted_and_resubmitted_versions_keep_their_place_in_a_tie() -> None:
    """Issue 15: a version admitted through an approved IT-problem exception (received after the
    deadline) and a corrected resubmission (a later version) compete exactly like an on-time
    first version. With the old tie-break (the accepted version's receipt time) the first case
    lost its tie to the on-time one whatever the draw."""
    winner, loser = sorted((AARHUS, RANDERS), key=lambda m: tie_draw("example-2025", cvr_for(m)))
    h = Harness(one_region_pool())
    late = T0 + timedelta(days=6)  # after the deadline of 2025-05-15 12:00
    version = received("EXCEPTION", winner, 60_000_000, at=late)
    h.apply(version)
    h.apply(accepted(version).model_copy(update={"basis": "exception_granted",
                                                 "exception_id": app_id("exception")}))
    h.apply(assess_eligibility(h.round, h.ledger, version.application_id))
    h.score("EXCEPTION", "assessor-a", scores_summing(20, first=5))
    scored(h, "ON_TIME", loser, 60_000_000, 20, at=T0)
    h.allocate()
    assert outcome(h, "EXCEPTION")[:3] == ("awarded", (), 1)
    h2 = Harness(one_region_pool())
    scored(h2, "RESUBMITTED", winner, 60_000_000, 20, at=T0)
    corrected = received("RESUBMITTED", winner, 60_000_000, version=2, at=T0 + timedelta(days=2))
    h2.apply(corrected)
    h2.accept(corrected)
    scored(h2, "ONCE", loser, 60_000_000, 20, at=T0 + timedelta(days=1))
    h2.allocate()
    assert outcome(h2, "RESUBMITTED")[:3] == ("awarded", (), 1)
