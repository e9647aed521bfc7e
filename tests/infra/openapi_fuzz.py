"""schemathesis against a service's own OpenAPI, on a live HTTP port (issues 14 and 19).

- ``live_http``: the service's FastAPI app served by uvicorn on a free port of this process's
  event loop (its lifespan starts the consumers and the relay), until the block ends.
- ``fuzz``: for every operation of the document, requests generated from it by schemathesis
  (positive and negative data with a valid token holding every role; a few with no token and
  with a token of a key the service does not trust), each answer checked by schemathesis
  (no 5xx, documented status, content type and schema) and by :func:`refusal_problems` (every
  refusal names a documented reason code; a token refusal is a 401). Runs in a worker thread,
  so the event loop keeps serving; returns every distinct finding instead of stopping at the
  first, so one run lists all that is wrong.

Bounded and reproducible: ``max_examples`` per operation and mode, ``derandomize``, no deadline,
no example database.
"""

from __future__ import annotations

import asyncio
import socket
import time
import warnings
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import requests
import uvicorn
from fastapi import FastAPI

ROLES = ("applicant", "caseworker", "assessor", "approver", "finance", "auditor")
"""Every role a route asks for: a token with all of them reaches every route's own logic."""

_TOKEN_CODES = ("token_",)


@asynccontextmanager
async def live_http(app: FastAPI, *, ready_timeout_s: float = 60.0) -> AsyncIterator[str]:
    """``app`` served on ``127.0.0.1:<free port>``; yields the base URL once ``/health/ready``
    answers 200."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, lifespan="on", log_config=None,
                                           log_level="warning"))
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + ready_timeout_s
        async with httpx.AsyncClient(base_url=base) as client:
            while True:
                if serving.done():
                    serving.result()  # start-up failed: raise its error
                if server.started and (await client.get("/health/ready")).status_code == 200:
                    break
                if time.monotonic() > deadline:
                    raise AssertionError(f"{app.title} not ready after {ready_timeout_s:.0f} s")
                await asyncio.sleep(0.1)
        yield base
    finally:
        server.should_exit = True
        await serving
        sock.close()


@dataclass(frozen=True)
class Finding:
    operation: str
    auth: str
    mode: str
    problem: str
    status: int
    body: str

    def __str__(self) -> str:
        return (f"{self.operation} [{self.auth}, {self.mode}] {self.problem}\n"
                f"    → {self.status} {self.body}")


@dataclass
class Report:
    findings: dict[tuple[str, str, str], Finding] = field(default_factory=dict)
    statuses: Counter[int] = field(default_factory=Counter)
    operations: int = 0
    requests: int = 0
    seconds: float = 0.0

    def add(self, finding: Finding) -> None:
        self.findings.setdefault((finding.operation, finding.auth, finding.problem), finding)

    def summary(self) -> str:
        return (f"{self.operations} operations, {self.requests} requests in "
                f"{self.seconds:.1f} s; statuses {dict(sorted(self.statuses.items()))}")


def _json(content: bytes) -> Any:
    import json

    try:
        return json.loads(content)
    except ValueError:
        return None


def refusal_problems(status: int, content: bytes, *, secured: bool, auth: str,
                     documented: set[str]) -> list[str]:
    """What is wrong with one answer beyond its schema: a refusal (4xx) without a documented
    code (``error`` and every reason's ``code``); a missing or untrusted token on a secured
    operation answered with anything but 401 and a ``token_*`` code."""
    body = _json(content)
    problems: list[str] = []
    if auth != "valid" and secured:
        code = body.get("error") if isinstance(body, dict) else None
        if status != 401 or not (isinstance(code, str) and code.startswith(_TOKEN_CODES)):
            problems.append(f"a {auth} token answered {status} {code!r}, not 401 token_*")
    if status < 400 or status >= 500:
        return problems
    if not isinstance(body, dict):
        return [*problems, "a refusal that is not a JSON object"]
    codes: list[Any] = []
    if "error" in body:
        codes.append(body["error"])
    elif not isinstance(body.get("status"), str):  # intake's receipt says its status instead
        problems.append("a refusal without an error code")
    reasons = body.get("reasons") or []
    codes += [r.get("code") for r in reasons if isinstance(r, dict)]
    problems += [f"undocumented code {c!r}" for c in codes if c not in documented]
    return problems


def _calling(one: Callable[[Any], None]) -> Callable[[Any], None]:
    """A test function for ``@given``, which takes no defaults (``one`` binds its own)."""
    def run(case: Any) -> None:
        one(case)
    return run


# Refusals of the request's shape that a JSON Schema can state: data generated from the schema
# must never get them, or the schema is looser than the code. (``field_invalid`` is left out: it
# also names checks no schema states, a CVR's modulus 11 or a register file's columns.)
SHAPE_CODES = frozenset({"json_invalid", "text_control_character", "field_missing",
                         "field_unknown", "field_too_long"})


def shape_refusal(status: int, content: bytes) -> str | None:
    """The shape code of a 422 that refuses a request for its shape, or None."""
    body = _json(content)
    if status != 422 or not isinstance(body, dict):
        return None
    codes = [body.get("error")] + [r.get("code") for r in body.get("reasons") or []
                                   if isinstance(r, dict)]
    return next((c for c in codes if c in SHAPE_CODES), None)


def fuzz(schema_doc: dict[str, Any], base_url: str, *, tokens: dict[str, str | None],
         documented: set[str], max_examples: int = 10, unauthenticated_examples: int = 3,
         skip: Callable[[str], bool] = lambda label: False) -> Report:
    """See the module docstring. ``tokens``: ``"valid"`` → a trusted token with every role,
    other names (``"missing"``, ``"untrusted"``) → tokens that must be refused (None: no
    ``Authorization`` header)."""
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance, negative_data_rejection, response_schema_conformance,
        status_code_conformance,
    )

    checks = [not_a_server_error, status_code_conformance, content_type_conformance,
              response_schema_conformance]
    schema = schemathesis.openapi.from_dict(schema_doc)
    report = Report()
    session = requests.Session()
    started = time.monotonic()

    def runs(secured: bool) -> Iterable[tuple[str, GenerationMode, int]]:
        yield "valid", GenerationMode.POSITIVE, max_examples
        yield "valid", GenerationMode.NEGATIVE, max_examples
        if secured:
            for name in tokens:
                if name != "valid":
                    yield name, GenerationMode.POSITIVE, unauthenticated_examples

    for result in schema.get_all_operations():
        operation = result.ok()
        if skip(operation.label):
            continue
        report.operations += 1
        secured = bool(operation.definition.raw.get("security"))
        for auth, mode, examples in runs(secured):
            token = tokens[auth]
            extra = {"Authorization": f"Bearer {token}"} if token else {}
            # Negative data must be refused; a missing token's answer is the 401 we ask for.
            mode_checks = checks + ([negative_data_rejection]
                                    if mode is GenerationMode.NEGATIVE else [])

            def one(case: Any, auth: str = auth, mode: GenerationMode = mode,
                    extra: dict[str, str] = extra, mode_checks: list[Any] = mode_checks,
                    operation: Any = operation, secured: bool = secured) -> None:
                headers = {k: v for k, v in (case.headers or {}).items()
                           if k.lower() != "authorization"}
                case.headers = {**headers, **extra}
                response = case.call(base_url=base_url, session=session, timeout=30)
                report.requests += 1
                report.statuses[response.status_code] += 1

                def found(problem: str) -> None:
                    report.add(Finding(operation.label, auth, mode.value, problem,
                                       response.status_code,
                                       response.content[:300].decode("utf-8", "replace")))

                try:
                    case.validate_response(response, checks=mode_checks)
                except BaseException as failed:  # schemathesis raises a group of failures
                    if isinstance(failed, (KeyboardInterrupt, SystemExit)):
                        raise
                    for one in getattr(failed, "exceptions", [failed]):
                        title = getattr(one, "title", type(one).__name__)
                        detail = str(one).strip().splitlines()
                        found(f"{title}: {' / '.join(line.strip() for line in detail[:3])}"[:300])
                shape = shape_refusal(response.status_code, response.content)
                if mode is GenerationMode.POSITIVE and auth == "valid" and shape is not None:
                    found(f"data the schema allows refused for its shape ({shape}): the schema "
                          "is looser than the code")
                for problem in refusal_problems(response.status_code, response.content,
                                                secured=secured, auth=auth,
                                                documented=documented):
                    found(problem)

            run = settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                           suppress_health_check=list(HealthCheck), phases=[Phase.generate])(
                given(case=operation.as_strategy(generation_mode=mode))(
                    _calling(one)))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # schemathesis' strategies draw from `random`
                try:
                    run()
                except Unsatisfiable:
                    pass  # nothing to negate: an operation without parameters or body
    _unsupported_methods(schema_doc, base_url, session, tokens["valid"], documented, report)
    report.seconds = time.monotonic() - started
    return report


def _unsupported_methods(schema_doc: dict[str, Any], base_url: str, session: requests.Session,
                         token: str | None, documented: set[str], report: Report) -> None:
    """Each path once with a method it does not have, and one path that does not exist: a
    405 or 404 with a documented code, like every other refusal."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    probes = [("GET", "/no-such-route")]
    for path, item in schema_doc["paths"].items():
        absent = [m for m in ("DELETE", "PATCH", "PUT", "POST", "GET") if m.lower() not in item]
        if absent:
            probes.append((absent[0], path))
    for method, path in probes:
        url = base_url + path.replace("{", "x").replace("}", "")
        response = session.request(method, url, headers=headers, timeout=30)
        report.requests += 1
        report.statuses[response.status_code] += 1
        expected = 404 if path == "/no-such-route" else 405
        problems = refusal_problems(response.status_code, response.content, secured=False,
                                    auth="valid", documented=documented)
        if response.status_code != expected:
            problems.append(f"answered {response.status_code}, not {expected}")
        for problem in problems:
            report.add(Finding(f"{method} {path}", "valid", "unsupported method", problem,
                               response.status_code, response.text[:300]))
