"""R23: the auditors' replay rebuilds the round, verifies it, and names the first bad event."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

import pytest

from contracts import assessment as a
from contracts import intake as i
from contracts import payments as p
from contracts.base import Applicant, IndicativeBudget, ProjectPeriod
from audit.replay import INVARIANTS, LoggedEvent, Replay, ReplayResult, replay, state_digest
from tests.unit.reporting.builders import Round, at, example_round, expected, uid


def view(rnd: Round) -> dict:
    return replay(rnd.log.events).scenario_view()


def assert_names(result: ReplayResult, invariant: str, event: LoggedEvent) -> None:
    found = result.violation(invariant)
    assert found is not None, result.violations
    assert (found.event_id, found.event_type, found.topic, found.partition, found.offset) == (
        str(event.envelope.event_id), event.envelope.event_type, event.topic, event.partition,
        event.offset)
    assert found.message
    assert not result.verified


# -- a valid history ------------------------------------------------------------------------


def test_the_example_round_verifies_and_matches_its_expected_result() -> None:
    rnd = example_round()
    result = replay(rnd.log.events)
    assert result.verified and result.violations == []
    out = result.scenario_view()
    want = expected()
    for ref, fields in want.items():
        if ref in ("sub_pools", "audit"):
            continue
        got = out["applications"][str(rnd.app[ref])]
        for key, value in fields.items():
            assert got[key] == value, (ref, key)
    assert out["sub_pools"] == want["sub_pools"]
    assert out["audit"]["verified"] is True
    assert out["audit"]["events"] == len(rnd.log.events)


def test_the_rebuilt_state_of_every_service() -> None:
    rnd = example_round()
    result = replay(rnd.log.events)
    kbh = result.applications[str(rnd.app["KBH"])]
    assert (kbh.pool_id, kbh.municipality_code, kbh.region_code) == ("example-2025", "101", "1084")
    assert (kbh.eligible, kbh.score, kbh.rank) == (True, 22.0, 1)
    assert (kbh.applied_oere, kbh.award_oere, kbh.award_accepted) == (
        150_000_000, 150_000_000, True)
    assert (kbh.instructed_oere, kbh.paid_oere, kbh.spent_oere) == (
        150_000_000, 150_000_000, 149_000_000)
    assert (kbh.final_report, kbh.repayment_oere) == ("accepted", 1_000_000)
    gentofte = result.applications[str(rnd.app["GENTOFTE"])]
    assert (gentofte.decision, gentofte.rank, gentofte.decision_reasons) == (
        "rejected", 2, ["sub_pool_exhausted"])
    randers = result.applications[str(rnd.app["RANDERS"])]
    assert randers.applied_oere == 50_000_000 and randers.eligible is None
    pool = result.pools["example-2025"]
    assert (pool.total_oere, pool.awarded_oere, pool.awards, pool.version) == (
        300_000_000, 225_000_000, 2, 1)
    assert result.totals.repayment_claimed_oere == 1_000_000
    assert result.counts["PaymentExecuted"] == 4
    assert result.events == sum(result.counts.values()) == len(rnd.log.events)


# -- each invariant, broken by one event ----------------------------------------------------

LATER = at("2025-11-01T10:00:00+01:00")


def test_a_over_committed_sub_pool_names_the_award_that_goes_over() -> None:
    rnd = example_round()
    rnd.award("GENTOFTE", LATER, rank=2)
    injected = rnd.log.events[-1]
    result = replay(rnd.log.events)
    assert_names(result, "sub_pool_within_amount", injected)
    assert [v.invariant for v in result.violations] == ["sub_pool_within_amount"]
    assert result.violation("sub_pool_within_amount").rule == "a"  # type: ignore[union-attr]


def test_a_sub_pool_filled_to_the_oere_is_fine() -> None:
    rnd = example_round()
    rnd.award("GENTOFTE", LATER, amount=50_000_000, rank=2)  # 150 + 50 = 200 M exactly
    assert replay(rnd.log.events).verified


def test_b_an_award_above_the_accepted_version_is_named() -> None:
    rnd = example_round(amounts={"KBH": 150_000_001})
    award = next(e for e in rnd.log.events if e.envelope.event_type == "GrantAwarded")
    result = replay(rnd.log.events)
    assert_names(result, "award_within_applied", award)
    assert [v.invariant for v in result.violations] == ["award_within_applied"]


def test_b_an_award_without_an_accepted_application() -> None:
    rnd = example_round()
    rnd.award("RANDERS", LATER, amount=1)  # late-rejected: never accepted
    result = replay(rnd.log.events)
    assert_names(result, "award_within_applied", rnd.log.events[-1])


def test_b_counts_the_accepted_version_not_a_later_one() -> None:
    rnd = example_round()
    # A version 2 received after the deadline (late, not accepted) with a higher budget does not
    # raise what KBH applied for in its accepted version 1.
    rnd.log.add(i.ApplicationReceived(
        submission_id=uid("sub", "KBH", 2), application_id=rnd.app["KBH"], version=2,
        pool_id="example-2025", applicant=rnd.applicant["KBH"], purpose="x", target_group="y",
        budget=rnd.budget["KBH"].model_copy(update={"total_oere": 999_999_999}),
        received_at=LATER, received_at_local="2025-11-01T10:00:00+01:00",
        deadline=rnd.deadline, timeliness="late"), LATER)
    assert replay(rnd.log.events).verified


def test_c_an_approved_budget_above_the_award_is_named() -> None:
    rnd = example_round()
    months = {"2025-12": {"project staff": 75_000_001}}
    rnd.revised_budget("AARHUS", LATER, months, version=2)
    injected = rnd.log.events[-1]  # the approval
    result = replay(rnd.log.events)
    assert_names(result, "budget_within_award", injected)
    assert [v.invariant for v in result.violations] == ["budget_within_award"]


def test_d_a_payment_beyond_the_approved_budget_is_named() -> None:
    rnd = example_round()
    rnd.instruct("AARHUS", LATER, 1)
    result = replay(rnd.log.events)
    assert_names(result, "payments_within_budget", rnd.log.events[-1])
    assert [v.invariant for v in result.violations] == ["payments_within_budget"]


def test_d_the_budget_in_force_is_the_one_approved_before_the_payment() -> None:
    rnd = example_round()
    # Budget v2 lowers AARHUS to 50 M after 75 M was instructed: the earlier payments were
    # within the budget in force when they were made.
    rnd.revised_budget("AARHUS", LATER, {"2025-12": {"project staff": 50_000_000}}, version=2)
    assert replay(rnd.log.events).verified
    rnd.instruct("AARHUS", LATER + timedelta(days=1), 1)
    assert_names(replay(rnd.log.events), "payments_within_budget", rnd.log.events[-1])


def test_d_a_payment_before_any_approved_budget_is_named() -> None:
    rnd = example_round()
    rnd.instruct("KBH", at("2025-06-05T10:00:00+02:00"), 1)  # accepted 06-02, budget 06-10
    result = replay(rnd.log.events)
    assert_names(result, "payments_within_budget", rnd.log.events[-1])
    assert result.violation("no_payment_before_acceptance") is None


def test_d_a_payment_before_acceptance_is_named() -> None:
    rnd = example_round(accept_at={"KBH": "2025-07-15T10:00:00+02:00"})
    first_kbh_payment = next(
        e for e in rnd.log.events if e.envelope.event_type == "PaymentInstructed"
        and e.envelope.payload.application_id == rnd.app["KBH"])
    result = replay(rnd.log.events)
    assert_names(result, "no_payment_before_acceptance", first_kbh_payment)
    assert [v.invariant for v in result.violations] == ["no_payment_before_acceptance"]


def test_d_a_payment_for_an_award_never_accepted() -> None:
    rnd = example_round()
    rnd.log.events = [e for e in rnd.log.events if not (
        e.envelope.event_type == "AwardAccepted"
        and e.envelope.payload.application_id == rnd.app["AARHUS"])]
    result = replay(rnd.log.events)
    first_aarhus_payment = next(
        e for e in rnd.log.events if e.envelope.event_type == "PaymentInstructed"
        and e.envelope.payload.application_id == rnd.app["AARHUS"])
    assert_names(result, "no_payment_before_acceptance", first_aarhus_payment)


def test_d_a_replacement_of_a_failed_payment_does_not_count_twice() -> None:
    rnd = example_round()
    failed = rnd.instruct("AARHUS", LATER, 1)  # never executed...
    rnd.instruct("AARHUS", LATER + timedelta(hours=1), 1, replaces=failed)
    # ...but 75 M + 1 øre is still over the 75 M budget, named at the first extra instruction.
    assert_names(replay(rnd.log.events), "payments_within_budget", rnd.log.events[-2])
    rnd = example_round()
    # Replacing the executed 2nd quarter of AARHUS counts both (both left the account).
    executed_q2 = rnd.instructions["AARHUS"][1]
    rnd.instruct("AARHUS", LATER, 1, replaces=executed_q2)
    assert_names(replay(rnd.log.events), "payments_within_budget", rnd.log.events[-1])


def test_e_a_second_award_to_a_municipality_in_the_programme_is_named() -> None:
    rnd = example_round()
    # GENTOFTE's application awarded to Aarhus municipality's code in region 1082 (room left).
    rnd.award("GENTOFTE", LATER, amount=25_000_000, region="1082", municipality="751")
    result = replay(rnd.log.events)
    assert_names(result, "one_award_per_applicant", rnd.log.events[-1])
    assert [v.invariant for v in result.violations] == ["one_award_per_applicant"]


def test_e_an_imported_prior_award_counts() -> None:
    rnd = example_round()
    rnd.log.add(a.PriorAwardImported(programme="example-2025", municipality_code="101",
                                     pool_id="example-2023"), LATER)
    kbh_award = next(e for e in rnd.log.events if e.envelope.event_type == "GrantAwarded")
    assert_names(replay(rnd.log.events), "one_award_per_applicant", kbh_award)
    other_programme = example_round()
    other_programme.log.add(a.PriorAwardImported(programme="familiehuse", municipality_code="101",
                                                 pool_id="familiehus-2022"), LATER)
    assert replay(other_programme.log.events).verified


def test_f_a_late_version_accepted_as_on_time_is_named() -> None:
    rnd = example_round()
    rnd.log.add(i.ApplicationAccepted(application_id=rnd.app["RANDERS"],
                                      submission_id=rnd.sub["RANDERS"], version=1,
                                      pool_id="example-2025", basis="on_time"), LATER)
    result = replay(rnd.log.events)
    assert_names(result, "no_late_acceptance", rnd.log.events[-1])
    assert [v.invariant for v in result.violations] == ["no_late_acceptance"]


def test_f_received_exactly_at_the_deadline_is_on_time() -> None:
    rnd = Round()
    rnd.publish_pool()
    action = dict(rnd.data["actions"][0], at="2025-05-15T12:00:00+02:00")
    rnd.submit(action)
    assert rnd.log.events[-1].envelope.event_type == "ApplicationAccepted"
    assert replay(rnd.log.events).verified
    late = dict(rnd.data["actions"][1], at="2025-05-15T12:00:00.000001+02:00")
    rnd.submit(late)
    rnd.log.add(i.ApplicationAccepted(application_id=rnd.app["GENTOFTE"],
                                      submission_id=rnd.sub["GENTOFTE"], version=1,
                                      pool_id="example-2025", basis="on_time"), LATER)
    assert_names(replay(rnd.log.events), "no_late_acceptance", rnd.log.events[-1])


def _exception_round(decision: bool | None,
                     decided_after: bool = False) -> tuple[Round, LoggedEvent]:
    """RANDERS (late) accepted on an exception; the round and its ApplicationAccepted."""
    rnd = example_round()
    exc = uid("exception", "RANDERS")
    contacted = at("2025-05-15T12:05:00+02:00")
    rnd.log.add(i.ItProblemExceptionRequested(
        exception_id=exc, application_id=rnd.app["RANDERS"], pool_id="example-2025",
        applicant_cvr="77808701", contacted_at=contacted, contact="after_deadline",
        documentation=True, attempted_before_deadline=True, screenshot_at=contacted,
        status="pending"), contacted)
    accepted_at = at("2025-05-16T10:00:00+02:00")
    decided_at = accepted_at + (timedelta(minutes=1) if decided_after else -timedelta(minutes=1))
    if decision is not None:
        rnd.log.add(i.ItProblemExceptionDecided(
            exception_id=exc, application_id=rnd.app["RANDERS"], pool_id="example-2025",
            approved=decision, decided_by="cw-1", decided_at=decided_at,
            reasons=[] if decision else ["documentation_insufficient"]), decided_at)
    rnd.log.add(i.ApplicationAccepted(application_id=rnd.app["RANDERS"],
                                      submission_id=rnd.sub["RANDERS"], version=1,
                                      pool_id="example-2025", basis="exception_granted",
                                      exception_id=exc), accepted_at)
    accepted = rnd.log.events[-1]
    rnd.eligible("RANDERS", accepted_at + timedelta(seconds=1))  # assessment registered it
    return rnd, accepted


def test_f_an_acceptance_on_an_approved_exception_is_fine() -> None:
    rnd, _ = _exception_round(True)
    result = replay(rnd.log.events)
    assert result.verified
    assert result.applications[str(rnd.app["RANDERS"])].intake == "exception_granted"


@pytest.mark.parametrize(("decision", "after"), [(None, False), (False, False), (True, True)])
def test_f_an_acceptance_without_an_approved_exception_before_it_is_named(
        decision: bool | None, after: bool) -> None:
    rnd, accepted = _exception_round(decision, after)
    assert_names(replay(rnd.log.events), "no_late_acceptance", accepted)


def test_every_invariant_is_documented() -> None:
    assert set(INVARIANTS) == {
        "sub_pool_within_amount", "award_within_applied", "budget_within_award",
        "payments_within_budget", "no_payment_before_acceptance", "one_award_per_applicant",
        "no_late_acceptance", "accepted_reaches_assessment"}


def test_the_first_violation_of_an_invariant_is_the_earliest_in_log_time() -> None:
    rnd = example_round()
    rnd.instruct("AARHUS", LATER + timedelta(days=2), 1)
    rnd.instruct("KBH", LATER + timedelta(days=1), 1)  # earlier in time, later in the log
    result = replay(rnd.log.events)
    assert_names(result, "payments_within_budget", rnd.log.events[-1])
    assert len(result.violations) == 1


def test_violations_are_listed_in_log_time_order() -> None:
    rnd = example_round()
    rnd.instruct("AARHUS", LATER + timedelta(days=2), 1)
    rnd.award("GENTOFTE", LATER, rank=2)
    result = replay(rnd.log.events)
    assert [v.invariant for v in result.violations] == [
        "sub_pool_within_amount", "payments_within_budget"]


# -- determinism -------------------------------------------------------------------------


def _interleave(events: list[LoggedEvent], seed: int) -> list[LoggedEvent]:
    """A random merge of the partitions that keeps each partition's order (as a consumer may)."""
    queues: dict[tuple[str, int], list[LoggedEvent]] = {}
    for e in events:
        queues.setdefault((e.topic, e.partition), []).append(e)
    rng = random.Random(seed)
    out: list[LoggedEvent] = []
    while queues:
        key = rng.choice(sorted(queues))
        out.append(queues[key].pop(0))
        if not queues[key]:
            del queues[key]
    return out


def test_replaying_twice_gives_the_same_state_and_digest() -> None:
    events = example_round().log.events
    first, second = Replay().apply_all(events), Replay().apply_all(events)
    assert first.result() == second.result()
    assert first.state_digest() == second.state_digest() == state_digest(replay(events))
    assert first.state_digest().startswith("sha256:")


@pytest.mark.parametrize("seed", range(5))
def test_any_merge_of_the_partitions_gives_the_same_digest(seed: int) -> None:
    rnd = example_round()
    rnd.award("GENTOFTE", LATER, rank=2)  # with a violation too
    events = rnd.log.events
    shuffled = _interleave(events, seed)
    assert shuffled != events
    assert replay(shuffled) == replay(events)
    assert state_digest(replay(shuffled)) == state_digest(replay(events))


def test_even_a_reversed_log_gives_the_same_digest() -> None:
    events = example_round().log.events
    assert state_digest(replay(list(reversed(events)))) == state_digest(replay(events))


def test_a_different_history_gives_a_different_digest() -> None:
    rnd = example_round()
    before = state_digest(replay(rnd.log.events))
    rnd.instruct("AARHUS", LATER, 1)
    assert state_digest(replay(rnd.log.events)) != before


def test_a_redelivered_event_counts_once() -> None:
    events = example_round().log.events
    again = [*events, events[5], events[20]]
    result = replay(again)
    assert result.duplicates == 2
    assert result.events == len(events)
    assert result.model_copy(update={"duplicates": 0}) == replay(events)


def test_events_without_a_position_can_be_replayed() -> None:
    events = example_round().log.events
    r = Replay()
    for e in events:
        r.apply_envelope(e.envelope)
    assert r.result().applications == replay(events).applications


def test_an_empty_log_verifies() -> None:
    result = replay([])
    assert result.verified and result.events == 0 and result.applications == {}


def test_a_round_without_payments_verifies() -> None:
    rnd = example_round()
    rnd.log.events = [e for e in rnd.log.events
                      if e.envelope.event_type not in ("PaymentInstructed", "PaymentExecuted")]
    assert replay(rnd.log.events).verified
    assert isinstance(rnd.log.events[0].envelope.payload, a.PoolPublished)
    assert not any(isinstance(e.envelope.payload, p.PaymentInstructed) for e in rnd.log.events)


# -- the checks use the log's own sources of truth --------------------------------------------


def test_a_uses_the_published_amount_not_what_the_award_claims() -> None:
    rnd = example_round()
    award = rnd.award("GENTOFTE", LATER, rank=2)
    # Rewrite the injected award to claim its sub-pool is bigger than the published 200 M.
    rnd.log.events.pop()
    rnd.log.add(award.model_copy(update={"sub_pool_amount_oere": 10**12}), LATER)
    assert_names(replay(rnd.log.events), "sub_pool_within_amount", rnd.log.events[-1])


def test_a_a_pool_without_sub_pools_is_limited_by_its_total() -> None:
    rnd = Round()
    pool = rnd.pool.model_copy(update={"sub_pools": []})
    rnd.pool = pool
    rnd.log.add(a.PoolPublished(pool_id=pool.pool_id, version=1, content_hash="sha256:x",
                                definition=pool, deadline=rnd.deadline), at("2025-04-01T09:00:00Z"))
    for action in rnd.data["actions"][:3]:
        rnd.submit(action)
    rnd.region = {}
    for ref in ("KBH", "GENTOFTE", "AARHUS"):
        rnd.eligible(ref, at("2025-05-20T10:00:00+02:00"))
    decided = at("2025-06-01T10:00:00+02:00")
    for ref in ("KBH", "GENTOFTE"):
        rnd.awarded[ref] = _award_without_region(rnd, ref, decided)
    assert replay(rnd.log.events).verified  # 150 + 100 M of 300 M
    rnd.awarded["AARHUS"] = _award_without_region(rnd, "AARHUS", LATER)  # 325 M > 300 M
    result = replay(rnd.log.events)
    assert_names(result, "sub_pool_within_amount", rnd.log.events[-1])
    assert result.pools["example-2025"].sub_pools == {}
    assert result.pools["example-2025"].awarded_oere == 325_000_000


def _award_without_region(rnd: Round, ref: str, when: datetime) -> a.GrantAwarded:
    event = a.GrantAwarded(
        application_id=rnd.app[ref], pool_id="example-2025", pool_version=1,
        programme="example-2025", region_code=None, sub_pool_amount_oere=300_000_000,
        municipality_code=rnd.applicant[ref].municipality_code, applicant=rnd.applicant[ref],
        amount_oere=rnd.budget[ref].total_oere, applied_oere=rnd.budget[ref].total_oere,
        score=18.0, rank=1,
        project_period=ProjectPeriod(start=date(2025, 7, 1), end=date(2025, 12, 31)),
        acceptance_deadline=when + timedelta(days=30), payment_frequency="quarterly",
        reporting_deadlines=[], budget_lines=list(rnd.budget[ref].lines), approved_by="ap",
        decided_at=when)
    rnd.log.add(event, when)
    return event


def test_f_the_published_deadline_decides_not_the_receipts() -> None:
    rnd = Round()
    rnd.publish_pool()
    action = dict(rnd.data["actions"][3])  # RANDERS, 10 minutes late
    when = at(action["at"])
    rnd.app["RANDERS"], rnd.sub["RANDERS"] = uid("app", "R"), uid("sub", "R")
    received = i.ApplicationReceived(
        submission_id=rnd.sub["RANDERS"], application_id=rnd.app["RANDERS"], version=1,
        pool_id="example-2025", applicant=Applicant.model_validate(action["applicant"]),
        purpose="p", target_group="t",
        budget=IndicativeBudget.model_validate(action["budget"]), received_at=when,
        received_at_local=action["at"], deadline=when + timedelta(hours=1),  # a wrong receipt
        timeliness="on_time")
    rnd.log.add(received, when)
    rnd.log.add(i.ApplicationAccepted(application_id=rnd.app["RANDERS"],
                                      submission_id=rnd.sub["RANDERS"], version=1,
                                      pool_id="example-2025", basis="on_time"), when)
    assert_names(replay(rnd.log.events), "no_late_acceptance", rnd.log.events[-1])
    # Without the pool in the log, the receipt's own deadline is all there is.
    assert replay(rnd.log.events[1:]).verified


def test_f_an_acceptance_of_a_version_never_received() -> None:
    rnd = example_round()
    rnd.log.add(i.ApplicationAccepted(application_id=rnd.app["KBH"],
                                      submission_id=uid("ghost"), version=2,
                                      pool_id="example-2025", basis="on_time"), LATER)
    result = replay(rnd.log.events)
    assert_names(result, "no_late_acceptance", rnd.log.events[-1])
    # The award now exceeds what the accepted (ghost) version applied for: nothing is known.
    assert result.violation("award_within_applied") is not None
