"""Where services take the time from.

A normally started service uses :class:`SystemClock` and ignores any time a message claims. A
service started in simulation mode (``GRANTS_SIMULATION=1``) uses :class:`SimulatedClock`: the
time of the message or request being handled (header ``x-grants-simulated-time``); between
messages, the latest simulated time seen. Events it emits carry the header on, so time flows
through the whole pipeline from the scenario.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Protocol

from contracts.envelope import SIMULATED_TIME_HEADER

HTTP_SIMULATED_TIME_HEADER = "X-Grants-Simulated-Time"


class Clock(Protocol):
    simulated: bool

    def now(self) -> datetime: ...

    @contextmanager
    def at(self, claimed: str | bytes | None) -> Iterator[None]: ...


class SystemClock:
    simulated = False

    def now(self) -> datetime:
        return datetime.now(UTC)

    @contextmanager
    def at(self, claimed: str | bytes | None) -> Iterator[None]:
        # A normal service never takes time from a message.
        yield


def parse_instant(value: str | bytes) -> datetime:
    text = value.decode() if isinstance(value, bytes) else value
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise ValueError(f"simulated time {text!r} has no UTC offset")
    return parsed.astimezone(UTC)


class SimulatedClock:
    simulated = True

    def __init__(self, start: datetime | None = None) -> None:
        self._latest = start or datetime(2000, 1, 1, tzinfo=UTC)
        self._current: contextvars.ContextVar[datetime | None] = contextvars.ContextVar(
            "simulated_now", default=None
        )

    def now(self) -> datetime:
        return self._current.get() or self._latest

    @contextmanager
    def at(self, claimed: str | bytes | None) -> Iterator[None]:
        try:
            instant = parse_instant(claimed) if claimed is not None else None
        except ValueError:
            # A malformed claimed time is ignored, as a normal service ignores any: the latest
            # simulated time stands. (HTTP answers 400 before it gets here.)
            instant = None
        if instant is None:
            yield
            return
        self._latest = max(self._latest, instant)
        token = self._current.set(instant)
        try:
            yield
        finally:
            self._current.reset(token)


def make_clock(simulation: bool) -> Clock:
    return SimulatedClock() if simulation else SystemClock()


__all__ = [
    "HTTP_SIMULATED_TIME_HEADER", "SIMULATED_TIME_HEADER", "Clock", "SimulatedClock",
    "SystemClock", "make_clock", "parse_instant",
]
