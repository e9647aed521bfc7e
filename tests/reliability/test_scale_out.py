"""T5 scale-out: two instances each of assessment and payments share their consumer groups; during
a 5,000-application run a third instance of each is added, then one of the first two removed
(SIGKILLed).

Assessment decides eligibility for 5,000 portal submissions; payments opens a grant account for
5,000 awards (published on the decisions topic as assessment publishes them: the allocation of
5,000 awards is not what is under test here, the consumer groups are).

Pass: every application assessed and every account opened; none missing, none twice (distinct
events per application).

Proves that membership changes (a member joining, a member crashing: SIGKILL) lose and repeat
nothing: the crashed member's partitions go on from the offsets it committed, and records read
again after a handoff are absorbed by the inbox and the domains' once-rules. It does not by itself
prove the commit order: with offsets acknowledged before the effect it still passes, because the
trickled input leaves the members mostly idle when one is killed (checked); T1 and T8 fail then.
"""

from __future__ import annotations

import asyncio
import signal
import uuid
from datetime import UTC, datetime

import pytest

from bench.common import applicants, produce_fast, producer
from contracts import topics
from contracts.assessment import GrantAwarded
from contracts.base import Actor
from contracts.examples import EXAMPLE_PAYLOADS
from contracts.registry import envelope_of, spec_for
from tests.reliability.lifecycle import ASSESSED, Census, Round, fault_stack, until

pytestmark = pytest.mark.integration
N = 5000
AWARDS = N
# The input arrives over ~25 s, so that the runs last long enough for members to join and leave.
RATE_PER_S = 200
OPENED = "GrantAccountOpened"


@pytest.fixture(scope="module")
def stack():  # type: ignore[no-untyped-def]
    # Batches of 50: more commits for a rebalance to fall between, and a run long enough for a
    # new member to join before it ends.
    with fault_stack(["intake", "assessment", "payments"], GRANTS_CONSUMER_MAX_RECORDS="50") as pair:
        yield pair


def awards(n: int) -> list[tuple[bytes, bytes, list[tuple[str, bytes]]]]:
    """``n`` GrantAwarded events for distinct applications, enveloped as assessment does."""
    template = next(p for p in EXAMPLE_PAYLOADS if isinstance(p, GrantAwarded))
    spec = spec_for(template)
    people = applicants()
    out = []
    for i in range(n):
        app_id = uuid.uuid4()
        who = people[i % len(people)]
        award = template.model_copy(update={
            "application_id": app_id, "municipality_code": who.code,
            "applicant": template.applicant.model_copy(update={
                "cvr": who.cvr, "municipality_code": who.code, "name": who.name})})
        env = envelope_of(award, event_id=uuid.uuid4(), occurred_at=datetime.now(UTC),
                          correlation_id=f"t5-{app_id}",
                          actor=Actor(id="svc-assessment", role="system"),
                          aggregate_id=str(app_id), sequence=1)
        out.append((str(app_id).encode(), env.model_dump_json().encode(),
                    [("event_type", spec.event_type.encode())]))
    return out


async def test_members_added_and_removed_mid_run_lose_and_repeat_nothing(
        stack) -> None:  # type: ignore[no-untyped-def]
    st, state = stack
    for second in ("assessment@2", "payments@2"):
        await asyncio.to_thread(st.start_service, second)
    rnd = Round(state, N)
    await rnd.publish_pool()
    awarded = awards(AWARDS)
    award_keys = {k for k, _, _ in awarded}
    assessed = Census(state.kafka_bootstrap, [topics.ASSESSMENT_ASSESSMENTS.name])
    opened = Census(state.kafka_bootstrap, [topics.PAYMENTS_GRANTS.name])

    # A census per call: the add and remove steps read progress concurrently.
    async def assessment_progress() -> float:
        census = Census(state.kafka_bootstrap, [topics.ASSESSMENT_ASSESSMENTS.name])
        await census.read(rnd.keys)
        return census.count(ASSESSED) / N

    async def payments_progress() -> float:
        census = Census(state.kafka_bootstrap, [topics.PAYMENTS_GRANTS.name])
        await census.read(award_keys)
        return census.count(OPENED) / AWARDS

    changes = await asyncio.gather(
        trickle(state.kafka_bootstrap, topics.PORTAL_SUBMISSIONS.name, rnd.messages),
        trickle(state.kafka_bootstrap, topics.ASSESSMENT_DECISIONS.name, awarded),
        add_then_remove(st, assessment_progress, "assessment@3", "assessment"),
        add_then_remove(st, payments_progress, "payments@3", "payments@2"),
    )

    async def finished() -> bool:
        return (await assessment_progress(), await payments_progress()) == (1.0, 1.0)

    await until(finished, 300, "every application assessed and every account opened")
    await assessed.read(rnd.keys)
    await opened.read(award_keys)
    assert assessed.count(ASSESSED) == N and opened.count(OPENED) == AWARDS
    assert assessed.more_than_once(ASSESSED) == {}, "an application was assessed twice"
    assert opened.more_than_once(OPENED) == {}, "an account was opened twice"
    steps = [step for pair in changes[2:] for step in pair]
    print(f"T5: {'; '.join(steps)}; {N} assessed and {AWARDS} accounts opened, each once")


async def add_then_remove(st, progress, added: str, removed: str) -> list[str]:  # type: ignore[no-untyped-def]
    """Start ``added`` once the run is under way and stop ``removed`` from half-way (two
    independent steps: a slow start must not push the removal past the run's end); both while
    the run is still going."""
    async def at(fraction: float) -> float:
        async def reached() -> bool:
            return await progress() >= fraction

        await until(reached, 240, f"{fraction:.0%} of the run", interval=0.2)
        return await progress()

    async def add() -> str:
        at_add = await at(0.05)
        await asyncio.to_thread(st.start_service, added)
        joined = await progress()
        assert joined < 1.0, f"{added} was up only after the run ended"
        return f"+{added} at {at_add:.0%} (up at {joined:.0%})"

    async def remove() -> str:
        at_remove = await at(0.5)
        assert at_remove < 1.0, f"the run finished before {removed} was removed"
        # removed the hard way, as a crashed member: SIGKILL mid-batch, its partitions move
        # only when its session expires, and go on from the offsets it committed
        await asyncio.to_thread(st.kill_service, removed, signal.SIGKILL)
        return f"-{removed} (SIGKILL) at {at_remove:.0%}"

    return list(await asyncio.gather(add(), remove()))


async def trickle(bootstrap: str, topic: str,
                  messages: list[tuple[bytes, bytes, list[tuple[str, bytes]]]]) -> None:
    """``messages`` onto ``topic`` at about RATE_PER_S."""
    prod = producer(bootstrap)
    await prod.start()
    try:
        chunk = RATE_PER_S // 10
        for start in range(0, len(messages), chunk):
            await produce_fast(prod, topic, messages[start:start + chunk])
            await asyncio.sleep(0.1)
    finally:
        await prod.stop()
