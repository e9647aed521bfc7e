"""R23 (e) with issue 15 on a real broker: the auditors' replay reads a log in which one CVR got
two awards in a programme — under two municipality codes — and reports it as a violation when
the pool holds once per applicant, and verifies the same log when the pool does not.

The services never make such a log (intake refuses the second identity, allocation the second
award), so the log is written as an auditor would meet a tampered or buggy history: the
example-small round's events produced onto the platform topics of a broker of this test's own,
then read back from offset 0 with ``grants.audit.read_log``.

Checked to fail without the change: with the replay keyed on the municipality code for every pool
(as before issue 15) the first log verifies and the second reports a violation.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from aiokafka import AIOKafkaProducer

from contracts import topics
from grants.audit import read_log
from audit.replay import Replay
from tests.unit.reporting.builders import at, example_round
from tests.unit.reporting.test_replay_applicant import KBH_CVR, _as, _with_pool

pytestmark = pytest.mark.integration
LATER = at("2025-06-01T11:00:00+02:00")


async def _replayed(kafka: str, events) -> Replay:  # type: ignore[no-untyped-def]
    producer = AIOKafkaProducer(bootstrap_servers=kafka, acks="all")
    await producer.start()
    try:
        for e in events:
            await producer.send_and_wait(
                e.topic, e.envelope.model_dump_json().encode(),
                key=e.envelope.aggregate_id.encode(),
                headers=[("event_type", e.envelope.event_type.encode())])
    finally:
        await producer.stop()
    fold = Replay()
    _, bad = await read_log(kafka, fold=fold)
    assert bad == []
    return fold


async def test_a_double_award_to_one_cvr_is_a_violation(private_kafka: str) -> None:
    rnd = example_round()
    _as(rnd, "GENTOFTE", cvr=KBH_CVR)  # KBH's CVR, under Gentofte's municipality code 157
    rnd.award("GENTOFTE", LATER, amount=10_000_000)
    result = (await _replayed(private_kafka, rnd.log.events)).result()
    assert not result.verified
    violation = result.violation("one_award_per_applicant")
    assert violation is not None
    assert violation.event_id == str(rnd.log.events[-1].envelope.event_id)
    assert violation.topic == topics.ASSESSMENT_DECISIONS.name


async def test_a_double_award_is_accepted_when_the_pool_allows_it(private_kafka: str) -> None:
    rnd = _with_pool(once_per_applicant_in_programme=False)
    _as(rnd, "GENTOFTE", cvr=KBH_CVR, municipality_code="101")
    rnd.award("GENTOFTE", LATER + timedelta(minutes=1), amount=10_000_000, municipality="101")
    result = (await _replayed(private_kafka, rnd.log.events)).result()
    assert result.verified, result.violations
    assert result.totals.awards == 3
