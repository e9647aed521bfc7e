"""Admission control (issue 22, item 1): the shedding rule at its edges, and the middleware that
answers ``503 overloaded`` with ``Retry-After`` before a request costs anything."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from fastapi import FastAPI

from servicekit.admission import AdmissionControl, LatencyBudget, ShedRoute
from services.intake.app import build as intake


def measured(rate: int, *, budget_s: float = 0.5, floor: int = 10) -> LatencyBudget:
    """A budget that answered ``rate`` requests per second over its first window."""
    budget = LatencyBudget(budget_s=budget_s, floor=floor)
    answers = int(rate * budget.window_s)
    for n in range(answers):
        now = n * budget.window_s / answers
        assert budget.admit(now) is None
        budget.answered(now)
    budget.admit(budget.window_s)  # closes the window: the rate is measured
    budget.answered(budget.window_s)
    assert budget.rate == rate and budget.in_flight == 0
    return budget


def fill(budget: LatencyBudget, n: int, now: float = 0.3) -> list[int | None]:
    return [budget.admit(now) for _ in range(n)]


def test_an_idle_service_admits_its_floor_and_sheds_the_next() -> None:
    budget = LatencyBudget(budget_s=0.5, floor=3)
    assert fill(budget, 3, 0.0) == [None, None, None]
    assert budget.admit(0.0) == 1  # nothing measured yet: retry after a second
    assert (budget.in_flight, budget.shed) == (3, 1)


def test_the_limit_is_what_the_measured_rate_answers_within_the_budget() -> None:
    budget = measured(1000, budget_s=0.5)  # 1,000 answers/s × 0.5 s: 500 may wait
    assert budget.limit() == 500
    assert fill(budget, 500) == [None] * 500
    assert budget.admit(0.3) == 1  # the 501st would wait longer than the budget
    budget.answered(0.3)
    assert budget.admit(0.3) is None  # one answered: one more fits


def test_the_floor_holds_when_the_measured_rate_is_lower() -> None:
    budget = measured(8, budget_s=0.5, floor=10)  # 8/s × 0.5 s = 4 < floor
    assert budget.limit() == 10


def test_the_rate_rises_at_once_and_falls_slowly() -> None:
    budget = measured(1000)
    budget.admit(0.5)  # a window of one answer (4/s): 80 % of the rate is kept
    assert budget.rate == 0.8 * 1000 + 0.2 * 4
    budget.answered(0.5)


def test_retry_after_is_when_the_requests_in_flight_will_have_been_answered() -> None:
    budget = measured(100, budget_s=2.0, floor=1)  # 100/s × 2 s: 200 may wait
    fill(budget, 200)
    assert budget.admit(0.3) == 2  # 200 in flight at 100/s: two seconds
    slow = LatencyBudget(budget_s=600, floor=1000)
    slow.rate = 1.0
    fill(slow, 1000)
    assert slow.admit(0.0) == 60  # never more than a minute


def test_shed_routes_match_their_method_and_template_only() -> None:
    route = ShedRoute("POST", "/grants/{application_id}/reports")
    assert route.matches("POST", "/grants/0c6f/reports")
    assert not route.matches("GET", "/grants/0c6f/reports")
    assert not route.matches("POST", "/grants/0c6f/reports/x")
    assert not route.matches("POST", "/grants/a/b/reports")
    assert ShedRoute("POST", "/submissions").matches("POST", "/submissions")


async def test_the_middleware_answers_503_with_retry_after_and_passes_the_rest() -> None:
    gate = asyncio.Event()
    app = FastAPI()

    @app.post("/submissions")
    async def submit() -> dict[str, str]:
        await gate.wait()
        return {"status": "on_time"}

    @app.post("/other")
    async def other() -> dict[str, str]:
        return {"status": "ok"}

    shed: list[tuple[str, str]] = []
    budget = LatencyBudget(budget_s=0.5, floor=2)
    guarded: Any = AdmissionControl(app, routes=[ShedRoute("POST", "/submissions")],
                                    budget=budget, on_shed=lambda m, r: shed.append((m, r)))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=guarded),
                                 base_url="http://intake") as client:
        waiting = [asyncio.create_task(client.post("/submissions")) for _ in range(2)]
        while budget.in_flight < 2:
            await asyncio.sleep(0.01)
        refused = await client.post("/submissions")
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "1"
        assert json.loads(refused.content)["error"] == "overloaded"
        assert (await client.post("/other")).status_code == 200  # not a shed route
        gate.set()
        assert [r.status_code for r in await asyncio.gather(*waiting)] == [200, 200]
        assert (await client.post("/submissions")).status_code == 200
    assert shed == [("POST", "/submissions")] and budget.in_flight == 0


def test_intake_documents_the_503_of_its_submissions_route_only() -> None:
    _, app = intake()
    paths = app.openapi()["paths"]
    answer = paths["/submissions"]["post"]["responses"]["503"]
    assert "overloaded" in answer["description"]
    assert answer["headers"]["Retry-After"]["schema"] == {"type": "integer", "minimum": 1}
    assert answer["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorBody"}
    others = [(p, m) for p, item in paths.items() for m, op in item.items()
              if "overloaded" in op.get("responses", {}).get("503", {}).get("description", "")]
    assert others == [("/submissions", "post")]
