"""Helpers for integration tests that run a service in-process against the real broker and
PostgreSQL.

- ``service_settings`` / ``running_service``: a service built from ``ServiceSettings``, its
  lifespan started (consumers, relay), and an ``httpx`` client talking to it through ASGI.
- ``Tokens`` / ``Api``: requests signed with the dev token issuer the service trusts; ``Api``
  also says at which simulated instant the server received them.
- ``envelope_bytes`` / ``Feed``: events produced onto topics as their owners would publish them,
  remembering where each landed so a test can wait until the service committed their effect.
- ``read_topic`` / ``records_keyed`` / ``log_records``: records read back from Kafka from the
  first offset.
- ``outbox_events``, ``audit_rows`` / ``chain_entries``: what the service wrote.
- ``eventually``: poll a check until it holds.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from fastapi import FastAPI

from contracts.base import Actor, Contract
from contracts.envelope import SIMULATED_TIME_HEADER
from contracts.registry import envelope_of
from servicekit import audit_chain
from servicekit.clock import HTTP_SIMULATED_TIME_HEADER
from servicekit.identity import DevTokenIssuer
from servicekit.log_reader import LogReader, LogRecord, topic_partitions
from servicekit.service import ServiceRuntime
from servicekit.settings import ServiceSettings
from tests.infra import TLS

# -- time and ids ---------------------------------------------------------------------------------


def at(text: str) -> datetime:
    """A naive ISO instant (``2023-01-02T08:00:00``) read as UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def random_cvr() -> str:
    """Eight random digits: a CVR no other test uses (holds apply per CVR)."""
    return f"{random.randrange(10_000_000, 100_000_000)}"


async def eventually(check: Callable[[], bool | Awaitable[bool]], timeout: float = 30.0,
                     interval: float = 0.05) -> None:
    """Polls ``check`` (plain or async) every ``interval`` seconds until it holds; fails after
    ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(interval)


# -- running a service in-process -----------------------------------------------------------------


def service_settings(kafka: str, db_url: str, name: str, **extra: Any) -> ServiceSettings:
    """Settings of a service called ``name`` on the broker ``kafka`` and the database whose full
    URL is ``db_url`` (server URL and database name are split here)."""
    server, _, database = db_url.rpartition("/")
    return ServiceSettings(service_name=name, kafka_bootstrap=kafka, pg_url=server,
                           database=database, **extra)


@asynccontextmanager
async def serving(app: FastAPI, base_url: str = "http://svc") -> AsyncIterator[httpx.AsyncClient]:
    """Runs ``app``'s lifespan (consumers, outbox relay) and yields an HTTP client on it."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=base_url, verify=TLS) as client:
            yield client


@asynccontextmanager
async def running_service(
    build: Callable[[ServiceSettings], tuple[ServiceRuntime, FastAPI]], kafka: str, db_url: str,
    issuer: DevTokenIssuer, *, name: str, **extra: Any,
) -> AsyncIterator[tuple[ServiceRuntime, httpx.AsyncClient]]:
    """The service ``build`` makes, running in-process under a fresh name (``<name>-it-<hex>``,
    so its consumer groups are new), trusting ``issuer``'s tokens. ``extra`` goes to
    ``ServiceSettings`` (e.g. ``simulation=True``)."""
    settings = service_settings(kafka, db_url, f"{name}-it-{uuid.uuid4().hex[:8]}",
                                auth_public_key_file=issuer.public_key_file, **extra)
    runtime, app = build(settings)
    async with serving(app) as client:
        yield runtime, client


# -- calling its HTTP API -------------------------------------------------------------------------


class Tokens:
    """``Authorization`` headers with tokens signed by the dev issuer the service trusts."""

    def __init__(self, issuer: DevTokenIssuer) -> None:
        self.issuer = issuer

    def __call__(self, subject: str, *roles: str, cvr: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.issuer.issue(subject, list(roles), cvr=cvr)}"}


class Api:
    """HTTP calls at a simulated instant (``when``, naive UTC), as a named person with roles (and
    a CVR)."""

    def __init__(self, http: httpx.AsyncClient, issuer: DevTokenIssuer) -> None:
        self.http = http
        self.tokens = Tokens(issuer)

    def headers(self, who: str, roles: list[str], cvr: str | None, when: str) -> dict[str, str]:
        return {**self.tokens(who, *roles, cvr=cvr),
                HTTP_SIMULATED_TIME_HEADER: at(when).isoformat()}

    async def post(self, path: str, body: Any, *, who: str, roles: list[str], when: str,
                   cvr: str | None = None) -> httpx.Response:
        return await self.http.post(path, json=body, headers=self.headers(who, roles, cvr, when))

    async def get(self, path: str, *, who: str, roles: list[str], when: str,
                  cvr: str | None = None) -> httpx.Response:
        return await self.http.get(path, headers=self.headers(who, roles, cvr, when))


def grantee(cvr: str) -> dict[str, Any]:
    """``Api`` keyword arguments of the grantee's portal user (role applicant, with the CVR)."""
    return {"who": f"portal-user-{cvr}", "roles": ["applicant"], "cvr": cvr}


# -- producing its inputs -------------------------------------------------------------------------


def envelope_bytes(payload: Contract, aggregate_id: str, *, sequence: int = 1,
                   role: str = "system", actor_id: str = "svc-test",
                   occurred_at: datetime | None = None,
                   correlation_id: str | None = None) -> bytes:
    """``payload`` in its registered envelope (new event id; now, unless ``occurred_at``; a fresh
    ``it-…`` correlation id, unless given), as JSON bytes ready to produce."""
    env = envelope_of(
        payload, event_id=uuid.uuid4(), occurred_at=occurred_at or datetime.now(UTC),
        correlation_id=correlation_id or f"it-{uuid.uuid4()}",
        actor=Actor(id=actor_id, role=role), aggregate_id=aggregate_id, sequence=sequence)
    return env.model_dump_json().encode()


class Feed:
    """Produces records onto topics; remembers where each landed (to wait until a service
    committed their effect) and, for ``send``, what was sent (to ``resend`` it all)."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self.producer = producer
        self.landed: dict[str, int] = {}  # "topic:partition" → highest offset written
        self.sent: list[tuple[str, Any, bytes, datetime | None]] = []

    async def produce(self, topic: str, key: uuid.UUID | str | bytes | None, value: bytes,
                      when: datetime | None = None,
                      headers: Sequence[tuple[str, bytes]] = ()) -> tuple[int, int]:
        """One record, with the simulated-time header when ``when`` is given; returns
        ``(partition, offset)``."""
        all_headers = [] if when is None else [(SIMULATED_TIME_HEADER, when.isoformat().encode())]
        all_headers += headers
        raw_key = key if key is None or isinstance(key, bytes) else str(key).encode()
        meta = await self.producer.send_and_wait(topic, value, key=raw_key,
                                                 headers=all_headers or None)
        where = f"{topic}:{meta.partition}"
        self.landed[where] = max(self.landed.get(where, -1), meta.offset)
        return meta.partition, meta.offset

    async def send(self, topic: str, key: uuid.UUID | str | bytes | None, value: bytes,
                   when: datetime | None = None) -> None:
        """``produce``, remembered for ``resend``."""
        self.sent.append((topic, key, value, when))
        await self.produce(topic, key, value, when)

    async def resend(self) -> None:
        """Everything ``send`` sent, once more, in the same order (a redelivery)."""
        for topic, key, value, when in list(self.sent):
            await self.produce(topic, key, value, when)

    def consumed(self, runtime: ServiceRuntime) -> Callable[[], Awaitable[bool]]:
        """A check: the service's (first) consumer committed the effect of everything produced
        so far."""
        async def check() -> bool:
            positions = runtime.consumers[0].positions
            return all(positions.get(k, 0) > o for k, o in self.landed.items())
        return check


# -- reading back ---------------------------------------------------------------------------------


async def log_records(kafka: str, topics: Sequence[str], *, group_prefix: str = "grants-test"
                      ) -> list[LogRecord]:
    """Every record of ``topics`` from offset 0 to the end (``LogReader``), sorted by topic,
    partition and offset."""
    reader = LogReader(kafka, topics, group_prefix=group_prefix)
    await reader.start()
    records: list[LogRecord] = []
    try:
        async for batch in reader.read_to_end():
            records += batch
    finally:
        await reader.stop()
    return sorted(records, key=lambda r: (r.topic, r.partition, r.offset))


async def read_topic(kafka: str, topic: str, keep: Callable[[ConsumerRecord], bool], *,
                     enough: Callable[[list[ConsumerRecord]], bool] = bool,
                     timeout: float = 10.0) -> list[ConsumerRecord]:
    """Records on every partition of ``topic`` from offset 0 that ``keep`` accepts, read until
    ``enough`` of them (default: any) or ``timeout`` seconds."""
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka, enable_auto_commit=False)
    await consumer.start()
    found: list[ConsumerRecord] = []
    try:
        # Metadata of this topic by name (a request naming none gets no topics from Kafka).
        parts = await topic_partitions(consumer, [topic])
        assert parts, f"no topic {topic} on the broker"
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        deadline = time.monotonic() + timeout
        while not enough(found) and time.monotonic() < deadline:
            for records in (await consumer.getmany(*parts, timeout_ms=200)).values():
                found += [r for r in records if keep(r)]
        return found
    finally:
        await consumer.stop()


async def records_keyed(kafka: str, topic: str, keys: set[str], want: int,
                        timeout: float = 10.0) -> list[ConsumerRecord]:
    """Records on ``topic`` whose key is in ``keys``, until ``want`` of them were read."""
    return await read_topic(kafka, topic, lambda r: r.key is not None and r.key.decode() in keys,
                            enough=lambda found: len(found) >= want, timeout=timeout)


def event_of(record: ConsumerRecord) -> dict[str, Any]:
    """The envelope a record carries, as JSON."""
    return json.loads(record.value)  # type: ignore[no-any-return]


def envelope_field(record: ConsumerRecord, field: str) -> Any:
    """``field`` of the envelope a record carries; None for a record that is no JSON object. A
    filter over a session topic needs this: other tests put poison records there too, and which
    of them ran first depends on the order (and on the xdist worker)."""
    try:
        body = json.loads(record.value)
    except (TypeError, ValueError):
        return None
    return body.get(field) if isinstance(body, dict) else None


def headers_of(record: ConsumerRecord) -> dict[str, str]:
    return {k: v.decode() for k, v in record.headers or ()}


async def outbox_events(runtime: ServiceRuntime, event_type: str | None = None
                        ) -> list[dict[str, Any]]:
    """The envelopes (of ``event_type``, or all) the service wrote to its outbox, in order."""
    rows = await runtime.pool.fetch("SELECT value FROM outbox ORDER BY id")
    events = [json.loads(r["value"]) for r in rows]
    return [e for e in events if event_type is None or e["event_type"] == event_type]


async def audit_rows(runtime: ServiceRuntime) -> list[asyncpg.Record]:
    """The service's ``audit_log`` rows, in chain order."""
    rows: list[asyncpg.Record] = await runtime.pool.fetch("SELECT * FROM audit_log ORDER BY seq")
    return rows


def chain_entries(rows: list[asyncpg.Record]) -> list[audit_chain.ChainEntry]:
    """``audit_log`` rows as hash-chain entries, for ``audit_chain.verify``."""
    return [audit_chain.ChainEntry(r["seq"], str(r["event_id"]), json.loads(r["entry"]),
                                   r["prev_hash"], r["entry_hash"]) for r in rows]
