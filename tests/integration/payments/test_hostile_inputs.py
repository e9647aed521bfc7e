"""Issue 14: a fuzz test of the Kafka path on the finance topic, with payments on the real broker
and PostgreSQL.

Hypothesis generates raw bytes and near-valid envelopes (a valid ``PaymentExecuted`` envelope
with one field replaced by arbitrary JSON, removed, or the whole record truncated or nested);
they are produced together with valid results for unknown instructions. Pass: the consumer does
not crash or stop, every valid result takes effect (``PaymentResultRecorded``), and every record
that did not is on ``.dlt`` with its origin and a documented ``dlt-error-code``.
(The portal topic's fuzz is ``tests/integration/intake/test_fuzz.py``.)
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from hypothesis import strategies as st

from contracts import topics
from contracts.finance import PaymentExecuted
from contracts.topic_manifest import MANIFEST_CODES
from servicekit.consumer import DEAD_LETTER_CODES
from servicekit.identity import DevTokenIssuer
from services.payments.app import build
from tests.infra import session_timeout_ms
from tests.infra.examples import drawn
from tests.infra.services import (
    Feed, at, eventually, headers_of, outbox_events, read_topic, running_service,
)
from tests.integration.payments.test_payments_service import finance

pytestmark = [pytest.mark.integration,
              pytest.mark.filterwarnings("ignore:Do not use the `random` module")]
HOSTILE = 40  # under the poison-storm limit (50 dead letters in a row)
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                           max_leaves=10)


def _valid(instruction: uuid.UUID) -> bytes:
    return finance(PaymentExecuted(instruction_id=instruction, amount_oere=1,
                                   executed_at=at("2023-01-02T08:00:00")), instruction)


@st.composite
def hostile(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["bytes", "field", "payload_field", "drop", "truncate", "nest"]))
    base = json.loads(_valid(uuid.uuid4()))
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    if kind == "field":
        base[draw(st.sampled_from(sorted(base)))] = draw(json_values)
    elif kind == "payload_field":
        base["payload"][draw(st.sampled_from(sorted(base["payload"])))] = draw(json_values)
    elif kind == "drop":
        del base[draw(st.sampled_from(sorted(base)))]
    elif kind == "truncate":
        raw = json.dumps(base).encode()
        return raw[:draw(st.integers(0, len(raw) - 1))]
    else:
        return b"[" * draw(st.integers(1_000, 60_000))
    return json.dumps(base).encode()


def _examples(n: int) -> list[bytes]:
    return drawn(hostile(), n)


async def test_hostile_records_on_the_finance_topic(private_kafka: str, fresh_database: str,
                                                    tmp_path: Path) -> None:
    # A log of the test's own: hostile records left on the session's finance topic would be read
    # by every later payments consumer from offset 0 (and pile up on a durable broker, session
    # after session, until one of them stops in a poison storm).
    kafka_bootstrap, results = private_kafka, topics.FINANCE_RESULTS.name
    run = uuid.uuid4().hex
    valid = [uuid.uuid4() for _ in range(5)]
    kafka = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await kafka.start()
    try:
        async with running_service(build, kafka_bootstrap, fresh_database,
                                   DevTokenIssuer(tmp_path), name="payments", simulation=True,
                                   consumer_session_timeout_ms=session_timeout_ms(2000)) as (runtime, _):
            feed = Feed(kafka)
            when = at("2023-01-02T08:00:00")
            sent: dict[str, Any] = {}
            for n, value in enumerate(_examples(HOSTILE)):
                ref = f"{run}-{n}"
                sent[ref] = value
                await feed.produce(results, run.encode(), value, when,
                                   headers=[("fuzz-ref", ref.encode())])
                if n % 8 == 0:
                    v = valid[n // 8]
                    await feed.produce(results, run.encode(), _valid(v), when)
            await eventually(feed.consumed(runtime), timeout=60)
            consumer = runtime.consumers[0]
            assert consumer.halted is None and consumer.started

            recorded = {e["payload"]["instruction_id"]
                        for e in await outbox_events(runtime, "PaymentResultRecorded")}
            assert {str(v) for v in valid} <= recorded, "a valid result was lost"
            dead_refs = {}
            for record in await read_topic(
                    kafka_bootstrap, topics.FINANCE_RESULTS.dead_letter,
                    lambda r: headers_of(r).get("fuzz-ref", "").startswith(run),
                    enough=lambda found: False, timeout=5):
                h = headers_of(record)
                dead_refs[h["fuzz-ref"]] = h
            assert dead_refs, "nothing was dead-lettered: the generator lost its teeth"
            documented = set(DEAD_LETTER_CODES) | set(MANIFEST_CODES)
            for ref, h in dead_refs.items():
                assert h["dlt-error-code"] in documented, (ref, h)
                assert h["dlt-original-topic"] == results
            # every hostile record either took effect (a near-valid one that is still valid)
            # or was dead-lettered: none vanished
            for ref, value in sent.items():
                if ref in dead_refs:
                    continue
                # not dead-lettered: it must have been a valid result, and taken effect
                envelope = json.loads(value)
                assert envelope["payload"]["instruction_id"] in recorded, ref
    finally:
        await kafka.stop()
