"""T3 replay of a consumer group: after a round with awards, payment runs and finance results,
payments' consumer groups are reset to offset 0 (as an operator would with
``kafka-consumer-groups --reset-offsets --to-earliest``) and payments re-consumes everything.

Pass: 0 new payment instructions (nor any other event); payments' tables and the head of its audit
hash chain are unchanged.

Guards the inbox: every re-delivered event is claimed already, so no handler runs again. Checked:
with the inbox disabled (every delivery handled), payments' tables and audit chain head change.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer

from contracts import topics
from grants.scenario.model import load_scenario
from grants.scenario.runner import SERVICES, Endpoints, ScenarioRunner
from grants.stack import ALL_SERVICES
from grants.stack.supervisor import REPO_ROOT
from servicekit.identity import DevTokenIssuer
from tests.reliability.lifecycle import Census, fault_stack, health, until

pytestmark = pytest.mark.integration
SCENARIO = REPO_ROOT / "grants" / "scenarios" / "rule-budgets-payments.json"


@pytest.fixture(scope="module")
def stack():  # type: ignore[no-untyped-def]
    with fault_stack(list(ALL_SERVICES), simulation=True) as pair:
        yield pair


async def snapshot(dsn: str) -> dict[str, Any]:
    """Every table's rows as one digest each, and the audit chain's head."""
    conn = await asyncpg.connect(dsn)
    try:
        tables = [r["tablename"] for r in await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")]
        digest = {t: await conn.fetchval(
            f'SELECT count(*)::text || \':\' || coalesce(md5(string_agg(x::text, \'|\' '
            f'ORDER BY x::text)), \'\') FROM "{t}" x') for t in tables}
        head = await conn.fetchrow("SELECT * FROM audit_log ORDER BY 1 DESC LIMIT 1")
        return {"tables": digest, "audit_head": dict(head) if head else None}
    finally:
        await conn.close()


async def rewind(bootstrap: str, group: str, topic_names: list[str]) -> None:
    """Commit offset 0 on every partition of ``topic_names`` for ``group`` while no member runs:
    join the group (the embedded broker refuses commits from non-members), take every partition,
    commit 0, leave."""
    consumer = AIOKafkaConsumer(*topic_names, bootstrap_servers=bootstrap, group_id=group,
                                enable_auto_commit=False, session_timeout_ms=6000,
                                heartbeat_interval_ms=300, auto_offset_reset="earliest")
    await consumer.start()
    try:
        wanted = sum(len(consumer.partitions_for_topic(t) or ()) for t in topic_names)
        for _ in range(200):
            if len(consumer.assignment()) == wanted:
                break
            await consumer.getmany(timeout_ms=100, max_records=1)
        parts = consumer.assignment()
        assert len(parts) == wanted, f"{group} got {len(parts)} of {wanted} partitions"
        await consumer.commit({tp: 0 for tp in parts})
    finally:
        await consumer.stop()


async def test_payments_reconsuming_from_offset_zero_changes_nothing(
        stack) -> None:  # type: ignore[no-untyped-def]
    st, state = stack
    endpoints = Endpoints(state.kafka_bootstrap, state.pg_url,
                          {name: state.services[name].http_url for name in SERVICES})
    runner = ScenarioRunner(load_scenario(SCENARIO), endpoints, DevTokenIssuer(state.home / "keys"))
    await runner.run()
    dsn = f"{state.pg_url}/{topics.namespaced('payments', '_')}"
    before = await snapshot(dsn)
    published = Census(state.kafka_bootstrap,
                       [topics.PAYMENTS_INSTRUCTIONS.name, topics.PAYMENTS_GRANTS.name])
    await published.read()
    instructions_before = published.events.get("PaymentInstructed", {})
    assert sum(len(ids) for ids in instructions_before.values()) > 0, "no payments to replay"
    events_before = {t: sum(len(v) for v in by_key.values())
                     for t, by_key in published.events.items()}

    body = await health(state.services["payments"].http_url)
    assert body is not None
    groups = {name: c["topics"] for name, c in body["consumers"].items()}
    await asyncio.to_thread(st.stop_service, "payments")
    for group, names in groups.items():
        await rewind(state.kafka_bootstrap, group, names)
    records = Census(state.kafka_bootstrap, sorted({t for names in groups.values() for t in names}))
    await records.read()
    await asyncio.to_thread(st.start_service, "payments")

    async def reconsumed() -> bool:
        now = await health(state.services["payments"].http_url)
        return now is not None and sum(c["processed"] for c in now["consumers"].values()) \
            >= records.records

    await until(reconsumed, 120, f"payments re-consumed all {records.records} records")
    after_body = await health(state.services["payments"].http_url)
    assert after_body is not None and after_body["outbox_pending"] == 0
    assert await snapshot(dsn) == before, "re-consuming changed payments' state or audit chain"
    await published.read()
    events_after = {t: sum(len(v) for v in by_key.values())
                    for t, by_key in published.events.items()}
    assert events_after == events_before, "re-consuming published new events"
    duplicates = sum(c.get("duplicates", 0) for c in after_body["consumers"].values())
    print(f"T3: {records.records} records re-consumed by {sorted(groups)}; "
          f"{duplicates} counted as duplicates; state, chain head and "
          f"{sum(events_before.values())} published events unchanged")
