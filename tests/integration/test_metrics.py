"""Health and metrics of a real runtime on the real broker and PostgreSQL (issue 9, point 4).

One in-process service consumes a private topic: a handler held inside its transaction shows
lag; good events, an undecodable record, a record that breaks the handler and a redelivered
event show up as processed, dead-letter and duplicate counts; outbox rows show the relay's count
and, with the relay stopped, depth and age; a database at a closed port makes ``/health/ready``
answer 503 while ``/metrics`` still answers. intake's batch consumers (``consume_batches``)
report as well.
"""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client.parser import text_string_to_metric_families

from contracts.assessment import PriorAwardImported
from contracts.topics import ASSESSMENT_POOLS as POOLS_TOPIC
from grants.stack import ensure_topics
from servicekit.consumer import Incoming
from servicekit.identity import DevTokenIssuer
from servicekit.outbox import Emitter
from servicekit.service import ServiceRuntime
from services.intake import app as intake_app
from tests.infra.services import (
    Feed, envelope_bytes, eventually, running_service, service_settings, serving,
)

pytestmark = pytest.mark.integration
ASSESSMENT_POOLS = POOLS_TOPIC.name


@pytest.fixture
async def topics(kafka_bootstrap: str) -> AsyncIterator[tuple[str, str]]:
    """A private input topic (with its ``.dlt``) and a private topic for outbox rows."""
    base = f"test.metrics.{uuid.uuid4().hex[:10]}"
    names = {base: 1, f"{base}.dlt": 1, f"{base}.out": 1}
    await ensure_topics(kafka_bootstrap, topics=(), extra=names)
    try:
        yield base, f"{base}.out"
    finally:
        admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
        await admin.start()
        try:
            await admin.delete_topics(list(names))
        except Exception:  # noqa: BLE001 - best effort
            pass
        finally:
            await admin.close()


def metrics_of(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def one(got: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str,
        **labels: str) -> float | None:
    return got.get((name, frozenset(labels.items())))


def event(pool_id: str) -> bytes:
    return envelope_bytes(PriorAwardImported(programme="metrics", municipality_code="101",
                                             pool_id=pool_id), "metrics-agg")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_health_and_metrics_of_a_running_service(
    kafka_bootstrap: str, fresh_database: str, topics: tuple[str, str]
) -> None:
    topic, out_topic = topics
    gate, entered = asyncio.Event(), asyncio.Event()

    async def handler(_conn: asyncpg.Connection, item: Incoming, _emitter: Emitter) -> None:
        pool_id = item.envelope.payload.pool_id
        if pool_id == "hold":
            entered.set()
            await gate.wait()
        elif pool_id == "breaks":
            raise ValueError("this event breaks the handler")

    name = f"metrics-{uuid.uuid4().hex[:6]}"
    runtime = ServiceRuntime(name, settings=service_settings(kafka_bootstrap, fresh_database, name))
    consumer = runtime.consume(topic, handler=handler)
    app = runtime.http_app(title="metrics")
    svc, cons = {"service": name}, {"service": name, "consumer": consumer.name}

    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        async with serving(app) as http:
            async def scrape() -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
                response = await http.get("/metrics")
                assert response.status_code == 200
                assert response.headers["content-type"].startswith("text/plain")
                return metrics_of(response.text)

            assert (await http.get("/health/live")).status_code == 200
            await eventually(lambda: _status(http, "/health/ready", 200), timeout=20)
            feed = Feed(producer)

            # Lag: the handler holds the first record while three more arrive.
            await feed.produce(topic, b"k", event("hold"))
            await asyncio.wait_for(entered.wait(), 30)
            goods = [event(f"good-{i}") for i in range(3)]
            for value in goods:
                await feed.produce(topic, b"k", value)

            async def lagging() -> bool:
                lag = one(await scrape(), "grants_consumer_lag", **cons, topic=topic,
                          partition="0")
                return lag is not None and lag >= 1
            await eventually(lagging, timeout=20, interval=0.1)
            gate.set()
            await eventually(feed.consumed(runtime), timeout=30)

            # An undecodable record and one that breaks the handler; then a redelivery.
            await feed.produce(topic, b"k", b"{not json")
            await feed.produce(topic, b"k", event("breaks"))
            await eventually(feed.consumed(runtime), timeout=30)
            await feed.produce(topic, b"k", goods[0])
            await eventually(feed.consumed(runtime), timeout=30)

            async def caught_up() -> bool:
                return one(await scrape(), "grants_consumer_lag", **cons, topic=topic,
                           partition="0") == 0
            await eventually(caught_up, timeout=20, interval=0.1)
            got = await scrape()
            # hold, 3 good, breaks, the redelivered good: decodable records whose batch finished
            assert one(got, "grants_events_processed_total", **cons) == 6
            assert one(got, "grants_dead_letters_total", **cons, topic=topic) == 2
            assert one(got, "grants_duplicate_deliveries_total", **cons) == 1
            batches = one(got, "grants_handler_duration_seconds_count", **cons)
            assert batches is not None and 3 <= batches <= 7
            assert one(got, "grants_handler_duration_seconds_bucket", **cons, le="+Inf") == batches
            # held for a while: some batch took longer than the smallest bucket
            assert (one(got, "grants_handler_duration_seconds_sum", **cons) or 0) > 0.001
            health = (await http.get("/health")).json()
            c = health["consumers"][consumer.name]
            assert (c["processed"], c["dead_lettered"], c["duplicates"]) == (6, 2, 1)
            assert c["topics"] == [topic] and c["positions"] == {f"{topic}:0": 7}
            assert {"outbox_pending", "relay_published"} <= set(health)

            # The relay publishes an outbox row; then, stopped, leaves one pending.
            await _outbox_row(runtime, out_topic, age_s=0)
            await eventually(lambda: runtime.relay.published >= 1, timeout=20)
            got = await scrape()
            assert one(got, "grants_relay_published_total", **svc) == 1
            assert one(got, "grants_outbox_pending", **svc) == 0
            assert one(got, "grants_outbox_oldest_age_seconds", **svc) == 0
            runtime.relay.stop()
            await eventually(lambda: _not_ready(http, "relay"), timeout=20)
            await _outbox_row(runtime, out_topic, age_s=90)
            got = await scrape()
            assert one(got, "grants_outbox_pending", **svc) == 1
            assert 90 <= (one(got, "grants_outbox_oldest_age_seconds", **svc) or 0) < 600

            # A database that does not answer: not ready, and the scrape still answers.
            working = runtime._pool
            unreachable = await asyncpg.create_pool(
                f"postgresql://postgres@127.0.0.1:{closed_port()}/nothing", min_size=0,
                max_size=1, timeout=2)
            runtime._pool = unreachable
            try:
                ready = await http.get("/health/ready")
                assert ready.status_code == 503
                body = ready.json()
                assert body["status"] == "not_ready" and {"database", "relay"} <= set(
                    body["not_ready"])
                assert "broker" not in body["not_ready"]
                got = await scrape()
                assert one(got, "grants_events_processed_total", **cons) == 6
                assert one(got, "grants_outbox_pending", **svc) is None
                assert (await http.get("/health/live")).status_code == 200
            finally:
                runtime._pool = working
                await unreachable.close()
    finally:
        await producer.stop()


async def _status(http: httpx.AsyncClient, path: str, status: int) -> bool:
    return (await http.get(path)).status_code == status


async def _not_ready(http: httpx.AsyncClient, component: str) -> bool:
    response = await http.get("/health/ready")
    return response.status_code == 503 and component in response.json()["not_ready"]


async def _outbox_row(runtime: ServiceRuntime, topic: str, *, age_s: float) -> None:
    value: dict[str, Any] = {"note": "metrics test row"}
    await runtime.pool.execute(
        "INSERT INTO outbox (event_id, topic, key, value, headers, created_at)"
        " VALUES ($1, $2, 'metrics', $3, $4::jsonb, now() - make_interval(secs => $5))",
        uuid.uuid4(), topic, json.dumps(value).encode(), json.dumps({"event_type": "Note"}),
        float(age_s))


async def test_intake_batch_consumers_report_too(
    kafka_bootstrap: str, fresh_database: str, tmp_path: Path
) -> None:
    """intake's consumers take batch handlers (``runtime.consume_batches``): they are started,
    counted, timed and show lag like per-record ones."""
    issuer = DevTokenIssuer(tmp_path)
    async with running_service(intake_app.build, kafka_bootstrap, fresh_database, issuer,
                               name="intake-metrics") as (runtime, http):
        await eventually(lambda: _status(http, "/health/ready", 200), timeout=30)
        pools = next(c for c in runtime.consumers if c.topics == (ASSESSMENT_POOLS,))
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
        await producer.start()
        try:
            partition, offset = await Feed(producer).produce(ASSESSMENT_POOLS, b"metrics-agg",
                                                             event("intake-metrics"))
        finally:
            await producer.stop()
        where = f"{ASSESSMENT_POOLS}:{partition}"
        await eventually(lambda: pools.positions.get(where, 0) > offset, timeout=30)
        got = metrics_of((await http.get("/metrics")).text)
        labels = {"service": runtime.name, "consumer": pools.name}
        assert (one(got, "grants_events_processed_total", **labels) or 0) >= 1
        assert (one(got, "grants_handler_duration_seconds_count", **labels) or 0) >= 1
        assert any(name == "grants_consumer_lag" and ("consumer", pools.name) in lbl
                   for name, lbl in got)
        for c in runtime.consumers:
            assert one(got, "grants_duplicate_deliveries_total", service=runtime.name,
                       consumer=c.name) is not None
