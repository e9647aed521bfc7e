"""Assessment's HTTP routes (pools, prior awards, scores, allocation, the read views): each
builds a command, runs its handler (:mod:`.service`) and maps the result; and how a refusal's
details read as the answer's reasons (``refusal_reasons``). The router is the module's; the
running service comes in as a dependency (:func:`servicekit.service.current_runtime`), the
verified caller as another (``requires``)."""

from __future__ import annotations

import re
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Path, Request
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from contracts.assessment import GrantAwarded
from contracts.base import Cvr, MunicipalityCode
from contracts.pools import PaymentFrequency, PoolDefinition
from contracts.refusal import Refusal
from servicekit.http import cause_of_request
from servicekit.identity import Principal
from servicekit.openapi import raw_body
from servicekit.service import ServiceRuntime, current_runtime, requires
from services.assessment import service
from services.assessment.domain import (
    PoolRound, ScoreApplication, exact_score, parse_pool_definition, pool_overview,
)
from services.assessment.domain.overview import status_of
from services.assessment.domain.scoring import shown
from services.assessment.register_store import RegisterStore
from services.assessment.service import (
    Allocate, ImportPriorAward, Moved, PublishPool, Score, application_round, prior_award_named,
    published,
)
from services.assessment.store import AssessmentStore


_REGISTER_DETAIL = re.compile(r"^(?:line (\d+): )?([^:]+): (.*)$", re.DOTALL)


def refusal_reasons(refusal: Refusal) -> list[dict[str, Any]]:
    """``details`` as the API's reasons: ``path: message`` for fields, else the code's subject."""
    reasons: list[dict[str, Any]] = []
    for detail in refusal.details:
        if refusal.code == "register_invalid":  # "[line N: ]field: message"
            found = _REGISTER_DETAIL.match(detail)
            line, field, message = found.groups() if found else (None, "", detail)
            path = f"{line}.{field}" if line else field
            reasons.append({"code": "field_invalid", "path": path, "message": message})
        elif refusal.code == "pool_invalid":
            path, sep, message = detail.partition(": ")
            if not sep or " " in path:
                path, message = "", detail
            reasons.append({"code": "field_invalid", "path": path, "message": message})
        elif refusal.code == "segregation_of_duties":  # details: the conflicted applications
            reasons.append({"code": refusal.code, "path": detail,
                            "message": "the approver scored or recused from this application"})
        else:
            reasons.append({"code": refusal.code, "path": detail, "message": refusal.message})
    return reasons


def _caller(principal: Principal) -> str:
    return principal.subject[:128]


class _Body(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PriorAwardBody(_Body):
    """The earlier grantee by CVR (its municipality then comes from the register), or a
    municipality alone (that municipality's own award)."""

    cvr: Cvr | None = None
    municipality_code: MunicipalityCode | None = None
    pool_id: Annotated[str, Field(min_length=1, max_length=80)]


class ScoreBody(_Body):
    scores: dict[str, StrictInt] = {}
    justification: Annotated[str, Field(max_length=20000)] = ""
    conflict_of_interest: bool = False


class AllocateBody(_Body):
    """``{}``: the approver approves the recommendations of the pool as they stand;
    ``payment_frequencies`` optionally sets the frequency of named awards (R13; default: the
    pool's)."""

    payment_frequencies: Annotated[dict[UUID, PaymentFrequency], Field(max_length=10_000)] = {}


Programme = Annotated[str, Path(min_length=1, max_length=100)]


# -- HTTP routes ---------------------------------------------------------------------------------

router = APIRouter(tags=["assessment"])
Runtime = Annotated[ServiceRuntime, Depends(current_runtime)]
Caseworker = Annotated[Principal, Depends(requires("caseworker"))]
Assessor = Annotated[Principal, Depends(requires("assessor"))]
Approver = Annotated[Principal, Depends(requires("approver"))]
Anyone = Annotated[Principal, Depends(requires())]
CaseHandler = Annotated[Principal, Depends(requires("caseworker", "assessor", "approver"))]


@router.post("/pools", status_code=201, openapi_extra=raw_body(PoolDefinition))
async def publish(request: Request, principal: Caseworker, runtime: Runtime,
                  raw: Any = Body(...)) -> dict[str, Any]:
    definition = parse_pool_definition(raw)  # 422 naming each bad field, before any lock
    in_force = await runtime.handle(service.publish, PublishPool(
        definition.programme_id, definition.pool_id, raw,
        cause_of_request(request, principal, "caseworker")), retry_on=(Moved,))
    return {"pool_id": in_force.pool_id, "version": in_force.version,
            "content_hash": in_force.content_hash}


@router.get("/pools/{pool_id}")
async def get_pool(pool_id: str, _: Anyone, runtime: Runtime) -> dict[str, Any]:
    async with runtime.pool.acquire() as conn:
        state = published(await AssessmentStore(conn).read_round(pool_id), pool_id)
    assert state.pool is not None
    return state.pool.model_dump(mode="json")


@router.post("/programmes/{programme}/prior-awards", status_code=201)
async def import_prior_award(programme: Programme, body: PriorAwardBody, request: Request,
                             principal: Caseworker, runtime: Runtime) -> dict[str, Any]:
    async with runtime.pool.acquire() as conn:
        event = await prior_award_named(RegisterStore(conn), programme, body.pool_id, body.cvr,
                                        body.municipality_code)
    recorded = await runtime.handle(service.import_prior_award, ImportPriorAward(
        programme, event, cause_of_request(request, principal, "caseworker")),
        retry_on=(Moved,))
    return {**event.model_dump(mode="json"), "recorded": recorded}


@router.post("/applications/{application_id}/scores", status_code=201)
async def score(application_id: UUID, body: ScoreBody, request: Request, principal: Assessor,
                runtime: Runtime) -> dict[str, Any]:
    command = ScoreApplication(
        application_id=application_id, assessor=_caller(principal), scores=body.scores,
        justification=body.justification, conflict_of_interest=body.conflict_of_interest)
    return {"aggregate_score": await runtime.handle(service.score, Score(
        command, cause_of_request(request, principal, "assessor")), retry_on=(Moved,))}


@router.post("/pools/{pool_id}/allocations")
async def allocate(pool_id: str, request: Request, principal: Approver, runtime: Runtime,
                   body: AllocateBody | None = Body(None)) -> dict[str, Any]:
    decisions = await runtime.handle(service.allocate, Allocate(
        pool_id, _caller(principal), runtime.clock.now(),
        body.payment_frequencies if body else None,
        cause_of_request(request, principal, "approver")), retry_on=(Moved,))
    return {"decisions": [_decision_view(d) for d in decisions]}


@router.get("/pools/{pool_id}/overview")
async def overview(pool_id: str, _: Anyone, runtime: Runtime) -> dict[str, Any]:
    async with runtime.pool.acquire() as conn:
        state = published(await AssessmentStore(conn).read_round(pool_id), pool_id)
    return pool_overview(state).model_dump(mode="json")


@router.get("/applications/{application_id}")
async def application(application_id: UUID, _: CaseHandler, runtime: Runtime) -> dict[str, Any]:
    async with runtime.pool.acquire() as conn:
        state = await application_round(AssessmentStore(conn), application_id, lock=False)
    return _application_view(application_id, state)


def _application_view(application_id: UUID, state: PoolRound) -> dict[str, Any]:
    file = state.file(application_id)
    dump = lambda m: None if m is None else m.model_dump(mode="json")  # noqa: E731
    return {
        "application_id": str(application_id), "pool_id": state.pool_id,
        "status": status_of(file),
        "accepted_submission_id": dump_id(file.accepted_submission_id),
        "eligibility": dump(file.eligibility),
        "scores": [s.model_dump(mode="json") for s in file.scorings],
        "aggregate_score": shown(exact_score(file)),
        "decision": dump(file.decision),
    }


def dump_id(value: UUID | None) -> str | None:
    return None if value is None else str(value)


def _decision_view(decision: Any) -> dict[str, Any]:
    awarded = isinstance(decision, GrantAwarded)
    return {
        "application_id": str(decision.application_id),
        "decision": "awarded" if awarded else "rejected",
        "reasons": [] if awarded else list(decision.reasons),
        "amount_oere": decision.amount_oere if awarded else 0,
        "score": decision.score, "rank": decision.rank, "region_code": decision.region_code,
    }
