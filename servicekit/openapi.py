"""OpenAPI that tells the truth about the services' HTTP conventions (servicekit.http).

- a bearer JWT security scheme on every operation whose dependencies verify a token
  (``ServiceRuntime.require``), with the roles it accepts;
- the error answers each operation can give, all with the one error schema
  (``{"error": code, "message", "reasons": [{code, path, message}]}``): 401/403 where a token is
  verified; 401, 413 and 422 on every write (the request guard answers them before the route);
  422 where there is a parameter or a body (our 422, not FastAPI's); 404 where the path names
  something; responses a route declares itself get the schema too, and a route's own error
  model (intake's receipt) becomes "that or the error body";
- every string and map key of a request body with the request guard's text rule (no control
  character but tab and newline) as a ``pattern``, where its model states no stricter rule;
- request bodies that a route reads raw (to name every bad field itself) documented with the
  model they must match: ``openapi_extra=raw_body(Model)``. The model rides on the route's own
  ``openapi_extra``, and each app's document collects the models of its own routes: a process
  that builds several services' apps (a test, the demo) gives each only its own body models.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi import routing
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import models_json_schema

from contracts.bounds import MULTI_LINE_PATTERN
from servicekit.admission import ShedRoute

SCHEME = "bearerJWT"
ROLES_ATTR = "__grants_roles__"
_BODY_KEY = "x-grants-raw-body"
_METHODS = ("get", "post", "put", "patch", "delete")


class ErrorReason(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(description="stable reason code (README, Reason codes)")
    path: str | None = Field(default=None, description="the field, month or post it concerns")
    message: str = ""


class ErrorBody(BaseModel):
    """Every error answer of every service."""

    model_config = ConfigDict(extra="allow")
    error: str = Field(description="stable error code")
    message: str = ""
    reasons: list[ErrorReason] = []


_STATUS_TEXT = {
    401: "no, an expired or a wrongly signed bearer token (`WWW-Authenticate: Bearer`)",
    403: "the token lacks a role this operation needs, or names another organisation",
    404: "nothing of that id",
    413: "the body is larger than the route allows (`body_too_large`), or an event it causes "
         "is larger than the broker takes (`event_too_large`)",
    422: "the request is invalid: `invalid_request` with every bad field in `reasons`; a body "
         "that is not JSON, nests too deep or holds a control character is refused at the edge "
         "(`json_invalid`, `text_control_character`)",
}
_WRITES = ("post", "put", "patch", "delete")  # the request guard's (servicekit.http_guard)


class RawBody(dict[str, Any]):
    """A route's ``openapi_extra`` naming the model its raw body must match. FastAPI merges the
    (JSON) mapping into the operation; the model class itself stays on the route, where
    :func:`complete` finds it, since a class cannot go through FastAPI's JSON encoding."""

    def __init__(self, model: type[BaseModel]) -> None:
        super().__init__({_BODY_KEY: model.__name__})
        self.model = model


def raw_body(model: type[BaseModel]) -> RawBody:
    """``openapi_extra`` of a route that reads its body raw but requires it to match ``model``."""
    return RawBody(model)


def _body_models(routes: list[Any]) -> list[type[BaseModel]]:
    """The raw-body models of these routes (one app's), each once, in route order."""
    found: dict[str, type[BaseModel]] = {}
    for route in routes:
        extra = route.openapi_extra
        if isinstance(extra, RawBody):
            known = found.setdefault(extra.model.__name__, extra.model)
            if known is not extra.model:
                raise ValueError(f"two raw-body models named {known.__name__} in one app")
    return list(found.values())


def _roles(dependant: Dependant) -> tuple[str, ...] | None:
    for dep in dependant.dependencies:
        roles = getattr(dep.call, ROLES_ATTR, None)
        if roles is not None:
            return tuple(roles)
        found = _roles(dep)
        if found is not None:
            return found
    return None


_ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}


def _error_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {
        "schema": dict(_ERROR_REF)}}}


def _with_error_body(answer: dict[str, Any]) -> dict[str, Any]:
    """A route's own error answer (intake's receipt), which the edge may give before the route
    runs with the error body instead: either of the two."""
    media = answer["content"].get("application/json")
    if media is None or media.get("schema") == _ERROR_REF:
        return answer
    own = media.get("schema", {})
    if _ERROR_REF not in own.get("anyOf", []):
        media["schema"] = {"anyOf": [own, _ERROR_REF]}
    return answer


def _edge_text_rule(node: Any, components: dict[str, Any], seen: set[str]) -> None:
    """State the request guard's text rule (no control character but tab and newline, in any
    string or key of a JSON body) on every string and map of a request body's schema that
    states no stricter rule of its own (a pattern, a format, an enum)."""
    if isinstance(node, list):
        for item in node:
            _edge_text_rule(item, components, seen)
        return
    if not isinstance(node, dict):
        return
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
        name = ref.rsplit("/", 1)[1]
        if name not in seen:
            seen.add(name)
            _edge_text_rule(components.get(name), components, seen)
        return
    if node.get("type") == "string" and not {"pattern", "format", "enum", "const"} & set(node):
        node["pattern"] = MULTI_LINE_PATTERN
    if isinstance(node.get("additionalProperties"), dict):
        names = node.setdefault("propertyNames", {})
        names.setdefault("pattern", MULTI_LINE_PATTERN)
    for key, value in node.items():
        if key not in ("propertyNames", "examples", "default", "example"):
            _edge_text_rule(value, components, seen)


def _add_models(schema: dict[str, Any], models: list[type[BaseModel]]) -> None:
    _, defs = models_json_schema([(m, "validation") for m in models],
                                 ref_template="#/components/schemas/{model}")
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name, definition in defs.get("$defs", {}).items():
        components.setdefault(name, definition)


def _overloaded() -> dict[str, Any]:
    answer = _error_response(
        "`overloaded`: the service is at its capacity (admission control); nothing was read or "
        "written. Retry after `Retry-After` seconds")
    answer["headers"] = {"Retry-After": {
        "description": "whole seconds after which the requests in flight will have been answered",
        "schema": {"type": "integer", "minimum": 1}}}
    return answer


def complete(schema: dict[str, Any], routes: list[Any],
             shed: Sequence[ShedRoute] = ()) -> dict[str, Any]:
    """Add security, error responses and raw bodies to FastAPI's generated ``schema``; the
    routes in ``shed`` document admission control's 503."""
    _add_models(schema, [ErrorBody, *_body_models(routes)])
    components = schema["components"]
    components["schemas"].pop("HTTPValidationError", None)
    components["schemas"].pop("ValidationError", None)
    components.setdefault("securitySchemes", {})[SCHEME] = {
        "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
        "description": "EdDSA or RS256 JWT with `iss`, `aud`, `exp`, `sub`, `roles` and `cvr`"}
    text_rule_seen: set[str] = set()
    for route in routes:
        item = schema["paths"].get(route.path_format)
        if item is None:
            continue
        roles = _roles(route.dependant)
        for method in route.methods or ():
            op = item.get(method.lower())
            if op is None:
                continue
            responses = op.setdefault("responses", {})
            body_model = op.pop(_BODY_KEY, None)
            if body_model:
                op["requestBody"] = {"required": True, "content": {"application/json": {
                    "schema": {"$ref": f"#/components/schemas/{body_model}"}}}}
            for media in op.get("requestBody", {}).get("content", {}).values():
                _edge_text_rule(media.get("schema"), components["schemas"], text_rule_seen)
            wanted: dict[int, str] = {}
            if method.lower() in _WRITES:  # the guard: a token, then the body's size and JSON
                wanted |= {401: _STATUS_TEXT[401], 413: _STATUS_TEXT[413],
                           422: _STATUS_TEXT[422]}
            if roles is not None:
                op["security"] = [{SCHEME: []}]
                if roles:
                    op["description"] = (op.get("description", "") + "\n\nRoles: " + ", ".join(
                        f"`{r}`" for r in roles)).strip()
                wanted |= {401: _STATUS_TEXT[401], 403: _STATUS_TEXT[403]}
            if op.get("parameters") or op.get("requestBody"):
                wanted[422] = _STATUS_TEXT[422]
            if route.dependant.path_params:
                wanted[404] = _STATUS_TEXT[404]
            if any(r.method == method and r.template == route.path_format for r in shed):
                responses["503"] = _overloaded()
            for status, text in wanted.items():
                current = responses.get(str(status), {})
                described = current.get("description", "")
                if "content" in current and described != "Validation Error":
                    responses[str(status)] = _with_error_body(current)  # intake: a receipt
                    continue
                responses[str(status)] = _error_response(
                    text if described in ("", "Validation Error") else described)
            for status, answer in responses.items():
                if status.startswith(("4", "5")) and "content" not in answer:
                    responses[status] = _error_response(answer.get("description", ""))
    return schema


def install(app: FastAPI, shed: Sequence[ShedRoute] = ()) -> None:
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            # Route contexts, not app.routes: included routers are lazy (_IncludedRouter) and
            # only their contexts carry the full path (FastAPI's own get_openapi walks these).
            app.openapi_schema = complete(schema, [
                c for c in routing.iter_route_contexts(app.routes)
                if isinstance(c.original_route, APIRoute)], shed)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI documents replacing app.openapi
