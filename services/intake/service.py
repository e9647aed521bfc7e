"""Intake's service layer for the IT-problem exceptions (R6–R8): plain command handlers, each one
unit of work (``handler(uow, command)``, run by ``runtime.handle``) around the domain's
``decide_contact`` / ``decide_exception_decision``. Submissions take their own path
(:func:`services.intake.handlers.write_submissions`, shared by HTTP and the portal topic)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Set
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from contracts.assessment import PoolPublished
from servicekit.outbox import Cause
from servicekit.service import UnitOfWork
from services.intake.domain import (
    ApplicationState,
    DecideItProblemException,
    Decision,
    ReportItProblem,
    contact_reported_by,
    decide_contact,
    decide_exception_decision,
    evolve_all,
)
from services.intake.store import IntakeStore, PoolCache


async def apply_decision(store: IntakeStore, state: ApplicationState, decision: Decision,
                         uow: UnitOfWork, cause: Cause) -> ApplicationState:
    """Save the state the decision's events produce and emit them, keyed by the application."""
    if not decision.events:
        return state
    evolved = evolve_all(state, decision.events)
    await store.save_application(evolved)
    for event in decision.events:
        uow.emit(event, aggregate_id=str(state.application_id), cause=cause)
    return evolved


async def pools_for(store: IntakeStore, pools: PoolCache,
                    pool_id: str | None) -> dict[str, PoolPublished]:
    """``store.pools_for`` through the cache: the pool's version is read, its JSON only when the
    cache does not hold that version."""
    if pool_id is None:
        return {}
    loaded = await store.load([], [], pools.versions([pool_id]))
    return await pools.resolve(store, loaded, [pool_id])


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
