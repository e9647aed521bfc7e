"""Time-driven rules of one service, run on the service's own clock by one leader.

    runtime.schedule("overdue_reports", sweep_overdue)   # async def sweep_overdue(tick) -> Any

A rule is an async function of a :class:`Tick` (the instant it runs at and the cause its events
carry). It opens its own transactions (``runtime.in_transaction``) and must be idempotent: a tick
decides from the stored state what is due *now*, so running it twice, or late, changes nothing
more than running it once on time. Its return value (JSON-able) is what the tick reports.

- **Production** (``GRANTS_SIMULATION`` off): a loop ticks every ``GRANTS_SCHEDULER_INTERVAL_S``
  seconds (0 turns it off) at the system clock. Only the leader runs rules: the replica holding
  ``pg_try_advisory_lock(key)`` on a dedicated session of the service's database. The lock is a
  session lock, so it lives exactly as long as that connection: a leader that dies or loses its
  connection frees it and another replica takes over at its next tick. The connection must be a
  real session (never through a transaction-pooling proxy). Leadership only saves work: two
  rules running at once are still safe, because rules lock the rows they change and decide again
  on the locked state (a leader cut off mid-tick may overlap its successor).
- **Simulation** (``GRANTS_SIMULATION=1``): no wall-clock loop; the scenario's clock drives the
  scheduler. ``POST /ops/scheduler/tick`` with ``X-Grants-Simulated-Time`` runs one tick at that
  instant through the same leader lock and rules and answers once their effects are committed,
  so a driver (the scenario runner) can advance time and then wait for the consequences. The
  endpoint also serves operators in production (it ticks at the system clock, on the leader).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from contracts.base import Actor
from servicekit.clock import Clock
from servicekit.logging import get_logger
from servicekit.outbox import Cause

log = get_logger(__name__)


@dataclass(frozen=True)
class Tick:
    """One run of the rules: the service's ``now`` and the cause of the events they emit."""

    now: datetime
    cause: Cause


Rule = Callable[[Tick], Awaitable[Any]]


@dataclass
class TickResult:
    leader: bool
    at: datetime
    results: dict[str, Any] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"leader": self.leader, "at": self.at.isoformat().replace("+00:00", "Z"),
                "rules": self.results, "failed": self.failed}


def leader_lock_key(service: str) -> int:
    """The advisory lock key of ``service``'s scheduler: a signed 64-bit number from its name
    (distinct from the relay's and the migrations' small constant keys)."""
    digest = hashlib.sha256(f"grants-scheduler:{service}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class Leadership:
    """The scheduler's leader lock: a session advisory lock on a connection of its own."""

    def __init__(self, dsn: str, key: int) -> None:
        self.dsn = dsn
        self.key = key
        self._conn: asyncpg.Connection | None = None

    @property
    def held(self) -> bool:
        return self._conn is not None and not self._conn.is_closed()

    async def ensure(self) -> bool:
        """True when this process is the leader: it holds the lock on a live session (checked
        by a round trip), or has just taken it. A broken session counts as lost leadership."""
        if self._conn is not None:
            try:
                await self._conn.fetchval("SELECT 1", timeout=5)
                return True
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
                log.warning("scheduler_leadership_lost")
                await self.release()
        conn = await asyncpg.connect(self.dsn)
        try:
            taken = await conn.fetchval("SELECT pg_try_advisory_lock($1)", self.key)
        except BaseException:
            await conn.close()
            raise
        if not taken:
            await conn.close()
            return False
        self._conn = conn
        log.info("scheduler_leader")
        return True

    async def release(self) -> None:
        """Give the lock up (closing the session releases it, even if the unlock is lost)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close(timeout=5)


class Scheduler:
    def __init__(self, service: str, *, clock: Clock, dsn: Callable[[], str],
                 interval_s: float) -> None:
        self.service = service
        self.clock = clock
        self.interval_s = interval_s
        self._dsn = dsn
        self._leadership: Leadership | None = None
        self.rules: dict[str, Rule] = {}
        self._lock = asyncio.Lock()
        self._stop = asyncio.Event()
        self.ticks = 0
        self.failures = 0
        self.last_tick: TickResult | None = None

    def rule(self, name: str, run: Rule) -> None:
        if name in self.rules:
            raise ValueError(f"a scheduler rule {name!r} is already registered")
        self.rules[name] = run

    @property
    def runs_on_its_own(self) -> bool:
        """Whether :meth:`run` ticks by itself: production with a positive interval."""
        return bool(self.rules) and not self.clock.simulated and self.interval_s > 0

    @property
    def leadership(self) -> Leadership:
        if self._leadership is None:
            self._leadership = Leadership(self._dsn(), leader_lock_key(self.service))
        return self._leadership

    async def tick(self, cause: Cause | None = None) -> TickResult:
        """Run every rule once at the clock's ``now`` if this process leads (one tick at a
        time). A failing rule is logged and reported; the others still run."""
        async with self._lock:
            now = self.clock.now()
            if not await self.leadership.ensure():
                return TickResult(leader=False, at=now)
            cause = cause or Cause(actor=Actor(id=f"svc-{self.service}-scheduler", role="system"),
                                   correlation_id=f"scheduler-{self.service}-{uuid.uuid4()}")
            result = TickResult(leader=True, at=now)
            # Every rule and every event of this tick sees the same instant (simulated or not).
            with self.clock.at(now.isoformat()):
                for name, run in self.rules.items():
                    started = time.perf_counter()
                    try:
                        result.results[name] = await run(Tick(now=now, cause=cause))
                    except Exception as exc:
                        self.failures += 1
                        result.failed[name] = repr(exc)[:300]
                        log.exception("scheduler_rule_failed", rule=name)
                    else:
                        log.debug("scheduler_rule_ran", rule=name,
                                  seconds=round(time.perf_counter() - started, 4))
            self.ticks += 1
            self.last_tick = result
            return result

    async def run(self) -> None:
        """The production loop: a tick, then wait an interval, until :meth:`stop`."""
        while not self._stop.is_set():
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # database away: not the leader now, try next time
                log.warning("scheduler_tick_error", error=repr(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.interval_s)

    def stop(self) -> None:
        self._stop.set()

    async def close(self) -> None:
        async with self._lock:  # a tick in progress finishes first
            if self._leadership is not None:
                await self._leadership.release()

    def status(self) -> dict[str, Any]:
        last = self.last_tick
        return {"rules": list(self.rules), "interval_s": self.interval_s,
                "runs_on_its_own": self.runs_on_its_own,
                "leader": self._leadership is not None and self._leadership.held,
                "ticks": self.ticks, "failures": self.failures,
                "last_tick_at": last.as_json()["at"] if last else None}


__all__ = ["Leadership", "Rule", "Scheduler", "Tick", "TickResult", "leader_lock_key"]
