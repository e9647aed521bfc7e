"""Issue 14, finding 10, on a real broker: the auditors' replay reads the dead letters.

A log with an honest round plus what outsiders sent that the platform refused — a malformed
record and a forged ``GrantAwarded`` on the finance topic, and a dead letter on the finance
``.dlt`` topic with its origin headers — verifies (none of them is a violation of R23), and
reports each as an unprocessed input with its origin (topic, partition, offset) and error code,
never its content. Before: the replay never read ``.dlt``; the malformed finance record made every
later replay report ``events_decodable`` and quoted the raw input (a CVR) in its text; and the
forged award was folded as if payments had opened a grant.
"""

from __future__ import annotations

import json
import uuid

import pytest
from aiokafka import AIOKafkaProducer

from contracts import topics
from grants.audit import audit_replay
from grants.stack import ensure_topics
from tests.infra.services import envelope_bytes
from tests.unit.reporting.builders import example_round

pytestmark = pytest.mark.integration
CVR = "29189846"


async def test_dead_letters_are_unprocessed_inputs_not_violations(private_kafka: str) -> None:
    finance = topics.FINANCE_RESULTS.name  # in the test's namespace (private_kafka)
    await ensure_topics(private_kafka)
    rnd = example_round()
    producer = AIOKafkaProducer(bootstrap_servers=private_kafka, acks="all")
    await producer.start()
    try:
        for e in rnd.log.events:
            await producer.send_and_wait(
                e.topic, e.envelope.model_dump_json().encode(),
                key=e.envelope.aggregate_id.encode(),
                headers=[("event_type", e.envelope.event_type.encode())])
        awarded = next(e.envelope.payload for e in rnd.log.events
                       if e.envelope.event_type == "GrantAwarded")
        forged = awarded.model_copy(update={"application_id": uuid.uuid4()})
        malformed = json.dumps({"event_type": "PaymentExecuted", "cvr": CVR}).encode()
        meta_bad = await producer.send_and_wait(finance, malformed, key=b"k1")
        meta_forged = await producer.send_and_wait(
            finance, envelope_bytes(forged, str(forged.application_id), role="finance"),
            key=b"k2")
        await producer.send_and_wait(
            topics.FINANCE_RESULTS.dead_letter, malformed, key=b"k1", headers=[
                ("dlt-original-topic", finance.encode()),
                ("dlt-original-partition", str(meta_bad.partition).encode()),
                ("dlt-original-offset", str(meta_bad.offset).encode()),
                ("dlt-consumer-group", b"grants-payments"),
                ("dlt-error", b"UnknownEventType: ..."),
                ("dlt-error-code", b"schema_invalid")])
    finally:
        await producer.stop()

    report = await audit_replay(private_kafka)
    summary = report.summary()
    assert report.verified, summary["violations"]
    unprocessed = summary["unprocessed_inputs"]
    origins = {(u["topic"], u["partition"], u["offset"], u["error_code"]) for u in unprocessed}
    assert (finance, meta_bad.partition, meta_bad.offset, "schema_invalid") in origins
    assert (finance, meta_forged.partition, meta_forged.offset,
            "event_type_not_allowed_on_topic") in origins
    assert sum(1 for u in unprocessed if u["message"] == "dead-lettered") == 1
    # the forged award was not folded: the replay counts only the round's own awards
    assert summary["counts"].get("GrantAwarded", 0) == sum(
        1 for e in rnd.log.events if e.envelope.event_type == "GrantAwarded")
    assert CVR not in json.dumps(summary)
