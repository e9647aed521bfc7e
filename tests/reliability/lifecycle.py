"""Harness for the whole-stack fault tests (issue 10): the embedded stack with every service its
own OS process, a pool, thousands of portal submissions, and a census that reads the topics back.

The census is the auditor's view: it counts *distinct event ids* per application and event type,
so a record the relay published twice (at-least-once) is one event, while an effect applied twice
(a second EligibilityAssessed for the same application) shows up as two.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.common import (
    Tokens, bench_pool, pools_reached_intake, portal_messages, produce_fast, producer,
)
from contracts import topics
from grants.stack import EmbeddedStack, StackState
from servicekit.log_reader import LogReader
from tests.infra import TLS
from tests.infra.stacks import stack_for_test

RECEIVED = "ApplicationReceived"
ACCEPTED = "ApplicationAccepted"
ASSESSED = "EligibilityAssessed"
DECIDED = ("GrantAwarded", "ApplicationRejected")


@contextlib.contextmanager
def fault_stack(services: list[str], *, simulation: bool = False,
                **env: str) -> Iterator[tuple[EmbeddedStack, StackState]]:
    """A fresh stack in a temporary home (``tests.infra.stacks.stack_for_test``: embedded with
    PostgreSQL without fsync, or on the session's external broker and PostgreSQL in a namespace
    of its own; every process dies with the test run), torn down afterwards. ``env`` goes to the
    service processes."""
    home = Path(tempfile.mkdtemp(prefix="grants-faults-"))
    try:
        with stack_for_test(home, services, simulation=simulation, env=env) as pair:
            yield pair
    finally:
        shutil.rmtree(home, ignore_errors=True)


@dataclass
class Census:
    """Distinct event ids per (event type, aggregate key) on some topics, read from offset 0."""

    bootstrap: str
    topic_names: list[str]
    events: dict[str, dict[bytes, set[str]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(set)))
    records: int = 0

    async def read(self, keys: set[bytes] | None = None) -> None:
        """Everything up to each partition's end, from offset 0 (the embedded broker may have
        restarted empty, and records may have been re-published since the last read)."""
        await self.read_ends(keys)

    async def read_ends(self, keys: set[bytes] | None = None) -> dict[str, int]:
        """``read``, returning where each partition's log ends (``topic:partition`` → offset
        after its last record; partitions without records left out)."""
        self.events.clear()
        self.records = 0
        reader = LogReader(self.bootstrap, self.topic_names, group_prefix="grants-faults")
        await reader.start()
        ends: dict[str, int] = {}
        try:
            async for batch in reader.read_to_end():
                for r in batch:
                    ends[f"{r.topic}:{r.partition}"] = r.offset + 1
                    if keys is not None and r.key not in keys:
                        continue
                    body = json.loads(r.value)
                    self.records += 1
                    self.events[body["event_type"]][r.key].add(body["event_id"])
        finally:
            await reader.stop()
        return ends

    def count(self, event_type: str) -> int:
        """Applications with at least one event of this type."""
        return len(self.events.get(event_type, {}))

    def more_than_once(self, *event_types: str) -> dict[bytes, int]:
        """Applications with more than one distinct event among ``event_types``."""
        seen: dict[bytes, int] = defaultdict(int)
        for t in event_types:
            for key, ids in self.events.get(t, {}).items():
                seen[key] += len(ids)
        return {k: n for k, n in seen.items() if n > 1}


class Round:
    """One pool and its submissions on a running stack."""

    def __init__(self, state: StackState, n: int) -> None:
        self.state = state
        self.n = n
        self.tokens = Tokens(state.home)
        self.pool_id = f"faults-{uuid.uuid4().hex[:8]}"
        self.messages = portal_messages(self.pool_id, self.tokens, n)
        self.keys = {k for k, _, _ in self.messages}

    def url(self, service: str) -> str:
        return self.state.services[service].http_url

    async def publish_pool(self) -> None:
        async with httpx.AsyncClient(timeout=30, verify=TLS) as http:
            resp = await http.post(f"{self.url('assessment')}/pools",
                                   json=bench_pool(self.pool_id), headers=self.auth("caseworker"))
            assert resp.status_code == 201, resp.text
        # intake learns the pool from assessment's event before submissions can be decided
        # (after the organisation register assessment loaded at start-up, on the same partition)
        await pools_reached_intake(self.state.kafka_bootstrap, self.url("intake"))

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens.role(role)}"}

    async def submit_all(self) -> None:
        prod = producer(self.state.kafka_bootstrap)
        await prod.start()
        try:
            await produce_fast(prod, topics.PORTAL_SUBMISSIONS.name, self.messages)
        finally:
            await prod.stop()

    async def allocate(self) -> dict[str, Any]:
        async with httpx.AsyncClient(timeout=300, verify=TLS) as http:
            resp = await http.post(f"{self.url('assessment')}/pools/{self.pool_id}/allocations",
                                   json={}, headers=self.auth("approver"))
        assert resp.status_code == 200, resp.text
        return resp.json()  # type: ignore[no-any-return]


async def health(url: str) -> dict[str, Any] | None:
    """The service's /health body, or None while it is down or starting."""
    try:
        async with httpx.AsyncClient(timeout=2, verify=TLS) as http:
            resp = await http.get(f"{url}/health")
        return resp.json() if resp.status_code == 200 else None  # type: ignore[no-any-return]
    except httpx.HTTPError:
        return None


async def until(check: Any, timeout: float, what: str, interval: float = 0.2,
                explain: Any = None) -> None:
    """Poll the async ``check`` until it returns true; fail naming ``what`` after ``timeout``
    (with what the async ``explain()`` returns, when given: counts, log tails)."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            detail = f"\n{await explain()}" if explain is not None else ""
            raise AssertionError(f"{what}: not reached in {timeout:.0f}s{detail}")
        await asyncio.sleep(interval)


def log_tail(state: StackState, service: str, lines: int = 40) -> str:
    """The last ``lines`` lines of a service's log (for failure messages)."""
    try:
        text = state.services[service].log_path.read_text(errors="replace")
    except (KeyError, OSError) as exc:
        return f"(no log for {service}: {exc})"
    return f"--- {service} log ---\n" + "\n".join(text.splitlines()[-lines:])
