"""T8 database outage: PostgreSQL is stopped for 20 s while assessment consumes a round.

Pass: while the database is away no offset is committed for an unprocessed message; the consumer
retries with bounded backoff and stays up; after recovery every application is assessed exactly
once, none lost.

"No offset committed for an unprocessed message" is checked twice: the committed offsets do not
move while nothing can be processed, and at the end of the outage assessment is SIGKILLed while
it holds a batch it could not process: had that batch's offsets been committed, the restarted
service would skip it and applications would be missing.

Guards commit-after-effect and the transient-error retry (a consumer that dead-lettered or
skipped on a connection error would lose applications, or drain the topic into the dead-letter
topic). Checked: with the offsets acknowledged before the effect, applications go missing.
"""

from __future__ import annotations

import asyncio
import signal
import time

import pytest

from contracts import topics
from tests.infra.stacks import require_restart, start_postgres_again, stop_postgres
from tests.pipe import probe_service
from tests.reliability.lifecycle import ASSESSED, Census, Round, fault_stack, until

pytestmark = pytest.mark.integration
N = 3000
OUTAGE_S = 20.0


@pytest.fixture(scope="module")
def stack():  # type: ignore[no-untyped-def]
    with fault_stack(["intake", "assessment"]) as pair:
        yield pair


async def committed(bootstrap: str) -> dict[int, int]:
    """Assessment's committed offsets on intake's topic, read without joining its group."""
    group = topics.namespaced("grants-assessment")
    return await probe_service.committed(bootstrap, group, topics.INTAKE_APPLICATIONS.name,
                                         topics.INTAKE_APPLICATIONS.partitions)


async def test_no_offset_moves_while_the_database_is_down_and_nothing_is_lost(
        stack) -> None:  # type: ignore[no-untyped-def]
    st, state = stack
    require_restart(st, postgres=True)
    rnd = Round(state, N)
    await rnd.publish_pool()
    await rnd.submit_all()
    assessed = Census(state.kafka_bootstrap, [topics.ASSESSMENT_ASSESSMENTS.name])

    async def under_way() -> bool:
        await assessed.read(rnd.keys)
        return assessed.count(ASSESSED) >= 0.25 * N

    await until(under_way, 180, "a quarter of the round assessed", interval=0.05)
    await asyncio.to_thread(stop_postgres, st)
    stopped = time.monotonic()
    await asyncio.sleep(1.0)  # a batch acknowledged by then committed its effect before the stop
    at_stop = await committed(state.kafka_bootstrap)
    samples = [at_stop]
    while time.monotonic() - stopped < OUTAGE_S:
        await asyncio.sleep(2.0)
        samples.append(await committed(state.kafka_bootstrap))
    assert all(s == at_stop for s in samples), f"offsets moved without a database: {samples}"
    assert sum(at_stop.values()) < 2 * N, "the round was finished before the outage"
    assert st.load_state().services["assessment"].alive(), "assessment died of the outage"
    log = state.services["assessment"].log_path.read_text()
    st.kill_service("assessment", signal.SIGKILL)  # holding a batch it could not process
    await asyncio.to_thread(start_postgres_again, st)
    await asyncio.to_thread(st.start_service, "assessment")
    retries = log.count("transient_error_retrying")
    assert retries > 0, "the consumer never noticed the outage"
    # backoff doubles up to transient_retry_max_delay_s (5 s): a handful per outage, not a spin
    assert retries <= 30, f"{retries} retries in {OUTAGE_S:.0f}s: the backoff is not bounded"

    async def all_assessed() -> bool:
        await assessed.read(rnd.keys)
        return assessed.count(ASSESSED) >= N

    await until(all_assessed, 240, "every application assessed after the database returned")
    assert assessed.more_than_once(ASSESSED) == {}
    dead = Census(state.kafka_bootstrap, [topics.INTAKE_APPLICATIONS.dead_letter])
    await dead.read()
    assert dead.records == 0, "an application was dead-lettered for a database outage"
    print(f"T8: PostgreSQL down {OUTAGE_S:.0f}s at {sum(at_stop.values())} committed offsets; "
          f"{retries} bounded retries; all {N} assessed once")
