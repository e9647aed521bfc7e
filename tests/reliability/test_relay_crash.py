"""T2 relay crash: assessment is SIGKILLed 20 times between committing a state change and
publishing its outbox rows, after a random number (2–5) of batches in each life.

The kill comes from ``GRANTS_FAULT_KILL_AT_BATCH``: right after the batch's transaction committed
its effect and outbox rows, in the same step of the event loop, so the relay cannot have published
them (nor the consumer committed its offsets). A kill counts when it left unsent rows; one that
hit a batch of redelivered duplicates (the last life's uncommitted batches, nothing new to put in
the outbox) missed the window and is repeated, up to MAX_MISSES times, so exactly 20 kills count.

Pass: every outbox row is published at least once: no row is left unsent, and the distinct event
ids on assessment's topics equal its outbox rows; every application is assessed exactly once;
assessment's signed Merkle tree covers every one of those events (no leaf missing or doubled).

Guards the transactional outbox and its relay: an event published outside the transaction, or a
row marked sent before the broker's acknowledgement, is lost by such a kill. (The redelivered
batch is absorbed by the inbox and by assessment's assess-once rule; with the inbox disabled this
still passes, see T1.)
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import time

import asyncpg
import pytest

from contracts import topics
from grants.audit import audit_replay, stack_keyring
from grants.stack import StackError
from tests.infra import session_timeout_ms
from tests.reliability.lifecycle import ASSESSED, Census, Round, fault_stack, until

pytestmark = pytest.mark.integration
KILLS = 20
MAX_MISSES = 5
N = 3000
# Named when read: the stack may run in a namespace of its own (tests.infra.stacks).
ASSESSMENT_TOPICS = topics.TopicNames(lambda: (
    topics.ASSESSMENT_POOLS.name, topics.ASSESSMENT_ASSESSMENTS.name,
    topics.ASSESSMENT_DECISIONS.name))


@pytest.fixture(scope="module")
def stack():  # type: ignore[no-untyped-def]
    # Small batches, so 20 lives do not drain the backlog; a short session, so a restarted
    # member does not wait long for the killed one to expire.
    with fault_stack(["intake", "assessment"], GRANTS_CONSUMER_MAX_RECORDS="50",
                     GRANTS_CONSUMER_SESSION_TIMEOUT_MS=str(session_timeout_ms(1500))) as pair:
        yield pair


async def outbox(dsn: str) -> tuple[int, int]:
    """(event rows, unsent rows of any kind) of assessment's outbox; its signed checkpoints are
    rows too (on grants.assessment.audit.v1), not counted as events."""
    conn = await asyncpg.connect(dsn)
    try:
        row = await conn.fetchrow(
            "SELECT count(*) FILTER (WHERE topic <> $1) AS n,"
            " count(*) FILTER (WHERE sent_at IS NULL) AS unsent FROM outbox",
            topics.audit_topic("assessment").name)
        return int(row["n"]), int(row["unsent"])
    finally:
        await conn.close()


@pytest.mark.timeout(900)  # 20–25 service lives, each a start-up: minutes on a loaded machine
async def test_every_outbox_row_is_published_despite_twenty_kills(
        stack) -> None:  # type: ignore[no-untyped-def]
    st, state = stack
    rnd = Round(state, N)
    await rnd.publish_pool()
    await asyncio.to_thread(st.stop_service, "assessment")
    await rnd.submit_all()
    dsn = f"{state.pg_url}/{topics.namespaced('assessment', '_')}"
    rng = random.Random(2)
    unsent_at_kill: list[int] = []
    t0 = time.monotonic()
    try:
        # Lives until 20 kills left unsent rows: a life whose batches 2–5 were all redelivered
        # duplicates (its predecessor had committed their effects but not their offsets) has
        # nothing unsent when it dies; that is a miss, not a failure, and is repeated.
        while (sum(n > 0 for n in unsent_at_kill) < KILLS
               and len(unsent_at_kill) < KILLS + MAX_MISSES):
            # not the first batch of a life: that is the one the last life did not commit, all
            # duplicates now, with nothing new to put in the outbox
            os.environ["GRANTS_FAULT_KILL_AT_BATCH"] = str(rng.randint(2, 5))
            with contextlib.suppress(StackError):  # it may die before /health first answers
                await asyncio.to_thread(st.start_service, "assessment", health_timeout=60)

            async def dead() -> bool:
                return not st.load_state().services["assessment"].alive()

            await until(dead, 60, "assessment killed by the fault injection")
            unsent_at_kill.append((await outbox(dsn))[1])
    finally:
        os.environ.pop("GRANTS_FAULT_KILL_AT_BATCH", None)
    kills_s = time.monotonic() - t0
    await asyncio.to_thread(st.start_service, "assessment")
    effective = sum(n > 0 for n in unsent_at_kill)
    assert effective == KILLS, (
        f"{effective} of {len(unsent_at_kill)} kills left unsent rows (at most {MAX_MISSES} may "
        f"miss the window): {unsent_at_kill}")

    assessed = Census(state.kafka_bootstrap, [topics.ASSESSMENT_ASSESSMENTS.name])

    async def all_assessed() -> bool:
        await assessed.read(rnd.keys)
        return assessed.count(ASSESSED) >= N and (await outbox(dsn))[1] == 0

    await until(all_assessed, 180, "every application assessed and every row published")
    assert assessed.more_than_once(ASSESSED) == {}
    rows, unsent = await outbox(dsn)
    census = Census(state.kafka_bootstrap, ASSESSMENT_TOPICS)
    await census.read()
    distinct = sum(len(ids) for by_key in census.events.values() for ids in by_key.values())
    assert (unsent, distinct) == (0, rows), f"{rows} outbox rows, {distinct} distinct events"
    # The kills also hit the relay between giving a batch its leaves and publishing it: the
    # signed tree still covers every event exactly once, with no leaf missing.
    report = await audit_replay(state.kafka_bootstrap, keys=stack_keyring(state))
    assert report.checkpoints is not None
    tree = report.checkpoints.services["assessment"]
    assert report.checkpoints.violations == [] and tree.events_verified == rows, (
        report.checkpoints.violations, tree)
    print(f"T2: {effective} effective kills of {len(unsent_at_kill)} in {kills_s:.0f}s, "
          f"unsent rows at each {unsent_at_kill}; {rows} outbox rows = {distinct} distinct "
          f"events ({census.records} records)")
