"""Issue 10, T4: poison messages, on the real broker and PostgreSQL, the consumer its own process.

``test_poison_interleaved_with_valid_events`` — 1,000 valid ``PriorAwardImported`` events on three
partitions, interleaved (on every partition) with undecodable JSON, a schema-invalid envelope and
an event whose handler always raises (the probe's ``poison-in-handler``). Pass: exactly those nine
records are on ``<topic>.dlt``, byte for byte, with their origin (topic, partition, offset), the
consumer group, the error and their own headers and key; the 1,000 have exactly one effect each;
the group commits every partition to its end; and no partition's committed offset stood still
longer than the retry cap (``transient_retry_max_delay_s``) while records were waiting.

Mechanisms guarded (``servicekit/consumer.py``): a decoder failure is dead-lettered instead of
failing the batch; a non-transient handler error replays the batch record by record and
dead-letters the breaking record instead of retrying it. Checked by disabling each locally:
with a handler's error raised as transient (``OSError``) in ``per_record`` the handler poison is
retried forever, its partition never commits (fails waiting for the group's offsets); with the
decoder's ``except`` re-raising, each batch holding a bad record is dropped unacknowledged, later
batches commit past it and its valid events never take effect (fails at the effect count).

``test_burst_of_only_poison_stops_the_consumer`` — a burst of 300 undecodable records, more than
``poison_storm_limit`` (default 50), to a probe with the default ``on_poison_storm``. Pass: the
process exits on its own, and the burst was not drained: fewer than 300 records were
dead-lettered (exactly the limit) and the group's committed offset stayed short of the end (at
most the limit), so the records after the limit are still there for whoever repairs the
producer. Guarded: the storm limit and that the consumer stops working (and committing) at it
(``PoisonStorm``). Checked by removing the ``on_poison_storm`` call (the process keeps running:
fails at "did not stop") and by letting the batch finish after the storm, as the consumer did
before this test (the whole burst was dead-lettered and committed: fails at "drained").
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from contracts.assessment import PriorAwardImported
from grants.stack import ensure_topics
from tests.infra import fast_join
from tests.infra.services import envelope_bytes, eventually, read_topic
from tests.pipe import probe_service

pytestmark = pytest.mark.integration
OCCURRED = datetime(2025, 1, 1, tzinfo=UTC)
PARTITIONS = 3
VALID = 1000
RETRY_CAP_S = 5.0  # transient_retry_max_delay_s, its default
# Batches of 100 (default 500): the records arrive in a dozen batches, several holding poison, so
# the partitions are seen flowing past it batch after batch (the longest stall measured ~0.4 s).
MAX_RECORDS = 100


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _valid(corr: str, pool_id: str = "poison-test") -> bytes:
    payload = PriorAwardImported(programme="poison", municipality_code="101", pool_id=pool_id)
    return envelope_bytes(payload, "poison-agg", occurred_at=OCCURRED, correlation_id=corr)


def _schema_invalid(corr: str) -> bytes:
    envelope = json.loads(_valid(corr))
    envelope["payload"]["municipality_code"] = 101  # a number where the contract says a string
    envelope["payload"]["not_in_the_contract"] = True  # extra="forbid"
    return json.dumps(envelope).encode()


async def _count(db_url: str, sql: str, *args: Any) -> int:
    try:
        conn = await asyncpg.connect(db_url)
    except asyncpg.InvalidCatalogNameError:
        return 0
    try:
        return int(await conn.fetchval(sql, *args))
    except asyncpg.UndefinedTableError:
        return 0
    finally:
        await conn.close()


async def _stop(proc: Any) -> None:
    if proc.poll() is None:
        proc.terminate()
        for _ in range(200):
            if proc.poll() is not None:
                return
            await asyncio.sleep(0.1)
        proc.kill()


async def test_poison_interleaved_with_valid_events(
    kafka_bootstrap: str, fresh_database: str, fresh_topic: Any, tmp_path: Path
) -> None:
    topic = await fresh_topic(partitions=PARTITIONS, suffix="poison")
    dlt = f"{topic}.dlt"
    await ensure_topics(kafka_bootstrap, topics=(), extra={dlt: 1})
    run = uuid.uuid4().hex[:8]
    name = f"probe-poison-{run}"

    # What goes where: on each partition, valid events with one bad record of each kind among
    # them (after about a sixth, a half and five sixths of that partition's events).
    per_partition = VALID // PARTITIONS + 1
    bad_at = {per_partition // 6: "malformed", per_partition // 2: "invalid",
              5 * per_partition // 6: "handler"}
    bad: dict[tuple[int, int], tuple[str, bytes, bytes]] = {}  # (partition, offset) → kind...
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        futures = []
        sent = 0
        ends = dict.fromkeys(range(PARTITIONS), 0)  # partition → records written
        for i in range(per_partition):
            for p in range(PARTITIONS):
                if i in bad_at:
                    kind = bad_at[i]
                    mark = f"{run}-{kind}-{p}"
                    value = {"malformed": b'{"event_id": "' + mark.encode() + b'", oops',
                             "invalid": _schema_invalid(mark),
                             "handler": _valid(mark, pool_id="poison-in-handler")}[kind]
                    key = f"bad-{p}".encode()
                    meta = await producer.send_and_wait(
                        topic, value, key=key, partition=p,
                        headers=[("probe-mark", mark.encode()), ("trace", b"t-" + key)])
                    bad[(p, meta.offset)] = (kind, value, key)
                    ends[p] += 1
                if sent < VALID:
                    futures.append(await producer.send(
                        topic, _valid(f"{run}-ok-{sent}"), key=f"ok-{sent}".encode(),
                        partition=p))
                    sent += 1
                    ends[p] += 1
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    assert sent == VALID and len(bad) == 3 * PARTITIONS

    proc = probe_service.spawn(kafka_bootstrap, fresh_database, name, _free_port(), topic=topic,
                               log_file=tmp_path / "probe.log",
                               transient_retry_max_delay_s=str(RETRY_CAP_S),
                               consumer_max_records=str(MAX_RECORDS), **fast_join())
    group = f"grants-{name}"
    try:
        # Watch the group's committed offsets: every partition must reach its end, and once the
        # group is up (its first commit) none may stand still longer than the retry cap while
        # records wait behind it.
        last: dict[int, int] = {}
        moved_at: dict[int, float] = {}
        longest = 0.0
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, f"the probe exited ({proc.returncode}); see probe.log"
            now_committed = await probe_service.committed(kafka_bootstrap, group, topic,
                                                          PARTITIONS)
            now = time.monotonic()
            if not moved_at and any(now_committed.values()):
                last, moved_at = dict(now_committed), dict.fromkeys(now_committed, now)
            for p, offset in now_committed.items() if moved_at else ():
                if last[p] < ends[p]:
                    longest = max(longest, now - moved_at[p])
                if offset != last[p]:
                    last[p], moved_at[p] = offset, now
            if moved_at and all(last[p] >= ends[p] for p in range(PARTITIONS)):
                break
            assert now < deadline, f"the group did not commit to the end: {now_committed} of {ends}"
            await asyncio.sleep(0.2)
        assert last == ends, f"committed beyond what was written? {last} vs {ends}"
        assert longest < RETRY_CAP_S, (
            f"a partition stood still for {longest:.1f}s, longer than the retry cap")
    finally:
        await _stop(proc)

    # The 1,000 were processed, once each in effect.
    assert await _count(fresh_database, "SELECT count(*) FROM effects WHERE correlation_id"
                        " LIKE $1", f"{run}-ok-%") == VALID
    assert await _count(fresh_database, "SELECT count(DISTINCT event_id) FROM effects") == VALID
    assert await _count(fresh_database, "SELECT count(*) FROM effects WHERE correlation_id"
                        " NOT LIKE $1", f"{run}-ok-%") == 0

    # Exactly the nine bad records are on the dead-letter topic, each with its origin.
    letters = await read_topic(kafka_bootstrap, dlt, lambda r: True,
                               enough=lambda found: len(found) > len(bad), timeout=5.0)
    assert len(letters) == len(bad), [dict(r.headers) for r in letters]
    seen = set()
    for letter in letters:
        headers = {k: v.decode() for k, v in letter.headers}
        where = (int(headers["dlt-original-partition"]), int(headers["dlt-original-offset"]))
        assert where in bad, f"dead-lettered something that was not poison: {headers}"
        kind, value, key = bad[where]
        seen.add(where)
        assert headers["dlt-original-topic"] == topic
        assert headers["dlt-consumer-group"] == group
        assert headers["probe-mark"] == f"{run}-{kind}-{where[0]}"  # its own headers kept
        assert headers["trace"] == f"t-bad-{where[0]}"
        assert letter.value == value and letter.key == key
        error = headers["dlt-error"]
        expected = {"malformed": "json_invalid", "invalid": "ValidationError",
                    "handler": "this event breaks the handler"}[kind]
        assert error and expected in error, (kind, error)
    assert seen == set(bad)


async def test_burst_of_only_poison_stops_the_consumer(
    kafka_bootstrap: str, fresh_database: str, fresh_topic: Any, tmp_path: Path
) -> None:
    topic = await fresh_topic(partitions=1, suffix="storm")
    dlt = f"{topic}.dlt"
    await ensure_topics(kafka_bootstrap, topics=(), extra={dlt: 1})
    burst = 300
    limit = 50  # poison_storm_limit, its default
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        futures = [await producer.send(topic, b"not json " + str(i).encode(), key=b"storm")
                   for i in range(burst)]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()

    name = f"probe-storm-{uuid.uuid4().hex[:8]}"
    proc = probe_service.spawn(kafka_bootstrap, fresh_database, name, _free_port(), topic=topic,
                               log_file=tmp_path / "probe.log", **fast_join())
    try:
        await eventually(lambda: proc.poll() is not None, timeout=60, interval=0.2)
    except AssertionError:
        raise AssertionError("the consumer did not stop on a burst of only poison") from None
    finally:
        await _stop(proc)
    log = (tmp_path / "probe.log").read_text(errors="replace")
    assert "poison_storm_stopping_service" in log

    letters = await read_topic(kafka_bootstrap, dlt, lambda r: True,
                               enough=lambda found: len(found) >= burst, timeout=4.0)
    done = (await probe_service.committed(kafka_bootstrap, f"grants-{name}", topic, 1))[0]
    assert len(letters) >= limit, "stopped before the storm limit"
    assert len(letters) < burst and done < burst, (
        f"the burst was drained: {len(letters)} dead letters, committed offset {done}")
    # Precisely: it stopped at the limit, and committed nothing past the last dead letter.
    assert len(letters) == limit and done <= limit, (len(letters), done)
