"""What a portal developer can do with the exported documents alone (issue 19, done-when): a
message for ``grants.portal.submissions.v1`` and a ``POST /submissions`` request built from the
AsyncAPI and OpenAPI schemas (tests/infra/schema_instances.py, never a copied example) are
accepted by the running intake service (ApplicationReceived / receipt ``on_time``), never
dead-lettered.

The schemas give the shape; what only the portal knows is filled in by the portal: its user's
token, the pool it applies to, the applicant's CVR and municipality (the register's facts) and
the applicant's budget figures.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import jsonschema
import pytest

from contracts import asyncapi
from contracts import topics as t
from tests.infra.schema_instances import instance
from tests.integration.intake.conftest import CVR, DEADLINE, Intake, types

pytestmark = pytest.mark.integration
BEFORE = DEADLINE.replace(day=20)


def _portal_message(doc: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The portal channel's message: (payload schema, payload built from it, headers schema)."""
    [channel] = [c for c in doc["channels"].values()
                 if c["address"] == t.PORTAL_SUBMISSIONS.name]
    [ref] = channel["messages"].values()
    message = doc["components"]["messages"][ref["$ref"].rsplit("/", 1)[1]]
    schema = {"$ref": message["payload"]["$ref"], "components": doc["components"]}
    assert message["bindings"]["kafka"]["key"]["type"] == "string"
    return schema, instance(message["payload"], doc), message["headers"]


def _portal_facts(submission: dict[str, Any], intake: Intake, doc: dict[str, Any]) -> None:
    """What the applicant enters and the portal knows: the pool, the applicant's CVR and
    municipality, and a budget with one line (the line built from its schema; the schema lets
    ``lines`` be empty, the rules refuse that as ``budget_empty``)."""
    submission["pool_id"] = intake.pool_id
    submission["applicant"].update(cvr=CVR, municipality_code="751")
    line = instance(doc["components"]["schemas"]["BudgetLine"], doc)
    amount = 10_000_000
    line.update(category="other", amount_oere=amount)
    submission["budget"] = {"lines": [line], "total_oere": amount}


async def test_a_portal_message_built_from_the_asyncapi_document_is_accepted(
        intake: Intake) -> None:
    doc = json.loads((asyncapi.OUT / "intake.json").read_text())  # the exported document
    schema, message, headers_schema = _portal_message(doc)
    message["token"] = intake.token()
    _portal_facts(message["submission"], intake, doc)
    jsonschema.validate(message, schema)  # still what the document describes
    correlation = f"generated-{uuid.uuid4()}"
    headers = {"correlation_id": correlation,
               "x-grants-simulated-time": BEFORE.isoformat()}
    jsonschema.validate(headers, headers_schema)
    dead_before = intake.portal_consumer.dead_lettered
    where = await intake.feed.produce(
        t.PORTAL_SUBMISSIONS.name, message["submission"]["submission_id"],
        json.dumps(message).encode(), headers=[(k, v.encode()) for k, v in headers.items()])
    await intake.processed(where)
    events = await intake.outbox(correlation=correlation)
    assert types(events)[:1] == ["ApplicationReceived"], json.dumps(events[0]["payload"])
    assert events[0]["payload"]["submission_id"] == message["submission"]["submission_id"]
    assert intake.portal_consumer.dead_lettered == dead_before


async def test_a_request_built_from_the_openapi_document_is_accepted(intake: Intake) -> None:
    doc = (await intake.client.get("/openapi.json")).json()
    operation = doc["paths"]["/submissions"]["post"]
    assert operation["security"], "the document says how to authenticate"
    body_schema = operation["requestBody"]["content"]["application/json"]["schema"]
    body = instance(body_schema, doc)
    _portal_facts(body, intake, doc)
    jsonschema.validate(body, {**body_schema, "components": doc["components"]})
    response = await intake.post(body, BEFORE, token=intake.token())
    assert response.status_code in {int(s) for s in operation["responses"] if s.startswith("2")}
    assert response.json()["status"] == "on_time", response.text
