"""Assessment's HTTP command handlers (services/assessment/service.py: publish, score, allocate)
on a fake unit of work (tests/unit/servicekit/fake_database.py, held to PostgreSQL's behaviour
by the shared suite): what a handler stores (the pool row and its programme column, the changed
application files only, the programme's ledger) and emits (under which aggregate id, with which
cause), that a retry emits nothing and a refused command stores nothing. What the domain decides
is pinned by the domain's own tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from contracts.assessment import ApplicationScored, GrantAwarded, PoolPublished
from contracts.base import Actor
from contracts.refusal import Refusal
from servicekit.outbox import Cause
from services.assessment.domain import FundingLedger, PoolRound, ScoreApplication, evolve_ledger, evolve_round
from services.assessment import service as assessment_service
from services.assessment.domain import plan_allocation
from services.assessment.service import (
    Allocate, PublishPool, Score, allocate, preview_allocation, publish, score,
)
from services.assessment.store import LEDGERS, AssessmentStore
from tests.unit.assessment.builders import (
    DECIDED_AT, FULL, Harness, app_id, pool_raw, received,
)
from tests.unit.servicekit.fake_database import FakeService

POOL = "example-2025"
CAUSE = Cause(actor=Actor(id="caseworker-1", role="caseworker"), correlation_id="c-pool")


def service() -> FakeService:
    return FakeService(datetime(2025, 6, 1, 8, 0, tzinfo=UTC))


def publishing(raw: dict[str, Any]) -> PublishPool:
    return PublishPool(programme_id=raw["programme"], pool_id=raw["pool_id"], raw=raw,
                       cause=CAUSE)


async def stored_round(svc: FakeService, harness: Harness) -> None:
    """The harness's round and ledger, stored as the consumers leave them."""
    store = AssessmentStore(svc.conn)
    async with svc.conn.transaction():
        before = await store.lock_round(POOL, create=True)
        assert before is not None
        await store.save(before, harness.round)
        await store.save_ledger("example", harness.ledger)


def files(svc: FakeService) -> dict[Any, dict[str, Any]]:
    return svc.db.tables.get("application_files", {})


async def test_publishing_a_pool_stores_its_row_and_emits_under_the_pool() -> None:
    svc = service()
    in_force, emitted = await svc.handle(publish, publishing(pool_raw()))
    [event] = emitted
    assert isinstance(event.payload, PoolPublished) and event.payload == in_force
    assert (event.aggregate_id, event.correlation_id) == (f"pool:{POOL}", "c-pool")
    assert (await AssessmentStore(svc.conn).read_round(POOL)) == PoolRound(pool_id=POOL,
                                                                           pool=in_force)
    assert svc.db.tables["pool_rounds"][POOL]["programme"] == "example"  # for the programme's rounds
    assert await LEDGERS.read(svc.conn, "example") == FundingLedger()  # created, locked, kept
    again, emitted = await svc.handle(publish, publishing(pool_raw()))  # the same content
    assert (again, emitted) == (in_force, [])
    newer, emitted = await svc.handle(publish, publishing(pool_raw(title="Renamed pool")))
    assert [e.payload for e in emitted] == [newer] and newer.version == in_force.version + 1
    assert (await AssessmentStore(svc.conn).read_round(POOL)) == PoolRound(pool_id=POOL,
                                                                           pool=newer)


async def test_a_refused_publication_stores_nothing() -> None:
    svc = service()
    with pytest.raises(Refusal):
        await svc.handle(publish, PublishPool(programme_id="example", pool_id=POOL,
                                              raw=pool_raw(pool_id="other-2025"), cause=CAUSE))
    # neither the pool row nor the ledger the handler created before the refusal is kept
    assert svc.db.tables.get("pool_rounds", {}) == {} and svc.db.tables.get("funding_ledger",
                                                                            {}) == {}
    assert svc.db.envelopes == [] and svc.db.rollbacks == 1


def a_submitted_round() -> Harness:
    harness = Harness()
    harness.submit("KBH", "101", 150_000_000)
    harness.submit("GENTOFTE", "157", 100_000_000)
    return harness


def scoring(ref: str = "KBH", assessor: str = "assessor-a", **extra: Any) -> Score:
    return Score(ScoreApplication(application_id=app_id(ref), assessor=assessor,
                                  scores=FULL, justification="meets the criteria", **extra),
                 Cause(actor=Actor(id=assessor, role="assessor"), correlation_id="c-score"))


async def test_a_score_writes_only_its_applications_file_and_emits_under_it() -> None:
    svc = service()
    harness = a_submitted_round()
    await stored_round(svc, harness)
    other = dict(files(svc)[app_id("GENTOFTE")])
    pool_row = dict(svc.db.tables["pool_rounds"][POOL])
    aggregate, emitted = await svc.handle(score, scoring())
    [event] = emitted
    assert isinstance(event.payload, ApplicationScored) and event.payload.aggregate_score == aggregate
    assert (event.aggregate_id, event.correlation_id) == (str(app_id("KBH")), "c-score")
    stored = await AssessmentStore(svc.conn).read_round(POOL)
    assert stored is not None and stored.file(app_id("KBH")).scorings  # the score is kept
    assert files(svc)[app_id("GENTOFTE")] == other  # the other file is not rewritten
    assert svc.db.tables["pool_rounds"][POOL] == pool_row  # nor the pool row


async def test_a_new_pool_version_reassesses_and_rewrites_only_the_files_it_changed() -> None:
    svc = service()
    harness = a_submitted_round()
    harness.apply(received("WAITING", "751", 50_000_000))  # received, not accepted: not gated
    await stored_round(svc, harness)
    waiting = dict(files(svc)[app_id("WAITING")])
    newer, emitted = await svc.handle(publish, publishing(pool_raw(title="Renamed pool")))
    assert emitted[0].payload == newer
    gated = emitted[1:]
    assert {e.aggregate_id for e in gated} == {str(app_id("KBH")), str(app_id("GENTOFTE"))}
    assert {e.payload.pool_version for e in gated} == {newer.version}
    stored = await AssessmentStore(svc.conn).read_round(POOL)
    assert stored is not None and stored.pool == newer
    for e in gated:  # each re-assessment is kept in its file
        assert stored.file(e.payload.application_id) == harness_after(harness, emitted).file(
            e.payload.application_id)
    assert files(svc)[app_id("WAITING")] == waiting  # not even its updated_at moved


def harness_after(harness: Harness, emitted: list[Any]) -> PoolRound:
    state = harness.round
    for e in emitted:
        state = evolve_round(state, e.payload)
    return state


async def test_a_refused_score_stores_nothing() -> None:
    svc = service()
    harness = a_submitted_round()
    harness.score("KBH", "assessor-a", conflict=True)  # recused
    await stored_round(svc, harness)
    before = await AssessmentStore(svc.conn).read_round(POOL)
    with pytest.raises(Refusal) as refused:
        await svc.handle(score, scoring())
    assert refused.value.code == "assessor_recused"
    assert await AssessmentStore(svc.conn).read_round(POOL) == before
    assert svc.db.envelopes == []


async def test_scoring_an_unknown_application_is_refused_as_not_found() -> None:
    svc = service()
    await stored_round(svc, a_submitted_round())
    with pytest.raises(Refusal) as refused:
        await svc.handle(score, scoring("NOWHERE"))
    assert (refused.value.code, refused.value.kind) == ("application_unknown", "not_found")


async def test_an_allocation_stores_the_decisions_and_the_ledger_and_runs_once() -> None:
    svc = service()
    harness = a_submitted_round()
    harness.score("KBH", "assessor-a")
    harness.score("GENTOFTE", "assessor-b", {"1": 5, "2": 4, "3": 3, "4": 3, "5": 3})
    await stored_round(svc, harness)
    command = Allocate(pool_id=POOL, approver="approver-x", now=DECIDED_AT,
                       payment_frequencies=None, cause=CAUSE)
    decisions, emitted = await svc.handle(allocate, command)
    assert [e.payload for e in emitted] == decisions and decisions
    assert {e.aggregate_id for e in emitted} == {str(d.application_id) for d in decisions}
    awards = [d for d in decisions if isinstance(d, GrantAwarded)]
    assert awards
    stored = await AssessmentStore(svc.conn).read_round(POOL)
    assert stored is not None
    assert all(stored.file(d.application_id).decision is not None for d in decisions)
    ledger = await LEDGERS.read(svc.conn, "example")  # R2 across the programme's pools
    expected = harness.ledger
    for award in awards:
        expected = evolve_ledger(expected, award)
    assert ledger == expected and ledger != harness.ledger
    assert await svc.handle(allocate, command) == ([], [])  # nothing undecided: nothing again


async def test_allocating_an_unpublished_pool_is_refused_as_not_found() -> None:
    svc = service()
    with pytest.raises(Refusal) as refused:
        await svc.handle(allocate, Allocate(pool_id=POOL, approver="approver-x",
                                            now=DECIDED_AT, payment_frequencies=None,
                                            cause=CAUSE))
    assert (refused.value.code, refused.value.kind) == ("pool_not_published", "not_found")


@pytest.mark.parametrize("chunk", [1, 2, 500])
async def test_the_allocation_preview_read_in_chunks_plans_as_the_whole_round(
        chunk: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(assessment_service, "ALLOCATION_CHUNK", chunk)
    svc = service()
    harness = a_submitted_round()
    harness.score("KBH", "assessor-a")
    harness.score("GENTOFTE", "assessor-b", {"1": 5, "2": 4, "3": 3, "4": 3, "5": 3})
    await stored_round(svc, harness)
    preview = await preview_allocation(svc.conn, POOL, "assessor-a")
    assert preview.plan == plan_allocation(harness.round, harness.ledger)
    recommended = {r.application_id for r in preview.plan.recommendations}
    assert set(preview.names) == recommended and all(preview.names.values())
    assert preview.assessed_by_caller == [app_id("KBH")]
    assert (await preview_allocation(svc.conn, POOL, "approver-x")).assessed_by_caller == []
    with pytest.raises(Refusal) as refused:
        await preview_allocation(svc.conn, "elsewhere", "approver-x")
    assert refused.value.code == "pool_not_published"


async def test_a_published_pool_without_applications_previews_an_empty_plan() -> None:
    svc = service()
    await svc.handle(publish, publishing(pool_raw()))
    preview = await preview_allocation(svc.conn, POOL, "approver-x")
    assert not preview.plan.recommendations and preview.names == {}
    assert preview.pool.pool_id == POOL
