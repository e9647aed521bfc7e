"""Health and metrics pieces without a broker or database: the histogram, lag arithmetic, the
collector's exposition, dead letters counted by topic (duplicates across retried attempts:
test_batch_seam.py), and the HTTP endpoints of a runtime that never started."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any
from uuid import uuid4

import httpx
import pytest
from aiokafka import ConsumerRecord, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from servicekit.clock import make_clock
from servicekit.consumer import EventConsumer
from servicekit.metrics import (
    LagRow, RuntimeMetrics, Timings, consumer_lag, database_ready, outbox_state,
)
from servicekit.service import ServiceRuntime
from servicekit.settings import ServiceSettings
from tests.unit.servicekit.fake_database import FakeDatabase
from tests.unit.servicekit.fake_database import FakePool as FakeConsumerPool

# -- helpers ---------------------------------------------------------------------------------------


def samples(text: bytes | str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Exposition text → {(sample name, sorted labels): value}."""
    raw = text.decode() if isinstance(text, bytes) else text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(raw) for s in family.samples}


def record(topic: str = "t", partition: int = 0, offset: int = 0,
           value: bytes = b"{}") -> ConsumerRecord:
    return ConsumerRecord(topic=topic, partition=partition, offset=offset, timestamp=0,
                          timestamp_type=0, key=b"k", value=value, checksum=None,
                          serialized_key_size=1, serialized_value_size=len(value), headers=[])


class FakeBroker:
    def __init__(self) -> None:
        self.published: list[tuple[bytes, str]] = []

    async def publish(self, value: bytes, *, topic: str, key: Any, headers: Any) -> None:
        self.published.append((value, topic))


def consumer(name: str = "c", *, decoder: Any = None,
             broker: FakeBroker | None = None) -> EventConsumer:
    async def batch_handler(*_: Any) -> None:
        return None

    kwargs: dict[str, Any] = {} if decoder is None else {"decoder": decoder}
    fake_broker = broker or FakeBroker()
    db = FakeDatabase()
    return EventConsumer(
        name=name, batch_handler=batch_handler, settings=ServiceSettings(), clock=make_clock(False),
        pool_provider=lambda: FakeConsumerPool(db),  # type: ignore[arg-type,return-value]
        broker_provider=lambda: fake_broker,  # type: ignore[arg-type,return-value]
        on_poison_storm=lambda: None, **kwargs)


class FakeKafka:
    """The AIOKafkaConsumer calls lag uses."""

    def __init__(self, ends: dict[TopicPartition, tuple[int | None, int | None]],
                 fetch_positions: dict[TopicPartition, int]) -> None:
        self.ends = ends  # tp → (highwater, last stable offset)
        self.fetch_positions = fetch_positions

    def assignment(self) -> set[TopicPartition]:
        return set(self.ends)

    def highwater(self, tp: TopicPartition) -> int | None:
        return self.ends[tp][0]

    def last_stable_offset(self, tp: TopicPartition) -> int | None:
        return self.ends[tp][1]

    async def position(self, tp: TopicPartition) -> int:
        if tp not in self.fetch_positions:
            await asyncio.sleep(10)  # aiokafka waits for a position that never comes
        return self.fetch_positions[tp]


class Relay:
    published = 0
    held = 0


# -- Timings ---------------------------------------------------------------------------------------

def test_timings_buckets_are_inclusive_upper_bounds_and_cumulative() -> None:
    t = Timings((0.01, 0.1, 1.0))
    for v in (0.005, 0.01, 0.05, 0.5, 3.0):
        t.observe(v)
    assert t.cumulative() == [("0.01", 2.0), ("0.1", 3.0), ("1.0", 4.0), ("+Inf", 5.0)]
    assert t.count == 5 and t.sum == pytest.approx(3.565)


# -- lag -------------------------------------------------------------------------------------------

async def test_lag_is_end_of_log_minus_committed_position() -> None:
    a0, a1, b0, b1 = (TopicPartition("a", 0), TopicPartition("a", 1), TopicPartition("b", 0),
                      TopicPartition("b", 1))
    kafka = FakeKafka(
        ends={a0: (10, 8),        # last stable offset wins when the broker reports one
              a1: (5, -1),        # read_uncommitted-style -1: fall back to the high watermark
              b0: (None, None),   # not fetched yet: unknown, left out
              b1: (3, None)},     # broker behind the committed position: never negative
        fetch_positions={a1: 2})
    rows = await consumer_lag(kafka, {"a:0": 6, "b:1": 4})
    assert rows == [LagRow("a", 0, 2), LagRow("a", 1, 3), LagRow("b", 1, 0)]


async def test_lag_skips_a_partition_without_any_position_quickly() -> None:
    tp = TopicPartition("a", 0)
    rows = await asyncio.wait_for(consumer_lag(FakeKafka({tp: (4, None)}, {}), {}, 0.05), 2)
    assert rows == []
    assert await consumer_lag(None, {}) == []


# -- duplicates, dead letters, timings through the consumer ---------------------------------------

def _decode_ok(r: ConsumerRecord) -> tuple[Any, Any]:
    if r.value == b"poison":
        raise ValueError("undecodable")
    return r.value, uuid4()


class FakeMessage:
    def __init__(self, records: Sequence[ConsumerRecord]) -> None:
        self.raw_message = tuple(records)
        self.acked = False

    async def ack(self) -> None:
        self.acked = True


async def test_consume_counts_dead_letters_by_topic_and_times_each_batch() -> None:
    broker = FakeBroker()
    c = consumer(decoder=_decode_ok, broker=broker)
    msg = FakeMessage([record("x", 0, 0, b"poison"), record("x", 0, 1), record("y", 1, 0),
                       record("y", 1, 1, b"poison")])
    await c.consume(msg)  # type: ignore[arg-type]
    assert msg.acked and c.positions == {"x:0": 2, "y:1": 2}
    assert c.dead_letters_by_topic == {"x": 1, "y": 1} and c.dead_lettered == 2
    assert [t for _, t in broker.published] == ["x.dlt", "y.dlt"]
    assert c.processed == 2 and c.duplicates == 0
    assert c.timings.count == 1 and c.timings.sum >= 0


# -- the collector ---------------------------------------------------------------------------------

class FakePool:
    def __init__(self, row: dict[str, Any] | None = None, error: BaseException | None = None,
                 delay: float = 0.0) -> None:
        self.row, self.error, self.delay = row, error, delay

    async def fetchrow(self, _sql: str) -> dict[str, Any] | None:
        await asyncio.sleep(self.delay)
        if self.error:
            raise self.error
        return self.row

    async def fetchval(self, _sql: str) -> int:
        await asyncio.sleep(self.delay)
        if self.error:
            raise self.error
        return 1


async def test_exposition_names_labels_and_values() -> None:
    c = consumer("grants-svc")
    c.processed, c.duplicates = 7, 2
    c.dead_letters_by_topic["topic.a"] = 3
    c.timings.observe(0.003)
    c.timings.observe(0.2)
    tp = TopicPartition("topic.a", 2)
    c.positions["topic.a:2"] = 5
    c._subscriber = type("Sub", (), {"consumer": FakeKafka({tp: (9, None)}, {}),
                                     "running": True})()
    relay = Relay()
    relay.published = 11
    relay.held = 2
    pool = FakePool({"pending": 4, "age": 12.5})
    m = RuntimeMetrics("svc", consumers=[c], relay=relay, pool=lambda: pool)  # type: ignore[arg-type,return-value]
    got = samples(await m.exposition())
    svc = (("consumer", "grants-svc"), ("service", "svc"))
    assert got[("grants_consumer_lag", (*svc[:1], ("partition", "2"), svc[1],
                                        ("topic", "topic.a")))] == 4
    assert got[("grants_outbox_pending", (("service", "svc"),))] == 4
    assert got[("grants_outbox_oldest_age_seconds", (("service", "svc"),))] == 12.5
    assert got[("grants_dead_letters_total", (*svc, ("topic", "topic.a")))] == 3
    assert got[("grants_events_processed_total", svc)] == 7
    assert got[("grants_duplicate_deliveries_total", svc)] == 2
    assert got[("grants_relay_published_total", (("service", "svc"),))] == 11
    assert got[("grants_relay_held_total", (("service", "svc"),))] == 2
    assert got[("grants_handler_duration_seconds_count", svc)] == 2
    assert got[("grants_handler_duration_seconds_bucket", (*svc[:1], ("le", "0.005"), svc[1]))] == 1
    assert got[("grants_handler_duration_seconds_bucket", (*svc[:1], ("le", "+Inf"), svc[1]))] == 2
    assert got[("grants_handler_duration_seconds_sum", svc)] == pytest.approx(0.203)


async def test_scrape_survives_a_database_that_fails_or_hangs() -> None:
    c = consumer("c")
    c.processed = 1
    for pool in (FakePool(error=OSError("refused")), FakePool({"pending": 0, "age": 0}, delay=5)):
        m = RuntimeMetrics("svc", consumers=[c], relay=Relay(), pool=lambda p=pool: p,  # type: ignore[misc]
                           db_timeout_s=0.05)
        got = samples(await asyncio.wait_for(m.exposition(), 2))
        assert got[("grants_events_processed_total", (("consumer", "c"), ("service", "svc")))] == 1
        assert not any(name.startswith("grants_outbox") for name, _ in got)


async def test_outbox_state_clamps_a_negative_age() -> None:
    state = await outbox_state(FakePool({"pending": 0, "age": -0.2}))  # type: ignore[arg-type]
    assert (state.pending, state.oldest_age_s) == (0, 0.0)


async def test_database_ready_says_why_not() -> None:
    assert await database_ready(None) == "not started"
    assert await database_ready(FakePool()) is None  # type: ignore[arg-type]
    assert "refused" in str(await database_ready(FakePool(error=OSError("refused"))))  # type: ignore[arg-type]
    assert "no answer" in str(await database_ready(FakePool(delay=5), 0.05))  # type: ignore[arg-type]


def test_registries_are_per_runtime() -> None:
    a, b = ServiceRuntime("a"), ServiceRuntime("b")
    assert a.metrics.registry is not b.metrics.registry


# -- endpoints of a runtime that never started ----------------------------------------------------

async def test_endpoints_before_start_up() -> None:
    runtime = ServiceRuntime("never-started")

    async def handler(*_: Any) -> None:
        return None

    runtime.consume("some.topic", handler=handler)
    app = runtime.http_app(title="t")  # no lifespan run: nothing started
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://t") as http:
        live = await http.get("/health/live")
        assert live.status_code == 200 and live.json()["status"] == "ok"
        ready = await http.get("/health/ready")
        assert ready.status_code == 503
        assert set(ready.json()["not_ready"]) == {
            "database", "broker", "consumer:grants-never-started", "relay"}
        metrics = await http.get("/metrics")
        assert metrics.status_code == 200
        assert metrics.headers["content-type"].startswith("text/plain")
        got = samples(metrics.text)
        labels = (("consumer", "grants-never-started"), ("service", "never-started"))
        assert got[("grants_events_processed_total", labels)] == 0
        assert got[("grants_relay_published_total", (("service", "never-started"),))] == 0
