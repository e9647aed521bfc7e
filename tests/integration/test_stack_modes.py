"""The stack tells the truth and runs where it is told (issue 23 point 3, issue 17 item 3).

- on an existing broker and database (``--kafka-bootstrap`` / ``--pg-url``): topics provisioned
  as ``grants provision topics`` does, the Kafka security settings read, and ``down`` stops only
  what the stack started;
- the embedded stack ignores settings meant for a Kafka cluster;
- a dead service is shown dead with its last log lines, ``up`` starts it again, ``restart`` restarts
  one; a stack in the other mode is refused.

The "existing" broker and PostgreSQL are started here by the test (the embedded binaries, as an
operator's own servers would be), so the test also proves that the stack leaves them running.
"""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from typer.testing import CliRunner

from contracts.topics import ALL_TOPICS
from grants.cli import app
from grants.cli_errors import ExitCode, classify
from grants.stack import EmbeddedStack, StackError, start_broker, start_postgres
from grants.stack.supervisor import StackMismatch

pytestmark = pytest.mark.integration

STUB = "tests.infra.{name}"


@pytest.fixture
def existing() -> Iterator[tuple[str, str]]:
    """A broker and a PostgreSQL server the stack did not start: (bootstrap, server URL)."""
    broker = start_broker(die_with_parent=True)
    pg = start_postgres(durable=False, die_with_parent=True)
    try:
        yield broker.bootstrap, pg.url
    finally:
        broker.stop()
        pg.stop(remove_datadir=True)


def _stack(home: Path, messages: list[str] | None = None) -> EmbeddedStack:
    return EmbeddedStack(home, durable=False, die_with_parent=True, service_module=STUB,
                         echo=(messages.append if messages is not None else None))


async def _topics(bootstrap: str) -> set[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


async def _databases(server: str) -> set[str]:
    conn = await asyncpg.connect(f"{server}/postgres")
    try:
        return {r[0] for r in await conn.fetch("SELECT datname FROM pg_database")}
    finally:
        await conn.close()


def test_stack_on_an_existing_broker_and_database_stops_only_what_it_started(
    existing: tuple[str, str], tmp_path: Path
) -> None:
    bootstrap, server = existing
    messages: list[str] = []
    stack = _stack(tmp_path, messages)
    try:
        state = stack.up(simulation=True, services=["stub_service"], kafka_bootstrap=bootstrap,
                         pg_url=server)
        assert state.broker is None and state.postgres is None
        assert state.kafka_bootstrap == bootstrap and state.pg_url == server
        assert {n for t in ALL_TOPICS for n in (t.name, t.dead_letter)} <= asyncio.run(
            _topics(bootstrap))
        assert any("topics on" in m and "replication factor 1" in m for m in messages)
        assert {"intake", "assessment", "payments", "reporting"} <= asyncio.run(
            _databases(server))
        env = httpx.get(f"{state.services['stub_service'].http_url}/env").json()["env"]
        assert env["GRANTS_KAFKA_BOOTSTRAP"] == bootstrap and env["GRANTS_PG_URL"] == server

        result = CliRunner().invoke(app, ["stack", "status"], env={"GRANTS_HOME": str(tmp_path)})
        assert result.exit_code == 0, result.output
        assert "external" in result.output and "existing Kafka broker" in result.output
        # Asking for the embedded broker on this stack is refused, not "already up".
        with pytest.raises(StackMismatch, match="uses the broker"):
            stack.up(kafka_bootstrap="127.0.0.1:1")
    finally:
        stack.down(grace=5)
    assert not any(m.startswith(("stopped broker", "stopped PostgreSQL")) for m in messages)
    assert ALL_TOPICS[0].name in asyncio.run(_topics(bootstrap))  # still up, topics kept
    assert "intake" in asyncio.run(_databases(server))


def test_the_embedded_postgres_outlives_a_stack_on_an_existing_broker(
    existing: tuple[str, str], tmp_path: Path
) -> None:
    """The broker's log outlives the stack; fresh databases next to it would contradict it."""
    bootstrap, _server = existing
    stack = _stack(tmp_path)
    state = stack.up(services=[], kafka_bootstrap=bootstrap)
    try:
        assert state.broker is None and state.postgres is not None

        async def mark() -> None:
            conn = await asyncpg.connect(f"{state.pg_url}/intake")
            await conn.execute("CREATE TABLE kept (x int)")
            await conn.close()

        asyncio.run(mark())
        stack.down(grace=5)
        state = stack.up(services=[], kafka_bootstrap=bootstrap)

        async def still_there() -> bool:
            conn = await asyncpg.connect(f"{state.pg_url}/intake")
            try:
                return bool(await conn.fetchval("SELECT to_regclass('kept') IS NOT NULL"))
            finally:
                await conn.close()

        assert asyncio.run(still_there())
    finally:
        stack.down(grace=5)
    # Back on the embedded broker (empty), the kept cluster is dropped: everything starts empty.
    datadir = json.loads((tmp_path / "pg-kept.json").read_text())["datadir"]
    state = stack.up(services=[])
    stack.down(grace=5)
    assert not Path(datadir).exists() or Path(datadir) == state.postgres.datadir


def test_kafka_security_settings_are_honoured_on_an_existing_broker(
    existing: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bootstrap, server = existing
    monkeypatch.setenv("GRANTS_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.delenv("GRANTS_KAFKA_SASL_USERNAME", raising=False)
    with pytest.raises(StackError, match="GRANTS_KAFKA_SASL_USERNAME"):
        _stack(tmp_path).up(services=[], kafka_bootstrap=bootstrap, pg_url=server)
    assert _stack(tmp_path).load_state() is None


def test_the_embedded_stack_ignores_cluster_only_kafka_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRANTS_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("GRANTS_KAFKA_SASL_USERNAME", "grants-intake")
    monkeypatch.setenv("GRANTS_KAFKA_IDEMPOTENCE", "true")
    stack = _stack(tmp_path)
    try:
        state = stack.up(services=["stub_service"])
        env = httpx.get(f"{state.services['stub_service'].http_url}/env").json()["env"]
        assert "GRANTS_KAFKA_SECURITY_PROTOCOL" not in env
        assert "GRANTS_KAFKA_SASL_USERNAME" not in env
        assert env["GRANTS_KAFKA_IDEMPOTENCE"] == "false"
    finally:
        stack.down(grace=5)


def test_a_dead_service_is_shown_with_its_log_and_started_again(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"GRANTS_HOME": str(tmp_path)}
    stack = _stack(tmp_path)
    try:
        state = stack.up(simulation=True, services=["stub_service"])
        old = state.services["stub_service"]
        stack.kill_service("stub_service", signal.SIGKILL)

        status = runner.invoke(app, ["stack", "status"], env=env)
        assert status.exit_code == 1
        assert "simulation mode" in status.output
        assert "stub_service is dead" in status.output
        assert "stub_service: listening on" in status.output  # its last log lines

        again = stack.up(simulation=True)
        svc = again.services["stub_service"]
        assert svc.pid != old.pid and svc.http_port == old.http_port and svc.restarts == 1
        assert httpx.get(f"{svc.http_url}/health").status_code == 200

        # A live `up` on a simulation stack is refused, saying which mode is up.
        with pytest.raises(StackMismatch, match="simulation mode") as refused:
            stack.up(simulation=False)
        known = classify(refused.value)
        assert known is not None and known.code == ExitCode.STACK
    finally:
        stack.down(grace=5)
