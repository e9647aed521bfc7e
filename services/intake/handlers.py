"""Intake's consumers: the portal topic and the pools topic (the HTTP routes are in
:mod:`.routes`, the command handlers both run in :mod:`.service`).

Each hands over whole batches: a portal batch becomes one :class:`~.service.DecideSubmissions`
(the same handler ``POST /submissions`` runs), decided with set-based statements; a pool batch
is stored, and its pools reach the cache once its transaction has committed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from logging import DEBUG

import asyncpg
from aiokafka import ConsumerRecord

from contracts.envelope import SIMULATED_TIME_HEADER
from servicekit import inbox, logging
from servicekit.clock import Clock
from servicekit.consumer import Decoder, EventConsumer, Incoming, decode_event
from servicekit.identity import AuthError, Principal
from servicekit.outbox import Cause, Emitter, notify_channel
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


# -- consumers that take the whole batch -----------------------------------------------------------

AfterCommit = Callable[[], None]
BatchHandler = Callable[[asyncpg.Connection, list[Incoming], Emitter],
                        Awaitable[AfterCommit | None]]


class BatchConsumer(EventConsumer):
    """servicekit's consumer (same delivery guarantees, retries, dead letters), whose handler
    takes the batch's records at once, so it can decide them with set-based statements, and
    may return a function to run once the batch's transaction has committed.

    The batch is still one transaction with the inbox claim and the outbox flush; when the
    handler breaks on some record, servicekit replays the batch record by record (each a batch
    of one) and dead-letters the breaking one, as for a per-record handler. This overrides
    ``EventConsumer._apply``; should that ever stop being called, the per-record handler given
    to servicekit runs the same batch handler on one record at a time (correct, only slower).
    """

    def __init__(self, *, batch_handler: BatchHandler, runtime: ServiceRuntime, name: str,
                 decoder: Decoder = decode_event) -> None:
        async def one_at_a_time(conn: asyncpg.Connection, item: Incoming,
                                emitter: Emitter) -> None:
            after = await batch_handler(conn, [item], emitter)
            if after is not None:
                after()  # before the commit here: the cache checks versions on use anyway

        super().__init__(name=name, handler=one_at_a_time, settings=runtime.settings,
                         clock=runtime.clock, pool_provider=lambda: runtime.pool,
                         broker_provider=lambda: runtime.broker, decoder=decoder,
                         tracing=runtime.tracing)
        self.batch_handler = batch_handler
        self.largest_batch = 0
        self._runtime = runtime

    async def _apply(self, items: list[Incoming]) -> None:
        after: AfterCommit | None = None
        async with self._runtime.pool.acquire() as conn, conn.transaction():
            ids = [i.dedup_id for i in items if i.dedup_id is not None]
            fresh = await inbox.claim(conn, self.name, ids)
            todo = inbox.first_deliveries(items, fresh)
            self._attempt_duplicates = len(items) - len(todo)  # counted once the batch commits
            emitter = Emitter(self.clock, notify_channel(self.settings.database_name),
                              max_message_bytes=self.settings.kafka_max_message_bytes)
            if todo:
                # A non-transient error breaks the batch: servicekit replays it record by record.
                with self.tracing.consumed_batch(self.name, todo):
                    after = await self.batch_handler(conn, todo, emitter)
            await emitter.flush(conn)
        self.largest_batch = max(self.largest_batch, len(items))
        if after is not None:
            after()


def consume_batches(runtime: ServiceRuntime, *topic_names: str, batch_handler: BatchHandler,
                    name: str, decoder: Decoder = decode_event) -> BatchConsumer:
    """``runtime.consume`` for a :data:`BatchHandler`."""
    consumer = BatchConsumer(batch_handler=batch_handler, runtime=runtime, name=name,
                             decoder=decoder)
    consumer.subscribe(runtime.broker, *topic_names)
    runtime.consumers.append(consumer)
    return consumer


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
            log.info("portal_batch_decided", submissions=len(decisions), **outcomes)

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
