"""The runner's view of the event log: every event topic from offset 0, decoded, as it arrives."""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from typing import Any

from contracts.payments import PaymentInstructed
from contracts.registry import decode
from contracts.topics import EVENT_TOPICS
from servicekit.log_reader import LogReader, wait_caught_up
from audit.replay import LoggedEvent

class EventTail:
    def __init__(self, bootstrap: str, client_options: dict[str, Any] | None = None) -> None:
        self.reader = LogReader(bootstrap, EVENT_TOPICS, group_prefix="grants-scenario",
                                client_options=client_options)
        self.events: list[LoggedEvent] = []
        self.undecodable = 0
        self.instructions: dict[str, list[PaymentInstructed]] = defaultdict(list)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.reader.start()
        self._task = asyncio.create_task(self._run(), name="scenario-tail")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.reader.stop()

    async def _run(self) -> None:
        while True:
            for record in await self.reader.fetch(timeout_ms=10):
                try:
                    envelope = decode(record.value, record.header("event_type"))
                except Exception:  # noqa: BLE001 - poison on a topic is the services' business (dead letters)
                    self.undecodable += 1
                    continue
                self.events.append(LoggedEvent(envelope, record.topic, record.partition,
                                               record.offset))
                self._index(envelope)

    def _index(self, envelope: Any) -> None:
        if isinstance(envelope.payload, PaymentInstructed):
            self.instructions[str(envelope.payload.application_id)].append(envelope.payload)

    async def caught_up(self, timeout_s: float = 60.0) -> dict[str, int]:
        await wait_caught_up(self.reader, timeout_s=timeout_s)
        return {f"{tp.topic}:{tp.partition}": pos for tp, pos in self.reader.positions.items()}
