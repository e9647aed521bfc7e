"""The test fixtures and the embedded stack give a working broker, PostgreSQL and supervisor."""

from __future__ import annotations

import asyncio
import json
import signal
import uuid
from pathlib import Path

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from typer.testing import CliRunner

from contracts.topics import ALL_TOPICS, INTAKE_APPLICATIONS, PORTAL_SUBMISSIONS
from grants.cli import app
from grants.stack import EmbeddedStack, StackError, ensure_topics
from grants.stack._proc import is_alive

pytestmark = pytest.mark.integration


async def test_platform_topics_exist_with_their_partitions(kafka_bootstrap: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        described = {t["topic"]: t for t in await admin.describe_topics(
            [n for t in ALL_TOPICS for n in (t.name, t.dead_letter)])}  # fmt: skip
    finally:
        await admin.close()
    for topic in ALL_TOPICS:
        assert len(described[topic.name]["partitions"]) == topic.partitions
        assert len(described[topic.dead_letter]["partitions"]) == 1
    assert await ensure_topics(kafka_bootstrap) == []  # idempotent: nothing new to create


async def test_broker_round_trip_through_a_consumer_group(
    kafka_bootstrap: str, fresh_topic, unique_topic_prefix: str
) -> None:
    topic = await fresh_topic(partitions=2)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for i in range(5):
            await producer.send_and_wait(topic, f"m{i}".encode(), key=b"same-key",
                                         headers=[("n", str(i).encode())])  # fmt: skip
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap,
        group_id=f"{unique_topic_prefix}.group",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        session_timeout_ms=6000,
        heartbeat_interval_ms=300,
    )
    await consumer.start()
    try:
        got: list[tuple[bytes, bytes]] = []
        async with asyncio.timeout(30):
            while len(got) < 5:
                batch = await consumer.getmany(timeout_ms=200)
                got += [(r.value, r.headers[0][1]) for rs in batch.values() for r in rs]
        await consumer.commit()
    finally:
        await consumer.stop()
    # one key: one partition, so the order of writing is kept
    assert got == [(f"m{i}".encode(), str(i).encode()) for i in range(5)]


async def test_postgres_fresh_database(fresh_database: str, pg_url: str) -> None:
    assert fresh_database.startswith(pg_url + "/")
    conn = await asyncpg.connect(fresh_database)
    try:
        await conn.execute("CREATE TABLE t (id int PRIMARY KEY, note text NOT NULL)")
        await conn.executemany("INSERT INTO t VALUES ($1, $2)", [(1, "a"), (2, "b")])
        assert await conn.fetchval("SELECT count(*) FROM t") == 2
        assert await conn.fetchval("SELECT current_database()") == fresh_database.rsplit("/", 1)[1]
    finally:
        await conn.close()


def test_stack_supervises_service_processes(tmp_path: Path) -> None:
    messages: list[str] = []
    stack = EmbeddedStack(tmp_path / "home", durable=False, die_with_parent=True,
                          echo=messages.append, service_module="tests.infra.{name}")  # fmt: skip
    try:
        state = stack.up(simulation=True, services=["stub_service", "no_such_service"])
        assert list(state.services) == ["stub_service"]
        assert any("no_such_service" in m and "skipping" in m for m in messages)
        assert stack.load_state() == state
        assert stack.up() == state  # already up: same stack, nothing started

        svc = state.services["stub_service"]
        env = httpx.get(f"{svc.http_url}/env").json()["env"]
        assert env["GRANTS_KAFKA_BOOTSTRAP"] == state.kafka_bootstrap
        assert env["GRANTS_PG_URL"] == state.pg_url
        assert env["GRANTS_HTTP_PORT"] == str(svc.http_port)
        assert env["GRANTS_SIMULATION"] == "1"
        assert env["GRANTS_SERVICE_NAME"] == "stub_service"

        async def provisioned() -> tuple[set[str], set[str]]:
            conn = await asyncpg.connect(f"{state.pg_url}/postgres")
            try:
                dbs = {r[0] for r in await conn.fetch("SELECT datname FROM pg_database")}
            finally:
                await conn.close()
            admin = AIOKafkaAdminClient(bootstrap_servers=state.kafka_bootstrap)
            await admin.start()
            try:
                return dbs, set(await admin.list_topics())
            finally:
                await admin.close()

        dbs, topics = asyncio.run(provisioned())
        assert {"intake", "assessment", "payments", "reporting"} <= dbs
        assert {t.dead_letter for t in ALL_TOPICS} <= topics

        stack.kill_service("stub_service", signal.SIGKILL)
        assert not svc.alive()
        restarted = stack.restart_service("stub_service")
        assert restarted.pid != svc.pid and restarted.http_port == svc.http_port
        assert httpx.get(f"{restarted.http_url}/health").status_code == 200
        assert stack.load_state().services["stub_service"].pid == restarted.pid

        stack.restart_service("stub_service")  # graceful stop (SIGTERM) then start
        assert "got signal 15" in svc.log_path.read_text()
    finally:
        stack.down(grace=5)
    assert stack.load_state() is None
    assert not is_alive(state.broker.pid, state.broker.started_at)
    assert not is_alive(state.postgres.pid, state.postgres.started_at)
    assert not state.postgres.datadir.exists()


def test_stack_up_fails_clearly_and_cleans_up_when_a_service_dies(tmp_path: Path) -> None:
    messages: list[str] = []
    stack = EmbeddedStack(tmp_path, durable=False, die_with_parent=True, echo=messages.append,
                          service_module="tests.infra.stub_service")  # fmt: skip
    with pytest.raises(StackError, match="crash.*exited during start-up(?s:.*)configuration error"):
        stack.up(services=["crash"])
    assert stack.load_state() is None
    pids = [int(m.split("pid ")[1].split(")")[0]) for m in messages if m.startswith("stopped ")]
    assert len(pids) == 2 and not any(is_alive(p) for p in pids)  # broker and PostgreSQL
    datadir = next(m for m in messages if m.startswith("PostgreSQL up")).rsplit(", ", 1)[1][:-1]
    assert not Path(datadir).exists()


def test_cli_stack_up_status_down_with_no_services(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRANTS_HOME", str(tmp_path))
    # the portal topic's partitions are a setting of the stack as of provisioning
    monkeypatch.setenv("GRANTS_PORTAL_PARTITIONS", "5")
    runner = CliRunner()
    try:
        result = runner.invoke(app, ["stack", "up", "--services", ""])
        assert result.exit_code == 0, result.output
        state = json.loads((tmp_path / "stack.json").read_text())
        assert state["services"] == {} and state["simulation"] is False
        assert asyncio.run(_partitions(state["kafka_bootstrap"], PORTAL_SUBMISSIONS.name)) == 5
        assert asyncio.run(_partitions(state["kafka_bootstrap"], INTAKE_APPLICATIONS.name)) \
            == INTAKE_APPLICATIONS.partitions

        assert runner.invoke(app, ["stack", "status"]).exit_code == 0
        again = runner.invoke(app, ["stack", "up"])
        assert again.exit_code == 0 and "already up" in again.output
        assert "ready to accept" in runner.invoke(app, ["stack", "logs", "postgres"]).output
    finally:
        down = runner.invoke(app, ["stack", "down"])
    assert down.exit_code == 0 and "stack down" in down.output
    assert not (tmp_path / "stack.json").exists()
    assert runner.invoke(app, ["stack", "status"]).exit_code == 1
    assert not is_alive(state["broker"]["pid"], state["broker"]["started_at"])
    assert not is_alive(state["postgres"]["pid"], state["postgres"]["started_at"])


async def _partitions(bootstrap: str, topic: str) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return len((await admin.describe_topics([topic]))[0]["partitions"])
    finally:
        await admin.close()


def test_unique_names_do_not_collide(unique_topic_prefix: str) -> None:
    assert unique_topic_prefix != f"test.{uuid.uuid4().hex[:12]}"


def test_stack_starts_the_console_and_status_prints_its_address(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    stack = EmbeddedStack(home, durable=False, die_with_parent=True, with_console=True,
                          service_module="tests.infra.{name}")
    try:
        state = stack.up(simulation=True, services=["stub_service"])
        assert state.console is not None and state.console.alive()
        assert httpx.get(f"{state.console.http_url}/health").json()["service"] == "console"
        signin = httpx.get(f"{state.console.http_url}/signin")
        assert 'action="/signin/dev"' in signin.text  # the embedded stack's dev sign-in
        monkeypatch.setenv("GRANTS_HOME", str(home))
        printed = CliRunner().invoke(app, ["stack", "status"], terminal_width=200)
        assert printed.exit_code == 0, printed.output
        assert f"console: {state.console.http_url}" in printed.output
        console_pid = state.console.pid
    finally:
        stack.down(grace=5)
    assert not is_alive(console_pid)
