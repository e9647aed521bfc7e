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
from servicekit.identity import DevTokenIssuer
from services.assessment.app import build as build_assessment
from tests.infra import session_timeout_ms
from tests.infra.services import Tokens, running_service

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
