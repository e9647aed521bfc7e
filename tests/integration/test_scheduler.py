"""The servicekit scheduler on the real PostgreSQL: one leader across replicas by a session
advisory lock, takeover when the leader's session ends, the simulated clock driving the rules
through the HTTP tick, the production loop ticking by itself, and a failing rule reported.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from servicekit.clock import SimulatedClock, SystemClock
from servicekit.identity import DevTokenIssuer
from servicekit.scheduler import Scheduler, Tick, leader_lock_key
from servicekit.service import ServiceRuntime
from tests.infra.services import Api, eventually, running_service

pytestmark = pytest.mark.integration


def _scheduler(db_url: str, seen: list[tuple[str, datetime]], name: str, *,
               clock: Any = None, service: str = "svc") -> Scheduler:
    scheduler = Scheduler(service, clock=clock or SystemClock(), dsn=lambda: db_url,
                          interval_s=60)

    async def rule(tick: Tick) -> str:
        seen.append((name, tick.now))
        return name

    scheduler.rule("note", rule)
    return scheduler


async def test_one_leader_across_replicas_and_takeover_when_its_session_ends(
    fresh_database: str,
) -> None:
    seen: list[tuple[str, datetime]] = []
    first, second = _scheduler(fresh_database, seen, "a"), _scheduler(fresh_database, seen, "b")
    try:
        assert (await first.tick()).leader
        for _ in range(3):
            result = await second.tick()
            assert not result.leader and result.results == {}
        assert (await first.tick()).results == {"note": "a"}
        assert [who for who, _ in seen] == ["a", "a"]

        # The lock is on PostgreSQL, visible to any session: held by exactly one backend.
        conn = await asyncpg.connect(fresh_database)
        try:
            key = leader_lock_key("svc")
            holders = await conn.fetch(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND objsubid = 1 AND ((classid::bigint << 32) | objid::bigint) = $1", key)
            assert len(holders) == 1
            # The leader's session is killed (a crashed or partitioned replica): it loses
            # leadership at its next tick and the other replica takes over.
            assert await conn.fetchval("SELECT pg_terminate_backend($1)", holders[0]["pid"])
        finally:
            await conn.close()
        await eventually(lambda: _taken_over(second))
        assert seen[-1][0] == "b"
        result = await first.tick()
        assert not result.leader
    finally:
        await first.close()
        await second.close()


async def _taken_over(scheduler: Scheduler) -> bool:
    return (await scheduler.tick()).leader


async def test_distinct_services_lead_independently(fresh_database: str) -> None:
    seen: list[tuple[str, datetime]] = []
    one = _scheduler(fresh_database, seen, "x", service="reporting")
    other = _scheduler(fresh_database, seen, "y", service="payments")
    try:
        assert (await one.tick()).leader and (await other.tick()).leader
    finally:
        await one.close()
        await other.close()


async def test_a_simulated_clock_ticks_at_its_time_and_a_failing_rule_is_reported(
    fresh_database: str,
) -> None:
    seen: list[tuple[str, datetime]] = []
    clock = SimulatedClock()
    scheduler = _scheduler(fresh_database, seen, "a", clock=clock)

    async def broken(tick: Tick) -> None:
        raise RuntimeError("boom")

    async def after(tick: Tick) -> datetime:
        return clock.now()

    scheduler.rule("broken", broken)
    scheduler.rule("after", after)
    assert not scheduler.runs_on_its_own  # simulation: only the scenario's clock drives it
    try:
        with clock.at("2023-07-01T10:00:00+02:00"):
            result = await scheduler.tick()
        instant = datetime(2023, 7, 1, 8, tzinfo=UTC)
        assert result.at == instant and seen == [("a", instant)]
        assert result.results == {"note": "a", "after": instant}  # the others still ran
        assert "boom" in result.failed["broken"] and scheduler.failures == 1
        # Between requests the latest simulated time stands.
        assert (await scheduler.tick()).at == instant
    finally:
        await scheduler.close()


async def test_in_production_the_loop_ticks_by_itself_on_the_leader_only(
    kafka_bootstrap: str, fresh_database: str, tmp_path: Any,
) -> None:
    """Two replicas of one service (same database), a short interval: the rule runs, and only
    ever on one of them at a time; the HTTP tick on the other answers 409."""
    issuer = DevTokenIssuer(tmp_path / "keys")
    runs: dict[str, int] = {}

    def build(label: str) -> Any:
        def make(settings: Any) -> tuple[ServiceRuntime, Any]:
            runtime = ServiceRuntime("schedtest", settings=settings)

            async def count(tick: Tick) -> int:
                runs[label] = runs.get(label, 0) + 1
                return runs[label]

            runtime.schedule("count", count)
            return runtime, runtime.http_app(title="scheduler test")
        return make

    async with running_service(build("r1"), kafka_bootstrap, fresh_database, issuer,
                               name="schedtest", scheduler_interval_s=0.05) as (r1, http1):
        await eventually(lambda: runs.get("r1", 0) >= 3)
        async with running_service(build("r2"), kafka_bootstrap, fresh_database, issuer,
                                   name="schedtest", scheduler_interval_s=0.05) as (r2, http2):
            before = runs["r1"]
            await eventually(lambda: runs["r1"] >= before + 3)
            assert "r2" not in runs
            api = Api(http2, issuer)
            refused = await api.post("/ops/scheduler/tick", {}, who="op", roles=["caseworker"],
                                     when="2030-01-01T00:00:00")
            assert refused.status_code == 409
            assert refused.json()["error"] == "scheduler_not_leader"
            ticked = await Api(http1, issuer).post("/ops/scheduler/tick", {}, who="op",
                                                   roles=["caseworker"],
                                                   when="2030-01-01T00:00:00")
            # The rule writes nothing: a driver need not wait for effects of this tick.
            assert ticked.status_code == 200 and ticked.json()["emitted"] == 0
            health = (await http1.get("/health")).json()["scheduler"]
            assert health["leader"] and health["rules"] == ["count"] and health["runs_on_its_own"]
            assert not (await http2.get("/health")).json()["scheduler"]["leader"]
        assert r1.scheduler.leadership.held  # r2 stopped; r1 still leads


async def test_the_service_says_when_its_rules_are_next_due(
    kafka_bootstrap: str, fresh_database: str, tmp_path: Any,
) -> None:
    """``GET /ops/scheduler/next-due`` reads each rule's ``due`` on the service's database (here
    a table of due instants), a rule without one is due at any instant, and a tick answers when
    the rules are due after it: a rule that did its work is no longer due."""
    issuer = DevTokenIssuer(tmp_path / "keys")

    def make(settings: Any) -> tuple[ServiceRuntime, Any]:
        runtime = ServiceRuntime("duetest", settings=settings)

        async def work(tick: Tick) -> int:
            return len(await runtime.pool.fetch(
                "DELETE FROM due_work WHERE due <= $1 RETURNING due", tick.now))

        async def due(conn: asyncpg.Connection) -> datetime | None:
            first: datetime | None = await conn.fetchval("SELECT min(due) FROM due_work")
            return first

        async def anything(tick: Tick) -> None:
            return None

        runtime.schedule("work", work, due)
        runtime.schedule("anything", anything)
        return runtime, runtime.http_app(title="due test")

    conn = await asyncpg.connect(fresh_database)
    try:
        await conn.execute("CREATE TABLE due_work (due timestamptz NOT NULL)")
        await conn.execute("INSERT INTO due_work VALUES ('2030-01-02T00:00:00Z'),"
                           " ('2030-01-01T00:00:00Z')")
    finally:
        await conn.close()
    async with running_service(make, kafka_bootstrap, fresh_database, issuer, name="duetest",
                               simulation=True) as (runtime, http):
        api = Api(http, issuer)
        answer = (await api.get("/ops/scheduler/next-due", who="op", roles=["caseworker"],
                                when="2029-06-01T00:00:00")).json()
        assert answer == {"always": True, "at": "2030-01-01T00:00:00Z",
                          "rules": {"work": "2030-01-01T00:00:00Z", "anything": "always"}}
        ticked = (await api.post("/ops/scheduler/tick", {}, who="op", roles=["caseworker"],
                                 when="2030-01-01T12:00:00")).json()
        assert ticked["rules"]["work"] == 1
        assert ticked["next_due"]["rules"]["work"] == "2030-01-02T00:00:00Z"
        refused = await api.get("/ops/scheduler/next-due", who="someone", roles=["applicant"],
                                when="2030-01-01T12:00:00")
        assert refused.status_code == 403
