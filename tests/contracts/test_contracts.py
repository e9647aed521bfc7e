"""Contract suite: every event has a schema and kept examples; every kept example stays valid."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from pydantic import ValidationError

from contracts import export
from contracts.base import BudgetLine
from contracts.envelope import Envelope
from contracts.registry import EVENTS, UnknownEventType, decode, encode

EXAMPLE_FILES = export.kept_examples()
EVENT_EXAMPLES = [p for p in EXAMPLE_FILES if p.parent.parent.name in EVENTS]
COMMAND_EXAMPLES = [p for p in EXAMPLE_FILES if p.parent.parent.name in export.COMMANDS]


def example(name: str, label: str = "typical", version: int = 1) -> Path:
    return export.EXAMPLES / name / f"v{version}" / f"{label}.json"


def test_every_event_has_a_committed_schema_and_example() -> None:
    for spec in EVENTS.values():
        name = f"{spec.event_type}.v{spec.schema_version}.json"
        assert (export.SCHEMAS / name).exists(), f"no schema for {spec.event_type}"
        assert example(spec.event_type, version=spec.schema_version).exists(), spec.event_type


def test_committed_schemas_are_up_to_date() -> None:
    assert export.main(["--check"]) == 0, "run: python -m contracts.export"


def _example_id(path: Path) -> str:
    return "/".join(path.parts[-3:])


@pytest.mark.parametrize("path", EVENT_EXAMPLES, ids=_example_id)
def test_every_kept_example_still_validates(path: Path) -> None:
    """A schema change that rejects an older example is breaking: it needs a new topic version.

    The examples are add-only (export never rewrites one), so this checks messages written by
    earlier versions of the contracts, by today's models and today's exported schemas.
    """
    raw = path.read_bytes()
    envelope = decode(raw)
    assert decode(encode(envelope)) == envelope
    jsonschema.validate(json.loads(raw), json.loads(export.schema_for_example(path).read_text()))


@pytest.mark.parametrize("path", COMMAND_EXAMPLES, ids=_example_id)
def test_every_kept_command_example_still_validates(path: Path) -> None:
    model = export.COMMANDS[path.parent.parent.name]
    model.model_validate_json(path.read_text())
    jsonschema.validate(json.loads(path.read_text()),
                        json.loads(export.schema_for_example(path).read_text()))


def test_versions_keep_several_examples_including_edge_cases() -> None:
    for name, label in [("ApplicationReceived", "minimal"), ("ApplicationReceived", "late-unicode"),
                        ("SubmissionInvalid", "several-reasons"),
                        ("ItProblemExceptionRequested", "refused")]:
        assert example(name, label).exists(), f"{name}/{label}"
    per_version: dict[Path, int] = {}
    for path in EVENT_EXAMPLES:
        per_version[path.parent] = per_version.get(path.parent, 0) + 1
    assert sum(n >= 2 for n in per_version.values()) >= len(EVENTS) // 2


def test_export_adds_an_example_beside_a_kept_one_and_never_rewrites_it(tmp_path: Path) -> None:
    kept = tmp_path / "typical.json"
    kept.write_text('{"a": 1}\n')
    assert export._unkept(tmp_path, "typical", {"a": 1}) is None
    added = export._unkept(tmp_path, "typical", {"a": 1, "b": 2})
    assert added is not None and added != kept and added.name.startswith("typical-")
    assert export._unkept(tmp_path, "edge", {"a": 2}) == tmp_path / "edge.json"


def test_unknown_event_type_and_version_are_refused() -> None:
    data = json.loads(EVENT_EXAMPLES[0].read_text())
    with pytest.raises(UnknownEventType):
        decode({**data, "event_type": "NoSuchEvent"})
    with pytest.raises(UnknownEventType):
        decode({**data, "schema_version": 99})


def test_extra_fields_and_naive_times_are_refused() -> None:
    data = json.loads(example("GrantAwarded").read_text())
    with pytest.raises(ValidationError):
        decode({**data, "payload": {**data["payload"], "surprise": 1}})
    with pytest.raises(ValidationError):
        decode({**data, "occurred_at": "2022-09-28T09:15:00"})


def test_money_is_non_negative_integer_oere() -> None:
    for bad in (-1, 1.5, "100"):
        with pytest.raises(ValidationError):
            BudgetLine(post="x", category="other", amount_oere=bad)


def test_instants_are_normalised_to_utc() -> None:
    data = json.loads(example("ApplicationAccepted").read_text())
    event = decode({**data, "occurred_at": "2022-09-28T12:00:00+02:00"})
    assert event.occurred_at.isoformat() == "2022-09-28T10:00:00+00:00"


def test_envelope_event_type_is_pinned_per_class() -> None:
    data = json.loads(example("GrantAwarded").read_text())
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
