"""Contract suite: every event has a schema and an example; old examples stay valid."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from pydantic import ValidationError

from contracts import export
from contracts.base import BudgetLine
from contracts.envelope import Envelope
from contracts.intake import PortalSubmission
from contracts.registry import EVENTS, UnknownEventType, decode, encode

EXAMPLE_FILES = sorted(export.EXAMPLES.glob("*.json"))
EVENT_EXAMPLES = [p for p in EXAMPLE_FILES if ".command." not in p.name]


def test_every_event_has_a_committed_schema_and_example() -> None:
    for spec in EVENTS.values():
        name = f"{spec.event_type}.v{spec.schema_version}.json"
        assert (export.SCHEMAS / name).exists(), f"no schema for {spec.event_type}"
        assert (export.EXAMPLES / name).exists(), f"no example for {spec.event_type}"


def test_committed_schemas_are_up_to_date() -> None:
    assert export.main(["--check"]) == 0, "run: python -m contracts.export"


@pytest.mark.parametrize("path", EVENT_EXAMPLES, ids=lambda p: p.name)
def test_every_kept_example_still_validates(path: Path) -> None:
    """A schema change that rejects an older example is breaking: it needs a new topic version."""
    raw = path.read_bytes()
    envelope = decode(raw)
    assert decode(encode(envelope)) == envelope
    schema = json.loads((export.SCHEMAS / path.name).read_text())
    jsonschema.validate(json.loads(raw), schema)


def test_command_example_validates() -> None:
    raw = (export.EXAMPLES / "PortalSubmission.command.v1.json").read_text()
    PortalSubmission.model_validate_json(raw)


def test_unknown_event_type_and_version_are_refused() -> None:
    data = json.loads(EVENT_EXAMPLES[0].read_text())
    with pytest.raises(UnknownEventType):
        decode({**data, "event_type": "NoSuchEvent"})
    with pytest.raises(UnknownEventType):
        decode({**data, "schema_version": 99})


def test_extra_fields_and_naive_times_are_refused() -> None:
    data = json.loads((export.EXAMPLES / "GrantAwarded.v1.json").read_text())
    with pytest.raises(ValidationError):
        decode({**data, "payload": {**data["payload"], "surprise": 1}})
    with pytest.raises(ValidationError):
        decode({**data, "occurred_at": "2022-09-28T09:15:00"})


def test_money_is_non_negative_integer_oere() -> None:
    for bad in (-1, 1.5, "100"):
        with pytest.raises(ValidationError):
            BudgetLine(post="x", category="other", amount_oere=bad)


def test_instants_are_normalised_to_utc() -> None:
    data = json.loads((export.EXAMPLES / "ApplicationAccepted.v1.json").read_text())
    event = decode({**data, "occurred_at": "2022-09-28T12:00:00+02:00"})
    assert event.occurred_at.isoformat() == "2022-09-28T10:00:00+00:00"


def test_envelope_event_type_is_pinned_per_class() -> None:
    data = json.loads((export.EXAMPLES / "GrantAwarded.v1.json").read_text())
    with pytest.raises(ValidationError):
        EVENTS["ApplicationAccepted"].envelope.model_validate(data)
    assert issubclass(EVENTS["GrantAwarded"].envelope, Envelope)


def test_a_signed_checkpoint_matches_its_exported_schema() -> None:
    """What a relay publishes on an audit topic is what contracts/schemas describes."""
    from tests.unit.audit.logs import Service, signer

    intake = Service("intake", signer("intake"))
    intake.emit("grants.intake.applications.v1", "app-1")
    record = intake.checkpoint()
    schema = json.loads((export.SCHEMAS / "SignedCheckpoint.message.v1.json").read_text())
    jsonschema.validate(json.loads(record.value), schema)
