"""One intake service for the package, in-process, on the real broker and PostgreSQL.

The service runs in simulation mode, so every request and portal message says when the server
received it (``X-Grants-Simulated-Time`` / Kafka header ``x-grants-simulated-time``). It has its
own database and consumer groups; tests share the platform topics with everyone else, so each
test uses fresh submission and application ids and filters by them (or by correlation id).

One service for the package rather than one per test: a new consumer group on the portal topic
starts at the earliest offset and would decide every earlier test's portal messages again.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer, ConsumerRecord
from fastapi import FastAPI

from contracts import topics
from contracts.assessment import PoolPublished
from contracts.pools import PoolDefinition
from contracts.register import Organisation, OrganisationRecorded
from grants.stack import create_database, drop_database
from servicekit.consumer import EventConsumer
from servicekit.identity import DevTokenIssuer
from servicekit.service import ServiceRuntime
from services.intake.app import build
from tests.infra.services import (
    Feed, envelope_bytes, eventually, read_topic, service_settings, serving,
)

PORTAL = topics.PORTAL_SUBMISSIONS.name
# 2022-09-28 12:00 Europe/Copenhagen (summer time, +02:00)
DEADLINE = datetime(2022, 9, 28, 10, 0, tzinfo=UTC)
MS = timedelta(milliseconds=1)
CVR = "29189846"  # Aarhus (751); passes modulus 11
CVR_OTHER = "27998194"
POLL = 0.02  # seconds between checks while waiting for the service


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
    feed: Feed
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
        headers = [] if correlation is None else [("correlation_id", correlation.encode())]
        return await self.feed.produce(PORTAL, key, value, at, headers)

    async def processed(self, *positions: tuple[int, int], timeout: float = 30.0) -> None:
        """Wait until the portal consumer committed the effect of the given records."""
        consumer = self.portal_consumer
        wanted: dict[int, int] = {}
        for partition, offset in positions:
            wanted[partition] = max(wanted.get(partition, -1), offset)
        await eventually(lambda: all(
            consumer.positions.get(f"{PORTAL}:{p}", 0) > o for p, o in wanted.items()), timeout,
            interval=POLL)

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
        def event_id(record: ConsumerRecord) -> Any:
            try:
                envelope = json.loads(record.value)
            except ValueError:
                return None
            return envelope.get("event_id") if isinstance(envelope, dict) else None

        records = await read_topic(
            self.kafka, topic.name, lambda r: event_id(r) in event_ids,
            enough=lambda found: {event_id(r) for r in found} == event_ids, timeout=timeout)
        return {event_id(r): json.loads(r.value) for r in records}


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


# The organisation register as assessment would publish it: the applicants these tests use.
REGISTER = (Organisation(cvr=CVR, name="Aarhus Kommune", kind="municipality",
                         municipality_code="751"),
            Organisation(cvr=CVR_OTHER, name="Københavns Kommune", kind="municipality",
                         municipality_code="101"))


async def publish_register(feed: Feed) -> None:
    for revision, organisation in enumerate(REGISTER, start=1):
        event = OrganisationRecorded(revision=revision, entry_version=1, change="created",
                                     organisation=organisation, source="intake-it",
                                     source_version=1, changed_by="svc-assessment")
        await feed.produce(topics.ASSESSMENT_POOLS.name, "register:organisations", envelope_bytes(
            event, "register:organisations", sequence=revision, actor_id="svc-assessment",
            occurred_at=DEADLINE - timedelta(days=61)))


async def publish_pool(feed: Feed, pool: PoolPublished) -> None:
    key = f"pool:{pool.pool_id}"
    await feed.produce(topics.ASSESSMENT_POOLS.name, key, envelope_bytes(
        pool, key, sequence=pool.version, actor_id="svc-assessment",
        occurred_at=DEADLINE - timedelta(days=60), correlation_id=f"pool-{pool.pool_id}"))


@pytest.fixture(scope="package")
async def intake(kafka_bootstrap: str, pg_url: str,
                 tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Intake]:
    issuer = DevTokenIssuer(tmp_path_factory.mktemp("intake-keys"))
    suffix = uuid.uuid4().hex[:10]
    database = f"test_intake_{suffix}"
    await create_database(pg_url, database)
    settings = service_settings(
        kafka_bootstrap, f"{pg_url}/{database}", f"intake-it-{suffix}", simulation=True,
        auth_public_key_file=issuer.public_key_file)
    runtime, app = build(settings)
    definition = pool_definition(f"intake-it-{suffix}")
    pool = PoolPublished(pool_id=definition.pool_id, version=1, content_hash="sha256:test",
                         definition=definition, deadline=definition.deadline_instant())
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    feed = Feed(producer)
    try:
        async with serving(app, base_url="http://intake") as client:
            await publish_register(feed)
            await publish_pool(feed, pool)

            async def pool_known() -> bool:  # the register came before it on the one partition
                return bool(await runtime.pool.fetchval(
                    "SELECT 1 FROM pools WHERE pool_id = $1", pool.pool_id))

            await eventually(pool_known, timeout=60, interval=POLL)
            yield Intake(runtime, app, client, feed, issuer, kafka_bootstrap, pool)
    finally:
        await producer.stop()
        await drop_database(pg_url, database)
