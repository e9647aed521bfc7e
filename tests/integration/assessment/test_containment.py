"""Issue 14, finding 4, in assessment on the real broker and PostgreSQL: a NUL in a score
justification or in a pool id was an HTTP 500 (PostgreSQL's JSONB cannot hold ``\\u0000``); now
it is 422 ``text_control_character`` and nothing is written, and the same score without it is
recorded."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from contracts import topics
from servicekit.identity import DevTokenIssuer
from services.assessment.app import build
from tests.infra.services import Feed, Tokens, eventually, running_service
from tests.integration.assessment.test_assessment_service import intake_events
from tests.unit.assessment.builders import pool_raw, scores_summing

pytestmark = pytest.mark.integration
WAIT = 30.0


def _codes(body: dict) -> set[str]:
    return {r["code"] for r in body.get("reasons", [])} | {body.get("error")}


async def test_control_characters_are_refused_before_anything_is_stored(
        private_kafka: str, fresh_database: str, tmp_path: Path) -> None:
    issuer = DevTokenIssuer(tmp_path)
    token = Tokens(issuer)
    pool_id = f"it-nul-{uuid.uuid4().hex[:8]}"
    producer = AIOKafkaProducer(bootstrap_servers=private_kafka, acks="all")
    await producer.start()
    try:
        async with running_service(build, private_kafka, fresh_database, issuer,
                                   name="assessment") as (runtime, http):
            caseworker = token("cw-1", "caseworker")
            nul_pool = await http.post("/pools", json=pool_raw(pool_id="pool\u0000x"),
                                       headers=caseworker)
            assert nul_pool.status_code == 422, nul_pool.text
            assert "text_control_character" in _codes(nul_pool.json())
            made = await http.post("/pools", json=pool_raw(pool_id=pool_id, programme=pool_id),
                                   headers=caseworker)
            assert made.status_code == 201, made.text
            app, values = intake_events(pool_id, "751", 100_000)
            feed = Feed(producer)
            for value in values:
                # named here, in private_kafka's namespace on a shared broker, not at import
                await feed.produce(topics.INTAKE_APPLICATIONS.name, app, value)
            await eventually(feed.consumed(runtime), timeout=WAIT)

            rows = await runtime.pool.fetchval("SELECT count(*) FROM outbox")
            assessor = token("assessor-a", "assessor")
            scores = scores_summing(20, first=5)
            for justification in ("fine\u0000", "\u0007bell"):
                refused = await http.post(f"/applications/{app}/scores", headers=assessor,
                                          json={"scores": scores, "justification": justification})
                assert refused.status_code == 422, refused.text
                assert "text_control_character" in _codes(refused.json())
            assert await runtime.pool.fetchval("SELECT count(*) FROM outbox") == rows
            fine = await http.post(f"/applications/{app}/scores", headers=assessor,
                                   json={"scores": scores, "justification": "fine\n\tindeed"})
            assert fine.status_code == 201, fine.text
    finally:
        await producer.stop()
