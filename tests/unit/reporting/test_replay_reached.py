"""R23 (g), issue 14: an application intake accepted that never reached assessment is a violation.

"Reached" is any assessment event for the application (its eligibility gate, a score, an award
or a rejection). The replay claims a loss only when the log proves assessment moved past the
acceptance: it decided the application's pool later. Everything else may still be in flight.
"""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from contracts import assessment as a
from contracts import intake as i
from audit.replay import LoggedEvent, replay
from tests.unit.reporting.builders import Round, at, uid

CODE = "accepted_reaches_assessment"
ASSESSED = at("2025-05-20T10:00:00+02:00")
DECIDED = at("2025-06-01T10:00:00+02:00")


def _round() -> tuple[Round, dict[str, LoggedEvent]]:
    """The example round's pool and its four submissions (RANDERS late), nothing assessed yet;
    with each on-time submission's ApplicationAccepted."""
    rnd = Round()
    rnd.publish_pool()
    accepted: dict[str, LoggedEvent] = {}
    for action in rnd.data["actions"]:
        if action["type"] == "submit":
            rnd.submit(action)
            if rnd.log.events[-1].envelope.event_type == "ApplicationAccepted":
                accepted[action["ref"]] = rnd.log.events[-1]
    assert set(accepted) == {"KBH", "GENTOFTE", "AARHUS"}
    return rnd, accepted


def _decide(rnd: Round, when=DECIDED) -> None:
    """KBH and GENTOFTE assessed and decided; AARHUS left unseen by assessment."""
    rnd.assess("KBH", ASSESSED, 22.0)
    rnd.assess("GENTOFTE", ASSESSED, 18.0)
    rnd.award("KBH", when)
    rnd.reject("GENTOFTE", when, ["sub_pool_exhausted"], rank=2)


def test_an_accepted_application_missing_from_assessment_after_its_pool_was_decided() -> None:
    rnd, accepted = _round()
    _decide(rnd)
    result = replay(rnd.log.events)
    found = result.violation(CODE)
    assert found is not None and not result.verified
    lost = accepted["AARHUS"]
    assert (found.event_id, found.event_type, found.topic, found.partition, found.offset) == (
        str(lost.envelope.event_id), "ApplicationAccepted", lost.topic, lost.partition,
        lost.offset)
    assert found.rule == "g"
    assert [v.invariant for v in result.violations] == [CODE]
    # names no field value: no pool id, applicant, CVR or amount, only version and times
    applicant = rnd.applicant["AARHUS"]
    for value in (rnd.pool.pool_id, applicant.cvr, applicant.name, str(rnd.app["AARHUS"]),
                  str(rnd.budget["AARHUS"].total_oere)):
        assert value not in found.message


def test_nothing_is_claimed_before_the_pool_is_decided() -> None:
    """The pipeline may still be draining: assessed or not, no decision yet, no violation."""
    rnd, _ = _round()
    rnd.assess("KBH", ASSESSED, 22.0)
    assert replay(rnd.log.events).verified


@pytest.mark.parametrize("delta", [timedelta(0), -timedelta(seconds=1), -timedelta(days=30)])
def test_an_acceptance_at_or_after_the_pools_latest_decision_may_be_in_flight(
        delta: timedelta) -> None:
    rnd = Round()
    rnd.publish_pool()
    actions = [x for x in rnd.data["actions"] if x["type"] == "submit"]
    rnd.submit(actions[0])  # KBH
    rnd.assess("KBH", ASSESSED, 22.0)
    rnd.award("KBH", DECIDED)
    late = dict(actions[1], at=(DECIDED - delta).isoformat())  # accepted at/after the decision
    rnd.submit(late)
    rnd.log.add(i.ApplicationAccepted(application_id=rnd.app[late["ref"]],
                                      submission_id=rnd.sub[late["ref"]], version=1,
                                      pool_id=rnd.pool.pool_id, basis="on_time"),
                DECIDED - delta)
    assert replay(rnd.log.events).violation(CODE) is None


def _scored(rnd: Round, ref: str) -> None:
    rnd.log.add(a.ApplicationScored(application_id=rnd.app[ref], assessor="assessor-a",
                                    scores={"1": 3}, justification="ok", aggregate_score=9.0),
                ASSESSED)


REACHED = {
    "eligibility": lambda rnd, ref: rnd.eligible(ref, ASSESSED),
    "score": _scored,
    "award": lambda rnd, ref: rnd.award(ref, DECIDED + timedelta(hours=1), rank=3),
    "rejection": lambda rnd, ref: rnd.reject(ref, DECIDED + timedelta(hours=1), ["low"], 3),
}


@pytest.mark.parametrize("kind", sorted(REACHED))
def test_any_assessment_event_means_it_reached_assessment(kind: str) -> None:
    rnd, _ = _round()
    _decide(rnd)
    REACHED[kind](rnd, "AARHUS")
    assert replay(rnd.log.events).violation(CODE) is None


@pytest.mark.parametrize("decision", ["award", "rejection"])
def test_either_kind_of_decision_proves_the_pool_was_decided(decision: str) -> None:
    rnd, accepted = _round()
    rnd.assess("KBH", ASSESSED, 22.0)
    if decision == "award":
        rnd.award("KBH", DECIDED)
    else:
        rnd.reject("KBH", DECIDED, ["sub_pool_exhausted"], rank=1)
    result = replay(rnd.log.events)
    lost = {v.event_id for v in result.violations if v.invariant == CODE}
    # the first of the two lost ones (GENTOFTE, AARHUS) by log key
    first = min((accepted[r] for r in ("GENTOFTE", "AARHUS")),
                key=lambda e: (e.envelope.occurred_at, e.topic, e.partition, e.offset,
                               e.envelope.event_id.int))
    assert lost == {str(first.envelope.event_id)}


def test_a_decision_in_another_pool_proves_nothing() -> None:
    rnd, _ = _round()
    rnd.assess("KBH", ASSESSED, 22.0)
    other = rnd.award("KBH", DECIDED)
    rnd.log.events.pop()  # the award again, in another pool
    rnd.log.add(other.model_copy(update={"pool_id": "another-pool"}), DECIDED)
    assert replay(rnd.log.events).violation(CODE) is None


def test_an_acceptance_on_an_exception_is_held_to_it_too() -> None:
    rnd, _ = _round()
    exc = uid("exception", "RANDERS")
    when = at("2025-05-16T10:00:00+02:00")
    rnd.log.add(i.ItProblemExceptionDecided(
        exception_id=exc, application_id=rnd.app["RANDERS"], pool_id=rnd.pool.pool_id,
        approved=True, decided_by="cw-1", decided_at=when, reasons=[]), when)
    accepted = rnd.log.add(i.ApplicationAccepted(
        application_id=rnd.app["RANDERS"], submission_id=rnd.sub["RANDERS"], version=1,
        pool_id=rnd.pool.pool_id, basis="exception_granted", exception_id=exc), when)
    rnd.eligible("AARHUS", ASSESSED)  # only RANDERS is missing
    _decide(rnd)
    found = replay(rnd.log.events).violation(CODE)
    assert found is not None and found.event_id == str(accepted.envelope.event_id)
    assert "on an exception" in found.message


def test_the_earliest_acceptance_before_the_decision_is_named() -> None:
    rnd, accepted = _round()
    rnd.eligible("AARHUS", ASSESSED)  # assessment saw AARHUS: none missing yet
    _decide(rnd)
    assert replay(rnd.log.events).verified
    # a second application, two versions, neither seen by assessment
    ref = "LOST"
    rnd.app[ref], rnd.sub[ref] = uid("app", ref), uid("sub", ref)
    rnd.applicant[ref], rnd.budget[ref] = rnd.applicant["AARHUS"], rnd.budget["AARHUS"]
    named = None
    for version, when in ((1, ASSESSED - timedelta(days=2)), (2, ASSESSED - timedelta(days=1)),
                          (3, DECIDED + timedelta(days=1))):
        event = rnd.log.add(i.ApplicationAccepted(
            application_id=rnd.app[ref], submission_id=uid("sub", ref, version),
            version=version, pool_id=rnd.pool.pool_id, basis="on_time"), when)
        named = named or event
    found = replay(rnd.log.events).violation(CODE)
    assert found is not None and found.event_id == str(named.envelope.event_id)
    assert "version 1" in found.message


def test_any_interleaving_names_the_same_event() -> None:
    rnd, _ = _round()
    _decide(rnd)
    want = replay(rnd.log.events).violation(CODE)
    shuffled = list(rnd.log.events)
    for seed in range(5):
        random.Random(seed).shuffle(shuffled)
        assert replay(shuffled).violation(CODE) == want
