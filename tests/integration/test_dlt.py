"""`grants dlt` on the real broker and PostgreSQL: a real consumer dead-letters records, the
tools list and show them, and a redrive goes back through the consumer's normal path.

A handler broken by a "bug" dead-letters an event; after the "fix" a redrive makes it take
effect exactly once; an undecodable record (a permanent error) is refused unless forced; a second
redrive of the same record is refused; the payload is shown only on request; the CLI agrees.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from contracts.assessment import PriorAwardImported
from grants import dlt
from grants.stack import ensure_topics
from servicekit.consumer import Incoming
from servicekit.outbox import Emitter
from servicekit.service import ServiceRuntime
from tests.infra.services import envelope_bytes, eventually, read_topic, service_settings
from tests.pipe import probe_service

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


class Bug:
    """The handler's bug: while ``present``, every PriorAwardImported breaks it."""

    present = True


async def _handler(conn: asyncpg.Connection, item: Incoming, emitter: Emitter) -> None:
    if Bug.present:
        raise RuntimeError("handler bug: municipality lookup failed")
    await probe_service.record_effect(conn, item, emitter)


async def _effects(db: asyncpg.Pool, corr: str) -> int:
    return int(await db.fetchval("SELECT count(*) FROM effects WHERE correlation_id = $1", corr))


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "grants.cli", "dlt", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


async def test_list_show_and_redrive_through_the_normal_path(
    kafka_bootstrap: str, fresh_database: str, fresh_topic: Any
) -> None:
    topic = await fresh_topic(partitions=1, suffix="dlt")
    await ensure_topics(kafka_bootstrap, topics=(), extra={f"{topic}.dlt": 1})
    runtime = ServiceRuntime("probe", migrations=probe_service.MIGRATIONS, settings=service_settings(
        kafka_bootstrap, fresh_database, f"probe-{uuid.uuid4().hex[:6]}"))
    runtime.consume(topic, handler=_handler)
    app = runtime.http_app(title="probe")
    corr = f"dlt-{uuid.uuid4()}"
    event = envelope_bytes(PriorAwardImported(programme="dlt", municipality_code="101",
                                              pool_id="dlt-test"), "k1", correlation_id=corr)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    Bug.present = True
    try:
        async with app.router.lifespan_context(app):
            consumer = runtime.consumers[0]
            await producer.send_and_wait(topic, b'{"applicant": "Jens Hansen", not json',
                                         key=b"k0", headers=[("trace", b"t0")])
            await producer.send_and_wait(topic, event, key=b"k1", headers=[("audit-leaf", b"7")])
            await eventually(lambda: _true(consumer.dead_lettered == 2), timeout=60)

            letters = await dlt.read_dead_letters(kafka_bootstrap, [f"{topic}.dlt"])
            assert [x.error_code for x in letters] == ["json_invalid", "handler_failed"]
            [summary] = dlt.summarise(letters)
            assert (summary.topic, summary.count, summary.pending) == (topic, 2, 2)
            assert summary.error_codes == {"json_invalid": 1, "handler_failed": 1}
            assert summary.oldest == letters[0].dead_lettered_at is not None

            undecodable, broken = letters
            shown = undecodable.describe()
            assert shown["origin"]["topic"] == topic and shown["origin"]["offset"] == 0
            assert shown["permanent"] and shown["headers"]["trace"] == "t0"
            assert "payload" not in shown and "Jens" not in json.dumps(shown)
            assert "Jens Hansen" in undecodable.describe(payload=True)["payload"]

            # The bug is fixed; the redrive of both: the permanent one is refused.
            Bug.present = False
            results = await dlt.redrive(kafka_bootstrap, letters, actor="op-7", reason="fix 1.2.3")
            assert [r.outcome for r in results] == ["refused_permanent", "redriven"]
            await eventually(lambda: _effects(runtime.pool, corr), timeout=60)
            assert await _effects(runtime.pool, corr) == 1

            # The copy went back with the original key, value and leaf, naming its redrive.
            copy = results[1].detail["copy"]
            [back] = await read_topic(kafka_bootstrap, topic,
                                      lambda r: r.offset == copy["offset"])
            headers = dict(back.headers)
            assert back.key == b"k1" and back.value == event and headers["audit-leaf"] == b"7"
            assert headers[dlt.REDRIVEN_FROM].decode() == broken.ref

            # Recorded: the dead letter now has its redrive; a second one is refused.
            again = await dlt.read_dead_letters(kafka_bootstrap, [f"{topic}.dlt"])
            assert len(again) == 2
            [entry] = again[1].redrives
            assert (entry["actor"], entry["reason"], entry["forced"]) == ("op-7", "fix 1.2.3", False)
            assert dlt.summarise(again)[0].pending == 1
            [second] = await dlt.redrive(kafka_bootstrap, [again[1]], actor="op-7", reason="x")
            assert second.outcome == "refused_already_redriven"

            # The CLI over the same topic (a separate process, as an operator runs it).
            listed = await asyncio.to_thread(_cli, "list", "--bootstrap", kafka_bootstrap,
                                             "--topic", topic, "--json")
            assert listed.returncode == 0, listed.stderr
            assert json.loads(listed.stdout) == [{
                "topic": topic, "count": 2, "pending": 1, "oldest": summary.as_dict()["oldest"],
                "error_codes": {"handler_failed": 1, "json_invalid": 1}}]
            show = await asyncio.to_thread(_cli, "show", undecodable.ref, "--bootstrap",
                                           kafka_bootstrap)
            assert show.returncode == 0 and "Jens" not in show.stdout
            refused = await asyncio.to_thread(
                _cli, "redrive", undecodable.ref, "--bootstrap", kafka_bootstrap,
                "--actor", "op-7", "--reason", "try")
            assert refused.returncode == 1 and "refused_permanent" in refused.stdout
            forced = await asyncio.to_thread(
                _cli, "redrive", undecodable.ref, "--bootstrap", kafka_bootstrap,
                "--actor", "op-7", "--reason", "inspect", "--force")
            assert forced.returncode == 0 and "redriven" in forced.stdout
            # Still undecodable: the consumer dead-letters the forced copy again.
            await eventually(lambda: _true(consumer.dead_lettered == 3), timeout=60)
    finally:
        await producer.stop()
        Bug.present = True
    final = await dlt.read_dead_letters(kafka_bootstrap, [f"{topic}.dlt"])
    assert [x.error_code for x in final] == ["json_invalid", "handler_failed", "json_invalid"]
    assert final[0].redrives[0]["forced"] is True


async def _true(value: bool) -> bool:
    return value


def test_references_and_error_codes() -> None:
    assert dlt.parse_ref("grants.intake.applications.v1.dlt/0/12") == (
        "grants.intake.applications.v1.dlt", 0, 12)
    assert dlt.parse_ref("grants.intake.applications.v1/2/3")[0].endswith(".v1.dlt")
    for bad in ("x", "t/1", "t/a/1", "/0/1"):
        with pytest.raises(ValueError):
            dlt.parse_ref(bad)
    assert dlt.derive_error_code("ValidationError: Invalid JSON: x [type=json_invalid]") == (
        "json_invalid")
    assert dlt.derive_error_code("ValidationError: GrantAwarded: x [type=missing]") == (
        "schema_invalid")
    assert dlt.derive_error_code("UnknownEventType: NoSuch") == "event_type_unknown"
    assert dlt.derive_error_code("RuntimeError: boom") == "handler_failed"
