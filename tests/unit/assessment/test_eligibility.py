"""R10 (minimum criteria gate) and R2 (once per applicant in a programme) on accepted versions."""

from __future__ import annotations

from datetime import timedelta

import pytest

from contracts.assessment import GrantAwarded, PriorAwardImported
from contracts.refusal import Refusal
from services.assessment.domain import (
    FundingLedger, assess_eligibility, evolve_ledger, reassess_pool,
)
from services.assessment.domain.eligibility import normalised

from grants.scenario.demo import cvr_for

from .builders import PURPOSE, T0, TARGET, Harness, accepted, app_id, pool_raw, received

MUNICIPALITY_101 = frozenset({"municipality:101"})
MUNICIPALITY_147 = frozenset({"municipality:147"})


def gate(h: Harness, ref: str):  # type: ignore[no-untyped-def]
    result = h.round.file(app_id(ref)).eligibility
    assert result is not None
    return result


def test_eligible_application_emits_eligible_with_region_and_amount() -> None:
    h = Harness()
    h.submit("A", "101", 150_000_000)
    result = gate(h, "A")
    assert result.eligible and result.reasons == []
    assert (result.region_code, result.applied_oere, result.pool_version) == ("1084", 150_000_000, 1)
    assert result.municipality_code == "101"


@pytest.mark.parametrize("kind", ["region", "voluntary_organisation", "private_supplier", "other"])
def test_applicant_kind_outside_group(kind: str) -> None:
    h = Harness()
    h.submit("A", "101", 1_000_00, kind=kind)
    assert gate(h, "A").reasons == ["applicant_group_not_eligible"]


def test_applicant_kind_inside_a_wider_group() -> None:
    h = Harness(pool_raw(applicant_group=["municipality", "voluntary_organisation"]))
    h.submit("A", "101", 1_000_00, kind="voluntary_organisation")
    assert gate(h, "A").eligible


def test_target_group_compared_case_insensitively_with_whitespace_normalised() -> None:
    h = Harness()
    h.submit("A", "101", 1_000_00, target_group="  Vulnerable   PARENTS of children\taged 0-6 and "
                                                 "expectant parents ")
    h.submit("B", "147", 1_000_00, target_group="vulnerable parents of children aged 0-7 and "
                                                 "expectant parents")
    assert gate(h, "A").eligible
    assert gate(h, "B").reasons == ["target_group_not_eligible"]


def test_pool_without_purpose_accepts_any_purpose_pool_with_purpose_checks_it() -> None:
    h = Harness()
    h.submit("A", "101", 1_000_00, purpose="anything at all")
    assert gate(h, "A").eligible
    h2 = Harness(pool_raw(purpose=PURPOSE.upper()))
    h2.submit("A", "101", 1_000_00)
    h2.submit("B", "147", 1_000_00, purpose="something else")
    assert gate(h2, "A").eligible
    assert gate(h2, "B").reasons == ["purpose_not_eligible"]


def test_pool_without_target_group_accepts_any() -> None:
    raw = pool_raw()
    del raw["target_group"]
    h = Harness(raw)
    h.submit("A", "101", 1_000_00, target_group="everyone")
    assert gate(h, "A").eligible


def test_cost_category_not_funded_by_the_pool() -> None:
    h = Harness(pool_raw(eligible_cost_categories=["salary"]))
    h.submit("A", "101", 1_000_00, categories=("salary", "salary"))
    h.submit("B", "147", 1_000_00, categories=("salary", "other"))
    assert gate(h, "A").eligible
    assert gate(h, "B").reasons == ["cost_category_not_eligible"]


def test_region_must_be_a_sub_pool() -> None:
    h = Harness()
    h.submit("SYD", "461", 1_000_00)  # Odense, Syddanmark (1083): not a sub-pool here
    h.submit("UNKNOWN", "999", 1_000_00)  # not a municipality
    assert gate(h, "SYD").reasons == ["region_not_in_pool"]
    assert gate(h, "SYD").region_code == "1083"
    assert gate(h, "UNKNOWN").reasons == ["region_not_in_pool"]
    assert gate(h, "UNKNOWN").region_code is None


def test_pool_without_sub_pools_takes_every_region() -> None:
    raw = pool_raw()
    del raw["sub_pools"]
    h = Harness(raw)
    h.submit("SYD", "461", 1_000_00)
    assert gate(h, "SYD").eligible


def test_prior_award_in_programme_makes_ineligible_other_programme_does_not() -> None:
    h = Harness()
    h.import_prior("101")
    h.import_prior("147", programme="another-programme")
    h.submit("A", "101", 1_000_00)
    h.submit("B", "147", 1_000_00)
    assert gate(h, "A").reasons == ["already_funded_in_programme"]
    assert gate(h, "B").eligible


def test_pool_without_programme_is_its_own_programme() -> None:
    raw = pool_raw()
    del raw["programme"]
    h = Harness(raw)
    h.import_prior("101", programme="example-2025")
    h.submit("A", "101", 1_000_00)
    assert gate(h, "A").reasons == ["already_funded_in_programme"]


def test_award_from_another_pool_of_the_programme_counts() -> None:
    earlier = Harness(pool_raw(pool_id="example-2023"))
    earlier.submit("OLD", "101", 1_000_00)
    earlier.score("OLD", "assessor-a")
    earlier.allocate()
    assert earlier.decision("OLD").outcome == "awarded"  # type: ignore[union-attr]
    h = Harness(ledger=earlier.ledger)
    h.submit("A", "101", 1_000_00)
    assert gate(h, "A").reasons == ["already_funded_in_programme"]


def test_once_per_applicant_can_be_switched_off_by_the_pool() -> None:
    h = Harness(pool_raw(once_per_applicant_in_programme=False))
    h.import_prior("101")
    h.submit("A", "101", 1_000_00)
    assert gate(h, "A").eligible


def test_every_failing_check_is_listed_in_the_documented_order() -> None:
    h = Harness(pool_raw(purpose="a family house", eligible_cost_categories=["salary"]))
    h.import_prior("461", cvr=cvr_for("461"))  # the region entity's own prior award, by CVR
    h.submit("A", "461", 1_000_00, kind="region", purpose="x", target_group="y")
    assert gate(h, "A").reasons == [
        "applicant_group_not_eligible", "purpose_not_eligible", "target_group_not_eligible",
        "cost_category_not_eligible", "region_not_in_pool", "already_funded_in_programme",
    ]


def test_a_new_accepted_version_reruns_the_gate() -> None:
    h = Harness()
    h.submit("A", "101", 1_000_00, target_group="wrong")
    assert not gate(h, "A").eligible
    v2 = received("A", "101", 2_000_00, version=2, at=T0 + timedelta(hours=1))
    h.apply(v2)
    assert gate(h, "A").submission_id != v2.submission_id  # received alone changes nothing
    result = h.accept(v2)
    assert result is not None and result.eligible and result.applied_oere == 2_000_00
    assert gate(h, "A").submission_id == v2.submission_id


def test_an_older_version_accepted_late_does_not_replace_a_newer_one() -> None:
    h = Harness()
    v1 = received("A", "101", 1_000_00)
    v2 = received("A", "101", 2_000_00, version=2)
    h.apply(v1)
    h.apply(v2)
    h.accept(v2)
    h.apply(accepted(v1))
    assert h.round.file(app_id("A")).accepted.version == 2  # type: ignore[union-attr]


def test_accepting_a_submission_never_received_is_refused() -> None:
    h = Harness()
    h.apply(received("A", "101", 1_000_00))
    stray = accepted(received("A", "101", 1_000_00, version=9))
    with pytest.raises(Refusal) as caught:
        h.apply(stray)
    assert caught.value.code == "version_unknown"


def test_redelivered_received_event_is_stored_once() -> None:
    h = Harness()
    event = received("A", "101", 1_000_00)
    h.apply(event)
    h.apply(event)
    assert len(h.round.file(app_id("A")).versions) == 1


def test_no_gate_without_acceptance_or_after_a_decision() -> None:
    h = Harness()
    h.apply(received("A", "101", 1_000_00))
    assert assess_eligibility(h.round, h.ledger, app_id("A")) is None
    h.submit("B", "147", 1_000_00)
    h.score("B", "assessor-a")
    h.allocate()
    assert assess_eligibility(h.round, h.ledger, app_id("B")) is None


def test_reassess_pool_reports_only_changed_outcomes() -> None:
    h = Harness()
    h.submit("A", "101", 1_000_00)
    h.submit("B", "147", 1_000_00)
    assert reassess_pool(h.round, h.ledger) == []
    h.import_prior("101")
    changed = reassess_pool(h.round, h.ledger)
    assert [(c.application_id, c.reasons) for c in changed] == [
        (app_id("A"), ["already_funded_in_programme"])]
    for event in changed:
        h.apply(event)
    assert reassess_pool(h.round, h.ledger) == []
    # A new pool version re-runs the gate for everyone (the version is part of the outcome).
    h.publish(pool_raw(title="v2"))
    assert {c.pool_version for c in reassess_pool(h.round, h.ledger)} == {2}


def test_ledger_records_each_award_once_and_ignores_its_own_award() -> None:
    ledger = FundingLedger()
    prior = PriorAwardImported(programme="p", municipality_code="101", pool_id="old")
    ledger = evolve_ledger(evolve_ledger(ledger, prior), prior)
    assert len(ledger.entries) == 1
    assert ledger.funded("p", MUNICIPALITY_101) and not ledger.funded("p", MUNICIPALITY_147)
    with pytest.raises(TypeError):
        evolve_ledger(ledger, object())  # type: ignore[arg-type]


def test_normalised() -> None:
    assert normalised("  A\tb \n C ") == "a b c"
    assert normalised(TARGET.upper()) == TARGET


def test_own_award_does_not_make_an_application_ineligible() -> None:
    h = Harness()
    h.submit("A", "101", 1_000_00)
    h.score("A", "assessor-a")
    h.allocate()
    award = next(e for e in h.events if isinstance(e, GrantAwarded))
    assert h.ledger.funded("example", MUNICIPALITY_101)
    assert not h.ledger.funded("example", MUNICIPALITY_101,
                               excluding_application=award.application_id)


def test_a_pool_that_says_it_checks_no_purpose_accepts_any() -> None:
    h = Harness(pool_raw(purpose="a family house", checks_purpose=False))
    h.submit("A", "101", 1_000_00, purpose="anything at all")
    assert gate(h, "A").eligible
