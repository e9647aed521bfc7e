"""The pool overview: figures per pool and sub-pool, and each application's timeline."""

from __future__ import annotations

from contracts.examples import EXAMPLE_PAYLOADS, example_envelope
from contracts.registry import EVENTS
from services.reporting.domain.pool_overview import UNASSIGNED, pool_overview, summarise
from audit.replay import replay
from tests.unit.reporting.builders import Log, example_round


def test_figures_per_pool_and_sub_pool() -> None:
    overview = pool_overview(example_round().log.events)
    pool = overview.pools["example-2025"]
    assert pool.total.applications == 4
    assert pool.total.applied_oere == 375_000_000
    assert (pool.total.awards, pool.total.awarded_oere) == (2, 225_000_000)
    assert (pool.total.accepted, pool.total.accepted_oere) == (2, 225_000_000)
    assert (pool.total.paid_oere, pool.total.spent_oere) == (225_000_000, 224_000_000)
    assert (pool.total.repaid_oere, pool.total.waived_oere) == (1_000_000, 0)
    hovedstaden, midtjylland = pool.sub_pools["1084"], pool.sub_pools["1082"]
    assert (hovedstaden.applications, hovedstaden.awards, hovedstaden.repaid_oere) == (
        2, 1, 1_000_000)
    # RANDERS (late, never assessed) is placed by its municipality's region.
    assert (midtjylland.applications, midtjylland.applied_oere) == (2, 125_000_000)
    assert UNASSIGNED not in pool.sub_pools


def test_the_overview_agrees_with_the_audit() -> None:
    events = example_round().log.events
    overview, audit = pool_overview(events), replay(events)
    for code, sub in audit.pools["example-2025"].sub_pools.items():
        figures = overview.pools["example-2025"].sub_pools[code]
        assert (figures.awards, figures.awarded_oere) == (sub.awards, sub.awarded_oere)


def test_each_application_has_its_timeline_in_time_order() -> None:
    rnd = example_round()
    overview = pool_overview(rnd.log.events)
    kbh = overview.timelines[str(rnd.app["KBH"])]
    types = [e.event_type for e in kbh]
    assert types[:2] == ["ApplicationReceived", "ApplicationAccepted"]
    assert "PaymentExecuted" in types  # joined through its instruction
    assert types[-1] == "RepaymentClaimed"
    assert [e.occurred_at for e in kbh] == sorted(e.occurred_at for e in kbh)
    assert kbh[-1].summary == "repayment of 10,000.00 DKK claimed"
    assert any(e.summary == "awarded 1,500,000.00 DKK (rank 1)" for e in kbh)
    randers = overview.timelines[str(rnd.app["RANDERS"])]
    assert [e.summary for e in randers][-1] == "rejected as late: deadline_passed"


def test_plain_envelopes_work_too() -> None:
    events = example_round().log.events
    assert pool_overview([e.envelope for e in events]) == pool_overview(events)


def test_every_event_type_with_an_application_has_a_summary() -> None:
    for payload in EXAMPLE_PAYLOADS:
        env = example_envelope(payload)
        text = summarise(env)
        assert text and "29189846" not in text and "Aarhus" not in text
        if env.event_type not in ("PoolPublished", "PriorAwardImported", "PaymentsReleased",
                                  "OrganisationRecorded", "RegisterSourceLoaded",
                                  "SubmissionUnauthorized"):
            assert text != env.event_type, env.event_type
    assert len(EXAMPLE_PAYLOADS) == len(EVENTS)


def test_an_empty_log() -> None:
    overview = pool_overview([])
    assert overview.pools == {} and overview.timelines == {}
    assert pool_overview(Log().events).pools == {}
