"""Issue 10, security: every HTTP write endpoint of every service refuses a missing, expired,
wrongly signed or wrong-role token.

The write routes (POST, PUT, PATCH, DELETE) are enumerated from each service's FastAPI app, so a
new endpoint is covered without touching this test. The roles a route allows come from its
``ServiceRuntime.require(...)`` dependency; a route that checks its token by other means must be
listed in ``CHECKED_IN_HANDLER`` (asserted complete and not stale). Each service runs in-process
(its lifespan: database, migrations, consumers, relay) on the real broker and its own PostgreSQL
database. Pass, per route: no token, an expired token, a token signed by another key (same issuer
and audience), a malformed token → 401; a valid token holding only a role the route does not
allow (every such role of ``contracts.base.Role``) or no role at all → 403; and afterwards
nothing is in the service's outbox or audit log (issue 14: a refused call writes nothing).

Mechanisms guarded: ``TokenVerifier.verify`` (signature, ``exp``) and ``Principal.require_role``
via ``servicekit.http.authenticate``. Checked locally: with ``principal.require_role`` removed
from ``authenticate`` the wrong-role cases fail (404/422/200 instead of 403); with
``options={"verify_exp": False, ...}`` in ``jwt.decode`` the expired case fails.
"""

from __future__ import annotations

import inspect
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, get_args

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from contracts.base import Role
from grants.stack import drop_database
from servicekit.identity import DevTokenIssuer
from servicekit.service import ServiceRuntime
from services.assessment.app import build as build_assessment
from services.intake.app import build as build_intake
from services.payments.app import build as build_payments
from services.reporting.app import build as build_reporting
from tests.infra import fast_join
from tests.infra.services import running_service

pytestmark = pytest.mark.integration

BUILDS: dict[str, Callable[..., tuple[ServiceRuntime, FastAPI]]] = {
    "intake": build_intake, "assessment": build_assessment,
    "payments": build_payments, "reporting": build_reporting,
}
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
ALL_ROLES = set(get_args(Role))
# Write routes whose handler verifies the token itself (no ``require`` dependency), with the
# roles it allows. intake's POST /submissions decides an unauthenticated or unauthorised
# submission like the portal topic does (a receipt with 401/403).
CHECKED_IN_HANDLER: dict[tuple[str, str, str], set[str]] = {
    ("intake", "POST", "/submissions"): {"applicant"},
}
CVR = "12345678"


def _required_roles(route: APIRoute) -> list[set[str]]:
    """The role sets of every ``ServiceRuntime.require`` / ``servicekit.service.requires``
    dependency of ``route`` (recursively): both are servicekit's one role dependency."""
    found: list[set[str]] = []
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        stack += dep.dependencies
        call = dep.call
        if call is None or getattr(call, "__qualname__", "") != "_role_dependency.<locals>" \
                ".dependency":
            continue
        found.append(set(inspect.getclosurevars(call).nonlocals["roles"]))
    return found


def _api_routes(routes: list[Any], prefix: str = "") -> list[tuple[str, APIRoute]]:
    """(full path, route) of every ``APIRoute``, also inside included routers (FastAPI ≥ 0.165
    keeps those as ``_IncludedRouter`` entries of ``app.routes``)."""
    found: list[tuple[str, APIRoute]] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append((prefix + route.path, route))
        elif hasattr(route, "original_router"):
            context = getattr(route, "include_context", None)
            assert not getattr(context, "dependencies", None), "router-level dependencies"
            found += _api_routes(route.original_router.routes,
                                 prefix + (getattr(context, "prefix", "") or ""))
    return found


def write_routes(service: str, app: FastAPI) -> list[tuple[str, str, APIRoute, set[str]]]:
    """(method, path, route, allowed roles) of every write route of ``app``."""
    routes = []
    for path, route in _api_routes(app.routes):
        for method in sorted(route.methods & WRITE_METHODS):
            required = _required_roles(route)
            explicit = CHECKED_IN_HANDLER.get((service, method, path))
            if explicit is not None:
                assert not required, f"{method} {path} is in CHECKED_IN_HANDLER needlessly"
                allowed = explicit
            else:
                assert len(required) == 1, (
                    f"{service} {method} {path}: no require(...) dependency; add one, or"
                    " list the route in CHECKED_IN_HANDLER with the roles its handler allows")
                allowed = required[0]
            assert allowed, (f"{service} {method} {path} accepts any role: name the roles"
                             " allowed to write")
            assert allowed <= ALL_ROLES, allowed
            routes.append((method, path, route, allowed))
    return routes


def _concrete_path(path: str, route: APIRoute) -> str:
    types = {p.name: p.field_info.annotation for p in route.dependant.path_params}

    def value(match: re.Match[str]) -> str:
        kind = types.get(match.group(1))
        return str(uuid.uuid4()) if kind is uuid.UUID else "1" if kind is int else "x"

    return re.sub(r"\{(\w+)(?::\w+)?\}", value, path)


def test_checked_in_handler_table_names_existing_routes(tmp_path: Path) -> None:
    """The exceptions table is not stale: every entry is a write route of its service."""
    from servicekit.settings import ServiceSettings

    for (service, method, path) in CHECKED_IN_HANDLER:
        _, app = BUILDS[service](ServiceSettings(service_name=service))
        assert any(p == path and method in r.methods
                   for p, r in _api_routes(app.routes)), (service, method, path)


@pytest.mark.parametrize("service", sorted(BUILDS))
async def test_every_write_endpoint_refuses_bad_tokens(
    service: str, private_kafka: str, pg_url: str, tmp_path: Path
) -> None:
    issuer = DevTokenIssuer(tmp_path / "keys")
    impostor = DevTokenIssuer(tmp_path / "other-keys")  # same issuer name and audience
    db_name = f"auth_{service}_{uuid.uuid4().hex[:8]}"
    failures: list[str] = []
    try:
        async with running_service(BUILDS[service], private_kafka, f"{pg_url}/{db_name}",
                                   issuer, name=service, **fast_join()) as (runtime, http):
            routes = write_routes(service, http._transport.app)  # type: ignore[attr-defined]
            assert routes, f"{service} has no write routes?"
            for method, template, route, allowed in routes:
                path = _concrete_path(template, route)
                some_allowed = sorted(allowed)
                cases: list[tuple[str, dict[str, str], int]] = [
                    ("no token", {}, 401),
                    ("expired", _bearer(issuer.issue("p-1", some_allowed, cvr=CVR,
                                                     ttl_s=-3600)), 401),
                    ("signed by another key",
                     _bearer(impostor.issue("p-1", some_allowed, cvr=CVR)), 401),
                    ("not a JWT", {"Authorization": "Bearer not.a.jwt"}, 401),
                    ("no roles", _bearer(issuer.issue("p-1", [], cvr=CVR)), 403),
                ]
                cases += [(f"role {role}", _bearer(issuer.issue("p-1", [role], cvr=CVR)), 403)
                          for role in sorted(ALL_ROLES - allowed)]
                for label, headers, want in cases:
                    response = await http.request(method, path, json={}, headers=headers)
                    if response.status_code != want:
                        failures.append(f"{method} {template} with {label}: "
                                        f"{response.status_code} {response.text[:200]}")
            # Nothing was written at all: no outbox row, no audit entry (issue 14.6).
            written = [r["event_type"] for r in await runtime.pool.fetch(
                "SELECT headers->>'event_type' AS event_type FROM outbox")]
            assert written == [], f"refused requests wrote {written}"
            assert await runtime.pool.fetchval("SELECT count(*) FROM audit_log") == 0
    finally:
        await drop_database(pg_url, db_name)
    assert not failures, "\n".join(failures)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_allowed_roles_are_found(tmp_path: Any) -> None:
    """The introspection sees the roles of a known route (guards the test itself)."""
    from servicekit.settings import ServiceSettings

    _, app = build_payments(ServiceSettings(service_name="payments"))
    routes = {(m, p): a for m, p, _, a in write_routes("payments", app)}
    assert routes[("POST", "/grants/{application_id}/acceptance")] == {"applicant"}
