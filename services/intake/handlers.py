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

import re
import uuid
from datetime import datetime
from collections.abc import Sequence
from typing import Annotated, Any, Protocol, TypeVar
from uuid import UUID

import asyncpg
from aiokafka import ConsumerRecord
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from contracts.assessment import PoolPublished
from contracts.base import Actor, Contract, Reason, UtcDatetime
from contracts.intake import Receipt, SubmissionUnauthorized
from servicekit import logging
from servicekit.consumer import Handler, Incoming
from servicekit.http import bearer_token, cause_of_request
from servicekit.identity import AuthError, Principal, TokenVerifier
from servicekit.outbox import Cause, Emitter
from servicekit.service import ServiceRuntime, UnitOfWork
from services.intake.domain import (
    REASON_CODES,
    ApplicationState,
    DecideItProblemException,
    Decision,
    IntakeEvent,
    ParsedSubmission,
    ReportItProblem,
    application_id_for,
    authorise_submitter,
    decide_contact,
    decide_exception_decision,
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
from services.intake.store import IntakeStore

log = logging.get_logger(__name__)
T = TypeVar("T")
UNIDENTIFIED = "submission:unidentified"
_CVR = re.compile(r"^[0-9]{8}$")
# Evidence references end up in the JSONB state: no control characters (NUL cannot be stored).
EvidenceRef = Annotated[str, Field(min_length=1, max_length=500, pattern=r"^[^\x00-\x1f\x7f]+$")]


class Sink(Protocol):
    """Where events go: a consumer's :class:`Emitter` or an HTTP :class:`UnitOfWork`."""

    def emit(self, payload: Contract, *, aggregate_id: str, cause: Cause) -> Any: ...


# -- the one behaviour behind both ways in ---------------------------------------------------------

def verify(verifier: TokenVerifier, token: str | None) -> Principal | AuthError:
    try:
        return verifier.verify(token)
    except AuthError as refused:
        return refused


def _refused_aggregate(parsed: ParsedSubmission) -> str:
    return str(parsed.submission_id) if parsed.submission_id is not None else UNIDENTIFIED


async def write_submission(
    conn: asyncpg.Connection, sink: Sink, parsed: ParsedSubmission,
    who: Principal | AuthError, now: datetime, cause: Cause,
) -> Decision:
    """Decide one submission received at ``now`` in the caller's transaction; emit its events."""
    if isinstance(who, AuthError):
        decision = decide_token_refusal(parsed, now, [token_reason(who.code)], 401)
        _emit(sink, decision.events, _refused_aggregate(parsed), cause)
        return decision
    store = IntakeStore(conn)
    command = parsed.command
    if command is None:
        denied = authorise_submitter(who.claims)
        if denied:
            decision = decide_token_refusal(parsed, now, denied, 403)
            _emit(sink, decision.events, _refused_aggregate(parsed), cause)
            return decision
        state = (await store.lock_application(parsed.application_id)
                 if parsed.application_id is not None else None)
        decision = decide_malformed(state, parsed, now)
        if state is None:
            _emit(sink, decision.events, _refused_aggregate(parsed), cause)
        else:
            await _apply(store, state, decision, sink, cause)
        return decision
    application_id = application_id_for(command)
    claim = await store.claim_submission(command.submission_id, application_id, who.cvr)
    state = await store.lock_application(application_id)
    decision = decide_submission(state, command, now, claims=who.claims,
                                 pools=await store.pools_for(command.pool_id),
                                 bound_to=claim.application_id)
    if claim.new and any(isinstance(e, SubmissionUnauthorized) for e in decision.events):
        await store.release_submission(command.submission_id)  # a refused token binds nothing
    await _apply(store, state, decision, sink, cause)
    return decision


async def _apply(store: IntakeStore, state: ApplicationState, decision: Decision, sink: Sink,
                 cause: Cause) -> ApplicationState:
    """Save the state the decision's events produce and emit them, keyed by the application."""
    if not decision.events:
        return state
    evolved = evolve_all(state, decision.events)
    await store.save_application(evolved)
    _emit(sink, decision.events, str(state.application_id), cause)
    return evolved


def _emit(sink: Sink, events: Sequence[IntakeEvent], aggregate_id: str, cause: Cause) -> None:
    for event in events:
        sink.emit(event, aggregate_id=aggregate_id, cause=cause)


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


def _portal_cause(item: Incoming, parsed: ParsedSubmission, who: Principal | AuthError) -> Cause:
    correlation = (_header_text(item, "correlation_id")
                   or (str(parsed.submission_id) if parsed.submission_id is not None else None)
                   or f"portal-{item.partition}-{item.offset}")
    return Cause(actor=_submitter(who), correlation_id=correlation)


def _submitter(who: Principal | AuthError) -> Actor:
    if isinstance(who, Principal) and who.subject:
        return Actor(id=who.subject[:128], role="applicant")
    return Actor(id="unauthenticated", role="applicant")


def portal_handler(runtime: ServiceRuntime) -> Handler:
    async def on_portal_submission(conn: asyncpg.Connection, item: Incoming,
                                   emitter: Emitter) -> None:
        now = runtime.clock.now()
        token, parsed = parse_portal_submission(item.body)
        who = verify(runtime.verifier, token)
        decision = await write_submission(conn, emitter, parsed, who, now,
                                          _portal_cause(item, parsed, who))
        assert decision.receipt is not None
        log.info("portal_submission_decided", submission_id=str(parsed.submission_id),
                 status=decision.receipt.status, http_status=decision.http_status)

    return on_portal_submission


async def on_pool_event(conn: asyncpg.Connection, item: Incoming, _: Emitter) -> None:
    """Keep the latest ``PoolPublished`` of each pool; other pool-topic events are not ours."""
    payload = item.envelope.payload
    if isinstance(payload, PoolPublished):
        await IntakeStore(conn).save_pool(payload)


# -- HTTP plumbing -----------------------------------------------------------------------------------

class HttpRefusal(Exception):
    """An adapter's refusal (unknown id): a stable code and an HTTP status, which servicekit's
    error middleware answers as ``{error, message}`` like the domain's refusals."""

    def __init__(self, http_status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.code = code
        self.message = message


def _http_cause(request: Request, who: Principal | AuthError, role: str) -> Cause:
    if isinstance(who, Principal) and who.subject:
        return cause_of_request(request, who, role)
    correlation = request.headers.get("x-correlation-id") or str(uuid.uuid4())
    return Cause(actor=_submitter(who), correlation_id=correlation[:128])


def _reasons_of(codes: Sequence[str]) -> list[dict[str, Any]]:
    return [Reason(code=c, message=REASON_CODES.get(c, "")).model_dump(mode="json") for c in codes]


def _receipt_response(decision: Decision) -> JSONResponse:
    assert decision.receipt is not None
    headers = {"WWW-Authenticate": "Bearer"} if decision.http_status == 401 else None
    return JSONResponse(decision.receipt.model_dump(mode="json"),
                        status_code=decision.http_status, headers=headers)


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


def _contact_by(principal: Principal, state: ApplicationState) -> tuple[str, str]:
    """Whose contact it is and in which role it is recorded: the applicant's own organisation,
    or, recorded by a caseworker (a phone call), the organisation the application is bound to."""
    if "caseworker" in principal.roles and state.applicant_cvr is not None:
        return state.applicant_cvr, "caseworker"
    if "applicant" in principal.roles and principal.cvr and _CVR.match(principal.cvr):
        return principal.cvr, "applicant"
    if "caseworker" in principal.roles:
        raise HttpRefusal(404, "application_unknown", "no application with this id is on record")
    raise AuthError(403, "cvr_mismatch", "the token carries no valid cvr claim")


_RECEIPT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": Receipt, "description": "decided: on_time, late_rejected, exception_*"},
    401: {"model": Receipt, "description": "no valid token (receipt status unauthorized)"},
    403: {"model": Receipt, "description": "token not allowed (receipt status unauthorized)"},
    422: {"model": Receipt, "description": "invalid submission (receipt status invalid)"},
}


# -- HTTP routes -------------------------------------------------------------------------------------

def http_router(runtime: ServiceRuntime) -> APIRouter:
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
        who = verify(runtime.verifier, bearer_token(request))
        cause = _http_cause(request, who, "applicant")
        decision = await runtime.in_transaction(
            lambda uow: write_submission(uow.conn, uow, parsed, who, now, cause))
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
            raise HttpRefusal(404, "submission_unknown", "no submission with this id")
        if principal.cvr is None or principal.cvr != indexed.submitter_cvr:
            raise AuthError(403, "cvr_mismatch", "the submission is not your organisation's")
        return receipt

    @router.get("/applications/{application_id}")
    async def get_application(application_id: UUID,
                              principal: Principal = applicant_or_caseworker) -> dict[str, Any]:
        async with runtime.pool.acquire() as conn:
            state = await IntakeStore(conn).read_application(application_id)
        if state is None or (state.applicant_cvr is None and "caseworker" not in principal.roles):
            raise HttpRefusal(404, "application_unknown", "no application with this id")
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

        async def work(uow: UnitOfWork) -> tuple[Decision, ApplicationState]:
            store = IntakeStore(uow.conn)
            state = await store.lock_application(application_id)
            applicant_cvr, role = _contact_by(principal, state)
            cause = _http_cause(request, principal, role)
            command = ReportItProblem(
                exception_id=exception_id, application_id=application_id, pool_id=body.pool_id,
                applicant_cvr=applicant_cvr, documentation=body.documentation,
                attempted_before_deadline=body.attempted_before_deadline,
                screenshot_at=body.screenshot_at, evidence_refs=body.evidence_refs,
                contacted_at=now)
            decision = decide_contact(state, command, now, claims=principal.claims,
                                      pools=await store.pools_for(body.pool_id))
            return decision, await _apply(store, state, decision, uow, cause)

        decision, state = await runtime.in_transaction(work)
        record = state.exception(exception_id)
        assert record is not None
        return JSONResponse({"exception_id": str(exception_id), "status": record.status,
                             "reasons": _reasons_of(record.reasons)},
                            status_code=decision.http_status)

    @router.post("/applications/{application_id}/it-problem-decision")
    async def post_decision(application_id: UUID, body: ItProblemDecision, request: Request,
                            principal: Principal = caseworker) -> dict[str, Any]:
        now = runtime.clock.now()
        cause = _http_cause(request, principal, "caseworker")

        async def work(uow: UnitOfWork) -> tuple[Decision, ApplicationState]:
            store = IntakeStore(uow.conn)
            state = await store.lock_application(application_id)
            command = DecideItProblemException(application_id=application_id,
                                               approved=body.approve,
                                               evidence_refs=body.evidence_refs)
            decision = decide_exception_decision(state, command, now, claims=principal.claims,
                                                 pools=await store.pools_for(state.pool_id))
            return decision, await _apply(store, state, decision, uow, cause)

        decision, state = await runtime.in_transaction(work)
        decided = decision.events[0]
        return {"exception_id": str(decided.exception_id),  # type: ignore[union-attr]
                "approved": decided.approved,  # type: ignore[union-attr]
                "application_status": intake_outcome(state)[0]}

    return router
