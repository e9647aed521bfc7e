"""Health and Prometheus metrics of one service runtime (issue 9, point 4).

- liveness: the event loop answers (no I/O);
- readiness: the database answers within a short timeout, the broker and every consumer are
  started, the outbox relay task is alive — otherwise the names of what is not ready;
- metrics: one ``CollectorRegistry`` per runtime (several runtimes share a test process), with a
  custom collector that reads everything at scrape time:

  ====================================================  ==========  ============================
  name                                                  type        labels
  ====================================================  ==========  ============================
  ``grants_consumer_lag``                               gauge       service, consumer, topic,
                                                                    partition
  ``grants_outbox_pending``                             gauge       service
  ``grants_outbox_oldest_age_seconds``                  gauge       service
  ``grants_dead_letters_total``                         counter     service, consumer, topic
  ``grants_events_processed_total``                     counter     service, consumer
  ``grants_duplicate_deliveries_total``                 counter     service, consumer
  ``grants_handler_duration_seconds``                   histogram   service, consumer
  ``grants_relay_published_total``                      counter     service
  ``grants_relay_held_total``                           counter     service
  ``grants_http_requests_total``                        counter     service, method, route,
                                                                    status
  ``grants_http_request_duration_seconds``              histogram   service, method, route
  ``grants_http_shed_total``                            counter     service, method, route
  ====================================================  ==========  ============================

HTTP requests are counted by :class:`servicekit.http_metrics.ObservedRequests` per route
template (never the raw path) into :class:`HttpStats`, the same lock-free way.

The hot path only bumps plain attributes of :class:`~servicekit.consumer.EventConsumer` (ints, a
``topic → count`` dict, a :class:`Timings` per consumer): no locks, no label lookups. Lag and the
outbox are computed when scraped; a database that does not answer in time leaves the outbox
gauges out of that scrape instead of failing it.
"""

from __future__ import annotations

import asyncio
import math
import time
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import asyncpg
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from servicekit.logging import get_logger

if TYPE_CHECKING:
    from servicekit.consumer import EventConsumer

log = get_logger(__name__)

__all__ = [
    "CONTENT_TYPE_LATEST", "DB_TIMEOUT_S", "HttpStats", "LagRow", "OutboxState", "RuntimeMetrics", "Timings",
    "consumer_lag", "database_ready", "outbox_state",
]

# Readiness probes commonly time out after 1 s; the database check must answer before that.
DB_TIMEOUT_S = 0.8
# Seconds; a batch of one record takes milliseconds, a batch of 500 with retries may take seconds.
DURATION_BUCKETS: tuple[float, ...] = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
)


class Timings:
    """A histogram the hot path fills without a lock or a label lookup (one event loop writes
    it; the scrape reads it on the same loop). Buckets are upper bounds, inclusive, as in
    Prometheus; the last count is the ``+Inf`` overflow."""

    __slots__ = ("bounds", "counts", "count", "sum")

    def __init__(self, bounds: Sequence[float] = DURATION_BUCKETS) -> None:
        self.bounds = tuple(sorted(bounds))
        self.counts = [0] * (len(self.bounds) + 1)
        self.count = 0
        self.sum = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect_left(self.bounds, seconds)] += 1
        self.count += 1
        self.sum += seconds

    def cumulative(self) -> list[tuple[str, float]]:
        """``(le, cumulative count)`` pairs ending with ``+Inf`` (= ``count``)."""
        out: list[tuple[str, float]] = []
        running = 0
        for bound, n in zip((*self.bounds, math.inf), self.counts):
            running += n
            out.append(("+Inf" if bound == math.inf else _le(bound), float(running)))
        return out


class HttpStats:
    """What servicekit.http_metrics counts per HTTP request (one event loop writes, the
    scrape reads on the same loop)."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, str], int] = {}  # (method, route, status) → count
        self.timings: dict[tuple[str, str], Timings] = {}  # (method, route) → durations
        self.shed: dict[tuple[str, str], int] = {}  # (method, route) → refused by admission

    def shed_one(self, method: str, route: str) -> None:
        self.shed[(method, route)] = self.shed.get((method, route), 0) + 1

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, str(status))
        self.requests[key] = self.requests.get(key, 0) + 1
        timings = self.timings.get((method, route))
        if timings is None:
            timings = self.timings[(method, route)] = Timings()
        timings.observe(seconds)


def _le(bound: float) -> str:
    return repr(float(bound))


# -- what is computed at scrape time ---------------------------------------------------------------

@dataclass(frozen=True)
class OutboxState:
    pending: int
    oldest_age_s: float


async def outbox_state(pool: asyncpg.Pool, timeout: float = DB_TIMEOUT_S) -> OutboxState:
    """Unsent outbox rows and the age of the oldest (0 when none), by the database's clock (the
    one that stamped ``created_at``). Raises on a database that does not answer in ``timeout``."""
    row = await asyncio.wait_for(pool.fetchrow(
        "SELECT count(*) AS pending,"
        " coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8 AS age"
        " FROM outbox WHERE sent_at IS NULL"), timeout)
    assert row is not None
    return OutboxState(int(row["pending"]), max(0.0, float(row["age"])))


async def database_ready(pool: asyncpg.Pool | None, timeout: float = DB_TIMEOUT_S) -> str | None:
    """``None`` when the database answers ``SELECT 1`` within ``timeout``; else why not."""
    if pool is None:
        return "not started"
    try:
        await asyncio.wait_for(pool.fetchval("SELECT 1"), timeout)
    except TimeoutError:
        return f"no answer within {timeout:g}s"
    except Exception as exc:  # noqa: BLE001 - refused, closed pool, auth, ... : not ready, say why
        return f"{type(exc).__name__}: {exc}"[:200]
    return None


class KafkaConsumerView(Protocol):
    """What lag needs from an ``aiokafka.AIOKafkaConsumer``."""

    def assignment(self) -> set[Any]: ...
    def highwater(self, partition: Any) -> int | None: ...
    def last_stable_offset(self, partition: Any) -> int | None: ...
    async def position(self, partition: Any) -> int: ...


@dataclass(frozen=True)
class LagRow:
    topic: str
    partition: int
    lag: int


async def consumer_lag(kafka: KafkaConsumerView | None, positions: dict[str, int],
                       timeout: float = 0.2) -> list[LagRow]:
    """Lag per assigned partition: the end of the log (the last stable offset when the consumer
    reads committed records and the broker reports one, else the high watermark, both as known
    from the last fetch) minus the next offset whose effect this consumer committed
    (``positions``, ``"topic:partition"`` → offset). A partition this process has not yet
    committed anything on counts from the consumer's fetch position (the committed offset at
    assignment). Partitions whose end is not known yet (not fetched) are left out; lag is never
    negative (some brokers report a high watermark behind the last record)."""
    if kafka is None:
        return []
    rows: list[LagRow] = []
    try:
        assigned = sorted(kafka.assignment(), key=lambda tp: (tp.topic, tp.partition))
    except Exception:  # noqa: BLE001 - stopping or rebalancing: nothing to report this time
        return []
    for tp in assigned:
        try:
            end = kafka.last_stable_offset(tp)
            if end is None or end < 0:
                end = kafka.highwater(tp)
            if end is None:
                continue
            done = positions.get(f"{tp.topic}:{tp.partition}")
            if done is None:
                done = await asyncio.wait_for(kafka.position(tp), timeout)
        except Exception:  # noqa: BLE001 - revoked meanwhile, or no position yet
            continue
        rows.append(LagRow(str(tp.topic), int(tp.partition), max(0, int(end) - int(done))))
    return rows


@dataclass
class _Scrape:
    lag: dict[str, list[LagRow]] = field(default_factory=dict)  # consumer name → rows
    outbox: OutboxState | None = None


class _Relay(Protocol):
    published: int
    held: int


class RuntimeMetrics:
    """The registry and collector of one runtime. ``consumers`` is the runtime's own (growing)
    list; ``pool`` returns the pool or ``None`` before start-up."""

    def __init__(self, service: str, *, consumers: Sequence[EventConsumer], relay: _Relay,
                 pool: Callable[[], asyncpg.Pool | None],
                 db_timeout_s: float = DB_TIMEOUT_S) -> None:
        self.service = service
        self.consumers = consumers
        self.relay = relay
        self._pool = pool
        self.db_timeout_s = db_timeout_s
        self.http = HttpStats()
        self.registry = CollectorRegistry(auto_describe=False)
        self._scrape = _Scrape()
        self.registry.register(_Collector(self))

    async def refresh(self) -> None:
        """Compute what is read at scrape time: lag per partition, outbox depth and age."""
        scrape = _Scrape()
        for c in self.consumers:
            scrape.lag[c.name] = await consumer_lag(c.kafka_consumer, c.positions)
        pool = self._pool()
        if pool is not None:
            started = time.monotonic()
            try:
                scrape.outbox = await outbox_state(pool, self.db_timeout_s)
            except Exception as exc:  # noqa: BLE001 - the scrape still shows the rest
                log.warning("metrics_outbox_unavailable", error=repr(exc),
                            waited_s=round(time.monotonic() - started, 3))
        self._scrape = scrape

    async def exposition(self) -> bytes:
        """The Prometheus text exposition (``CONTENT_TYPE_LATEST``), fresh."""
        await self.refresh()
        return generate_latest(self.registry)

    def families(self) -> Iterator[Metric]:
        s, scrape = self.service, self._scrape
        lag = GaugeMetricFamily(
            "grants_consumer_lag",
            "Records on an assigned partition after the last one whose effect this consumer"
            " committed (end of log from the last fetch minus committed position)",
            labels=["service", "consumer", "topic", "partition"])
        pending = GaugeMetricFamily("grants_outbox_pending", "Outbox rows not yet published",
                                    labels=["service"])
        age = GaugeMetricFamily(
            "grants_outbox_oldest_age_seconds",
            "Age of the oldest unpublished outbox row (0 when none)", labels=["service"])
        dead = CounterMetricFamily(
            "grants_dead_letters", "Records this consumer sent to <topic>.dlt, by source topic",
            labels=["service", "consumer", "topic"])
        processed = CounterMetricFamily(
            "grants_events_processed",
            "Decoded records whose batch this consumer finished (applied, skipped as duplicates,"
            " or dead-lettered by the handler); undecodable records count as dead letters only",
            labels=["service", "consumer"])
        duplicates = CounterMetricFamily(
            "grants_duplicate_deliveries",
            "Records skipped by the inbox because their event id was processed before",
            labels=["service", "consumer"])
        duration = HistogramMetricFamily(
            "grants_handler_duration_seconds",
            "Seconds per consumed batch (per poll, up to max_records records): decoding, the"
            " transaction(s) with inbox, handler and outbox, retries and dead letters; not the"
            " offset commit", labels=["service", "consumer"])
        published = CounterMetricFamily("grants_relay_published",
                                        "Outbox rows the relay published and marked sent",
                                        labels=["service"])
        held = CounterMetricFamily(
            "grants_relay_held", "Outbox rows the relay marked held (refused for good by the"
            " broker; they hold back only their own key)", labels=["service"])
        for c in self.consumers:
            for row in scrape.lag.get(c.name, ()):
                lag.add_metric([s, c.name, row.topic, str(row.partition)], row.lag)
            for topic, n in sorted(c.dead_letters_by_topic.items()):
                dead.add_metric([s, c.name, topic], n)
            processed.add_metric([s, c.name], c.processed)
            duplicates.add_metric([s, c.name], c.duplicates)
            t = c.timings
            duration.add_metric([s, c.name], t.cumulative(), t.sum)
        if scrape.outbox is not None:
            pending.add_metric([s], scrape.outbox.pending)
            age.add_metric([s], scrape.outbox.oldest_age_s)
        published.add_metric([s], self.relay.published)
        held.add_metric([s], self.relay.held)
        yield from (lag, pending, age, dead, processed, duplicates, duration, published, held)
        yield from self._http_families()

    def _http_families(self) -> Iterator[Metric]:
        s, http = self.service, self.http
        requests = CounterMetricFamily(
            "grants_http_requests", "HTTP requests answered, by route template and status",
            labels=["service", "method", "route", "status"])
        seconds = HistogramMetricFamily(
            "grants_http_request_duration_seconds",
            "Seconds from a request's arrival to its answer, by route template",
            labels=["service", "method", "route"])
        shed = CounterMetricFamily(
            "grants_http_shed", "HTTP requests refused by admission control (503 overloaded)",
            labels=["service", "method", "route"])
        for (method, route, status), n in sorted(http.requests.items()):
            requests.add_metric([s, method, route, status], n)
        for (method, route), t in sorted(http.timings.items()):
            seconds.add_metric([s, method, route], t.cumulative(), t.sum)
        for (method, route), n in sorted(http.shed.items()):
            shed.add_metric([s, method, route], n)
        yield from (requests, seconds, shed)


class _Collector:
    def __init__(self, metrics: RuntimeMetrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterable[Metric]:
        return self._metrics.families()
