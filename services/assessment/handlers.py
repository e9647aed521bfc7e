"""Thin adapters around the assessment domain: the intake consumer and the HTTP routes.

Each command is one transaction: lock the state it changes (see :mod:`.store` for the lock
order), run the domain, apply every returned event with ``evolve_*``, emit it to the outbox, save.
Aggregate ids: the application id for everything about an application; ``pool:<pool_id>`` for
``PoolPublished`` and ``programme:<programme>`` for ``PriorAwardImported``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, TypeVar
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Body, Depends, Path, Request
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from contracts.assessment import GrantAwarded, PoolPublished
from contracts.base import Cvr, MunicipalityCode
from contracts.intake import ApplicationAccepted, ApplicationReceived
from contracts.payments import AwardLapsed
from contracts.pools import PaymentFrequency, PoolDefinition
from contracts.refusal import Refusal
from servicekit.consumer import Handler, Incoming
from servicekit.http import cause_of_request
from servicekit.identity import Principal
from servicekit.openapi import raw_body
from servicekit.outbox import Cause, Emitter, cause_of_event
from servicekit.service import ServiceRuntime, UnitOfWork
from services.assessment.domain import (
    PoolRound, ScoreApplication, approve, assess_eligibility, evolve_ledger,
    evolve_round, exact_score, parse_pool_definition, pool_overview, prior_award, publish_pool,
    reassess_pool, score_application,
)
from services.assessment.domain.overview import status_of
from services.assessment.domain.scoring import shown
from services.assessment.register_store import RegisterStore
from services.assessment.store import AssessmentStore

T = TypeVar("T")


def pool_aggregate(pool_id: str) -> str:
    return f"pool:{pool_id}"


def programme_aggregate(programme: str) -> str:
    return f"programme:{programme}"


# -- consumer: intake's applications and payments' grants topics --------------------------------

def intake_handler(runtime: ServiceRuntime) -> Handler:
    """ApplicationReceived stores the version; ApplicationAccepted runs the eligibility gate;
    payments' AwardLapsed releases the award's money in its sub-pool.

    An application for a pool not published yet is kept in an empty round: the gate runs for it
    when the pool is published (``reassess_pool``). Other event types on the topic are ignored.
    """

    async def on_intake_event(conn: asyncpg.Connection, item: Incoming, emitter: Emitter) -> None:
        event = item.envelope.payload
        if isinstance(event, AwardLapsed):
            await _release_award(AssessmentStore(conn), event)
            return
        if not isinstance(event, (ApplicationReceived, ApplicationAccepted)):
            return
        store = AssessmentStore(conn)
        before = await store.lock_application(event.pool_id, event.application_id,
                                              create=isinstance(event, ApplicationReceived))
        state = evolve_round(before, event)
        if isinstance(event, ApplicationAccepted) and state.pool is not None:
            ledger = await store.read_ledger(state.definition.programme_id)
            result = assess_eligibility(state, ledger, event.application_id)
            if result is not None and result != state.file(event.application_id).eligibility:
                state = evolve_round(state, result)  # (a repeat with the same outcome: quiet)
                emitter.emit(result, aggregate_id=str(event.application_id),
                             cause=cause_of_event(item.envelope, runtime.name))
        await store.save(before, state)

    return on_intake_event


async def _release_award(store: AssessmentStore, event: AwardLapsed) -> None:
    """payments' ``AwardLapsed`` (not accepted in time, not started, withdrawn): the award's money
    is free in its sub-pool for the next allocation run (R12). An award this service never made
    is not ours: ignored."""
    pool_id = await store.pool_of(event.application_id)
    if pool_id is None:
        return
    before = await store.lock_application(pool_id, event.application_id)
    if str(event.application_id) not in before.applications:
        return
    await store.save(before, evolve_round(before, event))


# -- HTTP plumbing -------------------------------------------------------------------------------

class _Moved(Exception):
    """The pool's programme changed between reading it and locking it: run the command again."""


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


def _published(state: PoolRound | None, pool_id: str) -> PoolRound:
    if state is None or state.pool is None:
        raise Refusal("pool_not_published", f"pool {pool_id!r} is not published", "not_found")
    return state


async def _application(store: AssessmentStore, application_id: UUID, *,
                       lock: bool) -> PoolRound:
    """The round holding just this application's file (locked for a command)."""
    state = None
    if lock:
        pool_id = await store.pool_of(application_id)
        if pool_id is not None:
            state = await store.lock_application(pool_id, application_id)
    else:
        state = await store.read_application(application_id)
    if state is None or str(application_id) not in state.applications:
        raise Refusal("application_unknown", f"no application {application_id}", "not_found")
    return state


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

def http_router(runtime: ServiceRuntime) -> APIRouter:  # noqa: C901 - one closure per route
    router = APIRouter(tags=["assessment"])
    caseworker = Depends(runtime.require("caseworker"))
    assessor = Depends(runtime.require("assessor"))
    approver = Depends(runtime.require("approver"))
    anyone = Depends(runtime.require())
    case_handlers = Depends(runtime.require("caseworker", "assessor", "approver"))

    @router.post("/pools", status_code=201, openapi_extra=raw_body(PoolDefinition))
    async def publish(request: Request, raw: Any = Body(...),
                      principal: Principal = caseworker) -> dict[str, Any]:
        definition = parse_pool_definition(raw)  # 422 naming each bad field, before any lock
        cause = cause_of_request(request, principal, "caseworker")

        async def work(uow: UnitOfWork) -> PoolPublished:
            store = AssessmentStore(uow.conn)
            ledger = await store.lock_ledger(definition.programme_id)
            before = await store.lock_round(definition.pool_id, create=True)
            assert before is not None
            state = before
            event = publish_pool(state, raw)
            if event is not None:
                state = evolve_round(state, event)
                uow.emit(event, aggregate_id=pool_aggregate(state.pool_id), cause=cause)
                state = _reassess(uow, state, ledger, cause)
                await store.save(before, state)
            assert state.pool is not None
            return state.pool  # unchanged content: the version already in force

        in_force = await runtime.in_transaction(work, retry_on=(_Moved,))
        return {"pool_id": in_force.pool_id, "version": in_force.version,
                "content_hash": in_force.content_hash}

    @router.get("/pools/{pool_id}")
    async def get_pool(pool_id: str, _: Principal = anyone) -> dict[str, Any]:
        async with runtime.pool.acquire() as conn:
            state = _published(await AssessmentStore(conn).read_round(pool_id), pool_id)
        assert state.pool is not None
        return state.pool.model_dump(mode="json")

    @router.post("/programmes/{programme}/prior-awards", status_code=201)
    async def import_prior_award(programme: Programme, body: PriorAwardBody, request: Request,
                                 principal: Principal = caseworker) -> dict[str, Any]:
        cause = cause_of_request(request, principal, "caseworker")
        async with runtime.pool.acquire() as conn:
            register = RegisterStore(conn)
            entry = await register.entry(body.cvr) if body.cvr else None
            own = ([] if body.cvr or body.municipality_code is None else
                   await register.of_municipality(body.municipality_code, "municipality"))
        event = prior_award(programme, body.pool_id, body.cvr, body.municipality_code, entry, own)

        async def work(uow: UnitOfWork) -> bool:
            store = AssessmentStore(uow.conn)
            ledger = await store.lock_ledger(programme)
            updated = evolve_ledger(ledger, event)
            if updated == ledger:
                return False  # imported before: one effect
            uow.emit(event, aggregate_id=programme_aggregate(programme), cause=cause)
            await store.save_ledger(programme, updated)
            for state in await store.lock_rounds_of(programme):
                await store.save(state, _reassess(uow, state, updated, cause))
            return True

        recorded = await runtime.in_transaction(work, retry_on=(_Moved,))
        return {**event.model_dump(mode="json"), "recorded": recorded}

    @router.post("/applications/{application_id}/scores", status_code=201)
    async def score(application_id: UUID, body: ScoreBody, request: Request,
                    principal: Principal = assessor) -> dict[str, Any]:
        command = ScoreApplication(
            application_id=application_id, assessor=_caller(principal), scores=body.scores,
            justification=body.justification, conflict_of_interest=body.conflict_of_interest)
        cause = cause_of_request(request, principal, "assessor")

        async def work(uow: UnitOfWork) -> float | None:
            store = AssessmentStore(uow.conn)
            state = await _application(store, application_id, lock=True)
            event = score_application(state, command)
            uow.emit(event, aggregate_id=str(application_id), cause=cause)
            await store.save(state, evolve_round(state, event))
            return event.aggregate_score

        return {"aggregate_score": await runtime.in_transaction(work, retry_on=(_Moved,))}

    @router.post("/pools/{pool_id}/allocations")
    async def allocate(pool_id: str, request: Request, body: AllocateBody | None = Body(None),
                       principal: Principal = approver) -> dict[str, Any]:
        cause = cause_of_request(request, principal, "approver")

        async def work(uow: UnitOfWork) -> list[dict[str, Any]]:
            store = AssessmentStore(uow.conn)
            programme = _published(await store.read_round(pool_id), pool_id).definition.programme_id
            ledger = await store.lock_ledger(programme)  # R2 across the programme's pools
            before = _published(await store.lock_round(pool_id), pool_id)
            if before.definition.programme_id != programme:
                raise _Moved()
            state = before
            decisions = approve(state, ledger, _caller(principal), runtime.clock.now(),
                                payment_frequencies=body.payment_frequencies if body else None)
            for decision in decisions:
                state = evolve_round(state, decision)
                if isinstance(decision, GrantAwarded):
                    ledger = evolve_ledger(ledger, decision)
                uow.emit(decision, aggregate_id=str(decision.application_id), cause=cause)
            await store.save(before, state)
            await store.save_ledger(programme, ledger)
            return [_decision_view(d) for d in decisions]

        return {"decisions": await runtime.in_transaction(work, retry_on=(_Moved,))}

    @router.get("/pools/{pool_id}/overview")
    async def overview(pool_id: str, _: Principal = anyone) -> dict[str, Any]:
        async with runtime.pool.acquire() as conn:
            state = _published(await AssessmentStore(conn).read_round(pool_id), pool_id)
        return pool_overview(state).model_dump(mode="json")

    @router.get("/applications/{application_id}")
    async def application(application_id: UUID, _: Principal = case_handlers) -> dict[str, Any]:
        async with runtime.pool.acquire() as conn:
            state = await _application(AssessmentStore(conn), application_id, lock=False)
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

    return router


def dump_id(value: UUID | None) -> str | None:
    return None if value is None else str(value)


def _reassess(uow: UnitOfWork, state: PoolRound, ledger: Any, cause: Cause) -> PoolRound:
    """Re-run the gate after a new pool version or prior award; emit what changed."""
    for result in reassess_pool(state, ledger):
        state = evolve_round(state, result)
        uow.emit(result, aggregate_id=str(result.application_id), cause=cause)
    return state


def _decision_view(decision: Any) -> dict[str, Any]:
    awarded = isinstance(decision, GrantAwarded)
    return {
        "application_id": str(decision.application_id),
        "decision": "awarded" if awarded else "rejected",
        "reasons": [] if awarded else list(decision.reasons),
        "amount_oere": decision.amount_oere if awarded else 0,
        "score": decision.score, "rank": decision.rank, "region_code": decision.region_code,
    }
