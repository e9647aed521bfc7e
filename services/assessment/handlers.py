"""Assessment's intake consumer (the HTTP routes are in :mod:`.routes`, the command handlers
they run in :mod:`.service`).

A consumed batch is one transaction: lock the state it changes (see :mod:`.store` for the lock
order), run the domain, apply every returned event with ``evolve_*``, emit it to the outbox, save.
Aggregate ids: the application id for everything about an application; ``pool:<pool_id>`` for
``PoolPublished`` and ``programme:<programme>`` for ``PriorAwardImported``.
"""

from __future__ import annotations

from typing import TypeVar
from uuid import UUID

import asyncpg

from contracts.intake import ApplicationAccepted, ApplicationReceived
from contracts.payments import AwardLapsed
from servicekit.consumer import BatchHandler, Incoming
from servicekit.outbox import Emitter, cause_of_event
from servicekit.service import ServiceRuntime
from services.assessment.domain import FundingLedger, assess_eligibility, evolve_round
from services.assessment.store import ApplicationInOtherPool, AssessmentStore

T = TypeVar("T")


def pool_aggregate(pool_id: str) -> str:
    return f"pool:{pool_id}"


def programme_aggregate(programme: str) -> str:
    return f"programme:{programme}"


# -- consumer: intake's applications and payments' grants topics --------------------------------

def intake_handler(runtime: ServiceRuntime) -> BatchHandler:
    """ApplicationReceived stores the version; ApplicationAccepted runs the eligibility gate;
    payments' AwardLapsed releases the award's money in its sub-pool.

    An application for a pool not published yet is kept in an empty round: the gate runs for it
    when the pool is published (``reassess_pool``). Other event types on the topic are ignored.

    A batch of the topics' records is one transaction (the consumer's), decided set-based: the
    intake events between two AwardLapsed (nearly always the whole batch) lock their pools and
    files with one statement each (:meth:`AssessmentStore.lock_applications`), read each
    programme's ledger once, run the domain record by record in the order consumed and write
    the changed files with one statement. A record that breaks this raises: the consumer
    replays the batch record by record and dead-letters that one (servicekit.consumer).
    """

    async def on_intake_events(conn: asyncpg.Connection, items: list[Incoming],
                               emitter: Emitter) -> None:
        store = AssessmentStore(conn)
        run: list[Incoming] = []
        for item in items:
            event = item.envelope.payload
            if isinstance(event, (ApplicationReceived, ApplicationAccepted)):
                run.append(item)
            elif isinstance(event, AwardLapsed):
                await _intake_events(runtime, store, run, emitter)
                run = []
                await _release_award(store, event)
        await _intake_events(runtime, store, run, emitter)

    return on_intake_events


async def _intake_events(runtime: ServiceRuntime, store: AssessmentStore, items: list[Incoming],
                         emitter: Emitter) -> None:
    if not items:
        return
    events: list[ApplicationReceived | ApplicationAccepted] = [i.envelope.payload for i in items]
    pools: dict[UUID, str] = {}
    for event in events:
        if pools.setdefault(event.application_id, event.pool_id) != event.pool_id:
            raise ApplicationInOtherPool(f"application {event.application_id} is named in pools "
                                         f"{pools[event.application_id]!r} and {event.pool_id!r}")
    rounds = await store.lock_applications(
        pools, created={e.application_id for e in events if isinstance(e, ApplicationReceived)})
    loaded = dict(rounds)
    ledgers: dict[str, FundingLedger] = {}
    for item, event in zip(items, events, strict=True):
        state = evolve_round(rounds[event.application_id], event)
        if isinstance(event, ApplicationAccepted) and state.pool is not None:
            programme = state.definition.programme_id
            if programme not in ledgers:
                ledgers[programme] = await store.read_ledger(programme)
            result = assess_eligibility(state, ledgers[programme], event.application_id)
            if result is not None and result != state.file(event.application_id).eligibility:
                state = evolve_round(state, result)  # (a repeat with the same outcome: quiet)
                with runtime.record_scope(item):  # the event carries this record's trace
                    emitter.emit(result, aggregate_id=str(event.application_id),
                                 cause=cause_of_event(item.envelope, runtime.name))
        rounds[event.application_id] = state
    await store.save_files(
        (state.pool_id, state.file(application_id)) for application_id, state in rounds.items()
        if state.applications != loaded[application_id].applications)


async def _release_award(store: AssessmentStore, event: AwardLapsed) -> None:
    """payments' ``AwardLapsed`` (not accepted in time, not started, withdrawn): the award's money
    is free in its sub-pool for the next allocation run (R12). An award this service never made
    is not ours: ignored."""
    before = await store.lock_application(event.application_id)
    if before is None:
        return
    await store.save(before, evolve_round(before, event))
