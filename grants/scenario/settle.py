"""Waiting for effects: a barrier that holds until the running services have settled.

Settled (for a set of target services) means, in one pass with nothing published meanwhile:
every outbox is empty of events (and of signed checkpoints, before an auditors' replay), the runner's tail has read to the end of every event log (fetched high
watermark), and every consumer of the targets has committed the effect of every record the tail
has read on its topics. It is computed from the services' ``/health`` and the log itself — no
sleeps standing in for effects.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from grants.scenario.tail import EventTail


class NotSettled(Exception):
    pass


class Settler:
    def __init__(self, http: httpx.AsyncClient, urls: dict[str, str], tail: EventTail) -> None:
        self.http = http
        self.urls = urls
        self.tail = tail
        self.passes = 0
        self.rounds = 0  # rounds of /health over the services
        self.seconds = 0.0  # spent waiting in settle

    async def _health(self) -> dict[str, dict[str, Any]]:
        self.rounds += 1

        async def one(name: str, url: str) -> tuple[str, dict[str, Any]]:
            response = await self.http.get(f"{url}/health")
            response.raise_for_status()
            return name, response.json()

        return dict(await asyncio.gather(*(one(n, u) for n, u in self.urls.items())))

    async def settle(self, targets: set[str] | None = None, timeout_s: float = 120.0, *,
                     checkpoints: bool = False) -> None:
        """``checkpoints``: also wait for every service's signed checkpoints to be published
        (before an auditors' replay, so it covers every event; nothing else waits for them)."""
        started = time.perf_counter()
        try:
            await self._settle(set(self.urls) if targets is None else targets, timeout_s,
                               checkpoints)
        finally:
            self.seconds += time.perf_counter() - started

    async def _settle(self, targets: set[str], timeout_s: float, checkpoints: bool) -> None:
        pending = ("outbox_pending", "checkpoints_pending") if checkpoints else ("outbox_pending",)
        deadline = time.monotonic() + timeout_s
        before: dict[str, dict[str, Any]] | None = None
        waits = 0
        while True:
            self.passes += 1
            if time.monotonic() > deadline:
                raise NotSettled(f"services {sorted(targets)} did not settle in {timeout_s}s")
            if waits:
                # Polling backs off (2 ms doubling to 32 ms): while a service works through a
                # backlog, every round of /health takes CPU from it on a small machine.
                await asyncio.sleep(min(0.002 * 2 ** (waits - 1), 0.032))
            waits += 1
            if before is None:
                before = await self._health()
            if any(h.get(k) for h in before.values() for k in pending):
                before = None
                continue
            positions = await self.tail.caught_up()
            during = await self._health()
            if _published(during) != _published(before) or any(
                h.get(k) for h in during.values() for k in pending
            ):
                before = None
                continue
            if all(_caught_up(during[t], positions) for t in targets if t in during):
                return
            # Nothing was published from ``before`` to ``during`` and no outbox holds anything:
            # ``during`` serves as the next pass's ``before`` (any event published after it
            # changes the count the next pass compares), one round of /health fewer.
            before = during


def _published(health: dict[str, dict[str, Any]]) -> dict[str, int]:
    return {name: h.get("relay_published", 0) for name, h in health.items()}


def _caught_up(health: dict[str, Any], positions: dict[str, int]) -> bool:
    for consumer in health.get("consumers", {}).values():
        done = consumer.get("positions", {})
        subscribed = set(consumer.get("topics", []))
        for key, end in positions.items():
            if key.rsplit(":", 1)[0] in subscribed and done.get(key, 0) < end:
                return False
    return True
