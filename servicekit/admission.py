"""Admission control for the deadline burst (issue 22, item 1): a fast ``503 overloaded`` with
``Retry-After`` once a request would wait longer than the latency budget, instead of a queue
that grows until every portal times out at 12:00 on deadline day.

The rule is Little's law: requests in flight = answer rate × time in the service. With the rate
measured over the last windows, ``rate × budget`` requests in flight is the most that can be
answered within the budget; a request arriving when that many are already in flight would wait
longer, so it is refused at once (before its token is verified or its body read — shedding must
cost less than serving) and told when the queue will have drained. A floor of requests is always
admitted: an idle service has measured no rate yet, and a burst must not be shed while the rate
is being learnt.

The rate rises at once to what a window measured and falls slowly (a window with few answers
is usually a quiet one, not a slow one): shedding is the last resort, never a throttle. The
budget and the floor are settings (``GRANTS_HTTP_ADMISSION_BUDGET_MS``, ``0`` turns shedding
off; ``GRANTS_HTTP_ADMISSION_FLOOR``); each shed request is counted in
``grants_http_shed_total`` and, like every answer, in ``grants_http_requests_total``.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from starlette.responses import JSONResponse
from starlette.routing import compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

OVERLOADED = "overloaded"
ADMISSION_CODES = {
    OVERLOADED: "the service is at its capacity: the request would wait longer than its latency "
                "budget, so nothing was read or written; retry after `Retry-After` seconds "
                "(503, routes that shed: `POST /submissions`)",
}
MAX_RETRY_AFTER_S = 60


@dataclass(frozen=True)
class ShedRoute:
    """A route that may be shed, by method and path template (``/grants/{id}/reports``)."""

    method: str
    template: str
    path: re.Pattern[str] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        # Starlette's own template compiler, so a route sheds exactly where it is routed.
        object.__setattr__(self, "path", compile_path(self.template)[0])

    def matches(self, method: str, path: str) -> bool:
        return method == self.method and self.path.fullmatch(path) is not None


@dataclass
class LatencyBudget:
    """The shedding rule, fed with a monotonic clock's readings (pure: no clock of its own)."""

    budget_s: float
    floor: int
    window_s: float = 0.25
    decay: float = 0.8  # a slower window keeps this share of the rate measured before
    in_flight: int = 0
    rate: float = 0.0  # answers per second
    shed: int = 0
    _window_start: float | None = None
    _answered: int = 0

    def limit(self) -> int:
        """How many requests may be in flight and still be answered within the budget."""
        return max(self.floor, math.floor(self.rate * self.budget_s))

    def admit(self, now: float) -> int | None:
        """``None``: admitted (now in flight until :meth:`answered`); otherwise shed, and the
        whole seconds after which the requests in flight will have been answered."""
        self._measure(now)
        if self.in_flight >= self.limit():
            self.shed += 1
            return self.retry_after_s()
        self.in_flight += 1
        return None

    def answered(self, now: float) -> None:
        self.in_flight -= 1
        self._answered += 1
        self._measure(now)

    def retry_after_s(self) -> int:
        if self.rate <= 0:
            return 1
        return max(1, min(MAX_RETRY_AFTER_S, math.ceil(self.in_flight / self.rate)))

    def _measure(self, now: float) -> None:
        if self._window_start is None:
            self._window_start = now
            return
        elapsed = now - self._window_start
        if elapsed < self.window_s:
            return
        observed = self._answered / elapsed
        self.rate = observed if observed >= self.rate else (
            self.decay * self.rate + (1 - self.decay) * observed)
        self._window_start, self._answered = now, 0


class AdmissionControl:
    """ASGI middleware: the routes in ``routes`` pass through ``budget``; others are untouched.
    ``on_shed(method, template)`` counts each refusal."""

    def __init__(self, app: ASGIApp, *, routes: Sequence[ShedRoute], budget: LatencyBudget,
                 on_shed: Callable[[str, str], None],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.app = app
        self.routes = tuple(routes)
        self.budget = budget
        self.on_shed = on_shed
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = None
        if scope["type"] == "http":
            method, path = str(scope.get("method", "")), str(scope.get("path", ""))
            route = next((r for r in self.routes if r.matches(method, path)), None)
        if route is None:
            await self.app(scope, receive, send)
            return
        wait = self.budget.admit(self.clock())
        if wait is not None:
            self.on_shed(route.method, route.template)
            refusal = JSONResponse(
                {"error": "overloaded",
                 "message": f"at capacity; nothing was read or written; retry after {wait} s"},
                status_code=503, headers={"Retry-After": str(wait)})
            await refusal(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self.budget.answered(self.clock())
