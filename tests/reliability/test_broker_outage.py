"""T7 broker outage: the pipeline drains, then the broker is stopped for 30 s while a portal keeps
submitting over HTTP.

Pass: intake keeps answering every submission with a receipt during the outage (its outbox holds
the events), and after the broker returns every submission accepted during the outage reaches
assessment; none lost. The embedded broker keeps its log in memory, so it comes back empty: the
topics are created again, and every service's clients (relay producers, consumer groups) must
recover without a restart.

Guards the transactional outbox (a receipt is given only once the event is in PostgreSQL, and the
relay publishes it whenever the broker is back) and the clients' reconnection.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Iterator

import httpx
import pytest

from bench.common import applicants, submission
from contracts import topics
from tests.reliability.lifecycle import ASSESSED, Census, Round, fault_stack, until

pytestmark = pytest.mark.integration
OUTAGE_S = 30.0
BEFORE = 200


@pytest.fixture(scope="module")
def stack():  # type: ignore[no-untyped-def]
    with fault_stack(["intake", "assessment"]) as pair:
        yield pair


async def test_intake_keeps_answering_through_a_broker_outage_and_nothing_is_lost(
        stack) -> None:  # type: ignore[no-untyped-def]
    st, state = stack
    rnd = Round(state, BEFORE)  # these over the portal topic; the outage's over HTTP
    await rnd.publish_pool()
    await rnd.submit_all()
    assessed = Census(state.kafka_bootstrap, [topics.ASSESSMENT_ASSESSMENTS.name])

    async def drained() -> bool:
        await assessed.read(rnd.keys)
        return assessed.count(ASSESSED) >= BEFORE

    await until(drained, 120, "the first submissions assessed before the outage")

    await asyncio.to_thread(st.stop_broker)
    receipts: list[tuple[int, dict[str, object]]] = []
    outage_keys: set[bytes] = set()
    started = time.monotonic()
    intake = rnd.url("intake")
    async with httpx.AsyncClient(timeout=10) as http:
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
    await asyncio.to_thread(st.start_broker_again)

    assert len(receipts) >= 100, "too few submissions during the outage to prove anything"
    refused = [r for r in receipts if r[0] != 200]
    assert refused == [], f"intake refused during the outage: {refused[:3]}"
    assert len(outage_keys) == len(receipts)

    after = Census(state.kafka_bootstrap, [topics.ASSESSMENT_ASSESSMENTS.name])

    async def all_reached_assessment() -> bool:
        await after.read(outage_keys)
        return after.count(ASSESSED) >= len(outage_keys)

    await until(all_reached_assessment, 180,
                f"the {len(outage_keys)} submissions accepted during the outage assessed")
    assert after.more_than_once(ASSESSED) == {}
    print(f"T7: broker down {outage_s:.0f}s; {len(receipts)} receipts during the outage, "
          f"all {len(outage_keys)} assessed after it")


def _http_bodies(rnd: Round) -> Iterator[tuple[bytes, tuple[str, bytes]]]:
    """(application id, (token, body)) of fresh HTTP submissions to ``rnd``'s pool."""
    apps = applicants()
    for i in itertools.count():
        a = apps[i % len(apps)]
        body = submission(rnd.pool_id, a, 50_000 + i)
        yield (body["application_id"].encode(),
               (rnd.tokens.applicant(a.cvr), json.dumps(body).encode()))
