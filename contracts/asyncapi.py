"""AsyncAPI 3.0 documents generated from contracts/: one per service and one for the platform.

Every channel is a topic of ``contracts.topics``; its messages are the event types the registry
places on it (the portal topic: ``PortalSubmission``; the audit topics: ``SignedCheckpoint``),
each with the same JSON Schema as ``contracts/schemas`` (definitions under
``components/schemas``), its key, headers and Kafka bindings. Who sends: the topic's own service
(its outbox relay), or the outside system of an inbound topic; who receives: :data:`CONSUMERS`
(checked against each service's real subscriptions in ``tests/contracts/test_asyncapi.py``).

    python -m contracts.asyncapi           # write docs/asyncapi/<service>.json and platform.json
    python -m contracts.asyncapi --check   # exit 1 if they are stale
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from contracts import topics as t
from contracts.audit import SignedCheckpoint
from contracts.intake import PortalSubmission
from contracts.registry import EVENTS

OUT = Path(__file__).resolve().parents[1] / "docs" / "asyncapi"

# Which service's consumers read which topic (the services' subscriptions; a test compares).
CONSUMERS: dict[str, tuple[str, ...]] = {
    t.PORTAL_SUBMISSIONS.name: ("intake",),
    t.INTAKE_APPLICATIONS.name: ("assessment", "reporting"),
    t.INTAKE_EXCEPTIONS.name: ("reporting",),
    t.ASSESSMENT_POOLS.name: ("intake", "reporting"),
    t.ASSESSMENT_ASSESSMENTS.name: ("reporting",),
    t.ASSESSMENT_DECISIONS.name: ("payments", "reporting"),
    t.PAYMENTS_GRANTS.name: ("assessment", "reporting"),
    t.PAYMENTS_INSTRUCTIONS.name: ("reporting",),
    t.FINANCE_RESULTS.name: ("payments", "reporting"),
    t.REPORTING_REPORTS.name: ("payments",),
}
# Outside systems: who publishes the inbound topics and reads what is for them.
EXTERNAL_SENDERS = {t.PORTAL_SUBMISSIONS.name: "portal", t.FINANCE_RESULTS.name: "finance"}
EXTERNAL_RECEIVERS = {t.INTAKE_APPLICATIONS.name: ("portal",),
                      t.PAYMENTS_INSTRUCTIONS.name: ("finance",)}

_HEADERS = {
    "type": "object",
    "properties": {
        "event_type": {"type": "string", "description": "the envelope's event_type"},
        "correlation_id": {"type": "string", "maxLength": 128},
        "audit-leaf": {"type": "string", "pattern": "^[0-9]+$",
                       "description": "index of the event's leaf in its service's Merkle tree"},
        "x-grants-simulated-time": {"type": "string", "format": "date-time",
                                    "description": "simulation mode only"},
        "traceparent": {"type": "string", "maxLength": 128,
                        "pattern": "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$",
                        "description": "W3C trace context; the consumer's span continues it "
                                       "(only when the sender traces; see docs/production.md)"},
    },
}


def sender(topic: str) -> str:
    return EXTERNAL_SENDERS.get(topic) or t.emitting_service(topic) or "unknown"


def _messages(topic: t.Topic) -> dict[str, type[BaseModel]]:
    if topic is t.PORTAL_SUBMISSIONS:
        return {"PortalSubmission": PortalSubmission}
    if topic in t.AUDIT_TOPICS:
        return {"SignedCheckpoint": SignedCheckpoint}
    return {s.event_type: s.envelope for s in EVENTS.values() if s.topic.name == topic.name}


def _key(topic: t.Topic) -> dict[str, Any]:
    if topic in t.AUDIT_TOPICS:
        return {"type": "string", "description": "the service name"}
    return {"type": "string", "description": "the aggregate id (the application id for an "
            "application's events): one key, one partition, in order"}


def document(service: str | None = None) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of ``service`` (what it sends and receives), or of the
    platform (every topic) when None."""
    selected = [tp for tp in t.ALL_TOPICS if service is None or sender(tp.name) == service
                or service in CONSUMERS.get(tp.name, ())]
    models: dict[str, type[BaseModel]] = {}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for topic in selected:
        channel_id = topic.name.replace(".", "_")
        refs = {}
        for name, model in _messages(topic).items():
            models[name] = model
            messages.setdefault(name, {
                "name": name, "title": name, "contentType": "application/json",
                "summary": (model.__doc__ or name).strip().splitlines()[0],
                "payload": model,  # replaced by its schema's $ref below
                "headers": _HEADERS,
                "bindings": {"kafka": {"key": _key(topic), "bindingVersion": "0.5.0"}},
            })
            refs[name] = {"$ref": f"#/components/messages/{name}"}
        channels[channel_id] = {
            "address": topic.name, "description": topic.description, "messages": refs,
            "bindings": {"kafka": {"topic": topic.name, "partitions": topic.partitions,
                                   "bindingVersion": "0.5.0"}},
        }
        msg_refs = [{"$ref": f"#/channels/{channel_id}/messages/{n}"} for n in refs]
        by = sender(topic.name)
        if service is None or by == service:
            operations[f"{by}_sends_{channel_id}"] = {
                "action": "send", "channel": {"$ref": f"#/channels/{channel_id}"},
                "summary": f"{by} publishes", "messages": msg_refs}
        readers = CONSUMERS.get(topic.name, ()) + (
            EXTERNAL_RECEIVERS.get(topic.name, ()) if service is None else ())
        if topic in t.AUDIT_TOPICS and service is None:
            readers = ("auditors",)
        for reader in readers:
            if service is None or reader == service:
                operations[f"{reader}_receives_{channel_id}"] = {
                    "action": "receive", "channel": {"$ref": f"#/channels/{channel_id}"},
                    "summary": f"{reader} consumes", "messages": msg_refs,
                    "bindings": {"kafka": {"groupId": {"type": "string"},
                                           "bindingVersion": "0.5.0"}}}
    refs_by_model, defs = models_json_schema([(m, "validation") for m in models.values()],
                                             ref_template="#/components/schemas/{model}")
    for message in messages.values():
        message["payload"] = refs_by_model[(message["payload"], "validation")]
    title = f"grants {service}" if service else "grants platform"
    return {
        "asyncapi": "3.0.0",
        "info": {"title": title, "version": "1",
                 "description": "Generated from contracts/ (python -m contracts.asyncapi)."},
        "defaultContentType": "application/json",
        "servers": {"kafka": {
            "host": "kafka:9093", "protocol": "kafka",
            "description": "Apache Kafka; SASL SCRAM over TLS in production (docs/production.md)",
            "security": [{"$ref": "#/components/securitySchemes/scram"}]}},
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": messages,
            "schemas": dict(sorted(defs.get("$defs", {}).items())),
            "securitySchemes": {"scram": {"type": "scramSha512",
                                          "description": "one principal per service"}},
        },
    }


def rendered() -> dict[Path, str]:
    files = {OUT / "platform.json": document()}
    for service in t.PLATFORM_SERVICES:
        files[OUT / f"{service}.json"] = document(service)
    return {p: json.dumps(d, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
            for p, d in files.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="export the AsyncAPI documents")
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    stale = [p for p, text in rendered().items() if not p.exists() or p.read_text() != text]
    if args.check:
        if stale:
            print("stale (run python -m contracts.asyncapi):", *map(str, stale), sep="\n  ")
        return 1 if stale else 0
    OUT.mkdir(parents=True, exist_ok=True)
    for path, text in rendered().items():
        path.write_text(text)
    print(f"wrote {len(rendered())} AsyncAPI documents to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
