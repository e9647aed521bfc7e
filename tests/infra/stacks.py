"""Whole stacks (every service its own OS process) for the end-to-end and fault tests, on whatever
broker and PostgreSQL the session runs on.

- ``stack_for_test``: a fresh ``EmbeddedStack``. Embedded by default (its own tansu and PostgreSQL);
  when the environment names a Kafka cluster or a PostgreSQL server
  (``GRANTS_TEST_KAFKA_BOOTSTRAP`` / ``GRANTS_TEST_PG_URL``) the stack runs on them, in a
  namespace of its own (``GRANTS_NAMESPACE``: its own topics, consumer groups and databases, all
  removed afterwards), so stacks of one session never read each other's log.
- ``stop_broker`` / ``start_broker_again`` and ``stop_postgres`` / ``start_postgres_again``: an
  outage of the stack's broker or database. An external one is stopped and started by the shell
  commands in ``GRANTS_TEST_KAFKA_STOP_CMD`` / ``GRANTS_TEST_KAFKA_START_CMD`` (and
  ``GRANTS_TEST_PG_STOP_CMD`` / ``GRANTS_TEST_PG_START_CMD``); without them the test is skipped,
  saying why.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from contracts.topics import NAMESPACE_ENV, namespaced
from grants.stack import DATABASES, EmbeddedStack, StackState, drop_database, port_open
from grants.stack.broker import ensure_topics
from tests.infra import KAFKA_ENV, PG_ENV, drop_namespace_topics, new_namespace

KAFKA_STOP_ENV, KAFKA_START_ENV = "GRANTS_TEST_KAFKA_STOP_CMD", "GRANTS_TEST_KAFKA_START_CMD"
PG_STOP_ENV, PG_START_ENV = "GRANTS_TEST_PG_STOP_CMD", "GRANTS_TEST_PG_START_CMD"
RESTART_TIMEOUT_S = 120.0


@contextlib.contextmanager
def session_infra_namespace() -> Iterator[tuple[str | None, str | None, dict[str, str]]]:
    """``(kafka, pg, variables)`` for a stack of its own on the session's infrastructure: the
    external broker and server the environment names (``None`` each for embedded ones) and, when
    there is one, a fresh ``GRANTS_NAMESPACE`` in ``variables``, whose topics and databases are
    removed when the block ends."""
    kafka, pg = os.environ.get(KAFKA_ENV) or None, os.environ.get(PG_ENV) or None
    variables = {NAMESPACE_ENV: new_namespace()} if kafka or pg else {}
    try:
        yield kafka, pg, variables
    finally:
        if variables:
            ns = variables[NAMESPACE_ENV]
            if kafka:
                asyncio.run(drop_namespace_topics(kafka, ns))
            if pg:
                old = os.environ.get(NAMESPACE_ENV)
                os.environ[NAMESPACE_ENV] = ns  # the databases as the stack's services named them
                try:
                    names = [namespaced(d, "_") for d in DATABASES]
                finally:
                    _restore_env({NAMESPACE_ENV: old})
                asyncio.run(_drop_databases(pg.rstrip("/"), names))


def _restore_env(old: dict[str, str | None]) -> None:
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@contextlib.contextmanager
def stack_for_test(home: Path, services: list[str] | None = None, *, simulation: bool = False,
               env: dict[str, str] | None = None) -> Iterator[tuple[EmbeddedStack, StackState]]:
    """A fresh stack in ``home`` (see the module docstring), torn down afterwards. ``env`` is set
    in this process for the stack's lifetime, so the service processes inherit it."""
    with session_infra_namespace() as (kafka, pg, namespace):
        variables = {**namespace, **(env or {})}
        old = {k: os.environ.get(k) for k in variables}
        os.environ.update(variables)
        st = EmbeddedStack(home, durable=False, die_with_parent=True)
        try:
            yield st, st.up(simulation=simulation, services=services, kafka_bootstrap=kafka,
                            pg_url=pg)
        finally:
            with contextlib.suppress(Exception):
                st.down(grace=5.0)
            _restore_env(old)


async def _drop_databases(server: str, names: list[str]) -> None:
    for name in names:
        with contextlib.suppress(Exception):
            await drop_database(server, name)


def _state(st: EmbeddedStack) -> StackState:
    state = st.load_state()
    assert state is not None, "no stack is up"
    return state


def require_restart(st: EmbeddedStack, *, broker: bool = False, postgres: bool = False) -> None:
    """Skip the test, saying why, when it must stop and start an external broker or PostgreSQL
    and the environment says no command for it."""
    state = _state(st)
    wanted = ([(KAFKA_STOP_ENV, KAFKA_START_ENV)] if broker and state.external_kafka else []) + \
             ([(PG_STOP_ENV, PG_START_ENV)] if postgres and state.external_pg else [])
    missing = [v for pair in wanted for v in pair if not os.environ.get(v)]
    if missing:
        pytest.skip(f"needs an outage of the external {'broker' if broker else 'PostgreSQL'}: "
                    f"set {' and '.join(missing)} to shell commands (tests/infra/stacks.py)")


def _run(variable: str) -> None:
    command = os.environ.get(variable)
    if not command:
        pytest.skip(f"set {variable} to a shell command (tests/infra/stacks.py)")
    subprocess.run(command, shell=True, check=True, timeout=RESTART_TIMEOUT_S)


def _host_port(address: str) -> tuple[str, int]:
    """``host:port`` of a bootstrap list's first entry or of a PostgreSQL URL."""
    first = address.split(",")[0].rpartition("@")[2].split("/")[0]
    host, _, port = first.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)


def _wait_for_port(address: str, up: bool) -> None:
    host, port = _host_port(address)
    deadline = time.monotonic() + RESTART_TIMEOUT_S
    while port_open(host, port) != up:
        if time.monotonic() > deadline:
            raise AssertionError(f"{address} still {'down' if up else 'up'} after "
                                 f"{RESTART_TIMEOUT_S:.0f}s")
        time.sleep(0.1)


def broker_is_durable(st: EmbeddedStack) -> bool:
    """True when the stack's broker keeps its log across a restart (an external Kafka); the
    embedded broker comes back empty."""
    return _state(st).external_kafka


def stop_broker(st: EmbeddedStack) -> None:
    state = _state(st)
    if not state.external_kafka:
        st.stop_broker()
        return
    _run(KAFKA_STOP_ENV)
    _wait_for_port(state.kafka_bootstrap, up=False)


def start_broker_again(st: EmbeddedStack) -> None:
    """The broker back on its address; the platform's topics exist afterwards (the embedded
    broker's are created again, a durable broker's are still there)."""
    state = _state(st)
    if not state.external_kafka:
        st.start_broker_again()
        return
    _run(KAFKA_START_ENV)
    _wait_for_port(state.kafka_bootstrap, up=True)
    asyncio.run(ensure_topics(state.kafka_bootstrap, timeout=RESTART_TIMEOUT_S))


def stop_postgres(st: EmbeddedStack) -> None:
    state = _state(st)
    if not state.external_pg:
        st.stop_postgres()
        return
    _run(PG_STOP_ENV)
    _wait_for_port(state.pg_url, up=False)


def start_postgres_again(st: EmbeddedStack) -> None:
    state = _state(st)
    if not state.external_pg:
        st.start_postgres_again()
        return
    _run(PG_START_ENV)
    _wait_for_port(state.pg_url, up=True)
