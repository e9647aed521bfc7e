"""HTTP conventions shared by the services' APIs.

- Errors are JSON with a stable code, never a stack trace: ``{"error": code, "message": ...}``;
  request validation gives 422 with ``reasons`` ([{code, path, message}]).
- A domain's :class:`~contracts.refusal.Refusal` is answered with the status of its kind
  (:data:`REFUSAL_STATUS`, the one place where refusals meet HTTP);
  :class:`~servicekit.identity.AuthError` and :class:`~servicekit.outbox.EventTooLarge` carry
  their own status.
- In simulation mode the ``X-Grants-Simulated-Time`` header sets the clock for the request.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from contracts.base import Actor
from contracts.bounds import AMOUNT_TOO_LARGE, TEXT_CONTROL_CHARACTER
from contracts.refusal import Refusal, RefusalKind
from servicekit.clock import Clock, parse_instant
from servicekit.identity import AuthError, Principal, TokenVerifier
from servicekit.logging import get_logger
from servicekit.outbox import Cause, EventTooLarge

log = get_logger(__name__)
_SIM_HEADER = b"x-grants-simulated-time"


class SimulatedTimeMiddleware:
    """Pure ASGI middleware, so the clock's context variable reaches the endpoint."""

    def __init__(self, app: ASGIApp, clock: Clock) -> None:
        self.app = app
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        claimed = None
        if scope["type"] == "http" and self.clock.simulated:
            claimed = dict(scope.get("headers") or []).get(_SIM_HEADER)
        if claimed is not None:
            try:
                parse_instant(claimed)
            except ValueError:
                response = JSONResponse({"error": "simulated_time_invalid"}, status_code=400)
                await response(scope, receive, send)
                return
        ctx = self.clock.at(claimed)
        ctx.__enter__()
        try:
            await self.app(scope, receive, send)
        finally:
            ctx.__exit__(None, None, None)


_CODES = {"missing": "field_missing", "extra_forbidden": "field_unknown",
          "string_too_long": "field_too_long", "too_long": "field_too_long",
          "json_invalid": "json_invalid", TEXT_CONTROL_CHARACTER: TEXT_CONTROL_CHARACTER,
          AMOUNT_TOO_LARGE: AMOUNT_TOO_LARGE}


ROUTING_CODES = {404: "route_not_found", 405: "method_not_allowed"}


def validation_reasons(exc: RequestValidationError) -> list[dict[str, str]]:
    reasons = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body",)]
        code = _CODES.get(err.get("type", ""), "field_invalid")
        if code == "field_invalid" and err.get("type") in ("less_than_equal", "less_than") \
                and loc and loc[-1].endswith("_oere"):
            code = AMOUNT_TOO_LARGE
        reasons.append({"code": code, "path": ".".join(loc), "message": str(err.get("msg", ""))})
    return reasons


REFUSAL_STATUS: Mapping[RefusalKind, int] = {
    "invalid": 422, "forbidden": 403, "not_found": 404, "conflict": 409, "too_large": 413,
}
"""The HTTP status of each kind of refused command (docs/http-api.md)."""

ExplainRefusal = Callable[[Refusal], list[dict[str, Any]]]
"""A service's own presentation of a refusal's ``details`` as the body's ``reasons``."""


def refusal_reasons(refusal: Refusal) -> list[Any]:
    """The structured reasons as JSON, else the free-text details as they are."""
    return [r.model_dump(mode="json") for r in refusal.reasons] or list(refusal.details)


def refusal_response(exc: Exception, explain: ExplainRefusal = refusal_reasons
                     ) -> JSONResponse | None:
    """The JSON answer for a refused command or a refused caller; None for anything else."""
    if isinstance(exc, Refusal):
        body: dict[str, Any] = {"error": exc.code, "message": exc.message}
        reasons = explain(exc)
        if reasons:
            body["reasons"] = reasons
        return JSONResponse(body, status_code=REFUSAL_STATUS[exc.kind])
    if isinstance(exc, (AuthError, EventTooLarge)):
        return JSONResponse({"error": exc.code, "message": exc.message},
                            status_code=exc.http_status)
    return None


def install_error_handlers(app: FastAPI, explain: ExplainRefusal = refusal_reasons) -> None:
    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(
            {"error": "invalid_request", "reasons": validation_reasons(exc)}, status_code=422
        )

    @app.exception_handler(StarletteHTTPException)
    async def _routing(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        # The router's own answers (no such path, a method the path does not have) in the one
        # error format, with a documented code instead of FastAPI's {"detail": ...}.
        code = ROUTING_CODES.get(exc.status_code, "invalid_request")
        return JSONResponse({"error": code, "message": str(exc.detail)},
                            status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(AuthError)
    async def _auth(_: Request, exc: AuthError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.http_status == 401 else None
        return JSONResponse({"error": exc.code, "message": exc.message},
                            status_code=exc.http_status, headers=headers)

    # Registered per class so the answer is sent without the exception reaching the server
    # (Starlette re-raises after its catch-all handler); ErrorMiddleware answers the same for
    # a refusal raised outside a route.
    @app.exception_handler(Refusal)
    async def _refused(_: Request, exc: Refusal) -> JSONResponse:
        response = refusal_response(exc, explain)
        assert response is not None
        return response


class ErrorMiddleware:
    """Refusals become their JSON answer and anything else a 500 without a trace.

    A pure ASGI middleware rather than an ``Exception`` handler: Starlette re-raises from its
    catch-all handler, which would surface a refusal as a server error to the ASGI server.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Any) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started:
                raise
            response = refusal_response(exc)
            if response is None and isinstance(exc, RecursionError):  # nested too deep to parse
                response = JSONResponse({"error": "json_invalid",
                                         "message": "the body nests too deeply"}, status_code=422)
            if response is None:
                log.exception("unhandled_http_error", error=repr(exc))
                response = JSONResponse({"error": "internal_error", "message": "internal error"},
                                        status_code=500)
            await response(scope, receive, send)


def bearer_token(request: Request) -> str | None:
    value = request.headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def authenticate(request: Request, verifier: TokenVerifier, *roles: str) -> Principal:
    """Verify the bearer token and require one of ``roles`` (if any given). A write's token was
    verified by the request guard before its body was read: that principal is reused."""
    principal = request.scope.get("state", {}).get("grants.principal")
    if not isinstance(principal, Principal):
        principal = verifier.verify(bearer_token(request))
    if roles:
        principal.require_role(*roles)
    return principal


def cause_of_request(request: Request, principal: Principal, role: str) -> Cause:
    """The cause of events an HTTP command emits: the caller (pseudonymous subject) and the
    correlation id from ``X-Correlation-Id`` (a new one when absent)."""
    correlation = request.headers.get("x-correlation-id") or str(uuid.uuid4())
    return Cause(actor=Actor(id=principal.subject[:128], role=role),
                 correlation_id=correlation[:128])
