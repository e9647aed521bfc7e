"""Issue 14, finding 2: an event larger than the broker takes is refused before it reaches the
outbox (``event_too_large``, 413), so no row can stall the relay; and readiness turns red when
the outbox's oldest unsent row is older than ``GRANTS_READY_OUTBOX_MAX_AGE_S``.

Before: a report with a 2,000,000-character text was accepted (201), reporting's relay failed on
it every second with ``MessageSizeTooLargeError``, every later event stayed in the outbox, and
``/health/ready`` said ok. (The text bound of the contracts refuses that report itself now; this
test goes under the bounds with a small ``kafka_max_message_bytes``.)
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from grants.stack import drop_database
from grants.stack.broker import ensure_topics
from servicekit.identity import DevTokenIssuer
from servicekit.outbox import notify_channel
from services.assessment.app import build as build_assessment
from tests.infra import session_timeout_ms
from tests.infra.services import Tokens, eventually, read_topic, running_service

pytestmark = pytest.mark.integration
POOL = Path(__file__).resolve().parents[2] / "deploy" / "pools" / "familiehus-2022.json"


async def test_an_event_too_large_for_the_broker_is_refused_and_a_stalled_outbox_is_not_ready(
        private_kafka: str, pg_url: str, tmp_path: Path) -> None:
    issuer = DevTokenIssuer(tmp_path / "keys")
    db_name = f"limits_{uuid.uuid4().hex[:8]}"
    definition = json.loads(POOL.read_text())
    definition["pool_id"] = f"limits-{uuid.uuid4().hex[:8]}"
    try:
        async with running_service(build_assessment, private_kafka, f"{pg_url}/{db_name}",
                                   issuer, name="assessment", kafka_max_message_bytes=2_000,
                                   consumer_session_timeout_ms=session_timeout_ms(2000)) as (runtime, http):
            headers = Tokens(issuer)("cw-1", "caseworker")
            response = await http.post("/pools", json=definition, headers=headers)
            assert response.status_code == 413, response.text
            assert response.json()["error"] == "event_too_large"
            assert await runtime.pool.fetchval(
                "SELECT count(*) FROM outbox WHERE key = $1",
                f"pool:{definition['pool_id']}") == 0
            # readiness: an unsent row older than the threshold turns it red
            assert "outbox" not in await runtime.not_ready()
            runtime.relay.stop()  # a relay that publishes nothing more, as one stalled would
            assert runtime._relay_task is not None
            await runtime._relay_task
            await runtime.pool.execute(
                "INSERT INTO outbox (event_id, topic, key, value, created_at)"
                " VALUES ($1, 'grants.limits.test.v1', 'k', '\\x00', now() - interval '1 hour')",
                uuid.uuid4())
            problems = await runtime.not_ready()
            assert "outbox" in problems and "oldest unsent" in problems["outbox"]
            ready = await http.get("/health/ready")
            assert ready.status_code == 503
    finally:
        await drop_database(pg_url, db_name)


async def test_a_row_the_broker_refuses_holds_back_only_its_own_key(
        private_kafka: str, pg_url: str, tmp_path: Path) -> None:
    """A row that still cannot be published (here: a legacy row larger than the producer sends,
    written past the size check) is held: later rows of other keys reach Kafka, later rows of its
    key stay unsent; the log, ``grants_relay_held_total`` and the row show it; once the cause is
    fixed and the hold cleared, it and then its key's later rows are published in order. Before:
    the relay failed on it every second and nothing behind it was ever published."""
    issuer = DevTokenIssuer(tmp_path / "keys")
    db_name = f"held_{uuid.uuid4().hex[:8]}"
    topic = f"grants.held{uuid.uuid4().hex[:8]}.test.v1"
    await ensure_topics(private_kafka, [], extra={topic: 1})
    try:
        async with running_service(build_assessment, private_kafka, f"{pg_url}/{db_name}",
                                   issuer, name="assessment",
                                   consumer_session_timeout_ms=session_timeout_ms(2000)) as (runtime, http):
            pool = runtime.pool
            ids = {}
            for name, key, value in (("big", "k-held", b"x" * 1_200_000),
                                     ("same_key", "k-held", b"after"),
                                     ("other_key", "k-free", b"free")):
                ids[name] = await pool.fetchval(
                    "INSERT INTO outbox (event_id, topic, key, value) VALUES ($1, $2, $3, $4)"
                    " RETURNING id", uuid.uuid4(), topic, key, value)
            await pool.execute("SELECT pg_notify($1, '')", notify_channel(runtime.settings.database_name))

            async def sent(name: str) -> bool:
                return await pool.fetchval("SELECT sent_at IS NOT NULL FROM outbox WHERE id = $1",
                                           ids[name])
            await eventually(lambda: sent("other_key"), timeout=20)
            held = await pool.fetchrow("SELECT held_at, held_error, sent_at FROM outbox"
                                       " WHERE id = $1", ids["big"])
            assert held["held_at"] is not None and held["sent_at"] is None
            assert held["held_error"] == "MessageSizeTooLargeError"
            assert not await sent("same_key")
            assert runtime.relay.held == 1
            metrics = (await http.get("/metrics")).text
            assert 'grants_relay_held_total{service="assessment"} 1.0' in metrics
            records = await read_topic(private_kafka, topic, lambda r: True, timeout=2)
            assert [r.value for r in records] == [b"free"]

            # the operator fixes the cause and clears the hold: the relay tries it again
            await pool.execute("UPDATE outbox SET value = 'big-fixed', held_at = NULL WHERE id = $1",
                               ids["big"])
            await pool.execute("SELECT pg_notify($1, '')", notify_channel(runtime.settings.database_name))
            await eventually(lambda: sent("same_key"), timeout=20)
            records = await read_topic(private_kafka, topic, lambda r: True,
                                       enough=lambda f: len(f) >= 3)
            assert [(r.key, r.value) for r in records] == [
                (b"k-free", b"free"), (b"k-held", b"big-fixed"), (b"k-held", b"after")]
    finally:
        await drop_database(pg_url, db_name)
