"""The runner's clock: at each instant it asks every scheduled service, once everything has
settled, when its rules are next due, and ticks only a service with something due by then; the
answer is reused only while the runner has sent nothing since it was read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from grants.scenario.model import load_scenario
from grants.scenario.runner import Endpoints, ScenarioRunner

SCENARIOS = Path(__file__).resolve().parents[3] / "grants" / "scenarios"
T0 = datetime(2023, 1, 2, 9, 0, tzinfo=UTC)


class _Issuer:
    def issue(self, *args: Any, **kwargs: Any) -> str:
        return "token"


class _Settler:
    def __init__(self) -> None:
        self.settles = 0

    async def settle(self, *args: Any, **kwargs: Any) -> None:
        self.settles += 1


class _Services:
    """reporting and payments: ``due`` is each one's next due instant (None: nothing)."""

    def __init__(self) -> None:
        self.due: dict[str, datetime | None] = {"reporting": None, "payments": None}
        self.calls: list[tuple[str, str, str]] = []
        self.emit = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        service = request.url.host.split(".")[0]
        self.calls.append((service, request.method, request.url.path))
        due = self.due[service]
        answer = {"always": False, "at": due.isoformat() if due else None, "rules": {}}
        if request.url.path == "/ops/scheduler/next-due":
            return httpx.Response(200, json=answer)
        if request.url.path == "/ops/scheduler/tick":  # it does what was due: nothing is left
            self.due[service] = None
            return httpx.Response(200, json={"leader": True, "emitted": self.emit, "next_due": {
                "always": False, "at": None, "rules": {}}})
        return httpx.Response(201, json={})


def _runner(services: _Services) -> tuple[ScenarioRunner, _Settler]:
    urls = {name: f"http://{name}.test" for name in ("reporting", "payments")}
    runner = ScenarioRunner(load_scenario(SCENARIOS / "example-small.json"),
                            Endpoints("kafka", "pg", urls), _Issuer())  # type: ignore[arg-type]
    runner.http = httpx.AsyncClient(transport=httpx.MockTransport(services))
    settler = _Settler()
    runner.settler = settler  # type: ignore[assignment]
    return runner, settler


def _ticks(services: _Services) -> list[str]:
    return [s for s, method, path in services.calls if path == "/ops/scheduler/tick"]


async def test_only_a_service_with_something_due_is_ticked() -> None:
    services = _Services()
    runner, settler = _runner(services)
    await runner._advance_clock(T0)
    assert _ticks(services) == [] and runner.clock["ticks_skipped"] == 2 and settler.settles == 1
    services.due["payments"] = T0 + timedelta(days=1)
    await runner._call(0, None, "payments", "POST", "/grants/x/acceptance", token="t", at=T0)
    await runner._advance_clock(T0 + timedelta(hours=23, minutes=59, seconds=59,
                                               microseconds=999_999))
    assert _ticks(services) == []
    await runner._call(0, None, "payments", "POST", "/grants/x/acceptance", token="t", at=T0)
    await runner._advance_clock(T0 + timedelta(days=1))  # due at that very instant
    assert _ticks(services) == ["payments"]


async def test_the_answer_is_reused_only_while_nothing_was_sent() -> None:
    services = _Services()
    runner, _ = _runner(services)
    await runner._advance_clock(T0)
    asked = len(services.calls)
    await runner._advance_clock(T0 + timedelta(hours=1))  # nothing sent: no new question
    assert len(services.calls) == asked
    # Something sent to one service can change any service's rules (through its events).
    services.due["reporting"] = T0 + timedelta(hours=2)
    await runner._call(0, None, "payments", "POST", "/grants/x/acceptance", token="t", at=T0)
    await runner._advance_clock(T0 + timedelta(hours=2))
    assert _ticks(services) == ["reporting"]
    # A tick that wrote no event leaves the answers standing; its own answer is the new one.
    calls = len(services.calls)
    await runner._advance_clock(T0 + timedelta(hours=3))
    assert services.calls[calls:] == []


async def test_after_a_tick_that_emitted_every_service_is_asked_again() -> None:
    services = _Services()
    runner, settler = _runner(services)
    services.due["reporting"] = T0
    services.emit = 1
    await runner._advance_clock(T0)
    assert _ticks(services) == ["reporting"]
    assert services.calls[-1] == ("payments", "GET", "/ops/scheduler/next-due")
    assert settler.settles == 2  # the tick's events settled before payments was asked
