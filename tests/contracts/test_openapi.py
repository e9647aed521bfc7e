"""The services' OpenAPI documents tell the truth (issue 19, item 2): a bearer JWT scheme on
every operation that checks a token, every error answer with the one error schema, and every
request body a strict model (never ``{}`` or an open object)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI

from services.assessment.app import build as assessment
from services.intake.app import build as intake
from services.payments.app import build as payments
from services.reporting.app import build as reporting
from servicekit.openapi import SCHEME

OPEN = {"/health", "/health/live", "/health/ready", "/metrics", "/asyncapi", "/asyncapi.json"}
ERROR = {"$ref": "#/components/schemas/ErrorBody"}
# Intake answers every submission it reads, refused ones included, with its receipt; the request
# guard answers before it (a token, the body's size and JSON) with the error body.
RECEIPT = {"$ref": "#/components/schemas/Receipt"}
RECEIPT_OR_ERROR = {"anyOf": [RECEIPT, ERROR]}
_GUARD = {"401", "413", "422"}
_WRITES = {"post", "put", "patch", "delete"}


def _error_schema(path: str, method: str, status: str) -> dict[str, Any]:
    if (method, path) != ("post", "/submissions") or status in ("413", "503"):  # edge answers
        return ERROR
    return RECEIPT_OR_ERROR if status in _GUARD else RECEIPT


def _document(build: Callable[[], tuple[Any, FastAPI]]) -> dict[str, Any]:
    _, app = build()
    return app.openapi()


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, item in doc["paths"].items()
            for method, op in item.items()]


@pytest.fixture(scope="module", params=[intake, assessment, payments, reporting],
                ids=["intake", "assessment", "payments", "reporting"])
def doc(request: pytest.FixtureRequest) -> dict[str, Any]:
    return _document(request.param)


def test_every_operation_but_health_and_metrics_requires_a_bearer_token(doc: dict[str, Any]
                                                                        ) -> None:
    assert doc["components"]["securitySchemes"][SCHEME] | {"description": ""} == {
        "type": "http", "scheme": "bearer", "bearerFormat": "JWT", "description": ""}
    for path, method, op in _operations(doc):
        if path in OPEN:
            assert "security" not in op, f"{method} {path}"
            continue
        assert op.get("security") == [{SCHEME: []}], f"{method} {path} names no security"
        for status in ("401", "403"):
            answer = op["responses"].get(status)
            assert answer, f"{method} {path} documents no {status}"
            assert answer["content"]["application/json"]["schema"] == _error_schema(
                path, method, status)


def test_every_error_answer_has_the_error_schema(doc: dict[str, Any]) -> None:
    assert "HTTPValidationError" not in json.dumps(doc)
    for path, method, op in _operations(doc):
        if op.get("parameters") or op.get("requestBody"):
            assert "422" in op["responses"], f"{method} {path}"
        if "{" in path:
            assert "404" in op["responses"], f"{method} {path}"
        if method in _WRITES:
            assert set(op["responses"]) >= _GUARD, f"{method} {path}: the guard's answers"
        for status, answer in op["responses"].items():
            if status[0] in "45":
                assert answer["content"]["application/json"]["schema"] == _error_schema(
                    path, method, status), (
                    f"{method} {path} {status}")
    error = doc["components"]["schemas"]["ErrorBody"]
    assert error["required"] == ["error"] and "reasons" in error["properties"]


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def test_every_request_body_is_a_strict_model(doc: dict[str, Any]) -> None:
    for path, method, op in _operations(doc):
        body = op.get("requestBody")
        if body is None:
            continue
        for media, content in body["content"].items():
            if media != "application/json":
                continue
            schema = content["schema"]
            branches = schema.get("anyOf", [schema])
            models = [_resolve(doc, b) for b in branches if b.get("type") != "null"]
            assert models, f"{method} {path}: no model"
            for model in models:
                assert model.get("properties") or model.get("additionalProperties") is False, (
                    f"{method} {path}: body accepts anything")
                assert model.get("additionalProperties") is False, (
                    f"{method} {path}: body takes unknown fields")


def test_pools_and_revised_budgets_name_their_model() -> None:
    doc = _document(assessment)
    assert doc["paths"]["/pools"]["post"]["requestBody"]["content"]["application/json"][
        "schema"] == {"$ref": "#/components/schemas/PoolDefinition"}
    assert "Roles: `caseworker`" in doc["paths"]["/pools"]["post"]["description"]
    doc = _document(payments)
    budget = doc["paths"]["/grants/{application_id}/revised-budgets"]["post"]["requestBody"]
    model = _resolve(doc, budget["content"]["application/json"]["schema"])
    assert model["required"] == ["months"] and model["additionalProperties"] is False


def _strings(doc: dict[str, Any], node: Any, seen: set[str]) -> list[dict[str, Any]]:
    if isinstance(node, list):
        return [s for item in node for s in _strings(doc, item, seen)]
    if not isinstance(node, dict):
        return []
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[1]
        if name in seen:
            return []
        seen.add(name)
        return _strings(doc, doc["components"]["schemas"][name], seen)
    found = [node] if node.get("type") == "string" else []
    if isinstance(node.get("additionalProperties"), dict):
        found.append({"type": "string", **node.get("propertyNames", {})})
    return found + [s for k, v in node.items() if k != "propertyNames"
                    for s in _strings(doc, v, seen)]


def test_every_text_of_a_request_body_states_the_edge_text_rule(doc: dict[str, Any]) -> None:
    """The request guard refuses a control character in any string or key of a JSON body; the
    schema says so (a pattern), unless it states a stricter rule (a format, an enum)."""
    for path, method, op in _operations(doc):
        for content in op.get("requestBody", {}).get("content", {}).values():
            for string in _strings(doc, content["schema"], set()):
                assert {"pattern", "format", "enum", "const"} & set(string), (
                    f"{method} {path}: a string without the edge's rule: {string}")


def test_no_map_lets_keys_outside_its_rule_through(doc: dict[str, Any]) -> None:
    """A dict keyed by a text kind must use ``contracts.bounds.text_keyed``: pydantic writes a
    key pattern as ``patternProperties``, under which any other key is allowed."""
    assert "patternProperties" not in json.dumps(doc)


def _reachable(doc: dict[str, Any]) -> set[str]:
    """The component schemas the document's operations refer to, directly or through others."""
    found: set[str] = set()
    todo = [doc["paths"]]
    while todo:
        node = todo.pop()
        if isinstance(node, list):
            todo += node
        elif isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
                name = ref.rsplit("/", 1)[1]
                if name not in found:
                    found.add(name)
                    todo.append(doc["components"]["schemas"][name])
            todo += node.values()
    return found


def test_every_schema_listed_is_one_the_services_routes_use(doc: dict[str, Any]) -> None:
    """This module builds all four apps in one process: a raw body's model (``raw_body``) of one
    service must not show up in another's document (it once did, from a global registry)."""
    assert set(doc["components"]["schemas"]) == _reachable(doc)


def test_two_apps_in_one_process_each_list_only_their_own_raw_body_models() -> None:
    _, payments_app = payments()
    _, assessment_app = assessment()
    payments_doc, assessment_doc = payments_app.openapi(), assessment_app.openapi()
    assert {"PoolDefinition", "Organisation"} <= set(assessment_doc["components"]["schemas"])
    assert "RevisedBudgetBody" not in assessment_doc["components"]["schemas"]
    assert "RevisedBudgetBody" in payments_doc["components"]["schemas"]
    assert not {"PoolDefinition", "Organisation"} & set(payments_doc["components"]["schemas"])
