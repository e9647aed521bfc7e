"""R23 (e) with issue 15: the replay's "one award per applicant" uses the register's key — the
legal entity (its CVR; a municipality also by its municipality code) — and honours the pool's
``once_per_applicant_in_programme``.

Checked to fail without the change: with the old check (keyed on ``municipality_code`` alone,
for every pool) the same CVR under two municipality codes verified, two organisations of one
municipality were a violation, and a pool without the rule was still held to it.
"""

from __future__ import annotations

from datetime import timedelta

from contracts import assessment as a
from contracts.base import Applicant
from audit.replay import replay
from tests.unit.reporting.builders import Round, at, example_round

DECIDED = at("2025-06-01T10:00:00+02:00")
LATER = DECIDED + timedelta(hours=1)
KBH_CVR = "27998194"  # KBH's CVR in example-small


def _as(rnd: Round, ref: str, **applicant: str) -> None:
    rnd.applicant[ref] = rnd.applicant[ref].model_copy(update=applicant)


def _with_pool(**changes: object) -> Round:
    rnd = example_round()
    # The same log, but its pool published with the changed setting (one version).
    first = next(e for e in rnd.log.events if e.envelope.event_type == "PoolPublished")
    pool = first.envelope.payload
    changed = pool.model_copy(update={"definition": pool.definition.model_copy(update=changes)})
    fresh = Round()
    fresh.executed_amounts = {}
    fresh.pool = changed.definition
    fresh.log.add(changed, first.envelope.occurred_at)
    for event in rnd.log.events:
        if event.envelope.event_type != "PoolPublished":
            fresh.log.add(event.envelope.payload, event.envelope.occurred_at,
                          key=event.envelope.aggregate_id)
    fresh.app, fresh.sub, fresh.applicant = rnd.app, rnd.sub, rnd.applicant
    fresh.budget, fresh.awarded = rnd.budget, rnd.awarded
    return fresh


def test_the_same_cvr_under_another_municipality_code_is_a_second_award() -> None:
    rnd = example_round()
    _as(rnd, "GENTOFTE", cvr=KBH_CVR)  # Gentofte's application, in KBH's name, under code 157
    second = rnd.award("GENTOFTE", LATER, amount=10_000_000)
    result = replay(rnd.log.events)
    found = result.violation("one_award_per_applicant")
    assert found is not None and found.event_id == str(rnd.log.events[-1].envelope.event_id)
    assert second.municipality_code == "157" and KBH_CVR not in found.message


def test_a_pool_without_once_per_applicant_allows_it() -> None:
    rnd = _with_pool(once_per_applicant_in_programme=False)
    _as(rnd, "GENTOFTE", cvr=KBH_CVR, municipality_code="101")  # KBH wins twice
    rnd.award("GENTOFTE", LATER, amount=10_000_000, municipality="101")
    assert replay(rnd.log.events).verified
    held = example_round()  # the same under the example pool (once per applicant): a violation
    _as(held, "GENTOFTE", cvr=KBH_CVR, municipality_code="101")
    held.award("GENTOFTE", LATER, amount=10_000_000, municipality="101")
    assert replay(held.log.events).violation("one_award_per_applicant") is not None


def test_two_organisations_in_one_municipality_are_two_applicants() -> None:
    rnd = example_round()  # KBH: the municipality 101 itself
    _as(rnd, "GENTOFTE", cvr="32432832", municipality_code="101",
        kind="voluntary_organisation")
    rnd.award("GENTOFTE", LATER, amount=10_000_000, municipality="101")
    assert replay(rnd.log.events).verified  # an organisation located in 101 is not 101


def test_a_second_municipality_record_for_one_municipality_is_the_same_applicant() -> None:
    rnd = example_round()
    _as(rnd, "GENTOFTE", cvr="32432832", municipality_code="101")  # kind municipality
    rnd.award("GENTOFTE", LATER, amount=10_000_000, municipality="101")
    assert replay(rnd.log.events).violation("one_award_per_applicant") is not None


def test_a_prior_award_by_cvr_counts_for_that_entity_only() -> None:
    rnd = example_round()
    rnd.log.add(a.PriorAwardImported(programme="example-2025", municipality_code="101",
                                     pool_id="example-2023", cvr=KBH_CVR, kind="municipality"),
                LATER)
    assert replay(rnd.log.events).violation("one_award_per_applicant") is not None
    other = example_round()
    other.log.add(a.PriorAwardImported(programme="example-2025", municipality_code="101",
                                       pool_id="example-2023", cvr="32432832",
                                       kind="voluntary_organisation"), LATER)
    assert replay(other.log.events).verified


def test_applicant_keys_of_an_award() -> None:
    rnd = example_round()
    award = next(f for f in replay_facts(rnd) if f.municipality_code == "101")
    assert award.applicant == frozenset({f"cvr:{KBH_CVR}", "municipality:101"})


def replay_facts(rnd: Round) -> list:  # type: ignore[type-arg]
    from audit.replay import Replay
    fold = Replay().apply_all(rnd.log.events)
    return fold.facts.awards


def test_an_old_award_without_register_fields_still_keys_on_its_municipality() -> None:
    applicant = Applicant(cvr=KBH_CVR, municipality_code="101", name="x")
    assert applicant.region_code is None and applicant.kind == "municipality"
