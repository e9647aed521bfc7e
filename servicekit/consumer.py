"""Consumers that keep the delivery guarantees of DESIGN.md §4.

Per batch of records (FastStream batch subscriber, ``AckPolicy.MANUAL``):

1. decode each record; an undecodable or invalid one is *poison*: it goes to ``<topic>.dlt`` with
   its origin (topic, partition, offset) and the error in headers;
2. in ONE transaction: claim the event ids in the inbox (duplicates are skipped), hand the new
   records to the :data:`BatchHandler` at once, flush the events it emitted to the outbox;
3. only then commit the offsets (``msg.ack()``): at-least-once delivery, exactly-once effect.

The batch handler is the consumer's one primitive, composed rather than subclassed (as Sentry's
arroyo composes processing steps): :func:`per_record` turns a per-record :data:`Handler` into one,
which is what ``ServiceRuntime.consume`` does; ``ServiceRuntime.consume_batches`` takes a batch
handler as it is (one that decides a batch with set-based statements), in one span per batch
(:func:`traced_batch`). Both get the same inbox, retries, dead letters and commits from here.

A transient error (database or broker away, serialisation conflict) retries the batch with
backoff, never skipping it. Any other error means one record breaks the handler: the batch is
replayed record by record, each in its own transaction, and the breaking record is dead-lettered.
A run of ``poison_storm_limit`` dead letters in a row stops the service instead of draining a topic.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import signal
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg
import pydantic
from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from contracts.envelope import SIMULATED_TIME_HEADER, Envelope
from contracts.registry import UnknownEventType, decode
from contracts.topic_manifest import refusal as manifest_refusal
from servicekit import aiokafka_private, inbox, logging
from servicekit.clock import Clock
from servicekit.metrics import Timings
from servicekit.outbox import Emitter, notify_channel
from servicekit.settings import ServiceSettings
from servicekit.tracing import DISABLED, Tracing

log = logging.get_logger(__name__)


@dataclass(frozen=True)
class Incoming:
    """One consumed record, decoded. ``body`` is the decoded message (an Envelope for events)."""

    body: Any
    dedup_id: UUID | None
    record: ConsumerRecord
    headers: dict[str, bytes]

    @property
    def topic(self) -> str:
        return str(self.record.topic)

    @property
    def partition(self) -> int:
        return int(self.record.partition)

    @property
    def offset(self) -> int:
        return int(self.record.offset)

    @property
    def key(self) -> bytes | None:
        return self.record.key

    @property
    def envelope(self) -> Envelope[Any]:
        assert isinstance(self.body, Envelope)
        return self.body


Decoder = Callable[[ConsumerRecord], tuple[Any, UUID | None]]
Handler = Callable[[asyncpg.Connection, Incoming, Emitter], Awaitable[None]]
"""A per-record handler: the effect of one record in the batch's open transaction."""

AfterCommit = Callable[[], None]
"""What a batch handler may return: run once the batch's transaction has committed (e.g. a cache
takes what was stored; never before, or a rolled-back attempt would leave it in the cache)."""

BatchHandler = Callable[[asyncpg.Connection, list[Incoming], Emitter],
                        Awaitable[AfterCommit | None]]
"""The consumer's primitive: the effect of a batch's new records (never an empty list; inbox
duplicates already left out, in the order consumed) on ``conn`` inside the batch's transaction,
emitting through ``emitter`` (flushed to the outbox by the consumer in the same transaction).

Raising a transient error (:func:`is_transient`) retries the batch; any other error rolls it
back and the consumer replays the batch record by record, each a batch of one in its own
transaction, and dead-letters the record that still breaks the handler: so a batch handler
keeps per-record containment without knowing which record broke it. Raise :class:`PoisonMessage`
(or an error with a ``code``) to name the dead letter's ``dlt-error-code``."""


class PoisonMessage(Exception):
    """Raised by a decoder or handler for a message that can never be processed; ``code`` is
    the dead letter's ``dlt-error-code``."""

    def __init__(self, message: str, code: str = "message_invalid") -> None:
        super().__init__(message)
        self.code = code


def decode_event(record: ConsumerRecord) -> tuple[Any, UUID | None]:
    """The record's envelope, if its topic carries that event type from that producer
    (contracts.topic_manifest); anything else is poison."""
    envelope = decode(record.value)
    refused = manifest_refusal(str(record.topic), envelope.event_type, envelope.actor.role)
    if refused is not None:
        raise PoisonMessage(f"{envelope.event_type} from role {envelope.actor.role} is not "
                            f"accepted on {record.topic}", refused)
    return envelope, envelope.event_id


DEAD_LETTER_CODES: dict[str, str] = {
    "json_invalid": "the record is not JSON (or not UTF-8, or nested deeper than the parser takes)",
    "json_too_deep": "decoding the record ran out of stack (nested too deeply)",
    "encoding_invalid": "the record's bytes are not valid text",
    "event_type_unknown": "the record names an event type (or schema version) the contracts do not "
                          "know",
    "schema_invalid": "the record is JSON but not its event's contract (a field missing, of the "
                      "wrong type, too long or too large)",
    "handler_failed": "the record broke its handler (a non-transient error); dead-lettered alone",
    "message_invalid": "a handler refused the record as one that can never be processed",
}
"""Codes of the ``dlt-error-code`` header (with contracts.topic_manifest's)."""


def error_code(error: BaseException) -> str:
    """The stable code of a dead letter (header ``dlt-error-code``), by what broke."""
    code = getattr(error, "code", None)
    if isinstance(code, str) and code:
        return code
    if isinstance(error, RecursionError):
        return "json_too_deep"
    if isinstance(error, UnicodeError):
        return "encoding_invalid"
    if isinstance(error, UnknownEventType):
        return "event_type_unknown"
    if isinstance(error, pydantic.ValidationError):
        if any(e["type"] == "json_invalid" for e in error.errors(include_url=False)):
            return "json_invalid"
        return "schema_invalid"
    if isinstance(error, ValueError):
        return "json_invalid"
    return "handler_failed"


# How long a consumer keeps asking for a group's committed offsets that a broker answered with
# none before it takes the log for a lost one: Kafka 3.7 answered "none" for ~2.5 s after a
# restart on an idle 2-core machine (loading __consumer_offsets), longer under load.
OFFSETS_RELOAD_WAIT_S = 15.0

_TRANSIENT: tuple[type[BaseException], ...] = (
    OSError, TimeoutError, KafkaError,
    asyncpg.PostgresConnectionError, asyncpg.InterfaceError,
    asyncpg.SerializationError, asyncpg.DeadlockDetectedError,
    asyncpg.TooManyConnectionsError, asyncpg.CannotConnectNowError,
)


def is_transient(exc: BaseException) -> bool:
    return isinstance(exc, _TRANSIENT)


def per_record(handler: Handler, *, consumer: str, clock: Clock,
               tracing: Tracing = DISABLED) -> BatchHandler:
    """A :data:`BatchHandler` running ``handler`` on each record in turn, in the record's scope:
    the simulated time its header carries, its ids on every log line, its CONSUMER span (the
    child of its ``traceparent``) for consumer group ``consumer``."""

    async def each_record(conn: asyncpg.Connection, items: list[Incoming],
                          emitter: Emitter) -> None:
        for item in items:
            with record_scope(item, consumer=consumer, clock=clock, tracing=tracing):
                try:
                    await handler(conn, item, emitter)
                except Exception as exc:
                    if is_transient(exc):
                        raise
                    # Some record breaks the handler: the consumer replays the batch one by one.
                    raise _HandlerBroke(str(exc)) from exc

    return each_record


@contextlib.contextmanager
def record_scope(item: Incoming, *, consumer: str, clock: Clock,
                 tracing: Tracing = DISABLED) -> Iterator[None]:
    """One record's scope: the simulated time its header carries, its ids on every log line, its
    CONSUMER span (the child of its ``traceparent``). :func:`per_record` runs each record in it;
    a set-based batch handler enters it around what it does for one record (above all its
    emits: an event emitted inside carries the record's trace, not the batch's)."""
    with (
        clock.at(item.headers.get(SIMULATED_TIME_HEADER)),
        logging.bound(topic=item.topic, offset=item.offset, **_log_ids(item)),
        tracing.consumed(consumer, item.topic, item.headers),
    ):
        yield


def traced_batch(handler: BatchHandler, *, consumer: str, tracing: Tracing) -> BatchHandler:
    """``handler`` in one CONSUMER span per batch (``Tracing.consumed_batch``: the child of the
    batch's one traced record, else linked to each)."""

    async def in_batch_span(conn: asyncpg.Connection, items: list[Incoming],
                            emitter: Emitter) -> AfterCommit | None:
        with tracing.consumed_batch(consumer, items):
            return await handler(conn, items, emitter)

    return in_batch_span


def _error_text(error: BaseException) -> str:
    """What broke, for a dead letter's header and log line: a validation error names the fields
    and error types but never quotes the input (it may hold personal data)."""
    if isinstance(error, pydantic.ValidationError):
        details = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(message)'}: {e['msg']} [type={e['type']}]"
            for e in error.errors(include_url=False, include_input=False, include_context=False))
        return f"ValidationError: {error.title}: {details}"
    return f"{type(error).__name__}: {error}"


def _stop_process() -> None:
    log.critical("poison_storm_stopping_service")
    os.kill(os.getpid(), signal.SIGTERM)


def _halt_process() -> None:
    log.critical("consumer_halted_stopping_service")
    os.kill(os.getpid(), signal.SIGTERM)


class EventConsumer:
    """Runs one batch handler over records of some topics for one consumer group.

    ``batch_handler`` (not ``handler``): a per-record handler passed where a batch handler is
    expected would be called with a list and break on every record, each then dead-lettered;
    the distinct keyword makes such a call fail at construction instead. Wrap it in
    :func:`per_record`."""

    def __init__(
        self, *, name: str, batch_handler: BatchHandler, settings: ServiceSettings, clock: Clock,
        pool_provider: Callable[[], asyncpg.Pool], broker_provider: Callable[[], KafkaBroker],
        decoder: Decoder = decode_event, on_poison_storm: Callable[[], None] = _stop_process,
        on_halt: Callable[[], None] = _halt_process, tracing: Tracing = DISABLED,
    ) -> None:
        self.name = name
        self.tracing = tracing
        self.batch_handler = batch_handler
        self.settings = settings
        self.clock = clock
        self._pool = pool_provider
        self._broker = broker_provider
        self.decoder = decoder
        self.on_poison_storm = on_poison_storm
        self.on_halt = on_halt
        self.halted: str | None = None  # why this consumer refuses every further batch
        self.consecutive_poison = 0
        self.dead_lettered = 0
        self._batches = 0  # consumed in this process (fault injection counts them)
        self.processed = 0
        self.topics: tuple[str, ...] = ()
        # "topic:partition" → next offset whose effect is committed (for /health and barriers)
        self.positions: dict[str, int] = {}
        # Metrics (servicekit.metrics reads these when scraped; the hot path only bumps them).
        # ``_apply`` sets ``_attempt_duplicates`` to the records its inbox claim skipped;
        # ``process`` counts them once that transaction committed.
        self.duplicates = 0
        self._attempt_duplicates = 0
        self.largest_batch = 0  # most records in one committed transaction (tests, diagnosis)
        self.dead_letters_by_topic: dict[str, int] = {}
        self.timings = Timings()
        self._subscriber: Any = None

    # -- entry point from FastStream ------------------------------------------------------
    async def consume(self, msg: KafkaMessage) -> None:
        if self.consecutive_poison >= self.settings.poison_storm_limit:
            # Stopped by a poison storm: never process (or commit past) anything more.
            raise PoisonStorm(f"{self.name} stopped after {self.consecutive_poison} dead letters")
        if self.halted is not None:
            raise ConsumerHalted(f"{self.name} halted: {self.halted}")
        records = msg.raw_message if isinstance(msg.raw_message, tuple) else (msg.raw_message,)
        if self.positions and not await self._offsets_still_ours(records):
            return  # neither processed nor acknowledged: fetched again from where it now starts
        started = time.perf_counter()
        before = (self.processed, self.duplicates, self.dead_lettered)
        try:
            await self.process(records)
        except Exception as exc:
            # Not acknowledged, but the client's position has moved past these records: the next
            # batch's commit would skip them. Halt (refuse every later batch) and stop the
            # process; after the restart they are read again from the last committed offset.
            # E.g. a dead letter the broker would not take.
            self.halted = f"{type(exc).__name__}: {exc}"[:500]
            if not isinstance(exc, PoisonStorm):
                log.critical("consumer_halted", consumer=self.name, error=self.halted)
                self.on_halt()
            raise
        elapsed = time.perf_counter() - started
        self.timings.observe(elapsed)
        self._batches += 1
        _log_batch(self.name, records, before,
                    (self.processed, self.duplicates, self.dead_lettered), elapsed)
        if (self.settings.fault_kill_before_commit
                or self._batches == self.settings.fault_kill_at_batch):
            os.kill(os.getpid(), signal.SIGKILL)
        await msg.ack()
        for r in records:
            key = f"{r.topic}:{r.partition}"
            self.positions[key] = max(self.positions.get(key, 0), r.offset + 1)

    async def _offsets_still_ours(self, records: Sequence[ConsumerRecord]) -> bool:
        """Before a batch: is the group's committed offset, for each partition in it, still at
        least where this process committed it? One OffsetFetch per batch.

        It is not when the broker lost the group's offsets and its log (the embedded broker
        after a restart: new records then reuse old offsets, and a fetch at the old position
        would silently skip the new log's first records), or when a commit of ours was lost.
        Then the batch is dropped, unacknowledged, and the partition resumes at the committed
        offset (the start of the log when there is none); the inbox absorbs what is read again.
        If the check cannot be made, the batch is dropped and fetched again as it is.
        """
        consumer = self.kafka_consumer
        fetch_committed = aiokafka_private.committed_offsets_fetcher(consumer)
        if consumer is None or fetch_committed is None:
            return True
        first: dict[TopicPartition, int] = {}
        for r in records:
            tp = TopicPartition(r.topic, r.partition)
            first[tp] = min(first.get(tp, r.offset), r.offset)
        ours = {tp: self.positions[f"{tp.topic}:{tp.partition}"] for tp in first
                if f"{tp.topic}:{tp.partition}" in self.positions}
        if not ours:
            return True
        try:
            committed = await asyncio.wait_for(
                fetch_committed(set(ours)),
                self.settings.transient_retry_max_delay_s)
        except Exception as exc:  # noqa: BLE001 - broker away: try this batch again later
            log.warning("committed_offsets_unknown", consumer=self.name, error=repr(exc))
            for tp, offset in first.items():
                consumer.seek(tp, offset)
            await asyncio.sleep(0.5)
            return False
        # No committed offset at all: a lost log (the embedded broker after a restart), or a
        # durable broker that answers before its group coordinator has loaded the offsets again
        # (Kafka 3.7 answers "none", without an error, for seconds). Keep asking for a while
        # before reading the partition from its start.
        deadline = time.monotonic() + OFFSETS_RELOAD_WAIT_S
        while any(tp not in committed for tp in ours) and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            try:
                committed = {**await asyncio.wait_for(
                    fetch_committed(set(ours)),
                    self.settings.transient_retry_max_delay_s), **committed}
            except Exception as exc:  # noqa: BLE001 - broker away: asked again until the deadline
                log.warning("committed_offsets_unknown", consumer=self.name, error=repr(exc))
        behind = {tp: committed[tp].offset if tp in committed else None
                  for tp, position in ours.items()
                  if tp not in committed or committed[tp].offset < position}
        if not behind:
            return True
        log.error("committed_offsets_went_back", consumer=self.name,
                  partitions={f"{tp.topic}:{tp.partition}": [ours[tp], offset]
                              for tp, offset in behind.items()})
        for tp, offset in behind.items():
            if offset is None:
                await consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, offset)
            self.positions.pop(f"{tp.topic}:{tp.partition}", None)
        for tp, offset in first.items():  # the batch's other partitions: read again as they were
            if tp not in behind:
                consumer.seek(tp, offset)
        return False

    async def process(self, records: Sequence[ConsumerRecord]) -> None:
        good: list[Incoming] = []
        for record in records:
            try:
                body, dedup_id = self.decoder(record)
            except Exception as exc:  # noqa: BLE001 - undecodable, invalid or unknown: never processable
                await self._dead_letter(record, exc)
                continue
            good.append(_incoming(record, body, dedup_id))
        if not good:
            return
        try:
            await self._with_retry(lambda: self._apply(good))
            self._count_duplicates()
        except _HandlerBroke:
            for item in good:
                try:
                    await self._with_retry(functools.partial(self._apply, [item]))
                    self._count_duplicates()
                except _HandlerBroke as broke:
                    cause = broke.__cause__ or broke
                    code = getattr(cause, "code", None)
                    await self._dead_letter(item.record, cause, code=code if isinstance(
                        code, str) and code else "handler_failed")
        self.consecutive_poison = 0
        self.processed += len(good)

    # -- one transaction -------------------------------------------------------------------
    async def _apply(self, items: list[Incoming]) -> None:
        after: AfterCommit | None = None
        pool = self._pool()
        async with pool.acquire() as conn, conn.transaction():
            ids = [i.dedup_id for i in items if i.dedup_id is not None]
            fresh = await inbox.claim(conn, self.name, ids)
            emitter = Emitter(self.clock, notify_channel(self.settings.database_name),
                              max_message_bytes=self.settings.kafka_max_message_bytes)
            todo = inbox.first_deliveries(items, fresh)
            # duplicate deliveries are acknowledged with the batch and have no effect
            self._attempt_duplicates = len(items) - len(todo)
            if todo:
                after = await self.batch_handler(conn, todo, emitter)
            await emitter.flush(conn)
        self.largest_batch = max(self.largest_batch, len(items))
        if after is not None:
            after()

    def _count_duplicates(self) -> None:
        # After a committed attempt: the duplicates its inbox claim skipped (a rolled-back
        # attempt's count was overwritten by the next attempt).
        self.duplicates += self._attempt_duplicates
        self._attempt_duplicates = 0

    async def _with_retry(self, attempt: Callable[[], Awaitable[None]]) -> None:
        delay = 0.05
        while True:
            try:
                await attempt()
                return
            except _HandlerBroke:
                raise
            except Exception as exc:
                if not is_transient(exc):
                    raise _HandlerBroke(repr(exc)) from exc
                log.warning("transient_error_retrying", consumer=self.name, error=repr(exc),
                            delay_s=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.settings.transient_retry_max_delay_s)

    # -- dead letters -----------------------------------------------------------------------
    async def _dead_letter(self, record: ConsumerRecord, error: BaseException,
                           code: str | None = None) -> None:
        headers = {
            "dlt-original-topic": record.topic,
            "dlt-original-partition": str(record.partition),
            "dlt-original-offset": str(record.offset),
            "dlt-consumer-group": self.name,
            "dlt-error": _error_text(error)[:1000],
            "dlt-error-code": code or error_code(error),
        }
        for k, v in record.headers or ():
            headers.setdefault(k, v.decode(errors="replace") if isinstance(v, bytes) else str(v))
        # Awaited: the record's offset is committed only after the broker holds its dead letter.
        await self._broker().publish(
            record.value, topic=f"{record.topic}.dlt", key=record.key, headers=headers
        )
        self.dead_lettered += 1
        by_topic = self.dead_letters_by_topic
        by_topic[record.topic] = by_topic.get(record.topic, 0) + 1
        self.consecutive_poison += 1
        log.error("dead_lettered", consumer=self.name, topic=record.topic,
                  partition=record.partition, offset=record.offset, error=headers["dlt-error"])
        if self.consecutive_poison >= self.settings.poison_storm_limit:
            self.on_poison_storm()
            # Leave the rest of the batch unprocessed and its offsets uncommitted.
            raise PoisonStorm(f"{self.name}: {self.consecutive_poison} dead letters in a row")

    # -- wiring ------------------------------------------------------------------------------
    @property
    def kafka_consumer(self) -> Any:
        """The ``AIOKafkaConsumer`` behind the FastStream subscriber (``None`` unless started)."""
        return getattr(self._subscriber, "consumer", None)

    @property
    def started(self) -> bool:
        """The subscriber runs and has its Kafka consumer."""
        sub = self._subscriber
        return bool(sub is not None and getattr(sub, "running", False)
                    and getattr(sub, "consumer", None) is not None)

    def subscribe(self, broker: KafkaBroker, *topics: str) -> None:
        s = self.settings
        self.topics = topics
        self._subscriber = broker.subscriber(
            *topics,
            group_id=self.name,
            batch=True,
            max_records=s.consumer_max_records,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            session_timeout_ms=s.consumer_session_timeout_ms,
            heartbeat_interval_ms=s.consumer_heartbeat_interval_ms,
            fetch_max_wait_ms=s.consumer_fetch_max_wait_ms,
            batch_timeout_ms=s.consumer_fetch_max_wait_ms,
            ack_policy=AckPolicy.MANUAL,
            # FastStream would json.loads every record of the batch before ``consume`` runs: a
            # record nested 50,000 deep raised RecursionError there, outside any per-record
            # handling, and the batch was lost (issue 14.3). Records are decoded one by one in
            # ``process``, where a failure dead-letters only its record.
            decoder=_undecoded,
        )
        self._subscriber(self.consume)


class ConsumerHalted(Exception):
    """A batch failed in a way the consumer could not contain; it takes no further batches."""


class PoisonStorm(Exception):
    """``poison_storm_limit`` dead letters in a row: the consumer stops without committing."""


class _HandlerBroke(Exception):
    """A non-transient error while handling: some record in the batch is poison."""


async def _undecoded(message: Any) -> Any:
    """FastStream's body decoding, skipped: ``consume`` reads ``msg.raw_message``."""
    return None


def _incoming(record: ConsumerRecord, body: Any, dedup_id: UUID | None) -> Incoming:
    return Incoming(body, dedup_id, record, dict(record.headers or ()))


def _log_batch(consumer: str, records: Sequence[ConsumerRecord], before: tuple[int, int, int],
               after: tuple[int, int, int], elapsed_s: float) -> None:
    """One INFO line per batch (the per-message lines are FastStream's, at DEBUG)."""
    offsets: dict[str, list[int]] = {}
    for r in records:
        span = offsets.setdefault(f"{r.topic}:{r.partition}", [r.offset, r.offset])
        span[0], span[1] = min(span[0], r.offset), max(span[1], r.offset)
    log.info("batch_processed", consumer=consumer, records=len(records),
             processed=after[0] - before[0], duplicates=after[1] - before[1],
             dead_lettered=after[2] - before[2], offsets=offsets,
             duration_ms=round(elapsed_s * 1000, 1))


def _log_ids(item: Incoming) -> dict[str, str]:
    if isinstance(item.body, Envelope):
        return {"event_id": str(item.body.event_id), "correlation_id": item.body.correlation_id}
    return {}
