"""Assessment's service layer for its HTTP commands: plain command handlers, each one unit of
work (``handler(uow, command)``, run by ``runtime.handle(..., retry_on=(Moved,))``) around the
domain — publish a pool, import a prior award, score, allocate. No rule lives here."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from contracts.assessment import GrantAwarded, PoolPublished, PriorAwardImported
from contracts.pools import PaymentFrequency
from contracts.refusal import Refusal
from servicekit.outbox import Cause
from servicekit.service import UnitOfWork
from services.assessment.domain import (
    PoolRound, ScoreApplication, evolve_files, evolve_ledger, evolve_ledger_all, evolve_round, prior_award, publish_pool,
    reassess_pool, score_application,
)
from services.assessment.domain.allocation import (
    AllocationPlan, Candidate, candidates_of, plan_candidates,
)
from services.assessment.domain.decisions import Decided, check_approval, decide
from services.assessment.domain.scoring import participants
from services.assessment.handlers import pool_aggregate, programme_aggregate
from services.assessment.register_store import RegisterStore
from services.assessment.store import AssessmentStore


class Moved(Exception):
    """The pool's programme changed between reading it and locking it: run the command again."""


def published(state: PoolRound | None, pool_id: str) -> PoolRound:
    if state is None or state.pool is None:
        raise Refusal("pool_not_published", f"pool {pool_id!r} is not published", "not_found")
    return state


def published_pool(pool: PoolPublished | None, pool_id: str) -> PoolPublished:
    if pool is None:
        raise Refusal("pool_not_published", f"pool {pool_id!r} is not published", "not_found")
    return pool


async def application_round(store: AssessmentStore, application_id: UUID, *,
                       lock: bool) -> PoolRound:
    """The round holding just this application's file (locked for a command)."""
    state = await (store.lock_application(application_id) if lock
                   else store.read_application(application_id))
    if state is None or str(application_id) not in state.applications:
        raise Refusal("application_unknown", f"no application {application_id}", "not_found")
    return state


def reassess(uow: UnitOfWork, state: PoolRound, ledger: Any, cause: Cause) -> PoolRound:
    """Re-run the gate after a new pool version or prior award; emit what changed."""
    for result in reassess_pool(state, ledger):
        state = evolve_round(state, result)
        uow.emit(result, aggregate_id=str(result.application_id), cause=cause)
    return state


@dataclass(frozen=True)
class PublishPool:
    programme_id: str
    pool_id: str
    raw: Any
    cause: Cause


async def publish(uow: UnitOfWork, cmd: PublishPool) -> PoolPublished:
    store = AssessmentStore(uow.conn)
    ledger = await store.lock_ledger(cmd.programme_id)
    before = await store.lock_round(cmd.pool_id, create=True)
    assert before is not None
    state = before
    event = publish_pool(state, cmd.raw)
    if event is not None:
        state = evolve_round(state, event)
        uow.emit(event, aggregate_id=pool_aggregate(state.pool_id), cause=cmd.cause)
        state = reassess(uow, state, ledger, cmd.cause)
        await store.save(before, state)
    assert state.pool is not None
    return state.pool  # unchanged content: the version already in force


@dataclass(frozen=True)
class ImportPriorAward:
    programme: str
    event: PriorAwardImported
    cause: Cause


async def prior_award_named(register: RegisterStore, programme: str, pool_id: str,
                            cvr: str | None, municipality_code: str | None) -> PriorAwardImported:
    """The prior award a caseworker names, with what the register says of its grantee: the
    CVR's entry, or for a municipality alone its entries of kind municipality."""
    entry = await register.entry(cvr) if cvr else None
    own = ([] if cvr or municipality_code is None else
           await register.of_municipality(municipality_code, "municipality"))
    return prior_award(programme, pool_id, cvr, municipality_code, entry, own)


async def import_prior_award(uow: UnitOfWork, cmd: ImportPriorAward) -> bool:
    store = AssessmentStore(uow.conn)
    ledger = await store.lock_ledger(cmd.programme)
    updated = evolve_ledger(ledger, cmd.event)
    if updated == ledger:
        return False  # imported before: one effect
    uow.emit(cmd.event, aggregate_id=programme_aggregate(cmd.programme), cause=cmd.cause)
    await store.save_ledger(cmd.programme, updated)
    for state in await store.lock_rounds_of(cmd.programme):
        await store.save(state, reassess(uow, state, updated, cmd.cause))
    return True


@dataclass(frozen=True)
class Score:
    command: ScoreApplication
    cause: Cause


async def score(uow: UnitOfWork, cmd: Score) -> float | None:
    store = AssessmentStore(uow.conn)
    application_id = cmd.command.application_id
    state = await application_round(store, application_id, lock=True)
    event = score_application(state, cmd.command)
    uow.emit(event, aggregate_id=str(application_id), cause=cmd.cause)
    # a score or recusal always changes the file, and only it (store.save would compare the
    # pool and the file before and after to find that out)
    await store.save_file(state.pool_id, evolve_round(state, event).file(application_id))
    return event.aggregate_score


@dataclass(frozen=True)
class Allocate:
    pool_id: str
    approver: str
    now: datetime
    payment_frequencies: dict[UUID, PaymentFrequency] | None
    cause: Cause


ALLOCATION_CHUNK = 500
"""Application files an allocation holds at once (parsed), reading and writing a pool."""


_paused = [0, False]  # allocations running with the cyclic GC paused; was it on before them


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Pause the cyclic collector (for the whole process) while an allocation runs.

    An allocation keeps a pool's candidates, plan and decisions alive while it parses and drops
    its files a chunk at a time; every parsed file is promoted to the old generation before it
    dies, so full collections kept coming, each walking everything alive: at 10,000
    applications 12 full collections took 1.55 s of the command's 3.35 s CPU, at 50,000 43 took
    9.2 s of 18.3 s (superlinear). Reference counting frees what it drops as before; only
    cyclic garbage (its own or other work's) waits until the allocation is done."""
    if _paused[0] == 0:
        _paused[1] = gc.isenabled()
        gc.disable()
    _paused[0] += 1
    try:
        yield
    finally:
        _paused[0] -= 1
        if _paused[0] == 0 and _paused[1]:
            gc.enable()


def _chunks(ids: list[UUID]) -> list[list[UUID]]:
    return [ids[i:i + ALLOCATION_CHUNK] for i in range(0, len(ids), ALLOCATION_CHUNK)]


async def _parts(store: AssessmentStore, pool: PoolPublished) -> AsyncIterator[PoolRound]:
    """Every file of ``pool``'s round, as parts of :data:`ALLOCATION_CHUNK` files (in id
    order), read in the caller's transaction."""
    for ids in _chunks(await store.application_ids(pool.pool_id)):
        yield await store.part_of_round(pool, ids)


async def allocate(uow: UnitOfWork, cmd: Allocate) -> list[Any]:
    """Plan, approve and decide a pool, a chunk of files at a time: the files are read once to
    plan (each reduced to its ``Candidate``), and the decided ones again to decide and write
    them (``evolve_files`` on each chunk's part of the round)."""
    with _cyclic_gc_paused():
        return await _allocate(uow, cmd)


async def _allocate(uow: UnitOfWork, cmd: Allocate) -> list[Any]:
    store = AssessmentStore(uow.conn)
    read = published_pool(await store.read_pool(cmd.pool_id), cmd.pool_id)
    programme = read.definition.programme_id
    ledger = await store.lock_ledger(programme)  # R2 across the programme's pools
    pool = published_pool(await store.lock_pool(cmd.pool_id), cmd.pool_id)
    if pool.definition.programme_id != programme:
        raise Moved()
    candidates: list[Candidate] = []
    async for part in _parts(store, pool):
        candidates += candidates_of(part, ledger)
    approval = check_approval(pool, candidates, cmd.approver, cmd.now,
                              payment_frequencies=cmd.payment_frequencies)
    del candidates
    recommended = {rec.application_id: rec for rec in approval.plan.recommendations}
    made: dict[UUID, Decided] = {}
    for ids in _chunks(sorted(recommended)):
        before = await store.part_of_round(pool, ids)
        chunk = [decide(approval, recommended[a], before.file(a).accepted) for a in ids]
        await store.save(before, evolve_files(before, chunk))
        made.update((d.application_id, d) for d in chunk)
    decisions = [made[rec.application_id] for rec in approval.plan.recommendations]
    for decision in decisions:
        uow.emit(decision, aggregate_id=str(decision.application_id), cause=cmd.cause)
    await store.save_ledger(programme, evolve_ledger_all(
        ledger, (d for d in decisions if isinstance(d, GrantAwarded))))
    return decisions


@dataclass(frozen=True)
class AllocationPreview:
    """What approving a pool now would decide, as the console's plan page shows it."""

    pool: PoolPublished
    plan: AllocationPlan
    names: dict[UUID, str]  # the recommended applications' applicants
    assessed_by_caller: list[UUID]  # recommended applications the caller scored or recused from


async def round_in_parts(conn: Any, pool_id: str) -> AsyncIterator[PoolRound]:
    """A published pool's round a chunk of files at a time (each part a round of those files),
    in one read-only repeatable-read snapshot so the parts agree with one another: a query over
    a whole round never holds every parsed file (10,000 of them were ~110 MiB)."""
    store = AssessmentStore(conn)
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        pool = published_pool(await store.read_pool(pool_id), pool_id)
        empty = True
        async for part in _parts(store, pool):
            empty = False
            yield part
        if empty:
            yield PoolRound(pool_id=pool_id, pool=pool)


async def preview_allocation(conn: Any, pool_id: str, caller: str) -> AllocationPreview:
    """The plan :func:`allocate` would carry out, read as it reads: each file reduced to its
    ``Candidate`` (:func:`round_in_parts`)."""
    candidates: list[Candidate] = []
    names: dict[UUID, str] = {}
    assessed: set[UUID] = set()
    pool: PoolPublished | None = None
    async for part in round_in_parts(conn, pool_id):
        if pool is None:
            pool = part.pool
            ledger = await AssessmentStore(conn).read_ledger(part.definition.programme_id)
        candidates += candidates_of(part, ledger)
        for file in part.files():
            names[file.application_id] = file.accepted.applicant.name if file.accepted else ""
            if caller in participants(file):
                assessed.add(file.application_id)
    assert pool is not None  # round_in_parts yields at least one part or refuses
    plan = plan_candidates(pool, candidates)
    recommended = [r.application_id for r in plan.recommendations]
    return AllocationPreview(pool, plan, {a: names.get(a, "") for a in recommended},
                             sorted(a for a in recommended if a in assessed))
