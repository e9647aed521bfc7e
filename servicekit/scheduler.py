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

**When a rule is next due.** A rule may come with ``due``: an async function answering, from the
stored state as it stands, the earliest instant at which the rule could do anything (``None``:
nothing, until the state changes). It must never answer later than that instant — a lower bound
is always right, a later answer loses a tick. ``GET /ops/scheduler/next-due`` (and every tick's
answer, for the state after it) reports it per rule and the earliest over the rules; a rule
without ``due`` is reported as due at any instant. A driver that has let every effect settle may
skip the ticks before that instant: they would find nothing to do (the scenario runner does).
The production loop does not use it: it keeps ticking every interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
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
# The earliest instant a rule could do anything, from the stored state (None: never, as it is).
Due = Callable[[], Awaitable[datetime | None]]
# A rule's due read on a connection of its service's database (ServiceRuntime.schedule).
DueQuery = Callable[[asyncpg.Connection], Awaitable[datetime | None]]
# The answer of a rule that may act at any instant (e.g. while a row's stored due date is stale).
ANY_TIME = datetime.min.replace(tzinfo=UTC)


@dataclass
class TickResult:
    leader: bool
    at: datetime
    results: dict[str, Any] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    next_due: NextDue | None = None  # after the tick (a leader's tick without failures)

    def as_json(self) -> dict[str, Any]:
        return {"leader": self.leader, "at": instant(self.at),
                "rules": self.results, "failed": self.failed,
                **({"next_due": self.next_due.as_json()} if self.next_due else {})}


def instant(moment: datetime | None) -> str | None:
    """An instant as the scheduler's answers write it (UTC, ``Z``)."""
    return None if moment is None else moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class NextDue:
    """When each rule is next due: an instant, ``None`` (nothing due as the state stands) or
    ``ALWAYS`` (a rule that cannot tell); ``at`` is the earliest over the rules."""

    rules: dict[str, datetime | str | None]

    @property
    def always(self) -> bool:
        return ALWAYS in self.rules.values()

    @property
    def at(self) -> datetime | None:
        instants = [v for v in self.rules.values() if isinstance(v, datetime)]
        return min(instants, default=None)

    def due_by(self, now: datetime) -> bool:
        """Whether a tick at ``now`` could do anything."""
        at = self.at
        return self.always or (at is not None and at <= now)

    def as_json(self) -> dict[str, Any]:
        return {"always": self.always, "at": instant(self.at),
                "rules": {name: value if isinstance(value, str) or value is None
                          else instant(value) for name, value in self.rules.items()}}


ALWAYS = "always"


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
        self.dues: dict[str, Due] = {}
        self._lock = asyncio.Lock()
        self._stop = asyncio.Event()
        self.ticks = 0
        self.failures = 0
        self.last_tick: TickResult | None = None

    def rule(self, name: str, run: Rule, due: Due | None = None) -> None:
        """``due``: when the rule is next due (see the module's docstring); without it the rule
        counts as due at every instant."""
        if name in self.rules:
            raise ValueError(f"a scheduler rule {name!r} is already registered")
        self.rules[name] = run
        if due is not None:
            self.dues[name] = due

    async def next_due(self) -> NextDue:
        """When each rule is next due, from the stored state (read only; any replica answers).
        A rule whose ``due`` fails counts as due at every instant, so nothing is skipped."""
        rules: dict[str, datetime | str | None] = {}
        for name in self.rules:
            due = self.dues.get(name)
            if due is None:
                rules[name] = ALWAYS
                continue
            try:
                at = await due()
            except Exception:
                log.exception("scheduler_due_failed", rule=name)
                rules[name] = ALWAYS
                continue
            if at is not None and at.tzinfo is None:
                raise ValueError(f"rule {name!r} answered a naive next due instant")
            rules[name] = at
        return NextDue(rules)

    @property
    def runs_on_its_own(self) -> bool:
        """Whether :meth:`run` ticks by itself: production with a positive interval."""
        return bool(self.rules) and not self.clock.simulated and self.interval_s > 0

    @property
    def leadership(self) -> Leadership:
        if self._leadership is None:
            self._leadership = Leadership(self._dsn(), leader_lock_key(self.service))
        return self._leadership

    async def tick(self, cause: Cause | None = None, *, with_next_due: bool = False
                   ) -> TickResult:
        """Run every rule once at the clock's ``now`` if this process leads (one tick at a
        time). A failing rule is logged and reported; the others still run. ``with_next_due``:
        the answer also says when the rules are next due after it (read inside the tick's lock,
        so no other tick of this process comes between)."""
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
            if with_next_due and not result.failed:
                result.next_due = await self.next_due()
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
            except Exception as exc:  # noqa: BLE001 - database away: not the leader now, try next time
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


__all__ = ["ALWAYS", "ANY_TIME", "Due", "DueQuery", "Leadership", "NextDue", "Rule", "Scheduler",
           "Tick", "TickResult", "instant", "leader_lock_key"]
