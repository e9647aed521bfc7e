"""Intake's consumers: the portal topic and the pools topic (the HTTP routes are in
:mod:`.routes`, the command handlers both run in :mod:`.service`).

Each hands over whole batches: a portal batch becomes one :class:`~.service.DecideSubmissions`
(the same handler ``POST /submissions`` runs), decided with set-based statements; a pool batch
is stored, and its pools reach the cache once its transaction has committed.
"""

from __future__ import annotations

import functools
from collections import Counter
from contextlib import nullcontext
from logging import DEBUG

import asyncpg
from aiokafka import ConsumerRecord

from contracts.envelope import SIMULATED_TIME_HEADER
from servicekit import logging
from servicekit.clock import Clock
from servicekit.consumer import AfterCommit, BatchHandler, Incoming
from servicekit.identity import AuthError, Principal
from servicekit.outbox import Cause, Emitter
from servicekit.service import ServiceRuntime, UnitOfWork
from services.intake.domain import ParsedSubmission, parse_portal_submission
from services.intake.service import (
    UNIDENTIFIED,
    DecideSubmissions,
    RecordPoolEvents,
    Submission,
    handle_submissions,
    record_pool_events,
)
from services.intake.store import PoolCache
from services.intake.tokens import TokenCache, submitter_of
from services.intake.views import ANSWER_STATUS

log = logging.get_logger(__name__)


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
    return Cause(actor=submitter_of(who), correlation_id=correlation)


def portal_handler(runtime: ServiceRuntime, tokens: TokenCache, pools: PoolCache,
                   consumer: str) -> BatchHandler:
    """The portal topic's batch handler for consumer group ``consumer``."""
    clock, tracing = runtime.clock, runtime.tracing

    async def on_portal_submissions(conn: asyncpg.Connection, items: list[Incoming],
                                    emitter: Emitter) -> AfterCommit:
        submissions = []
        for item in items:
            with clock.at(item.headers.get(SIMULATED_TIME_HEADER)):
                now = clock.now()
            token, parsed = parse_portal_submission(item.body)
            who = tokens.verify(token)
            # traced: each submission's events carry its own record's trace (not the batch's)
            scope = (functools.partial(tracing.consumed, consumer, item.topic, item.headers)
                     if tracing.enabled else nullcontext)
            submissions.append(Submission(parsed, who, now, _portal_cause(item, parsed, who),
                                          refusal_key=_record_key(item), scope=scope))
        decisions = await handle_submissions(UnitOfWork(conn, emitter),
                                             DecideSubmissions(submissions, pools, clock))

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
            log.info("portal_batch_decided", submissions=len(decisions), **dict(outcomes))

        return logged

    return on_portal_submissions


def pool_handler(pools: PoolCache, clock: Clock) -> BatchHandler:
    async def on_pool_events(conn: asyncpg.Connection, items: list[Incoming],
                             emitter: Emitter) -> AfterCommit:
        """Other pool-topic events are not intake's; the pool cache takes the stored pools once
        they are committed."""
        for item in items:
            with clock.at(item.headers.get(SIMULATED_TIME_HEADER)):  # a simulated clock follows
                pass
        stored = await record_pool_events(UnitOfWork(conn, emitter), RecordPoolEvents(
            [item.envelope.payload for item in items]))

        def cached() -> None:
            for pool in stored:
                pools.put(pool)

        return cached

    return on_pool_events
