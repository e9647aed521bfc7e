"""Intake's HTTP routes: submissions, an application's record, IT-problem contacts and their
decisions. Each builds a command or a query, runs it (:mod:`.service`) and maps the result
(:mod:`.views`). The router is the module's; what a route needs of the running service comes
in as dependencies (:class:`Wiring`, set on the app by :func:`services.intake.app.build`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from contracts.intake import Receipt
from servicekit.http import bearer_token, cause_of_request
from servicekit.identity import AuthError, Principal
from servicekit.outbox import Cause
from servicekit.service import ServiceRuntime, requires
from services.intake.domain import DecideItProblemException, exception_id_for, parse_submission
from services.intake.requests import ItProblemContact, ItProblemDecision
from services.intake.service import (
    Caller,
    DecideException,
    ReportContact,
    Submission,
    SubmissionBatcher,
    decide_it_problem,
    read_application,
    read_receipt,
    report_it_problem,
)
from services.intake.store import PoolCache
from services.intake.tokens import TokenCache, submitter_of
from services.intake.views import (
    RECEIPT_RESPONSES,
    application_view,
    contact_response,
    exception_decided_view,
    receipt_response,
)


@dataclass(frozen=True)
class Wiring:
    """What the routes use of the running service: the runtime, the caches it shares with the
    portal consumer (verified tokens, published pools) and the group commit of submissions."""

    runtime: ServiceRuntime
    tokens: TokenCache
    pools: PoolCache
    batcher: SubmissionBatcher


def wiring_of(request: Request) -> Wiring:
    wiring = request.app.state.intake
    assert isinstance(wiring, Wiring)
    return wiring


Intake = Annotated[Wiring, Depends(wiring_of)]
Applicant = Annotated[Principal, Depends(requires("applicant"))]
ApplicantOrCaseworker = Annotated[Principal, Depends(requires("applicant", "caseworker"))]
Caseworker = Annotated[Principal, Depends(requires("caseworker"))]

router = APIRouter(tags=["intake"])


def http_cause(request: Request, who: Principal | AuthError, role: str) -> Cause:
    """The cause of a request's events; a caller without a verified subject is
    ``unauthenticated`` (its submission is refused, and that is recorded too)."""
    if isinstance(who, Principal) and who.subject:
        return cause_of_request(request, who, role)
    correlation = request.headers.get("x-correlation-id") or str(uuid.uuid4())
    return Cause(actor=submitter_of(who), correlation_id=correlation[:128])


def caller_of(request: Request, principal: Principal) -> Caller:
    return Caller(principal.roles, principal.cvr, principal.claims,
                  lambda role: http_cause(request, principal, role))


@router.post("/submissions", responses=RECEIPT_RESPONSES,
             summary="Submit (a version of) an application: SubmitApplication → Receipt")
async def post_submission(request: Request, intake: Intake) -> JSONResponse:
    # The raw body, not a FastAPI model: an invalid submission is a decision too (a receipt
    # with reasons and a SubmissionInvalid event), exactly as on the portal topic.
    raw = await request.body()
    now = intake.runtime.clock.now()
    parsed = parse_submission(raw)
    who = intake.tokens.verify(bearer_token(request))
    decision = await intake.batcher.decide(
        Submission(parsed, who, now, http_cause(request, who, "applicant")))
    return receipt_response(decision)


@router.get("/submissions/{submission_id}", response_model=Receipt)
async def get_submission(submission_id: UUID, intake: Intake, principal: Applicant) -> Receipt:
    return await read_receipt(intake.runtime.pool, submission_id, principal.cvr)


@router.get("/applications/{application_id}")
async def get_application(application_id: UUID, intake: Intake,
                          principal: ApplicantOrCaseworker) -> dict[str, Any]:
    return application_view(await read_application(
        intake.runtime.pool, application_id, principal.roles, principal.cvr))


@router.post("/applications/{application_id}/it-problem-contacts", status_code=201)
async def post_contact(application_id: UUID, body: ItProblemContact, request: Request,
                       intake: Intake, principal: ApplicantOrCaseworker) -> JSONResponse:
    now = intake.runtime.clock.now()
    request_key = request.headers.get("x-correlation-id") or str(uuid.uuid4())
    exception_id = exception_id_for(application_id, request_key)
    decision, state = await intake.runtime.handle(report_it_problem, ReportContact(
        application_id, body.pool_id, partial(body.report, exception_id, application_id, now),
        caller_of(request, principal), now, intake.pools))
    return contact_response(exception_id, decision, state)


@router.post("/applications/{application_id}/it-problem-decision")
async def post_decision(application_id: UUID, body: ItProblemDecision, request: Request,
                        intake: Intake, principal: Caseworker) -> dict[str, Any]:
    command = DecideItProblemException(application_id=application_id, approved=body.approve,
                                       evidence_refs=body.evidence_refs)
    decision, state = await intake.runtime.handle(decide_it_problem, DecideException(
        command, caller_of(request, principal), intake.runtime.clock.now(), intake.pools))
    return exception_decided_view(decision, state)
