"""T1 consumer crash: assessment is SIGKILLed at about 20 %, 50 % and 80 % of a 5,000-application
round and restarted each time; after the first kill one more life is killed right between its
second batch's effect and that batch's offset commit (``GRANTS_FAULT_KILL_AT_BATCH``), so the
inbox is sure to see duplicate deliveries, which are counted (/health ``duplicates``) and asserted.

Pass: every accepted submission has exactly one assessment record (one distinct
``EligibilityAssessed``) and, after allocation, exactly one decision; none missing.

Guards commit-after-effect: a committed offset whose effect was lost would leave applications
without an assessment. A batch whose effect committed but whose offsets did not is delivered again
after the restart; two guards absorb that: the inbox, and assessment's own rule that an
application is assessed once. Checked: with the inbox disabled this test still passes (the
domain's rule holds), so the inbox itself is proven by T3 and tests/integration/test_pipe.py.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from contracts import topics
from grants.stack import StackError
from tests.reliability.lifecycle import (
    ACCEPTED,
    ASSESSED,
    DECIDED,
    Census,
    Round,
    fault_stack,
    health,
    until,
)

pytestmark = pytest.mark.integration
N = 5000


@pytest.fixture(scope="module")
def stack():  # type: ignore[no-untyped-def]
    # Batches of 100 records (50 applications, 1 % of the round) instead of 500: the kills land
    # within a percent of their marks.
    with fault_stack(["intake", "assessment"], GRANTS_CONSUMER_MAX_RECORDS="100") as pair:
        yield pair


async def test_assessment_killed_three_times_loses_nothing_and_applies_nothing_twice(
        stack) -> None:  # type: ignore[no-untyped-def]
    st, state = stack
    rnd = Round(state, N)
    await rnd.publish_pool()
    await rnd.submit_all()
    assessed = Census(state.kafka_bootstrap, [topics.ASSESSMENT_ASSESSMENTS.name])
    kills: list[dict[str, float]] = []
    duplicates = 0
    t0 = time.monotonic()
    # When to kill: the assessments topic's end offsets, one cheap request per poll (a census
    # reads the topic from offset 0 in a new reader, seconds on a loaded box: assessment's
    # set-based batches went from 55 % to done between two such reads). They may fall short by
    # a batch on the embedded broker (servicekit.log_reader): a mark, not a count; the census
    # after each kill is the count.
    watch = AIOKafkaConsumer(bootstrap_servers=state.kafka_bootstrap, enable_auto_commit=False)
    await watch.start()
    partitions = [TopicPartition(topics.ASSESSMENT_ASSESSMENTS.name, p)
                  for p in range(topics.ASSESSMENT_ASSESSMENTS.partitions)]
    try:
        for fraction in (0.2, 0.5, 0.8):
            async def reached(fraction: float = fraction) -> bool:
                return sum((await watch.end_offsets(partitions)).values()) >= fraction * N

            await until(reached, 240, f"{fraction:.0%} of the applications assessed",
                        interval=0.02)
            # what this life's inbox absorbed (redeliveries after the previous kill), just
            # before it is killed in turn
            duplicates += _duplicates(await health(rnd.url("assessment")))
            st.kill_service("assessment", signal.SIGKILL)
            await assessed.read(rnd.keys)
            kills.append({"at": assessed.count(ASSESSED) / N, "t": time.monotonic() - t0})
            if fraction == 0.2:
                await _life_killed_between_effect_and_commit(st)
            st.start_service("assessment")
    finally:
        await watch.stop()
    assert all(k["at"] < 0.999 for k in kills), f"a kill came after the round finished: {kills}"

    applications = Census(state.kafka_bootstrap, [topics.INTAKE_APPLICATIONS.name])
    await applications.read(rnd.keys)
    accepted = applications.count(ACCEPTED)
    assert accepted == N  # every submission was valid and in time

    async def all_assessed() -> bool:
        await assessed.read(rnd.keys)
        return assessed.count(ASSESSED) >= accepted

    await until(all_assessed, 240, "every accepted application assessed")
    duplicates += _duplicates(await health(rnd.url("assessment")))
    assert duplicates > 0, "the injected kill's batch was not delivered again"
    assert assessed.count(ASSESSED) == accepted, "missing assessments"
    assert assessed.more_than_once(ASSESSED) == {}, "an application was assessed twice"

    result = await rnd.allocate()
    assert len(result["decisions"]) == accepted
    decisions = Census(state.kafka_bootstrap, [topics.ASSESSMENT_DECISIONS.name])

    async def all_decided() -> bool:
        await decisions.read(rnd.keys)
        return sum(decisions.count(t) for t in DECIDED) >= accepted

    await until(all_decided, 120, "a decision for every application")
    assert decisions.more_than_once(*DECIDED) == {}, "an application got two decisions"
    print(f"T1: kills at {[round(k['at'], 2) for k in kills]} of {N}; "
          f"{duplicates} duplicate deliveries absorbed by the inbox (a kill between a batch's "
          f"commit and its offset commit makes them), 0 second effects; "
          f"{assessed.records} assessment records read")


def _duplicates(body: dict | None) -> int:  # type: ignore[type-arg]
    """Duplicate deliveries the inbox absorbed in this process, from /health."""
    return sum(c.get("duplicates", 0) for c in (body or {}).get("consumers", {}).values())


async def _life_killed_between_effect_and_commit(st) -> None:  # type: ignore[no-untyped-def]
    """One more life that dies right after its second batch's effect committed, before that
    batch's offsets are (GRANTS_FAULT_KILL_AT_BATCH): the next life gets the batch again, so
    the inbox has duplicates to absorb, whatever the timing of the outside kills."""
    os.environ["GRANTS_FAULT_KILL_AT_BATCH"] = "2"
    try:
        with contextlib.suppress(StackError):  # it may die before /health first answers
            st.start_service("assessment")

        async def dead() -> bool:
            return not st.load_state().services["assessment"].alive()

        await until(dead, 60, "assessment killed by the fault injection")
    finally:
        os.environ.pop("GRANTS_FAULT_KILL_AT_BATCH", None)
