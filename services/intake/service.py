"""Intake's service layer: plain command handlers, each one unit of work around the domain.

A handler takes the unit of work and a command (``handler(uow, command)``): the HTTP routes
(:mod:`.routes`) run it with ``runtime.handle``, the consumers (:mod:`.handlers`) in their
batch's transaction. It claims and locks what the command changes (:mod:`.store`), asks the
domain, saves the evolved state and emits the events through the outbox. No rule lives here.

Submissions: ``POST /submissions`` and the portal topic both end in :func:`handle_submissions`
(HTTP through :class:`SubmissionBatcher`, which groups the requests that arrive together).

Aggregate ids: the application id for everything about one application; a submission refused
before it could be tied to an application record is keyed by its submission id, or by
:data:`UNIDENTIFIED` when not even that could be read.
"""

from __future__ import annotations

import asyncio
from contextlib import AbstractContextManager, nullcontext
from collections.abc import Callable, Iterable, Mapping, Sequence, Set
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from contracts.assessment import PoolPublished
from contracts.base import Contract
from contracts.intake import Receipt
from contracts.refusal import Refusal
from contracts.register import OrganisationRecorded
from servicekit.clock import Clock
from servicekit.identity import AuthError, Principal
from servicekit.outbox import Cause
from servicekit.service import ServiceRuntime, UnitOfWork
from services.intake.domain import (
    ApplicationState,
    DecideItProblemException,
    Decision,
    IntakeEvent,
    ParsedSubmission,
    ReportItProblem,
    application_read,
    authorise_submission_read,
    binds_submission_id,
    contact_reported_by,
    decide_contact,
    decide_exception_decision,
    decide_received,
    evolve_all,
    published_refusal,
    readable_application,
    receipt_for,
    recorded_nowhere,
)
from services.intake.store import Claim, IntakeStore, PoolCache

UNIDENTIFIED = "submission:unidentified"


def _emit(uow: UnitOfWork, events: Iterable[IntakeEvent], aggregate_id: str,
          cause: Cause) -> None:
    for event in events:
        uow.emit(event, aggregate_id=aggregate_id, cause=cause)


async def apply_decision(store: IntakeStore, state: ApplicationState, decision: Decision,
                         uow: UnitOfWork, cause: Cause) -> ApplicationState:
    """Save the state the decision's events produce and emit them, keyed by the application."""
    if not decision.events:
        return state
    evolved = evolve_all(state, decision.events)
    await store.save_application(evolved)
    _emit(uow, decision.events, str(state.application_id), cause)
    return evolved


async def pools_for(store: IntakeStore, pools: PoolCache,
                    pool_id: str | None) -> dict[str, PoolPublished]:
    """``store.pools_for`` through the cache: the pool's version is read, its JSON only when the
    cache does not hold that version."""
    if pool_id is None:
        return {}
    loaded = await store.load([], [], pools.versions([pool_id]))
    return await pools.resolve(store, loaded, [pool_id])


# -- submissions (both ways in) ---------------------------------------------------------------------

@dataclass(frozen=True)
class Submission:
    """One submission to decide: as parsed, who sent it, when it arrived, and the cause its
    events carry."""

    parsed: ParsedSubmission
    who: Principal | AuthError
    now: datetime
    cause: Cause
    # A submission refused by its token (401/403) or its organisation (cvr_mismatch) is recorded
    # nowhere (domain ``recorded_nowhere``): over HTTP nothing is written (``refusal_key`` None:
    # the caller reads its answer); on the portal topic the refusal is published keyed by the
    # record's key, never by ids from the body (issue 14).
    refusal_key: str | None = None
    # What its events are emitted inside (a portal record's trace scope): in a batch of many
    # records, each submission's events carry its own record's trace, not the batch's.
    scope: Callable[[], AbstractContextManager[object]] = nullcontext

    @property
    def principal(self) -> Principal | None:
        return self.who if isinstance(self.who, Principal) else None


@dataclass(frozen=True)
class DecideSubmissions:
    """Submissions to decide in order, in one transaction."""

    submissions: Sequence[Submission]
    pools: PoolCache
    clock: Clock


class _SubmissionIds:
    """The submission index as a batch goes: ids bound before it never change; ids it bound
    (``ours``, as ``load`` inserted them) are bound by their first submission, released when
    that one does not bind it (domain ``binds_submission_id``), and may then be bound by a later
    one; :meth:`settle` stores the outcome."""

    def __init__(self, loaded: Mapping[UUID, Claim],
                 claims: Sequence[tuple[UUID, UUID, str | None]]) -> None:
        self._before = {s: c.application_id for s, c in loaded.items() if not c.new}
        self._ours: dict[UUID, tuple[UUID, str | None]] = {}
        for submission_id, application_id, cvr in claims:
            if loaded[submission_id].new:
                self._ours.setdefault(submission_id, (application_id, cvr))
        self._binding: dict[UUID, tuple[UUID, str | None]] = {}

    def bind(self, submission_id: UUID, application_id: UUID, cvr: str | None
             ) -> tuple[UUID, bool]:
        """The application the id is bound to, and whether this submission just bound it."""
        if submission_id in self._before:
            return self._before[submission_id], False
        if submission_id in self._binding:
            return self._binding[submission_id][0], False
        self._binding[submission_id] = (application_id, cvr)
        return application_id, True

    def release(self, submission_id: UUID) -> None:
        del self._binding[submission_id]

    async def settle(self, store: IntakeStore) -> None:
        ours, binding = self._ours, self._binding
        await store.settle_claims(
            [s for s in ours if s not in binding],
            [(s, *binding[s]) for s in ours if s in binding and binding[s] != ours[s]])


async def handle_submissions(uow: UnitOfWork, cmd: DecideSubmissions) -> list[Decision]:
    """Decide the submissions in order; emit their events in order.

    Exactly what deciding them one after the other would do (claim the submission id, lock the
    application, decide, release the claim of a submission that binds nothing, save, emit),
    with set-based statements: one to claim every submission id and lock every application (in
    id order), one to save the applications that changed. In between, the states, the claims
    and the pools are held in memory, so a later submission of the same application (or with the
    same submission id) sees what an earlier one in the batch did.
    """
    store = IntakeStore(uow.conn)
    subs = cmd.submissions
    reads = [application_read(s.parsed, s.principal.claims if s.principal else None)
             for s in subs]
    claims: list[tuple[UUID, UUID, str | None]] = []
    locks: list[UUID] = []
    pool_ids: set[str] = set()
    for sub, application_id in zip(subs, reads):
        if application_id is None:
            continue
        command = sub.parsed.command
        if command is not None and sub.principal is not None:
            claims.append((command.submission_id, application_id, sub.principal.cvr))
            pool_ids.add(command.pool_id)
        locks.append(application_id)
    loaded = await store.load(claims, locks, cmd.pools.versions(pool_ids))
    published = await cmd.pools.resolve(store, loaded, pool_ids)
    register = await store.organisations(
        s.parsed.command.applicant.cvr for s in subs
        if s.parsed.command is not None and s.principal is not None)
    states = loaded.states
    ids = _SubmissionIds(loaded.claims, claims)
    changed: dict[UUID, None] = {}
    decisions: list[Decision] = []
    for sub, application_id in zip(subs, reads):
        command, who = sub.parsed.command, sub.principal
        # the application whose state the events change
        target = states[application_id] if application_id is not None else None
        bound_to, new, pools = None, False, {}
        if command is not None and target is not None and who is not None:
            bound_to, new = ids.bind(command.submission_id, target.application_id, who.cvr)
            pool = published.get(command.pool_id)
            pools = {} if pool is None else {pool.pool_id: pool}
        decision = decide_received(
            sub.parsed, sub.now, refused_token=sub.who.code if isinstance(sub.who, AuthError) else None,
            claims=who.claims if who is not None else {}, state=target, pools=pools,
            register=register, bound_to=bound_to)
        if new and command is not None and not binds_submission_id(decision):
            ids.release(command.submission_id)
        decisions.append(decision)
        if not decision.events:
            continue
        # occurred_at is the time this submission was received, as when decided alone
        with sub.scope(), cmd.clock.at(sub.now.isoformat() if cmd.clock.simulated else None):
            if recorded_nowhere(decision):
                if sub.refusal_key is not None:
                    _emit(uow, published_refusal(decision), sub.refusal_key, sub.cause)
                continue
            if target is not None:
                aggregate = str(target.application_id)
                states[target.application_id] = evolve_all(target, decision.events)
                changed[target.application_id] = None
            else:
                sid = sub.parsed.submission_id
                aggregate = str(sid) if sid is not None else UNIDENTIFIED
            _emit(uow, decision.events, aggregate, sub.cause)
    await store.save_applications(states[a] for a in changed)
    await ids.settle(store)
    return decisions


class SubmissionBatcher:
    """Group commit for HTTP submissions: the submissions that arrive while a transaction is
    under way are decided together in the next one (each still answered with its own receipt).

    Nothing waits for a batch to fill: an idle service decides a submission at once, alone; under
    a burst, each transaction takes everything that queued up meanwhile (at most ``max_batch``),
    so the database round trips, the outbox flush and the commit are shared instead of queueing
    up one per request. The decisions are the ones deciding them one by one in arrival order
    would give (:func:`handle_submissions`). When a batch fails for any reason, each of its
    submissions is tried again in a transaction of its own, so an error reaches only the request
    that causes it.
    """

    def __init__(self, runtime: ServiceRuntime, pools: PoolCache, max_batch: int = 500) -> None:
        self._runtime = runtime
        self._pools = pools
        self._max = max_batch
        self._queue: list[tuple[Submission, asyncio.Future[Decision]]] = []
        self._worker: asyncio.Task[None] | None = None

    async def decide(self, submission: Submission) -> Decision:
        future: asyncio.Future[Decision] = asyncio.get_running_loop().create_future()
        self._queue.append((submission, future))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._drain(), name="intake-submission-batches")
        return await asyncio.shield(future)  # a request that goes away leaves its decision be

    async def _drain(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[:self._max], self._queue[self._max:]
            try:
                decisions = await self._write([s for s, _ in batch])
            except Exception:  # noqa: BLE001 - the batch failed: each one alone, with its error
                for submission, future in batch:
                    try:
                        decided = await self._write([submission])
                    except Exception as exc:  # noqa: BLE001 - answered by that request
                        future.set_exception(exc)
                    else:
                        future.set_result(decided[0])
            else:
                for (_, future), decision in zip(batch, decisions):
                    future.set_result(decision)

    async def _write(self, submissions: list[Submission]) -> list[Decision]:
        return await self._runtime.handle(handle_submissions, DecideSubmissions(
            submissions, self._pools, self._runtime.clock))


# -- pools and the organisation register --------------------------------------------------------------

@dataclass(frozen=True)
class RecordPoolEvents:
    """Pool-topic events, in order; those that are not intake's are passed over."""

    payloads: Sequence[Contract]


async def record_pool_events(uow: UnitOfWork, cmd: RecordPoolEvents) -> list[PoolPublished]:
    """Keep the latest ``PoolPublished`` of each pool and the latest register entry of each CVR
    (``OrganisationRecorded``); returns the pools stored, for the cache once committed."""
    store = IntakeStore(uow.conn)
    stored = []
    for payload in cmd.payloads:
        if isinstance(payload, PoolPublished):
            await store.save_pool(payload)
            stored.append(payload)
        elif isinstance(payload, OrganisationRecorded):
            await store.save_organisation(payload)
    return stored


# -- IT-problem exceptions (R6–R8) ----------------------------------------------------------------------

@dataclass(frozen=True)
class Caller:
    """The verified caller as the domain sees it, and the cause of its events by role."""

    roles: Set[str]
    cvr: str | None
    claims: Mapping[str, Any]
    cause_as: Callable[[str], Cause]


@dataclass(frozen=True)
class ReportContact:
    """An IT-problem contact; ``contact`` builds the domain command for the applicant found."""

    application_id: UUID
    pool_id: str
    contact: Callable[[str], ReportItProblem]
    caller: Caller
    now: datetime
    pools: PoolCache


async def report_it_problem(uow: UnitOfWork, cmd: ReportContact
                            ) -> tuple[Decision, ApplicationState]:
    store = IntakeStore(uow.conn)
    loaded = await store.load([], [cmd.application_id], cmd.pools.versions([cmd.pool_id]))
    state = loaded.states[cmd.application_id]
    applicant_cvr, role = contact_reported_by(cmd.caller.roles, cmd.caller.cvr,
                                              state.applicant_cvr)
    decision = decide_contact(state, cmd.contact(applicant_cvr), cmd.now,
                              claims=cmd.caller.claims,
                              pools=await cmd.pools.resolve(store, loaded, [cmd.pool_id]))
    return decision, await apply_decision(store, state, decision, uow,
                                          cmd.caller.cause_as(role))


@dataclass(frozen=True)
class DecideException:
    command: DecideItProblemException
    caller: Caller
    now: datetime
    pools: PoolCache


async def decide_it_problem(uow: UnitOfWork, cmd: DecideException
                            ) -> tuple[Decision, ApplicationState]:
    store = IntakeStore(uow.conn)
    state = await store.lock_application(cmd.command.application_id)
    decision = decide_exception_decision(state, cmd.command, cmd.now, claims=cmd.caller.claims,
                                         pools=await pools_for(store, cmd.pools, state.pool_id))
    return decision, await apply_decision(store, state, decision, uow,
                                          cmd.caller.cause_as("caseworker"))


# -- queries (nothing changes, nothing is emitted) --------------------------------------------------------

async def read_receipt(pool: asyncpg.Pool, submission_id: UUID, token_cvr: str | None
                       ) -> Receipt:
    """A submission's receipt as its record stands now, for the organisation that sent it."""
    async with pool.acquire() as conn:
        store = IntakeStore(conn)
        indexed = await store.submission(submission_id)
        state = (await store.read_application(indexed.application_id)
                 if indexed is not None else None)
    receipt = receipt_for(state, submission_id) if state is not None else None
    if indexed is None or receipt is None:
        raise Refusal("submission_unknown", "no submission with this id", "not_found")
    authorise_submission_read(token_cvr, indexed.submitter_cvr)
    return receipt


async def read_application(pool: asyncpg.Pool, application_id: UUID, roles: Set[str],
                           token_cvr: str | None) -> ApplicationState:
    async with pool.acquire() as conn:
        state = await IntakeStore(conn).read_application(application_id)
    return readable_application(state, roles, token_cvr)
