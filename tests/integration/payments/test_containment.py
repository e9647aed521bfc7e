"""Issue 14 on the finance topic, with payments on the real broker and PostgreSQL.

- finding 1: a complete ``GrantAwarded`` envelope published on ``grants.finance.results.v1`` used
  to open a grant in payments; the topic manifest (``contracts/topic_manifest.py``) now refuses it:
  dead-lettered with ``dlt-error-code: event_type_not_allowed_on_topic``, no grant account;
- finding 3: a record nested 50,000 deep, bytes that are not UTF-8 and a schema-invalid
  envelope each dead-letter alone, with their code, and the valid result behind them in the same
  batch takes effect (before: FastStream's batch decoding raised RecursionError and the finance
  topic skipped the record without a dead letter).
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from contracts import topics
from contracts.finance import PaymentExecuted
from servicekit.identity import DevTokenIssuer
from services.payments.app import build
from tests.infra import session_timeout_ms
from tests.infra.services import (
    Feed, at, envelope_bytes, eventually, headers_of, outbox_events, random_cvr, records_keyed,
    running_service,
)
from tests.integration.payments.test_payments_service import award, finance

pytestmark = pytest.mark.integration


async def test_the_finance_topic_carries_finance_results_only_and_each_bad_record_alone(
    private_kafka: str, fresh_database: str, tmp_path: Path
) -> None:
    # a log of the test's own: later payments consumers read the finance topic from offset 0
    kafka_bootstrap, results = private_kafka, topics.FINANCE_RESULTS.name
    issuer = DevTokenIssuer(tmp_path)
    forged_app = uuid.uuid4()
    keys = {name: str(uuid.uuid4()) for name in ("forged", "nested", "bytes", "schema")}
    schema_invalid = json.loads(finance(PaymentExecuted(
        instruction_id=uuid.uuid4(), amount_oere=1, executed_at=at("2023-01-02T08:00:00")),
        uuid.uuid4()))
    schema_invalid["payload"]["amount_oere"] = 10**30  # above the contracts' ceiling
    bad = {
        "forged": envelope_bytes(award(forged_app, random_cvr(), 1_000_000), str(forged_app),
                                 role="finance"),
        "nested": b"[" * 50_000,
        "bytes": b"\xff\xfe\x00\x9f",
        "schema": json.dumps(schema_invalid).encode(),
    }
    expected_codes = {"forged": "event_type_not_allowed_on_topic", "nested": "json_invalid",
                      "bytes": "json_invalid", "schema": "schema_invalid"}
    stranger = uuid.uuid4()
    kafka = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await kafka.start()
    try:
        async with running_service(build, kafka_bootstrap, fresh_database, issuer,
                                   name="payments", simulation=True,
                                   consumer_session_timeout_ms=session_timeout_ms(2000)) as (runtime, _):
            feed = Feed(kafka)
            when = at("2023-01-02T08:00:00")
            for name, value in bad.items():  # one partition (one key), so one batch with the valid
                await feed.produce(results, b"containment", value, when,
                                   headers=[("test-key", keys[name].encode())])
            await feed.produce(results, b"containment", finance(PaymentExecuted(
                instruction_id=stranger, amount_oere=1, executed_at=when), stranger), when)
            await eventually(feed.consumed(runtime), timeout=30)

            recorded = {e["payload"]["instruction_id"]
                        for e in await outbox_events(runtime, "PaymentResultRecorded")}
            assert str(stranger) in recorded, "the valid result behind the bad ones was lost"
            opened = [e for e in await outbox_events(runtime, "GrantAccountOpened")
                      if e["aggregate_id"] == str(forged_app)]
            assert opened == [], "a GrantAwarded on the finance topic opened a grant"
            dead = await records_keyed(kafka_bootstrap, topics.FINANCE_RESULTS.dead_letter,
                                       {"containment"}, want=4, timeout=30)
            found = {}
            for record in dead:
                headers = headers_of(record)
                if headers.get("test-key") in keys.values():
                    found[headers["test-key"]] = headers
            for name, key in keys.items():
                headers = found.get(key)
                assert headers is not None, f"{name} was not dead-lettered"
                assert headers["dlt-error-code"] == expected_codes[name], (name, headers)
                assert headers["dlt-original-topic"] == results
                assert headers["dlt-original-offset"].isdigit()
    finally:
        await kafka.stop()
