"""One intake service for the package, in-process, on the real broker and PostgreSQL.

The service runs in simulation mode, so every request and portal message says when the server
received it (``X-Grants-Simulated-Time`` / Kafka header ``x-grants-simulated-time``). It has its
own database and consumer groups; tests share the platform topics with everyone else, so each
test uses fresh submission and application ids and filters by them (or by correlation id).

One service for the package rather than one per test: a new consumer group on the portal topic
starts at the earliest offset and would decide every earlier test's portal messages again.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from fastapi import FastAPI

from contracts import topics
from contracts.assessment import PoolPublished
from contracts.base import Actor
from contracts.envelope import SIMULATED_TIME_HEADER
from contracts.pools import PoolDefinition
from contracts.registry import spec_for
from grants.stack import create_database, drop_database
from servicekit.consumer import EventConsumer
from servicekit.identity import DevTokenIssuer
from servicekit.service import ServiceRuntime
from servicekit.settings import ServiceSettings
from services.intake.app import build

PORTAL = topics.PORTAL_SUBMISSIONS.name
# 2022-09-28 12:00 Europe/Copenhagen (summer time, +02:00)
DEADLINE = datetime(2022, 9, 28, 10, 0, tzinfo=UTC)
MS = timedelta(milliseconds=1)
CVR = "29189846"  # Aarhus (751); passes modulus 11
CVR_OTHER = "27998194"


def valid_submission(pool_id: str, *, cvr: str = CVR, municipality: str = "751",
                     **overrides: Any) -> dict[str, Any]:
    """A valid SubmitApplication body with fresh ids."""
    body: dict[str, Any] = {
        "submission_id": str(uuid.uuid4()),
        "application_id": str(uuid.uuid4()),
        "pool_id": pool_id,
        "applicant": {"cvr": cvr, "municipality_code": municipality, "name": "Aarhus Kommune",
                      "kind": "municipality"},
        "purpose": "establish a family house",
        "target_group": "vulnerable parents of children aged 0-6",
        "description": "a family house with counselling and groups",
        "organisation": "project lead and two counsellors",
        "anchoring_plan": "the municipality continues the house after 2026",
        "budget": {
            "lines": [
                {"post": "project staff", "category": "salary", "rate_oere": 50_000,
                 "quantity": 2_400, "amount_oere": 120_000_000},
                {"post": "materials and meetings", "category": "other",
                 "amount_oere": 30_000_000},
            ],
            "total_oere": 150_000_000,
        },
        "client_sent_at": "2022-09-01T10:00:00+02:00",
    }
    body.update(overrides)
    return body


@dataclass
class Intake:
    """The running service and what tests need to talk to it."""

    runtime: ServiceRuntime
    app: FastAPI
    client: httpx.AsyncClient
    producer: AIOKafkaProducer
    issuer: DevTokenIssuer
    kafka: str
    pool: PoolPublished
    _tokens: dict[tuple[Any, ...], str] = field(default_factory=dict)

    @property
    def pool_id(self) -> str:
        return self.pool.pool_id

    @property
    def portal_consumer(self) -> EventConsumer:
        return next(c for c in self.runtime.consumers if PORTAL in c.topics)

    def token(self, cvr: str | None = CVR, roles: tuple[str, ...] = ("applicant",),
              sub: str = "employee-1", ttl_s: int = 3600) -> str:
        key = (cvr, roles, sub, ttl_s)
        if key not in self._tokens or ttl_s <= 0:
            self._tokens[key] = self.issuer.issue(sub, list(roles), cvr=cvr, ttl_s=ttl_s)
        return self._tokens[key]

    def caseworker(self, sub: str = "caseworker-1") -> str:
        return self.token(None, ("caseworker",), sub=sub)

    def headers(self, at: datetime, token: str | None = None,
                correlation: str | None = None) -> dict[str, str]:
        headers = {"X-Grants-Simulated-Time": at.isoformat()}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if correlation is not None:
            headers["X-Correlation-Id"] = correlation
        return headers

    async def post(self, body: dict[str, Any] | bytes, at: datetime, *, token: str | None = None,
                   correlation: str | None = None) -> httpx.Response:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return await self.client.post("/submissions", content=content,
                                      headers=self.headers(at, token, correlation))

    async def get(self, path: str, at: datetime, token: str | None) -> httpx.Response:
        return await self.client.get(path, headers=self.headers(at, token))

    async def publish(self, message: dict[str, Any] | bytes, at: datetime, *,
                      correlation: str | None = None, key: bytes | None = None) -> tuple[int, int]:
        """Produce a portal message; returns (partition, offset)."""
        value = message if isinstance(message, bytes) else json.dumps(message).encode()
        headers = [(SIMULATED_TIME_HEADER, at.isoformat().encode())]
        if correlation is not None:
            headers.append(("correlation_id", correlation.encode()))
        meta = await self.producer.send_and_wait(PORTAL, value, key=key, headers=headers)
        return meta.partition, meta.offset

    async def processed(self, *positions: tuple[int, int], timeout: float = 30.0) -> None:
        """Wait until the portal consumer committed the effect of the given records."""
        consumer = self.portal_consumer
        wanted: dict[int, int] = {}
        for partition, offset in positions:
            wanted[partition] = max(wanted.get(partition, -1), offset)
        await eventually(lambda: all(
            consumer.positions.get(f"{PORTAL}:{p}", 0) > o for p, o in wanted.items()), timeout)

    async def outbox(self, *, correlation: str | None = None,
                     aggregate: str | None = None) -> list[dict[str, Any]]:
        """Envelopes this service wrote, in outbox order, optionally filtered."""
        rows = await self.runtime.pool.fetch(
            "SELECT value FROM outbox WHERE ($1::text IS NULL OR key = $1)"
            " AND ($2::text IS NULL OR headers->>'correlation_id' = $2) ORDER BY id",
            aggregate, correlation)
        return [json.loads(r["value"]) for r in rows]

    async def kafka_events(self, event_ids: set[str],
                           topic: topics.Topic = topics.INTAKE_APPLICATIONS,
                           timeout: float = 20.0) -> dict[str, dict[str, Any]]:
        """The given events as read back from Kafka (waits until the relay published them)."""
        consumer = AIOKafkaConsumer(bootstrap_servers=self.kafka, enable_auto_commit=False)
        await consumer.start()
        found: dict[str, dict[str, Any]] = {}
        try:
            parts = [TopicPartition(topic.name, p) for p in range(topic.partitions)]
            consumer.assign(parts)
            await consumer.seek_to_beginning(*parts)
            end = time.monotonic() + timeout
            while set(found) != event_ids and time.monotonic() < end:
                batch = await consumer.getmany(timeout_ms=200, max_records=5000)
                for records in batch.values():
                    for r in records:
                        try:
                            envelope = json.loads(r.value)
                        except ValueError:
                            continue
                        if isinstance(envelope, dict) and envelope.get("event_id") in event_ids:
                            found[envelope["event_id"]] = envelope
        finally:
            await consumer.stop()
        return found


async def eventually(check: Callable[[], bool | Awaitable[bool]], timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while True:
        result = check()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() > end:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


def types(envelopes: list[dict[str, Any]]) -> list[str]:
    return [e["event_type"] for e in envelopes]


def pool_definition(pool_id: str) -> PoolDefinition:
    return PoolDefinition.model_validate({
        "pool_id": pool_id, "title": "Familiehuse (intake integration tests)",
        "programme": pool_id, "total_dkk": "126003000", "applicant_group": ["municipality"],
        "deadline_local": "2022-09-28T12:00:00",
        "project_period": {"start": "2023-01-01", "end": "2026-12-31"},
        "criteria": [{"id": 1, "name": "criterion 1"}],
    })


async def publish_pool(producer: AIOKafkaProducer, pool: PoolPublished) -> None:
    spec = spec_for(pool)
    envelope = spec.envelope(
        event_id=uuid.uuid4(), event_type=spec.event_type, schema_version=spec.schema_version,
        occurred_at=DEADLINE - timedelta(days=60), correlation_id=f"pool-{pool.pool_id}",
        actor=Actor(id="svc-assessment", role="system"), aggregate_id=f"pool:{pool.pool_id}",
        sequence=pool.version, payload=pool)
    await producer.send_and_wait(topics.ASSESSMENT_POOLS.name,
                                 envelope.model_dump_json().encode(),
                                 key=f"pool:{pool.pool_id}".encode())


@pytest.fixture(scope="package")
async def intake(kafka_bootstrap: str, pg_url: str,
                 tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Intake]:
    issuer = DevTokenIssuer(tmp_path_factory.mktemp("intake-keys"))
    suffix = uuid.uuid4().hex[:10]
    database = f"test_intake_{suffix}"
    await create_database(pg_url, database)
    settings = ServiceSettings(
        service_name=f"intake-it-{suffix}", kafka_bootstrap=kafka_bootstrap, pg_url=pg_url,
        database=database, simulation=True, auth_public_key_file=issuer.public_key_file)
    runtime, app = build(settings)
    definition = pool_definition(f"intake-it-{suffix}")
    pool = PoolPublished(pool_id=definition.pool_id, version=1, content_hash="sha256:test",
                         definition=definition, deadline=definition.deadline_instant())
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        async with app.router.lifespan_context(app), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://intake") as client:
            await publish_pool(producer, pool)

            async def pool_known() -> bool:
                return bool(await runtime.pool.fetchval(
                    "SELECT 1 FROM pools WHERE pool_id = $1", pool.pool_id))

            await eventually(pool_known, timeout=60)
            yield Intake(runtime, app, client, producer, issuer, kafka_bootstrap, pool)
    finally:
        await producer.stop()
        await drop_database(pg_url, database)
