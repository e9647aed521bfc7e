"""The consumer's batch seam without a broker or database: a per-record handler through
``per_record`` and a batch handler through ``EventConsumer``'s one ``_apply``, against a fake
transactional database (inbox, effects, outbox rows kept only when the transaction commits).

What they guard: a new record takes effect once, in order, a duplicate never; a record that breaks
the handler (per-record or batch) is dead-lettered alone and the rest of its batch still takes
effect, with none of the broken attempt's effects, outbox rows or after-commit calls kept; a
transient error retries the batch; each record runs in its own scope (simulated time, log ids,
span) under ``per_record``, and a batch in one span under ``traced_batch``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest
import structlog
from aiokafka import ConsumerRecord

from contracts.assessment import PriorAwardImported
from contracts.base import Actor
from contracts.envelope import SIMULATED_TIME_HEADER
from servicekit.clock import SimulatedClock, make_clock
from servicekit.consumer import (
    AfterCommit,
    BatchHandler,
    EventConsumer,
    Handler,
    Incoming,
    PoisonMessage,
    per_record,
    record_scope,
    traced_batch,
)
from servicekit.outbox import Cause, Emitter
from servicekit.settings import ServiceSettings
from servicekit.tracing import Tracing
from tests.unit.servicekit.fake_database import FakeDatabase, FakePool

CAUSE = Cause(actor=Actor(id="test", role="system"), correlation_id="c-1")

class FakeBroker:
    def __init__(self) -> None:
        self.published: list[tuple[str, dict[str, str]]] = []

    async def publish(self, value: bytes, *, topic: str, key: Any, headers: Any) -> None:
        self.published.append((topic, headers))


class FakeTracing:
    """The two span calls the adapters make, recorded."""

    def __init__(self) -> None:
        self.spans: list[tuple[str, str, Any]] = []

    @contextlib.contextmanager
    def consumed(self, consumer: str, topic: str, headers: Any) -> Iterator[None]:
        self.spans.append(("record", consumer, dict(headers)))
        yield

    @contextlib.contextmanager
    def consumed_batch(self, consumer: str, items: Sequence[Incoming]) -> Iterator[None]:
        self.spans.append(("batch", consumer, [i.offset for i in items]))
        yield


# -- records -------------------------------------------------------------------------------------

def record(offset: int, value: bytes = b"ok", *, event_id: UUID | None = None,
           at: str | None = None, traceparent: str | None = None) -> ConsumerRecord:
    headers = [("event_id", str(event_id or uuid4()).encode())]
    if at is not None:
        headers.append((SIMULATED_TIME_HEADER, at.encode()))
    if traceparent is not None:
        headers.append(("traceparent", traceparent.encode()))
    return ConsumerRecord(topic="t", partition=0, offset=offset, timestamp=0, timestamp_type=0,
                          key=b"k", value=value, checksum=None, serialized_key_size=1,
                          serialized_value_size=len(value), headers=headers)


def decode(r: ConsumerRecord) -> tuple[Any, UUID | None]:
    """The value as the body; the dedup id from the ``event_id`` header."""
    return r.value, UUID(dict(r.headers)["event_id"].decode())


def make(batch_handler: BatchHandler, db: FakeDatabase, broker: FakeBroker | None = None,
         clock: Any = None, name: str = "g") -> EventConsumer:
    fake_broker = broker or FakeBroker()
    return EventConsumer(
        name=name, batch_handler=batch_handler, settings=ServiceSettings(),
        clock=clock or make_clock(False),
        pool_provider=lambda: FakePool(db),  # type: ignore[arg-type,return-value]
        broker_provider=lambda: fake_broker,  # type: ignore[arg-type,return-value]
        decoder=decode, on_poison_storm=lambda: None)


def emit(emitter: Emitter, item: Incoming) -> None:
    emitter.emit(PriorAwardImported(programme="p", municipality_code="101",
                                    pool_id=f"pool-{item.offset}"),
                 aggregate_id=f"agg-{item.offset}", cause=CAUSE)


async def per_record_effect(conn: Any, item: Incoming, emitter: Emitter) -> None:
    if item.body == b"breaks":
        raise ValueError(f"record {item.offset} breaks the handler")
    conn.record(item.offset)
    emit(emitter, item)


# -- per_record ----------------------------------------------------------------------------------

async def test_per_record_runs_each_new_record_once_in_order_and_flushes_its_events() -> None:
    copy, old = uuid4(), uuid4()
    db = FakeDatabase(claimed=[old])
    c = make(per_record(per_record_effect, consumer="g", clock=make_clock(False)), db)
    await c.process([record(0), record(1, event_id=copy), record(2, event_id=old), record(3),
                     record(4, event_id=copy)])
    assert db.effects == [0, 1, 3]  # the old id and the second copy have no effect
    assert len(db.outbox) == 3  # the events of the three, flushed in the same transaction
    assert db.commits == 1 and db.rollbacks == 0  # one transaction: inbox, effects, outbox
    assert c.processed == 5 and c.duplicates == 2 and c.dead_lettered == 0
    assert c.largest_batch == 5


async def test_per_record_gives_each_record_its_own_time_log_ids_and_span() -> None:
    clock = SimulatedClock(datetime(2030, 1, 1, tzinfo=UTC))
    seen: list[tuple[datetime, Any, Any]] = []

    async def handler(conn: Any, item: Incoming, emitter: Emitter) -> None:
        bound = structlog.contextvars.get_contextvars()
        seen.append((clock.now(), bound.get("topic"), bound.get("offset")))

    tracing = FakeTracing()
    c = make(per_record(handler, consumer="g", clock=clock, tracing=tracing),  # type: ignore[arg-type]
             FakeDatabase(), clock=clock)
    await c.process([record(0, at="2031-02-03T04:05:06+00:00"),
                     record(1, at="2031-02-03T04:05:07+00:00")])
    assert seen == [(datetime(2031, 2, 3, 4, 5, 6, tzinfo=UTC), "t", 0),
                    (datetime(2031, 2, 3, 4, 5, 7, tzinfo=UTC), "t", 1)]
    assert [(kind, consumer) for kind, consumer, _ in tracing.spans] == [("record", "g")] * 2


async def test_a_record_breaking_a_per_record_handler_is_dead_lettered_alone() -> None:
    db, broker = FakeDatabase(), FakeBroker()
    c = make(per_record(per_record_effect, consumer="g", clock=make_clock(False)), db, broker)
    await c.process([record(0), record(1), record(2, b"breaks"), record(3), record(4)])
    assert db.effects == [0, 1, 3, 4]  # the first attempt (all five) was rolled back
    assert len(db.outbox) == 4
    assert db.rollbacks == 2 and db.commits == 4  # the batch, then record 2 alone; 4 alone ok
    assert [(t, h["dlt-original-offset"], h["dlt-error-code"]) for t, h in broker.published] == [
        ("t.dlt", "2", "handler_failed")]
    assert c.processed == 5 and c.dead_lettered == 1 and c.consecutive_poison == 0


# -- batch handlers --------------------------------------------------------------------------------

def batch_effect(after_commit: list[list[int]]) -> BatchHandler:
    async def handler(conn: Any, items: list[Incoming], emitter: Emitter) -> AfterCommit:
        assert items, "never called with an empty batch"
        for item in items:
            if item.body == b"poison":
                raise PoisonMessage(f"record {item.offset} can never be decided", "test_refused")
            if item.body == b"breaks":
                raise ValueError("some record breaks the set-based statement")
            conn.record(item.offset)
            emit(emitter, item)
        offsets, db = [i.offset for i in items], conn.db
        # what of this batch the database holds when the function runs: all of it after commit
        return lambda: after_commit.append([o for o in offsets if o in db.effects])

    return handler


async def test_a_batch_handler_gets_the_new_records_at_once_and_runs_after_commit() -> None:
    old = uuid4()
    db, after = FakeDatabase(claimed=[old]), []
    c = make(batch_effect(after), db)
    await c.process([record(0), record(1, event_id=old), record(2)])
    assert db.effects == [0, 2] and len(db.outbox) == 2 and db.commits == 1
    assert after == [[0, 2]]
    assert c.duplicates == 1 and c.processed == 3 and c.largest_batch == 3


async def test_a_batch_handler_breaking_on_one_record_dead_letters_only_that_record() -> None:
    """The batch handler cannot say which record broke it: the consumer replays the batch one
    record at a time and dead-letters the one that still breaks; the rest take effect, and the
    broken attempt's after-commit never runs."""
    db, broker, after = FakeDatabase(), FakeBroker(), []
    c = make(batch_effect(after), db, broker)
    await c.process([record(0), record(1, b"breaks"), record(2), record(3, b"poison"), record(4)])
    assert db.effects == [0, 2, 4] and len(db.outbox) == 3
    assert after == [[0], [2], [4]]
    assert [(h["dlt-original-offset"], h["dlt-error-code"]) for _, h in broker.published] == [
        ("1", "handler_failed"), ("3", "test_refused")]
    assert c.processed == 5 and c.dead_lettered == 2 and c.consecutive_poison == 0
    assert c.largest_batch == 1


async def test_a_batch_of_only_duplicates_never_reaches_the_handler() -> None:
    ids = [uuid4(), uuid4()]
    db = FakeDatabase(claimed=ids)

    async def never(conn: Any, items: list[Incoming], emitter: Emitter) -> None:
        raise AssertionError("called with no new record")

    c = make(never, db)
    await c.process([record(0, event_id=ids[0]), record(1, event_id=ids[1])])
    assert c.duplicates == 2 and c.dead_lettered == 0 and db.commits == 1


async def test_a_transient_error_retries_the_batch_and_counts_its_committed_duplicates() -> None:
    """First attempt: the inbox claims two ids, the handler fails transiently, all rolled back.
    The retry claims them again; only that committed attempt's duplicate (the old id) counts."""
    old = uuid4()
    db, attempts = FakeDatabase(claimed=[old]), []

    async def flaky(conn: Any, items: list[Incoming], emitter: Emitter) -> None:
        attempts.append([i.offset for i in items])
        if len(attempts) == 1:
            raise OSError("database away")
        for item in items:
            conn.record(item.offset)

    c = make(flaky, db)
    await c.process([record(0), record(1, event_id=old), record(2)])
    assert attempts == [[0, 2], [0, 2]] and db.effects == [0, 2]
    assert db.rollbacks == 1 and db.commits == 1
    assert c.duplicates == 1 and c.dead_lettered == 0


async def test_traced_batch_opens_one_span_per_batch_and_per_record_none_of_its_own() -> None:
    tracing, after = FakeTracing(), []
    traced = traced_batch(batch_effect(after), consumer="g-portal",
                          tracing=tracing)  # type: ignore[arg-type]
    await make(traced, FakeDatabase()).process([record(0), record(1)])
    assert tracing.spans == [("batch", "g-portal", [0, 1])]


async def test_a_batch_handlers_emits_in_a_record_scope_carry_that_records_trace() -> None:
    """Real OpenTelemetry (in-memory): the batch span of two traced records is linked to both,
    so an event emitted in it alone would start a trace of its own; emitted inside
    ``record_scope`` it carries its record's trace, and the scope sets the record's time."""
    tracing = Tracing(ServiceSettings(service_name="seam", otel_enabled=True,
                                      otel_exporter="memory"))
    parents = {0: f"00-{'a1' * 16}-{'b1' * 8}-01", 1: f"00-{'a2' * 16}-{'b2' * 8}-01"}
    clock = SimulatedClock()
    carried: dict[str, list[str | None]] = {"scoped": [], "batch": []}
    times = []

    async def set_based(conn: Any, items: list[Incoming], emitter: Emitter) -> None:
        for item in items:
            conn.record(item.offset)
            emit(emitter, item)
            carried["batch"].append(emitter.pending[-1].traceparent)
            with record_scope(item, consumer="g", clock=clock, tracing=tracing):
                emit(emitter, item)
                times.append(clock.now())
            carried["scoped"].append(emitter.pending[-1].traceparent)

    await make(traced_batch(set_based, consumer="g", tracing=tracing), FakeDatabase(),
               clock=clock).process([
        record(0, traceparent=parents[0], at="2025-05-01T10:00:00+00:00"),
        record(1, traceparent=parents[1], at="2025-05-01T11:00:00+00:00")])
    trace_of = [p.split("-")[1] if p else None for p in carried["scoped"]]
    assert trace_of == [parents[0].split("-")[1], parents[1].split("-")[1]]
    assert not {p.split("-")[1] for p in carried["batch"] if p} & set(trace_of)
    assert [t.hour for t in times] == [10, 11]


def test_the_consumer_takes_a_batch_handler_not_a_per_record_one() -> None:
    """A per-record handler given as ``handler=`` (the keyword before the seam) is refused when
    the consumer is built, not dead-lettering every record once it runs."""
    handler: Handler = per_record_effect
    with pytest.raises(TypeError):
        EventConsumer(name="g", handler=handler, settings=ServiceSettings(),  # type: ignore[call-arg]
                      clock=make_clock(False), pool_provider=lambda: None,  # type: ignore
                      broker_provider=lambda: None)  # type: ignore[arg-type,return-value]
