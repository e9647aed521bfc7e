"""T7 broker outage: the pipeline drains, then the broker is stopped for 30 s while a portal keeps
submitting over HTTP.

Pass: intake keeps answering every submission with a receipt during the outage (its outbox holds
the events), and after the broker returns every submission accepted during the outage reaches
assessment exactly once; none lost. Both kinds of restart:

- The embedded broker keeps its log in memory, so it comes back empty: the topics are created
  again (the test checks the old log is gone and every platform topic is back), and every
  service's clients (relay producers, consumer groups) must recover without a restart.
- A durable broker (Apache Kafka from ``GRANTS_TEST_KAFKA_BOOTSTRAP``, stopped and started by
  ``GRANTS_TEST_KAFKA_STOP_CMD`` / ``GRANTS_TEST_KAFKA_START_CMD``) comes back with its log: what
  was assessed before the outage is still there once, the outage's submissions are added once,
  and no consumer mistakes the kept log for a lost one (no offset reset).

Guards the transactional outbox (a receipt is given only once the event is in PostgreSQL, and the
relay publishes it whenever the broker is back), the clients' reconnection, and the consumers'
check that the group's committed offsets are still theirs: the returned broker's new records
reuse the old offsets, so a consumer fetching at its old position would silently skip the new
log's first records (seen: 200 of 541 applications never assessed, about one run in five).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Iterator

import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from bench.common import applicants, submission
from contracts import topics
from contracts.topics import all_topic_names
from grants.stack import ALL_SERVICES
from services.payments import app as payments_app
from services.reporting import app as reporting_app
from tests.infra import TLS
from tests.infra.stacks import (
    broker_is_durable, require_restart, start_broker_again, stop_broker,
)
from tests.reliability.lifecycle import (
    ASSESSED, DECIDED, Census, Round, fault_stack, health, log_tail, until,
)

pytestmark = pytest.mark.integration
OUTAGE_S = 30.0
BEFORE = 200


@pytest.fixture(scope="module")
def stack():  # type: ignore[no-untyped-def]
    with fault_stack(list(ALL_SERVICES)) as pair:
        yield pair


async def test_intake_keeps_answering_through_a_broker_outage_and_nothing_is_lost(
        stack) -> None:  # type: ignore[no-untyped-def]
    st, state = stack
    require_restart(st, broker=True)
    durable = broker_is_durable(st)
    rnd = Round(state, BEFORE)  # these over the portal topic; the outage's over HTTP
    await rnd.publish_pool()
    await rnd.submit_all()
    assessed = Census(state.kafka_bootstrap, [topics.ASSESSMENT_ASSESSMENTS.name])

    async def drained() -> bool:
        await assessed.read(rnd.keys)
        return assessed.count(ASSESSED) >= BEFORE

    await until(drained, 120, "the first submissions assessed before the outage")

    await asyncio.to_thread(stop_broker, st)
    receipts: list[tuple[int, dict[str, object]]] = []
    outage_keys: set[bytes] = set()
    started = time.monotonic()
    intake = rnd.url("intake")
    async with httpx.AsyncClient(timeout=10, verify=TLS) as http:
        for key, (token, body) in _http_bodies(rnd):
            if time.monotonic() - started > OUTAGE_S:
                break
            resp = await http.post(f"{intake}/submissions", content=body,
                                   headers={"Authorization": f"Bearer {token}",
                                            "Content-Type": "application/json"})
            receipts.append((resp.status_code, resp.json()))
            if resp.status_code == 200 and resp.json().get("status") == "on_time":
                outage_keys.add(key)
            await asyncio.sleep(0.05)
    outage_s = time.monotonic() - started
    processed_before = {}
    for service in ("payments", "reporting"):
        body = await health(rnd.url(service))
        assert body is not None, f"{service} stopped answering during the outage"
        processed_before[service] = sum(c["processed"] for c in body["consumers"].values())
    await asyncio.to_thread(start_broker_again, st)

    assert len(receipts) >= 100, "too few submissions during the outage to prove anything"
    refused = [r for r in receipts if r[0] != 200]
    assert refused == [], f"intake refused during the outage: {refused[:3]}"
    assert len(outage_keys) == len(receipts)

    after = Census(state.kafka_bootstrap, [topics.ASSESSMENT_ASSESSMENTS.name])

    async def all_reached_assessment() -> bool:
        await after.read(outage_keys)
        return after.count(ASSESSED) >= len(outage_keys)

    async def explain() -> str:
        health_now = {name: await health(rnd.url(name)) for name in ("intake", "assessment")}
        return (f"{after.count(ASSESSED)} assessed; health: {health_now}\n"
                + log_tail(state, "intake") + "\n" + log_tail(state, "assessment"))

    await until(all_reached_assessment, 180,
                f"the {len(outage_keys)} submissions accepted during the outage assessed",
                explain=explain)
    assert after.more_than_once(ASSESSED) == {}
    kept = Census(state.kafka_bootstrap, [topics.ASSESSMENT_ASSESSMENTS.name])
    await kept.read(rnd.keys)
    if durable:
        assert kept.count(ASSESSED) == BEFORE and kept.more_than_once(ASSESSED) == {}, \
            "the durable log lost or repeated what was assessed before the outage"
    else:
        assert kept.count(ASSESSED) == 0, "the embedded broker came back with its log"
        assert set(all_topic_names()) <= set(await _topic_list(state.kafka_bootstrap)), \
            "the platform's topics were not created again"

    # Payments and reporting, idle through the outage, consume the new log too: the decisions
    # of an allocation after it, and everything else they read.
    result = await rnd.allocate()
    assert {d["application_id"].encode() for d in result["decisions"]} >= outage_keys
    for service, app in (("payments", payments_app), ("reporting", reporting_app)):
        consumed = [t.name for t in app.INPUT_TOPICS]
        on_log = Census(state.kafka_bootstrap, consumed)

        async def caught_up(service: str = service, on_log: Census = on_log) -> bool:
            ends = await on_log.read_ends()
            body = await health(rnd.url(service))
            if body is None or on_log.count(DECIDED[0]) + on_log.count(DECIDED[1]) == 0:
                return False
            if durable:  # the kept log: its committed positions are past every record
                positions: dict[str, int] = {}
                for c in body["consumers"].values():
                    positions.update(c["positions"])
                return all(positions.get(tp, 0) >= end for tp, end in ends.items())
            # the new log: everything on it was processed after the outage
            done = sum(c["processed"] for c in body["consumers"].values())
            return done - processed_before[service] >= on_log.records

        await until(caught_up, 120, f"{service} consumed the log of the returned broker")
    rewinds = {name: _rewinds(log_tail(state, name, 10**6)) for name in ALL_SERVICES}
    resets = {name: len(found) for name, found in rewinds.items()}
    if durable:
        # A commit that failed while the broker was away leaves the group's offset behind this
        # process's position: seeking back to that committed offset is the check doing its job
        # (the inbox absorbs the re-read). Taking the kept log for a lost one would seek to the
        # start instead: the group has no committed offset there.
        to_start = {name: [p for p, (_, committed) in found if committed is None]
                    for name, found in rewinds.items()}
        assert not any(to_start.values()), \
            f"a consumer took the kept log for a lost one: {to_start}"
    print(f"T7 ({'durable' if durable else 'embedded'} broker): down {outage_s:.0f}s; {len(receipts)} receipts during the outage, "
          f"all {len(outage_keys)} assessed after it; payments and reporting caught up; "
          f"log resets caught per service: {resets}")


def _rewinds(log: str) -> list[tuple[str, tuple[int, int | None]]]:
    """Each partition a consumer sought back, with (its position, the group's committed offset or
    None when the group had none), from the service's JSON log lines."""
    found: list[tuple[str, tuple[int, int | None]]] = []
    for line in log.splitlines():
        if "committed_offsets_went_back" not in line:
            continue
        try:
            entry = json.loads(line[line.index("{"):])
        except ValueError:
            found.append((line, (0, None)))  # unreadable: counted as the worst case
            continue
        for partition, (ours, committed) in entry.get("partitions", {}).items():
            found.append((partition, (ours, committed)))
    return found


async def _topic_list(bootstrap: str) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return list(await admin.list_topics())
    finally:
        await admin.close()


def _http_bodies(rnd: Round) -> Iterator[tuple[bytes, tuple[str, bytes]]]:
    """(application id, (token, body)) of fresh HTTP submissions to ``rnd``'s pool."""
    apps = applicants()
    for i in itertools.count():
        a = apps[i % len(apps)]
        body = submission(rnd.pool_id, a, 50_000 + i)
        yield (body["application_id"].encode(),
               (rnd.tokens.applicant(a.cvr), json.dumps(body).encode()))
