"""Issue 14 in reporting, on the real broker and PostgreSQL (reporting in-process on a broker of
the test's own).

- finding 1: a complete ``GrantAwarded`` envelope on the finance topic opened a grant file in
  reporting (as in payments: ``integration/payments/test_containment.py``); now it is
  dead-lettered (``event_type_not_allowed_on_topic``) and reporting knows no such grant, while
  the same award on the decisions topic opens one;
- finding 2: ``POST /grants/{id}/reports`` with a 2,000,000-character text was accepted (201) and
  stalled reporting's relay for ever; now it is 413 ``body_too_large`` (a 100,000-character one
  under the body limit: 422 ``field_too_long``), nothing is written, and a later report of the
  same grant is published.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from contracts import topics
from servicekit.identity import DevTokenIssuer
from services.reporting.app import build
from tests.infra.services import (
    Feed, Tokens, envelope_bytes, eventually, random_cvr, read_topic, running_service,
)
from tests.integration.payments.test_payments_service import award

pytestmark = pytest.mark.integration
WAIT = 30.0


async def test_reporting_refuses_forged_awards_and_oversized_reports(
        private_kafka: str, fresh_database: str, tmp_path: Path) -> None:
    issuer = DevTokenIssuer(tmp_path)
    forged, real = uuid.uuid4(), uuid.uuid4()
    cvr = random_cvr()
    producer = AIOKafkaProducer(bootstrap_servers=private_kafka, acks="all")
    await producer.start()
    try:
        async with running_service(build, private_kafka, fresh_database, issuer,
                                   name="reporting", simulation=True) as (runtime, http):
            feed = Feed(producer)
            await feed.produce(topics.FINANCE_RESULTS.name, str(forged), envelope_bytes(
                award(forged, cvr, 1_000_000), str(forged), role="finance"))
            await feed.produce(topics.ASSESSMENT_DECISIONS.name, str(real), envelope_bytes(
                award(real, cvr, 1_000_000), str(real), actor_id="svc-assessment"))
            await eventually(feed.consumed(runtime), timeout=WAIT)
            files = {r["application_id"] for r in await runtime.pool.fetch(
                "SELECT application_id FROM grant_files")}
            assert real in files and forged not in files
            dead = await read_topic(private_kafka, topics.FINANCE_RESULTS.dead_letter,
                                    lambda r: r.key == str(forged).encode())
            assert [dict(r.headers)["dlt-error-code"] for r in dead] == [
                b"event_type_not_allowed_on_topic"]

            grantee = Tokens(issuer)("grantee", "applicant", cvr=cvr)
            reports = f"/grants/{real}/reports"
            outbox_before = await runtime.pool.fetchval("SELECT count(*) FROM outbox")
            huge = await http.post(reports, content=json.dumps(
                {"kind": "status", "text": "x" * 2_000_000}).encode(), headers=grantee)
            assert huge.status_code == 413 and huge.json()["error"] == "body_too_large"
            long = await http.post(reports, json={"kind": "status", "text": "x" * 100_000},
                                   headers=grantee)
            assert long.status_code == 422, long.text
            assert "field_too_long" in {r["code"] for r in long.json().get("reasons", [])}
            assert await runtime.pool.fetchval("SELECT count(*) FROM outbox") == outbox_before

            fine = await http.post(reports, json={"kind": "status", "text": "on track"},
                                   headers=grantee)
            assert fine.status_code == 201, fine.text
            report_id = fine.json()["report_id"]
            published = await read_topic(
                private_kafka, topics.REPORTING_REPORTS.name,
                lambda r: json.loads(r.value)["payload"].get("report_id") == report_id,
                timeout=WAIT)
            assert published, "the relay did not publish the later report"
    finally:
        await producer.stop()
