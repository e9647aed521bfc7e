"""Shared pieces of the benchmark: results, timing, RSS sampling, stacks, topic counters, data."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Self
from zoneinfo import ZoneInfo

import psutil
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

REPO = Path(__file__).resolve().parents[1]
CPH = ZoneInfo("Europe/Copenhagen")


# -- results ---------------------------------------------------------------------------------------

@dataclass
class Figure:
    """One row of the table: a measured value, its anchor measured in the same run, the ratio."""

    key: str
    title: str
    value: float | None = None
    unit: str = ""
    anchor_name: str = ""
    anchor_value: float | None = None
    anchor_unit: str = ""
    ratio: float | None = None
    ratio_label: str = ""
    target: str = ""
    met: bool | None = None
    status: str = "ok"          # ok | n/a (service missing) | error: … | timeout …
    notes: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def missing(key: str, title: str, target: str, services: Iterable[str]) -> Figure:
    return Figure(key, title, target=target,
                  status=f"n/a (service missing: {', '.join(services)})")


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return a / b


# -- processes -------------------------------------------------------------------------------------

class RssSampler:
    """Samples the RSS of named processes (and their children) in a thread; keeps the peak."""

    def __init__(self, interval_s: float = 0.1) -> None:
        self.interval_s = interval_s
        self.pids: dict[str, int] = {}
        self.peak: dict[str, int] = {}
        self.last: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def watch(self, name: str, pid: int) -> None:
        self.pids[name] = pid

    def unwatch(self, name: str) -> None:
        self.pids.pop(name, None)

    def sample(self) -> None:
        for name, pid in list(self.pids.items()):
            try:
                proc = psutil.Process(pid)
                rss = proc.memory_info().rss
                for child in proc.children(recursive=True):
                    with contextlib.suppress(psutil.Error):
                        rss += child.memory_info().rss
            except psutil.Error:
                continue
            self.last[name] = rss
            self.peak[name] = max(self.peak.get(name, 0), rss)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.sample()

    def __enter__(self) -> Self:
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()
        self.sample()


def _own_and_reaped(p: psutil.Process, reaped: bool = True) -> float:
    t = p.cpu_times()
    return t.user + t.system + (t.children_user + t.children_system if reaped else 0.0)


class TreeCpu:
    """Cumulative CPU seconds of a process tree (the process and all its descendants), read by
    ``sample()``; never goes backwards.

    Each process counts its own time plus that of the children it has reaped (the kernel adds a
    reaped child's own + reaped time to its parent's), so every CPU second is counted once: by
    the live process that spent it, or by the live ancestor that reaped it. A pid that leaves the
    tree without being reaped by a process still in it (its parent exited first, so init took
    it) keeps its last reading. A service with HTTP workers is such a tree: the uvicorn
    supervisor does no work, its worker processes do.
    """

    def __init__(self, pid: int, *, descendants: bool = True) -> None:
        self.pid = pid
        self.descendants = descendants
        self._last: dict[int, tuple[float, int]] = {}   # pid -> (reading, parent pid)
        self._kept = 0.0                                   # pids gone from the tree, unreaped
        self.total = 0.0

    def sample(self) -> float:
        now: dict[int, tuple[float, int]] = {}
        parents: dict[int, int] = {}
        try:
            root = psutil.Process(self.pid)
            now[self.pid] = (_own_and_reaped(root, self.descendants), 0)
            procs = root.children(recursive=True) if self.descendants else []
        except psutil.Error:       # the root itself is gone: keep what it had
            procs = []
        for p in procs:
            with contextlib.suppress(psutil.Error):
                parents[p.pid] = p.ppid()

        def depth(pid: int) -> int:
            n = 0
            while pid in parents and n < 64:
                pid, n = parents[pid], n + 1
            return n

        # parents before their children: a child reaped after its parent was read is missing
        # from this sample (made up for by max() below and by the parent's next reading);
        # read the other way round it would count twice
        for p in sorted(procs, key=lambda p: depth(p.pid)):
            with contextlib.suppress(psutil.Error):
                if p.pid in parents:
                    now[p.pid] = (_own_and_reaped(p), parents[p.pid])
        for pid, (reading, parent) in self._last.items():
            if pid not in now and parent not in now:
                # nobody left in the tree reaped it: its time is in no reading of ours
                self._kept += reading
        self._last = now
        # max(): a child reaped between reading its parent and reading it is missing once
        self.total = max(self.total, self._kept + sum(r for r, _ in now.values()))
        return self.total


class CpuMeter:
    """CPU seconds spent by named process trees between ``start()`` and ``stop()``, sampled in
    a thread every ``interval_s`` so that processes which come and go in between are seen.
    Names in ``alone`` count their process only (the bench process: its children are the
    stack's processes, measured under their own names)."""

    def __init__(self, pids: dict[str, int], *, alone: Iterable[str] = (),
                 interval_s: float = 0.2) -> None:
        self.pids = pids
        self.interval_s = interval_s
        self.trees = {k: TreeCpu(p, descendants=k not in set(alone)) for k, p in pids.items()}
        self._start: dict[str, float] = {}
        self.used: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _sample(self) -> dict[str, float]:
        return {k: t.sample() for k, t in self.trees.items()}

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._sample()

    def start(self) -> CpuMeter:
        self._start = self._sample()
        self._thread = threading.Thread(target=self._run, name="cpu-meter", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> dict[str, float]:
        self._stop.set()
        if self._thread:
            self._thread.join()
        end = self._sample()
        self.used = {k: end[k] - self._start[k] for k in self.pids}
        return self.used


def mib(n: float | None) -> float | None:
    return None if n is None else n / (1024 * 1024)


# -- stacks ----------------------------------------------------------------------------------------

def services_missing(names: Iterable[str]) -> list[str]:
    from grants.stack import service_available
    return [n for n in names if not service_available(n)]


@contextlib.contextmanager
def stack(services: list[str], *, echo: Callable[[str], None] | None = None,
          env: dict[str, str] | None = None, simulation: bool = False) -> Iterator[Any]:
    """A fresh embedded stack (broker, PostgreSQL without fsync, the named services) in a temp
    home; torn down afterwards. ``env`` sets extra variables for the service processes."""
    from grants.stack import EmbeddedStack
    home = Path(tempfile.mkdtemp(prefix="grants-bench-"))
    old = {k: os.environ.get(k) for k in (env or {})}
    os.environ.update(env or {})
    st = EmbeddedStack(home, durable=False, die_with_parent=True, echo=echo)
    try:
        state = st.up(simulation=simulation, services=services)
        yield st, state
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        with contextlib.suppress(Exception):
            st.down(grace=5.0)
        import shutil
        shutil.rmtree(home, ignore_errors=True)


# -- Kafka helpers ---------------------------------------------------------------------------------

async def create_topics(bootstrap: str, topics: dict[str, int]) -> None:
    from grants.stack import ensure_topics
    await ensure_topics(bootstrap, topics=[], extra=topics)


def producer(bootstrap: str, **kw: Any) -> AIOKafkaProducer:
    opts: dict[str, Any] = {"bootstrap_servers": bootstrap, "acks": "all", "linger_ms": 5,
                            "max_batch_size": 512 * 1024, "max_request_size": 8 * 1024 * 1024}
    opts.update(kw)
    return AIOKafkaProducer(**opts)


async def produce_fast(prod: AIOKafkaProducer, topic: str,
                       messages: Iterable[tuple[bytes | None, bytes, list[tuple[str, bytes]]]],
                       window: int = 20000) -> int:
    """``send()`` without awaiting each acknowledgement (a bounded window of futures)."""
    pending: list[asyncio.Future[Any]] = []
    n = 0
    for key, value, headers in messages:
        pending.append(await prod.send(topic, value, key=key, headers=headers or None))
        n += 1
        if len(pending) >= window:
            await asyncio.gather(*pending)
            pending = []
    if pending:
        await asyncio.gather(*pending)
    return n


class TopicCounter:
    """Reads topics from offset 0 (manual assignment, never commits) and counts matching records.

    ``match(record) -> bool``; the time of the first and of the ``expect``-th match is kept.
    """

    def __init__(self, bootstrap: str, topics: list[str],
                 match: Callable[[Any], bool] = lambda r: True, keep: bool = False) -> None:
        self.bootstrap = bootstrap
        self.topics = topics
        self.match = match
        self.keep = keep
        self.count = 0
        self.kept: list[Any] = []
        self.first_at: float | None = None
        self.last_at: float | None = None
        self._task: asyncio.Task[None] | None = None
        self._waiters: list[tuple[int, asyncio.Future[float]]] = []
        self.consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, group_id=f"bench-{uuid.uuid4().hex[:10]}",
            enable_auto_commit=False, auto_offset_reset="earliest", fetch_max_wait_ms=5,
            max_partition_fetch_bytes=8 * 1024 * 1024)
        await self.consumer.start()
        from servicekit.log_reader import topic_partitions
        parts = await topic_partitions(self.consumer, self.topics)
        self.consumer.assign(parts)
        await self.consumer.seek_to_beginning(*parts)
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        assert self.consumer is not None
        while True:
            batch = await self.consumer.getmany(timeout_ms=50, max_records=10000)
            now = time.perf_counter()
            for records in batch.values():
                for r in records:
                    if self.match(r):
                        self.count += 1
                        if self.keep:
                            self.kept.append(r)
                        if self.first_at is None:
                            self.first_at = now
                        self.last_at = now
            for n, fut in list(self._waiters):
                if self.count >= n and not fut.done():
                    fut.set_result(now)

    async def wait_for(self, n: int, timeout: float) -> float | None:
        """The perf_counter time the n-th match was read, or None on timeout."""
        if self.count >= n and self.last_at is not None:
            return self.last_at
        fut: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._waiters.append((n, fut))
        try:
            return await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            return None
        finally:
            self._waiters = [(m, f) for m, f in self._waiters if f is not fut]

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self.consumer:
            with contextlib.suppress(Exception):
                await self.consumer.stop()


def header(record: Any, name: str) -> bytes | None:
    for k, v in record.headers or ():
        if k == name:
            return v
    return None


# -- domain data -----------------------------------------------------------------------------------

def bench_pool(pool_id: str, *, deadline: datetime | None = None) -> dict[str, Any]:
    """The 2022 family-house pool (deploy/pools) under a bench name: deadline tomorrow, a programme
    of its own, no once-per-applicant (thousands of applications from 98 municipalities)."""
    pool = json.loads((REPO / "deploy" / "pools" / "familiehus-2022.json").read_text())
    deadline = deadline or (datetime.now(UTC) + timedelta(days=1))
    pool.update(pool_id=pool_id, programme=f"{pool_id}-programme",
                deadline_local=deadline.astimezone(CPH).replace(tzinfo=None, microsecond=0)
                .isoformat(),
                once_per_applicant_in_programme=False)
    pool.pop("programme_rounds", None)
    return pool


@dataclass(frozen=True)
class Applicant:
    code: str
    cvr: str
    name: str
    region: str


def applicants() -> list[Applicant]:
    from contracts.municipalities import municipalities
    from grants.scenario.demo import cvr_for
    out = []
    for m in sorted(municipalities().values(), key=lambda m: m.code):
        out.append(Applicant(m.code, cvr_for(m.code), m.name, m.region_code))
    return out


def budget(applied_dkk: int) -> dict[str, Any]:
    from grants.scenario.demo import _budget
    return _budget(applied_dkk)


TARGET_GROUP = "vulnerable parents of children aged 0-6 and expectant parents"
# The pool checks purpose (R10): applications state the pool's own.
PURPOSE = json.loads((REPO / "deploy" / "pools" / "familiehus-2022.json").read_text())["purpose"]


def submission(pool_id: str, a: Applicant, i: int) -> dict[str, Any]:
    """One valid SubmitApplication body with fresh ids (as JSON-ready dict)."""
    return {
        "submission_id": str(uuid.uuid4()), "application_id": str(uuid.uuid4()),
        "pool_id": pool_id,
        "applicant": {"cvr": a.cvr, "municipality_code": a.code, "name": a.name},
        "purpose": PURPOSE, "target_group": TARGET_GROUP,
        "description": f"bench application {i}",
        "budget": budget(1_800_000 + (i * 7919) % 1_800_000 // 1000 * 1000),
    }


class Tokens:
    """Dev tokens (one per applicant CVR / role), issued from the stack's key directory."""

    def __init__(self, home: Path) -> None:
        from servicekit.identity import DevTokenIssuer
        self.issuer = DevTokenIssuer(home / "keys")
        self._cache: dict[tuple[str, str | None], str] = {}

    def applicant(self, cvr: str) -> str:
        return self._get("applicant", cvr)

    def role(self, role: str) -> str:
        return self._get(role, None)

    def _get(self, role: str, cvr: str | None) -> str:
        key = (role, cvr)
        if key not in self._cache:
            subject = f"bench-{role}-{cvr or 'staff'}"
            self._cache[key] = self.issuer.issue(subject, [role], cvr=cvr, ttl_s=4 * 3600)
        return self._cache[key]


def pool_published_envelope(pool: dict[str, Any]) -> tuple[str, bytes, bytes, list[tuple[str, bytes]]]:
    """The PoolPublished event assessment would publish for ``pool`` (for stacks without
    assessment): (topic, key, value, headers)."""
    from contracts.assessment import PoolPublished
    from contracts.base import Actor
    from contracts.pools import PoolDefinition
    from contracts.registry import envelope_of, spec_for
    event = PoolPublished.of(PoolDefinition.model_validate(pool), 1)
    spec = spec_for(event)
    env = envelope_of(event, event_id=uuid.uuid4(), occurred_at=datetime.now(UTC),
                      correlation_id=f"bench-{uuid.uuid4().hex[:8]}",
                      actor=Actor(id="svc-assessment", role="system"),
                      aggregate_id=f"pool:{event.pool_id}", sequence=1)
    headers = [("event_type", spec.event_type.encode()),
               ("correlation_id", env.correlation_id.encode())]
    return spec.topic.name, env.aggregate_id.encode(), env.model_dump_json().encode(), headers


def register_envelopes() -> list[tuple[str, bytes, bytes, list[tuple[str, bytes]]]]:
    """The shipped organisation register (the applicants' entries) as the OrganisationRecorded
    events assessment would publish, for stacks without assessment: (topic, key, value,
    headers) each."""
    from contracts.base import Actor
    from contracts.register import OrganisationRecorded
    from contracts.registry import envelope_of, spec_for
    from grants.scenario.demo import municipality_rows
    out = []
    for revision, row in enumerate(municipality_rows(), start=1):
        event = OrganisationRecorded.model_validate({
            "revision": revision, "entry_version": 1, "change": "created", "organisation": row,
            "source": "municipalities", "source_version": 1, "changed_by": "svc-assessment"})
        spec = spec_for(event)
        env = envelope_of(event, event_id=uuid.uuid4(), occurred_at=datetime.now(UTC),
                          correlation_id="bench-register",
                          actor=Actor(id="svc-assessment", role="system"),
                          aggregate_id="register:organisations", sequence=revision)
        out.append((spec.topic.name, env.aggregate_id.encode(), env.model_dump_json().encode(),
                    [("event_type", spec.event_type.encode())]))
    return out


async def publish_pool_event(bootstrap: str, pool: dict[str, Any]) -> None:
    """The pool, after the applicants' register entries (as assessment publishes them), for
    stacks without assessment."""
    topic, key, value, headers = pool_published_envelope(pool)
    prod = producer(bootstrap)
    await prod.start()
    try:
        for r_topic, r_key, r_value, r_headers in register_envelopes():
            await prod.send(r_topic, r_value, key=r_key, headers=r_headers)
        await (await prod.send(topic, value, key=key, headers=headers))
    finally:
        await prod.stop()


async def pools_reached_intake(bootstrap: str, intake_url: str, timeout: float = 60) -> None:
    """Wait until intake has consumed the pools topic to its current end: the pool just
    published, and the organisation register assessment loaded before it (same partition)."""
    from contracts import topics
    from servicekit.log_reader import LogReader
    reader = LogReader(bootstrap, [topics.ASSESSMENT_POOLS.name], group_prefix="bench-end")
    await reader.start()
    try:
        async for _ in reader.read_to_end():
            pass
        end = {f"{tp.topic}:{tp.partition}": pos for tp, pos in reader.positions.items()}
    finally:
        await reader.stop()
    import httpx
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=5) as http:
        while time.monotonic() < deadline:
            consumers = (await http.get(f"{intake_url}/health")).json()["consumers"].values()
            if any(all(c["positions"].get(k, 0) >= v for k, v in end.items())
                   for c in consumers if topics.ASSESSMENT_POOLS.name in c["topics"]):
                return
            await asyncio.sleep(0.05)
    raise TimeoutError("intake never consumed the published pool")


def now_s() -> float:
    return time.perf_counter()


def portal_messages(pool_id: str, tokens: Tokens, n: int, start: int = 0
                    ) -> list[tuple[bytes, bytes, list[tuple[str, bytes]]]]:
    """``n`` PortalSubmission messages (key = application id) for valid, distinct applications."""
    apps = applicants()
    out: list[tuple[bytes, bytes, list[tuple[str, bytes]]]] = []
    for i in range(start, start + n):
        a = apps[i % len(apps)]
        sub = submission(pool_id, a, i)
        value = json.dumps({"token": tokens.applicant(a.cvr), "submission": sub},
                           separators=(",", ":")).encode()
        out.append((sub["application_id"].encode(), value, []))
    return out


def free_port_local() -> int:
    from grants.stack import free_port
    return free_port()
