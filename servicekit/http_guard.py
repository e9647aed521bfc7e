"""The HTTP edge of every service: who is asking before anything is read, and how much.

A pure ASGI middleware in front of every route (issue 14):

1. **Authentication first.** A write (POST, PUT, PATCH, DELETE) without a token that verifies is
   answered 401 with the verifier's code (``token_missing``, ``token_expired``, ``token_invalid``
   …) before a byte of its body is read: an anonymous caller cannot make a service parse, buffer
   or store anything. Role checks stay with the routes (403).
2. **Bounded bodies.** A ``Content-Length`` above the route's limit is 413 ``body_too_large``
   at once; a body without one is counted while it streams and refused the moment it passes
   the limit (never buffered whole). The default limit is ``GRANTS_HTTP_MAX_BODY_BYTES``
   (1 MiB); a route that takes files (the register) names its own.
3. **JSON that every store can hold.** A JSON body that does not parse, nests deeper than
   ``contracts.bounds.MAX_JSON_DEPTH`` or holds a control character other than tab/newline in
   any key or string is refused 422 (``json_invalid`` / ``text_control_character``, with the
   path) before a route sees it. Routes whose body is not JSON (file uploads) skip this step.

Reads (GET, HEAD, OPTIONS) pass through: their routes authenticate as dependencies.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from contracts.bounds import (
    MAX_JSON_DEPTH, TEXT_CONTROL_CHARACTER, control_character_path, json_depth_exceeds,
)
from servicekit.identity import AuthError, Principal, TokenVerifier

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
PRINCIPAL_SCOPE_KEY = "grants.principal"

EDGE_CODES: dict[str, str] = {
    "body_too_large": "the request body is larger than the route allows (1 MiB unless the "
                      "route says otherwise; 413)",
    "json_invalid": "the body is not JSON, or nests deeper than 64 levels (422)",
    TEXT_CONTROL_CHARACTER: "a text holds a control character (NUL and the like; tab and newline "
                            "only where the text is multi-line) (422)",
    "invalid_request": "the body does not match the route's contract; reasons name each field "
                       "path (422)",
    "simulated_time_invalid": "the X-Grants-Simulated-Time header is not an ISO instant (400, "
                              "simulation mode only)",
    "event_too_large": "an event the request (or, dead-lettered, a record) causes would be larger "
                       "than the broker takes (GRANTS_KAFKA_MAX_MESSAGE_BYTES); nothing is "
                       "written (413)",
    "internal_error": "an unexpected error; nothing of the request took effect (500)",
    "route_not_found": "no route has this path (404)",
    "method_not_allowed": "the path has no operation of this HTTP method (405)",
}
"""Refusals the HTTP edge itself answers (listed in the README with the domains' codes)."""


@dataclass(frozen=True)
class BodyRule:
    """A route (by path regex and method) with its own body limit; ``raw``: not JSON."""

    path: re.Pattern[str]
    max_bytes: int
    raw: bool = False
    method: str = "POST"
    too_large_code: str = "body_too_large"


class _TooLarge(Exception):
    pass


def _refusal(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": code, "message": message, **extra}, status_code=status,
                        headers=headers)


def _bearer(scope: Scope) -> str | None:
    for name, value in scope.get("headers") or ():
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            token = token.strip()
            return token if scheme.lower() == "bearer" and token else None
    return None


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers") or ():
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def json_refusal(body: bytes) -> JSONResponse | None:
    """422 for a body that is not JSON every store can hold; None when it is (or is empty)."""
    if not body.strip():
        return None
    try:
        # The C parser gives up on deep nesting with RecursionError; refused like bad JSON.
        value = json.loads(body)
    except (ValueError, RecursionError):
        return _refusal(422, "json_invalid", "the body is not valid JSON")
    if json_depth_exceeds(value, MAX_JSON_DEPTH):
        return _refusal(422, "json_invalid", f"the body nests deeper than {MAX_JSON_DEPTH} levels")
    path = control_character_path(value)
    if path is not None:
        dotted = ".".join(str(p) for p in path)
        return _refusal(422, TEXT_CONTROL_CHARACTER, "a text holds a control character",
                        reasons=[{"code": TEXT_CONTROL_CHARACTER, "path": dotted,
                                  "message": "control characters are not allowed"}])
    return None


class VerifiedTokens:
    """The principals of tokens one verifier accepted, by the token's exact text, each until
    its ``exp`` (plus the verifier's leeway) passes on the real clock — the one check of
    :meth:`TokenVerifier.verify` whose answer changes with time (a token accepted once passed
    its signature, issuer, audience and ``nbf``/``iat``, and the verifier's keys are fixed). A
    caller sends the same token with every request; verifying it (an Ed25519 check plus
    PyJWT's parsing) was the largest part of a score's own work at the edge. A new verifier
    (other keys) starts over; a full map starts over."""

    MAX = 4096

    def __init__(self) -> None:
        self._verifier: TokenVerifier | None = None
        self._known: dict[str, tuple[Principal, float]] = {}

    def verify(self, verifier: TokenVerifier, token: str | None) -> Principal:
        if verifier is not self._verifier:
            self._verifier, self._known = verifier, {}
        if token:
            found = self._known.get(token)
            if found is not None and time.time() < found[1]:
                return found[0]
        principal = verifier.verify(token)  # raises for anything it refuses: nothing kept
        assert token is not None
        exp = principal.claims.get("exp")
        if isinstance(exp, int | float):  # as PyJWT: expired once int(exp) <= now - leeway
            if len(self._known) >= self.MAX:
                self._known.clear()
            self._known[token] = (principal, int(exp) + verifier.leeway_s)
        return principal


class RequestGuard:
    """See the module docstring. ``verifier`` is called per request (the runtime builds it
    lazily from its settings)."""

    def __init__(self, app: ASGIApp, *, verifier: Callable[[], TokenVerifier],
                 max_body_bytes: int, rules: Sequence[BodyRule] = (),
                 open_writes: Sequence[re.Pattern[str]] = ()) -> None:
        self.app = app
        self.verifier = verifier
        self.max_body_bytes = max_body_bytes
        self.rules = tuple(rules)
        self.open_writes = tuple(open_writes)
        self.tokens = VerifiedTokens()

    def _rule(self, method: str, path: str) -> BodyRule | None:
        return next((r for r in self.rules if r.method == method and r.path.fullmatch(path)),
                    None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method", "GET") not in WRITE_METHODS:
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope.get("path", "")
        if not any(p.fullmatch(path) for p in self.open_writes):
            try:
                principal = self.tokens.verify(self.verifier(), _bearer(scope))
            except AuthError as refused:
                await _refusal(refused.http_status, refused.code, refused.message)(
                    scope, receive, send)
                return
            scope.setdefault("state", {})[PRINCIPAL_SCOPE_KEY] = principal
        rule = self._rule(method, path)
        limit = rule.max_bytes if rule is not None else self.max_body_bytes
        declared = _content_length(scope)
        code = rule.too_large_code if rule is not None else "body_too_large"
        if declared is not None and declared > limit:
            await self._too_large(scope, receive, send, limit, code)
            return
        try:
            body = await _read_body(receive, limit)
        except _TooLarge:
            await self._too_large(scope, receive, send, limit, code)
            return
        if rule is None or not rule.raw:
            refused = json_refusal(body)
            if refused is not None:
                await refused(scope, receive, send)
                return
        await self.app(scope, _replay(body, receive), send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send, limit: int,
                         code: str) -> None:
        await _refusal(413, code, f"the body is larger than {limit} bytes",
                       max_bytes=limit)(scope, receive, send)


async def _read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break  # the client went away: the route sees an empty body and the disconnect
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _TooLarge()
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed
