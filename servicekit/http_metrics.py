"""HTTP requests observed (issue 19, item 6): counts and durations per route template and status
for ``/metrics`` (``grants_http_requests_total``, ``grants_http_request_duration_seconds``, next
to the consumer metrics of :mod:`servicekit.metrics`), and the request's SERVER span when
tracing is on (:mod:`servicekit.tracing`).

The outermost ASGI middleware, so refusals of the guard and the error middleware count too. The
route is the template FastAPI matched (``/applications/{application_id}``), never the raw path:
ids would make a label per request; a path no route matched counts as ``(unmatched)``.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import routing
from starlette.routing import Match, Router
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from servicekit.metrics import HttpStats
from servicekit.tracing import Tracing

UNMATCHED = "(unmatched)"


def route_template(scope: Scope, router: Router) -> str:
    """The matched route's template; for a request refused before routing (the guard's 401 or
    413), the template it would have matched."""
    route = scope.get("route")
    if route is None:
        # Route contexts, not router.routes: an included router is one lazy entry without a
        # path (FastAPI >= 0.16x), and only its contexts carry each route's full path.
        route = next((r for r in routing.iter_route_contexts(router.routes)
                      if r.matches(scope)[0] is Match.FULL), None)
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED


class ObservedRequests:
    def __init__(self, app: ASGIApp, *, stats: HttpStats, tracing: Tracing,
                 router: Router) -> None:
        self.app = app
        self.router = router
        self.stats = stats
        self.tracing = tracing

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # a response never started is a server error to the caller
        started = time.perf_counter()

        async def observed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        method = str(scope.get("method", ""))
        try:
            if self.tracing.enabled:
                headers = {k.decode("latin-1"): v for k, v in scope.get("headers", ())}
                with self.tracing.http_request(method, str(scope.get("path", "")),
                                               headers) as span:
                    await self.app(scope, receive, observed_send)
                    _finish(span, method, route_template(scope, self.router), status)
            else:
                await self.app(scope, receive, observed_send)
        finally:
            self.stats.observe(method, route_template(scope, self.router), status,
                               time.perf_counter() - started)


def _finish(span: Any, method: str, route: str, status: int) -> None:
    span.update_name(f"{method} {route}")
    span.set_attribute("http.route", route)
    span.set_attribute("http.response.status_code", status)
