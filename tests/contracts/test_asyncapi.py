"""AsyncAPI 3.0 from contracts/ (issue 19, item 1): complete against the topic registry and the
services' real subscriptions, the same schemas as contracts/schemas, served by every service."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import jsonschema
import pytest
from fastapi import FastAPI

from contracts import asyncapi, export
from contracts import topics as t
from contracts.intake import PortalSubmission
from contracts.registry import EVENTS
from services.assessment.app import build as assessment
from services.intake.app import build as intake
from services.payments.app import build as payments
from services.reporting.app import build as reporting

BUILDS: dict[str, Callable[[], tuple[Any, FastAPI]]] = {
    "intake": intake, "assessment": assessment, "payments": payments, "reporting": reporting}


def test_the_exported_documents_are_up_to_date() -> None:
    assert asyncapi.main(["--check"]) == 0, "run: python -m contracts.asyncapi"


def _by_address(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["address"]: c for c in doc["channels"].values()}


def test_every_topic_and_event_type_is_in_the_platform_document() -> None:
    doc = asyncapi.document()
    assert doc["asyncapi"] == "3.0.0"
    channels = _by_address(doc)
    assert set(channels) == {tp.name for tp in t.ALL_TOPICS}
    for spec in EVENTS.values():
        assert spec.event_type in channels[spec.topic.name]["messages"], spec.event_type
    assert "PortalSubmission" in channels[t.PORTAL_SUBMISSIONS.name]["messages"]
    sends = {op["channel"]["$ref"] for op in doc["operations"].values() if op["action"] == "send"}
    assert len(sends) == len(channels), "a topic without a producer"
    finance = [op for name, op in doc["operations"].items() if name.startswith("finance_")]
    assert {op["action"] for op in finance} == {"send", "receive"}


@pytest.mark.parametrize("service", sorted(BUILDS))
def test_each_service_document_matches_its_real_subscriptions(service: str) -> None:
    runtime, _ = BUILDS[service]()
    subscribed = {topic for c in runtime.consumers for topic in c.topics}
    declared = {topic for topic, readers in asyncapi.CONSUMERS.items() if service in readers}
    assert subscribed == declared, "contracts.asyncapi.CONSUMERS is out of date"
    doc = asyncapi.document(service)
    channels = {key: c["address"] for key, c in doc["channels"].items()}
    received = {channels[op["channel"]["$ref"].rsplit("/", 1)[1]]
                for op in doc["operations"].values() if op["action"] == "receive"}
    sent = {channels[op["channel"]["$ref"].rsplit("/", 1)[1]]
            for op in doc["operations"].values() if op["action"] == "send"}
    assert received == subscribed
    assert sent == {tp.name for tp in t.ALL_TOPICS if t.emitting_service(tp.name) == service}


def _payload_schema(doc: dict[str, Any], message: str) -> dict[str, Any]:
    ref = doc["components"]["messages"][message]["payload"]["$ref"]
    return {"$ref": ref, "components": doc["components"]}


def test_every_kept_example_validates_against_its_asyncapi_schema() -> None:
    doc = asyncapi.document()
    for path in export.kept_examples():
        name = path.parent.parent.name
        if name not in doc["components"]["messages"]:
            continue
        jsonschema.validate(json.loads(path.read_text()), _payload_schema(doc, name))


def test_a_portal_message_built_from_the_asyncapi_schema_is_accepted() -> None:
    """What a portal developer does with the document alone: read the channel's message schema,
    build a message, check it; intake's model accepts what the schema accepts."""
    doc = json.loads((asyncapi.OUT / "intake.json").read_text())
    channel = _by_address(doc)[t.PORTAL_SUBMISSIONS.name]
    [name] = channel["messages"]
    schema = _payload_schema(doc, name)
    message = json.loads((export.EXAMPLES / "PortalSubmission" / "v1" / "typical.json").read_text())
    jsonschema.validate(message, schema)
    PortalSubmission.model_validate_json(json.dumps(message))
    broken = {**message, "surprise": 1}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


async def test_every_service_serves_its_document() -> None:
    _, app = intake()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://svc") as client:
        for path in ("/asyncapi", "/asyncapi.json"):
            served = (await client.get(path)).json()
            assert served == asyncapi.document("intake")
