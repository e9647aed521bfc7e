"""Assessment's intake consumer (the HTTP routes are in :mod:`.routes`, the command handlers
they run in :mod:`.service`).

Each event is one transaction: lock the state it changes (see :mod:`.store` for the lock
order), run the domain, apply every returned event with ``evolve_*``, emit it to the outbox, save.
Aggregate ids: the application id for everything about an application; ``pool:<pool_id>`` for
``PoolPublished`` and ``programme:<programme>`` for ``PriorAwardImported``.
"""

from __future__ import annotations

from typing import TypeVar

import asyncpg

from contracts.intake import ApplicationAccepted, ApplicationReceived
from contracts.payments import AwardLapsed
from servicekit.consumer import Handler, Incoming
from servicekit.outbox import Emitter, cause_of_event
from servicekit.service import ServiceRuntime
from services.assessment.domain import assess_eligibility, evolve_round
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
