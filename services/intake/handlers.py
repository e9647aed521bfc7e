"""Thin adapters around the intake domain: the portal consumer, the pools consumer, HTTP routes.

Two ways in, one behaviour: ``POST /submissions`` and the portal topic both end in
:func:`write_submission`, which verifies the token, decides with the pure domain in one
transaction (claim the submission id, lock the application, decide, save, emit) and returns the
domain's :class:`Decision`, whose receipt is the HTTP body and whose events go to the outbox.

Aggregate ids: the application id for everything about one application; a submission refused
before it could be tied to an application record is keyed by its submission id, or by
:data:`UNIDENTIFIED` when not even that could be read.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from logging import DEBUG
from typing import Annotated, Any, Protocol, TypeVar
from uuid import UUID

import asyncpg
from aiokafka import ConsumerRecord
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from contracts.assessment import PoolPublished
from contracts.base import Actor, Contract, Reason, UtcDatetime
from contracts.bounds import single_line
from contracts.envelope import SIMULATED_TIME_HEADER
from contracts.intake import Receipt, SubmissionUnauthorized
from contracts.refusal import Refusal
from contracts.register import OrganisationRecorded
from servicekit import logging
from servicekit.clock import Clock
from servicekit.consumer import AfterCommit, BatchHandler, Incoming
from servicekit.http import bearer_token, cause_of_request
from servicekit.identity import AuthError, Principal, TokenVerifier
from servicekit.outbox import Cause, Emitter
from servicekit.service import ServiceRuntime
from services.intake.domain import (
    REASON_CODES,
    ApplicationState,
    DecideItProblemException,
    Answer,
    Decision,
    IntakeEvent,
    ParsedSubmission,
    ReportItProblem,
    application_id_for,
    binds_submission_id,
    authorise_submitter,
    decide_malformed,
    decide_submission,
    decide_token_refusal,
    evolve_all,
    exception_id_for,
    intake_outcome,
    parse_portal_submission,
    parse_submission,
    receipt_for,
    token_reason,
)
from services.intake.service import (
    Caller,
    DecideException,
    ReportContact,
    decide_it_problem,
    report_it_problem,
)
from services.intake.store import IntakeStore, PoolCache

log = logging.get_logger(__name__)
T = TypeVar("T")
UNIDENTIFIED = "submission:unidentified"
# Evidence references end up in the JSONB state: no control characters (NUL cannot be stored);
# the one-line text kind of contracts.bounds, whose schema states the rule.
EvidenceRef = single_line(500, min_length=1)


class Sink(Protocol):
    """Where events go: a consumer's :class:`Emitter` or an HTTP :class:`UnitOfWork`."""

    def emit(self, payload: Contract, *, aggregate_id: str, cause: Cause) -> Any: ...


# -- the one behaviour behind both ways in ---------------------------------------------------------

def verify(verifier: TokenVerifier, token: str | None) -> Principal | AuthError:
    try:
        return verifier.verify(token)
    except AuthError as refused:
        return refused


class TokenCache:
    """Verified principals by token string, each until its token's ``exp`` (a bounded LRU).

    Verifying a signature costs more than deciding most submissions, and a portal sends many
    submissions with one token. Only a token that verified is kept, and only until its ``exp``
    (not the verifier's leeway after it: from then on the verifier decides again, so an expired
    token is refused exactly as without the cache). Refusals are never kept: each is verified,
    and refused, again. The keys are the issuer's, fixed for the process' life.
    """

    def __init__(self, verifier: Callable[[], TokenVerifier], max_entries: int = 10_000) -> None:
        self._verifier = verifier
        self._max = max_entries
        self._held: OrderedDict[str, tuple[float, Principal]] = OrderedDict()

    def verify(self, token: str | None) -> Principal | AuthError:
        if token:
            held = self._held.get(token)
            if held is not None:
                if time.time() < held[0]:
                    self._held.move_to_end(token)
                    return held[1]
                del self._held[token]
        who = verify(self._verifier(), token)
        if isinstance(who, Principal) and token:
            exp = who.claims.get("exp")
            if isinstance(exp, int | float) and not isinstance(exp, bool) and exp > time.time():
                self._held[token] = (float(exp), who)
                if len(self._held) > self._max:
                    self._held.popitem(last=False)
        return who


def _refused_aggregate(parsed: ParsedSubmission) -> str:
    return str(parsed.submission_id) if parsed.submission_id is not None else UNIDENTIFIED


@dataclass(frozen=True)
class Submission:
    """One submission to decide: as parsed, who sent it, when it arrived, and the cause its
    events carry."""

    parsed: ParsedSubmission
    who: Principal | AuthError
    now: datetime
    cause: Cause
    # A submission refused by its token (401/403) or its organisation (cvr_mismatch): over HTTP
    # nothing is written (``refusal_key`` None: the caller reads its answer); on the portal topic
    # the refusal is published keyed by the record's key, never by ids from the body, and
    # nothing of the body is stored (issue 14).
    refusal_key: str | None = None


async def write_submission(
    conn: asyncpg.Connection, sink: Sink, parsed: ParsedSubmission,
    who: Principal | AuthError, now: datetime, cause: Cause, *, pools: PoolCache, clock: Clock,
) -> Decision:
    """Decide one submission received at ``now`` in the caller's transaction; emit its events."""
    decisions = await write_submissions(conn, sink, [Submission(parsed, who, now, cause)],
                                        pools=pools, clock=clock)
    return decisions[0]


async def write_submissions(
    conn: asyncpg.Connection, sink: Sink, submissions: Sequence[Submission], *,
    pools: PoolCache, clock: Clock,
) -> list[Decision]:
    """Decide ``submissions`` in order in the caller's transaction; emit their events in order.

    Exactly what deciding them one after the other would do (claim the submission id, lock the
    application, decide, release the claim of a refused token, save, emit), with set-based
    statements: one to claim every submission id and lock every application (in id order), one
    to save the applications that changed. In between, the states, the claims and the pools are
    held in memory, so a later submission of the same application (or with the same submission
    id) sees what an earlier one in the batch did.
    """
    store = IntakeStore(conn)
    claims: list[tuple[UUID, UUID, str | None]] = []
    locks: list[UUID] = []
    pool_ids: set[str] = set()
    for sub in submissions:
        if isinstance(sub.who, AuthError):
            continue
        command = sub.parsed.command
        if command is None:
            if sub.parsed.application_id is not None and not authorise_submitter(sub.who.claims):
                locks.append(sub.parsed.application_id)
            continue
        application_id = application_id_for(command)
        claims.append((command.submission_id, application_id, sub.who.cvr))
        locks.append(application_id)
        pool_ids.add(command.pool_id)
    loaded = await store.load(claims, locks, pools.versions(pool_ids))
    published = await pools.resolve(store, loaded, pool_ids)
    register = await store.organisations(
        s.parsed.command.applicant.cvr for s in submissions
        if s.parsed.command is not None and not isinstance(s.who, AuthError))
    states = loaded.states
    # The submission index as the batch goes: ids bound before it never change; ids it bound
    # (``ours``, as ``load`` inserted them) are bound by their first submission, released when
    # that one's token is refused, and may then be bound by a later one.
    before = {s: c.application_id for s, c in loaded.claims.items() if not c.new}
    ours: dict[UUID, tuple[UUID, str | None]] = {}
    for submission_id, application_id, cvr in claims:
        if loaded.claims[submission_id].new:
            ours.setdefault(submission_id, (application_id, cvr))
    binding: dict[UUID, tuple[UUID, str | None]] = {}
    changed: dict[UUID, None] = {}
    decisions: list[Decision] = []
    for sub in submissions:
        parsed, who, now = sub.parsed, sub.who, sub.now
        aggregate = _refused_aggregate(parsed)
        target: ApplicationState | None = None  # the application whose state the events change
        if isinstance(who, AuthError):
            decision = decide_token_refusal(parsed, now, [token_reason(who.code)], 401)
        elif parsed.command is None:
            denied = authorise_submitter(who.claims)
            if denied:
                decision = decide_token_refusal(parsed, now, denied, 403)
            elif parsed.application_id is None:
                decision = decide_malformed(None, parsed, now)
            else:
                target = states[parsed.application_id]
                decision = decide_malformed(target, parsed, now)
        else:
            command = parsed.command
            application_id = application_id_for(command)
            submission_id = command.submission_id
            new = False
            if submission_id in before:
                bound_to = before[submission_id]
            elif submission_id in binding:
                bound_to = binding[submission_id][0]
            else:
                binding[submission_id] = (application_id, who.cvr)
                bound_to, new = application_id, True
            target = states[application_id]
            pool = published.get(command.pool_id)
            decision = decide_submission(target, command, now, claims=who.claims,
                                         pools={} if pool is None else {pool.pool_id: pool},
                                         register=register, bound_to=bound_to)
            if new and not binds_submission_id(decision):
                del binding[submission_id]
        decisions.append(decision)
        if not decision.events:
            continue
        # occurred_at is the time this submission was received, as when decided alone
        with clock.at(now.isoformat() if clock.simulated else None):
            if all(isinstance(e, SubmissionUnauthorized) for e in decision.events):
                # Stored nowhere; published only for the portal, keyed by the record's key.
                if sub.refusal_key is not None:
                    _emit(sink, [e.model_copy(update={"submission_id": None})
                                 for e in decision.events], sub.refusal_key, sub.cause)
                continue
            if target is not None:
                aggregate = str(target.application_id)
                states[target.application_id] = evolve_all(target, decision.events)
                changed[target.application_id] = None
            _emit(sink, decision.events, aggregate, sub.cause)
    await store.save_applications(states[a] for a in changed)
    await store.settle_claims(
        [s for s in ours if s not in binding],
        [(s, *binding[s]) for s in ours if s in binding and binding[s] != ours[s]])
    return decisions


def _emit(sink: Sink, events: Sequence[IntakeEvent], aggregate_id: str, cause: Cause) -> None:
    for event in events:
        sink.emit(event, aggregate_id=aggregate_id, cause=cause)


class SubmissionBatcher:
    """Group commit for HTTP submissions: the submissions that arrive while a transaction is
    under way are decided together in the next one (each still answered with its own receipt).

    Nothing waits for a batch to fill: an idle service decides a submission at once, alone; under
    a burst, each transaction takes everything that queued up meanwhile (at most ``max_batch``),
    so the database round trips, the outbox flush and the commit are shared instead of queueing
    up one per request. The decisions are the ones :func:`write_submission` would give them one
    by one in arrival order (:func:`write_submissions`). When a batch fails for any reason,
    each of its submissions is tried again in a transaction of its own, so an error reaches only
    the request that causes it.
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
        return await self._runtime.in_transaction(
            lambda uow: write_submissions(uow.conn, uow, submissions, pools=self._pools,
                                          clock=self._runtime.clock))


# -- the portal topic ------------------------------------------------------------------------------

def raw_decoder(record: ConsumerRecord) -> tuple[bytes, None]:
    """Portal messages are judged by the handler, never dead-lettered for their content; the
    domain makes a resent submission a repeat (by submission id), so no inbox id is needed."""
    value = record.value
    return (value if isinstance(value, bytes) else b""), None


def _header_text(item: Incoming, name: str) -> str | None:
    value = item.headers.get(name)
    if value is None:
        return None
    text = value.decode(errors="replace") if isinstance(value, bytes) else str(value)
    # Headers are the producer's bytes: keep what can be stored and logged.
    return "".join(ch for ch in text if ch.isprintable()).strip()[:128] or None


def _record_key(item: Incoming) -> str:
    """The portal record's key as an aggregate id (what a refusal is published under)."""
    key = item.key
    text = key.decode(errors="replace") if isinstance(key, bytes) else ""
    text = "".join(ch for ch in text if ch.isprintable()).strip()[:128]
    return text or UNIDENTIFIED


def _portal_cause(item: Incoming, parsed: ParsedSubmission, who: Principal | AuthError) -> Cause:
    # Never an id from the body of a refused token's message: it could name someone else's.
    body_id = parsed.submission_id if isinstance(who, Principal) else None
    correlation = (_header_text(item, "correlation_id")
                   or (str(body_id) if body_id is not None else None)
                   or f"portal-{item.partition}-{item.offset}")
    return Cause(actor=_submitter(who), correlation_id=correlation)


def _submitter(who: Principal | AuthError) -> Actor:
    if isinstance(who, Principal) and who.subject:
        return Actor(id=who.subject[:128], role="applicant")
    return Actor(id="unauthenticated", role="applicant")


def portal_handler(runtime: ServiceRuntime, tokens: TokenCache, pools: PoolCache
                   ) -> BatchHandler:
    clock = runtime.clock

    async def on_portal_submissions(conn: asyncpg.Connection, items: list[Incoming],
                                    emitter: Emitter) -> AfterCommit:
        submissions = []
        for item in items:
            with clock.at(item.headers.get(SIMULATED_TIME_HEADER)):
                now = clock.now()
            token, parsed = parse_portal_submission(item.body)
            who = tokens.verify(token)
            submissions.append(Submission(parsed, who, now, _portal_cause(item, parsed, who),
                                          refusal_key=_record_key(item)))
        decisions = await write_submissions(conn, emitter, submissions, pools=pools, clock=clock)

        def logged() -> None:
            """One line per batch (counts by receipt status); one per submission at DEBUG."""
            outcomes = Counter(d.receipt.status for d in decisions if d.receipt is not None)
            if log.is_enabled_for(DEBUG):
                for item, sub, decision in zip(items, submissions, decisions):
                    assert decision.receipt is not None
                    log.debug("portal_submission_decided", topic=item.topic,
                              partition=item.partition, offset=item.offset,
                              submission_id=str(sub.parsed.submission_id),
                              status=decision.receipt.status,
                              http_status=ANSWER_STATUS[decision.answer])
            log.info("portal_batch_decided", submissions=len(decisions), **outcomes)

        return logged

    return on_portal_submissions


def pool_handler(pools: PoolCache, clock: Clock) -> BatchHandler:
    async def on_pool_events(conn: asyncpg.Connection, items: list[Incoming],
                             _: Emitter) -> AfterCommit:
        """Keep the latest ``PoolPublished`` of each pool and the latest register entry of each
        CVR (``OrganisationRecorded``); other pool-topic events are not ours. The pool cache
        takes the pools once they are committed."""
        stored = []
        store = IntakeStore(conn)
        for item in items:
            with clock.at(item.headers.get(SIMULATED_TIME_HEADER)):  # a simulated clock follows
                pass
            payload = item.envelope.payload
            if isinstance(payload, PoolPublished):
                await store.save_pool(payload)
                stored.append(payload)
            elif isinstance(payload, OrganisationRecorded):
                await store.save_organisation(payload)

        def cached() -> None:
            for pool in stored:
                pools.put(pool)

        return cached

    return on_pool_events


# -- HTTP plumbing -----------------------------------------------------------------------------------

def _http_cause(request: Request, who: Principal | AuthError, role: str) -> Cause:
    if isinstance(who, Principal) and who.subject:
        return cause_of_request(request, who, role)
    correlation = request.headers.get("x-correlation-id") or str(uuid.uuid4())
    return Cause(actor=_submitter(who), correlation_id=correlation[:128])


def _caller(request: Request, principal: Principal,
            cause_as: Callable[[str], Cause] | None = None) -> Caller:
    return Caller(principal.roles, principal.cvr, principal.claims,
                  cause_as or (lambda role: _http_cause(request, principal, role)))


def _reasons_of(codes: Sequence[str]) -> list[dict[str, Any]]:
    return [Reason(code=c, message=REASON_CODES.get(c, "")).model_dump(mode="json") for c in codes]


ANSWER_STATUS: dict[Answer, int] = {
    "ok": 200, "created": 201, "unauthenticated": 401, "forbidden": 403, "invalid": 422,
}
"""The HTTP status of each answer a decision gives (docs/http-api.md)."""


def _receipt_response(decision: Decision) -> JSONResponse:
    assert decision.receipt is not None
    headers = {"WWW-Authenticate": "Bearer"} if decision.answer == "unauthenticated" else None
    return JSONResponse(decision.receipt.model_dump(mode="json"),
                        status_code=ANSWER_STATUS[decision.answer], headers=headers)


class ItProblemContact(BaseModel):
    """``POST /applications/{id}/it-problem-contacts``: when the agency got it is the server's
    clock, and the exception id comes from the request key, never from this body."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    pool_id: Annotated[str, Field(min_length=1, max_length=80)]
    documentation: bool
    attempted_before_deadline: bool
    screenshot_at: UtcDatetime | None = None
    evidence_refs: Annotated[list[EvidenceRef], Field(max_length=100)] = []


class ItProblemDecision(BaseModel):
    """``POST /applications/{id}/it-problem-decision``: the latest pending exception is decided."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    approve: bool
    evidence_refs: Annotated[list[EvidenceRef], Field(max_length=100)] = []


_RECEIPT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": Receipt, "description": "decided: on_time, late_rejected, exception_*"},
    401: {"model": Receipt, "description": "no valid token (receipt status unauthorized)"},
    403: {"model": Receipt, "description": "token not allowed (receipt status unauthorized)"},
    422: {"model": Receipt, "description": "invalid submission (receipt status invalid)"},
}


# -- HTTP routes -------------------------------------------------------------------------------------

def http_router(runtime: ServiceRuntime, tokens: TokenCache | None = None,
                pools: PoolCache | None = None) -> APIRouter:
    tokens = tokens or TokenCache(lambda: runtime.verifier)
    pools = pools or PoolCache()
    batcher = SubmissionBatcher(runtime, pools)
    router = APIRouter(tags=["intake"])
    applicant = Depends(runtime.require("applicant"))
    applicant_or_caseworker = Depends(runtime.require("applicant", "caseworker"))
    caseworker = Depends(runtime.require("caseworker"))

    @router.post("/submissions", responses=_RECEIPT_RESPONSES,
                 summary="Submit (a version of) an application: SubmitApplication → Receipt")
    async def post_submission(request: Request) -> JSONResponse:
        # The raw body, not a FastAPI model: an invalid submission is a decision too (a receipt
        # with reasons and a SubmissionInvalid event), exactly as on the portal topic.
        raw = await request.body()
        now = runtime.clock.now()
        parsed = parse_submission(raw)
        who = tokens.verify(bearer_token(request))
        cause = _http_cause(request, who, "applicant")
        decision = await batcher.decide(Submission(parsed, who, now, cause))
        return _receipt_response(decision)

    @router.get("/submissions/{submission_id}", response_model=Receipt)
    async def get_submission(submission_id: UUID, principal: Principal = applicant) -> Receipt:
        async with runtime.pool.acquire() as conn:
            store = IntakeStore(conn)
            indexed = await store.submission(submission_id)
            state = (await store.read_application(indexed.application_id)
                     if indexed is not None else None)
        receipt = receipt_for(state, submission_id) if state is not None else None
        if indexed is None or receipt is None:
            raise Refusal("submission_unknown", "no submission with this id", "not_found")
        if principal.cvr is None or principal.cvr != indexed.submitter_cvr:
            raise AuthError(403, "cvr_mismatch", "the submission is not your organisation's")
        return receipt

    @router.get("/applications/{application_id}")
    async def get_application(application_id: UUID,
                              principal: Principal = applicant_or_caseworker) -> dict[str, Any]:
        async with runtime.pool.acquire() as conn:
            state = await IntakeStore(conn).read_application(application_id)
        if state is None or (state.applicant_cvr is None and "caseworker" not in principal.roles):
            raise Refusal("application_unknown", "no application with this id", "not_found")
        if "caseworker" not in principal.roles and principal.cvr != state.applicant_cvr:
            raise AuthError(403, "cvr_mismatch", "the application is not your organisation's")
        status, reasons = intake_outcome(state)
        return {
            "application_id": str(state.application_id), "status": status,
            "reasons": _reasons_of(reasons),
            "versions": [v.model_dump(mode="json") for v in state.versions],
            "exceptions": [e.model_dump(mode="json") for e in state.exceptions],
        }

    @router.post("/applications/{application_id}/it-problem-contacts", status_code=201)
    async def post_contact(application_id: UUID, body: ItProblemContact, request: Request,
                           principal: Principal = applicant_or_caseworker) -> JSONResponse:
        now = runtime.clock.now()
        request_key = request.headers.get("x-correlation-id") or str(uuid.uuid4())
        exception_id = exception_id_for(application_id, request_key)

        def contact(applicant_cvr: str) -> ReportItProblem:
            return ReportItProblem(
                exception_id=exception_id, application_id=application_id, pool_id=body.pool_id,
                applicant_cvr=applicant_cvr, documentation=body.documentation,
                attempted_before_deadline=body.attempted_before_deadline,
                screenshot_at=body.screenshot_at, evidence_refs=body.evidence_refs,
                contacted_at=now)

        decision, state = await runtime.handle(report_it_problem, ReportContact(
            application_id, body.pool_id, contact,
            _caller(request, principal), now, pools))
        record = state.exception(exception_id)
        assert record is not None
        return JSONResponse({"exception_id": str(exception_id), "status": record.status,
                             "reasons": _reasons_of(record.reasons)},
                            status_code=ANSWER_STATUS[decision.answer])

    @router.post("/applications/{application_id}/it-problem-decision")
    async def post_decision(application_id: UUID, body: ItProblemDecision, request: Request,
                            principal: Principal = caseworker) -> dict[str, Any]:
        now = runtime.clock.now()
        cause = _http_cause(request, principal, "caseworker")
        command = DecideItProblemException(application_id=application_id, approved=body.approve,
                                           evidence_refs=body.evidence_refs)
        decision, state = await runtime.handle(decide_it_problem, DecideException(
            command, _caller(request, principal, lambda _: cause), now, pools))
        decided = decision.events[0]
        return {"exception_id": str(decided.exception_id),  # type: ignore[union-attr]
                "approved": decided.approved,  # type: ignore[union-attr]
                "application_status": intake_outcome(state)[0]}

    return router
