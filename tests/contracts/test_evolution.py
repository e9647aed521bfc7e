"""Contract evolution: today's schemas accept everything the last released schemas accepted.

The checker is tested on small schemas for each kind of break (and each compatible change), and
on a real contract edited the way a careless change would edit it; then the committed schemas are
compared with the committed snapshot of the last release.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from contracts import evolution, export
from contracts.evolution import breaking_changes


def obj(props: dict[str, Any], required: tuple[str, ...] = (), extra: Any = False) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": list(required),
            "additionalProperties": extra}


STR = {"type": "string"}
OPT_STR = {"anyOf": [STR, {"type": "null"}], "default": None}
BASE = obj({"id": STR, "note": OPT_STR, "kind": {"enum": ["a", "b"], "type": "string"},
            "n": {"type": "integer", "minimum": 0}, "tags": {"type": "array", "items": STR},
            "months": {"type": "object", "additionalProperties": {"type": "integer"}}},
           required=("id", "kind"))


def edited(**props: Any) -> dict[str, Any]:
    new = copy.deepcopy(BASE)
    for name, schema in props.items():
        if schema is None:
            del new["properties"][name]
        else:
            new["properties"][name] = schema
    return new


def kinds(new: dict[str, Any], old: dict[str, Any] = BASE) -> list[tuple[str, str]]:
    return [(b.path, b.kind) for b in breaking_changes(old, new)]


def test_an_unchanged_schema_has_no_breaks() -> None:
    assert kinds(copy.deepcopy(BASE)) == []


@pytest.mark.parametrize("new", [
    edited(extra_field=OPT_STR),                                   # optional property added
    edited(kind={"enum": ["a", "b", "c"], "type": "string"}),      # enum value added
    edited(n={"type": "integer"}),                                 # bound removed
    edited(n={"type": "number", "minimum": 0}),                    # integer -> number
    edited(id={"anyOf": [STR, {"type": "null"}]}),                 # made nullable
    edited(note={"description": "anything"}),                      # any value
    edited(tags={"type": "array", "items": {"anyOf": [STR, {"type": "integer"}]}}),
], ids=["optional-added", "enum-added", "bound-removed", "int-to-number", "nullable",
        "unconstrained", "items-widened"])
def test_widening_changes_are_compatible(new: dict[str, Any]) -> None:
    assert kinds(new) == []


@pytest.mark.parametrize(("new", "expected"), [
    (edited(note=None), [("note", "property_removed")]),
    ({**BASE, "required": ["id", "kind", "note"]}, [("note", "required_added")]),
    ({**edited(extra=STR), "required": ["id", "kind", "extra"]}, [("extra", "required_added")]),
    (edited(n={"type": "string"}), [("n", "type_narrowed")]),
    (edited(note=STR), [("note", "type_narrowed")]),
    (edited(kind={"enum": ["a"], "type": "string"}), [("kind", "enum_value_removed")]),
    (edited(kind={"const": "b", "type": "string"}), [("kind", "enum_value_removed")]),
    (edited(id={"type": "string", "maxLength": 80}), [("id", "constraint_tightened")]),
    (edited(n={"type": "integer", "minimum": 1}), [("n", "constraint_tightened")]),
    (edited(id={"type": "string", "pattern": "^[0-9]+$"}), [("id", "constraint_tightened")]),
    (edited(tags={"type": "array", "items": {"type": "integer"}}), [("tags[]", "type_narrowed")]),
    (edited(months={"type": "object", "additionalProperties": False}),
     [("months.*", "additional_properties_narrowed")]),
    (edited(months={"type": "object", "additionalProperties": {"type": "string"}}),
     [("months.*", "additional_properties_narrowed")]),
], ids=["property-removed", "optional-made-required", "new-required", "type-changed",
        "null-dropped", "enum-value-removed", "enum-to-const", "maxlength-added",
        "minimum-raised", "pattern-added", "items-narrowed", "map-closed", "map-values-narrowed"])
def test_narrowing_changes_are_reported(new: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    assert kinds(new) == expected


def test_a_looser_maxlength_is_compatible_and_a_smaller_one_is_not() -> None:
    old = edited(id={"type": "string", "maxLength": 80})
    assert kinds(edited(id={"type": "string", "maxLength": 200}), old) == []
    assert kinds(edited(id={"type": "string", "maxLength": 79}), old) == [
        ("id", "constraint_tightened")]


def real(name: str) -> dict[str, Any]:
    return json.loads((export.SCHEMAS / name).read_text())


def test_a_real_contract_edited_carelessly_is_caught_through_refs() -> None:
    old = real("ApplicationReceived.v1.json")
    new = copy.deepcopy(old)
    applicant = new["$defs"]["Applicant"]
    del applicant["properties"]["name"]                                   # removed
    new["$defs"]["ApplicationReceived"]["required"].append("description")  # now required
    new["$defs"]["ApplicationReceived"]["properties"]["timeliness"]["enum"] = ["on_time"]
    found = {(b.path, b.kind) for b in breaking_changes(old, new)}
    assert found == {("payload.applicant.name", "property_removed"),
                     ("payload.description", "required_added"),
                     ("payload.timeliness", "enum_value_removed")}


def test_a_removed_schema_is_a_break(tmp_path: Path) -> None:
    release, today = tmp_path / "0.1.0", tmp_path / "schemas"
    release.mkdir()
    today.mkdir()
    (release / "Gone.v1.json").write_text(json.dumps(BASE))
    (release / "Kept.v1.json").write_text(json.dumps(BASE))
    (today / "Kept.v1.json").write_text(json.dumps(edited(n=None)))
    found = evolution.compare_with_release(release, today)
    assert {name: [b.kind for b in breaks] for name, breaks in found.items()} == {
        "Gone.v1.json": ["schema_removed"], "Kept.v1.json": ["property_removed"]}


def test_the_newest_release_is_the_baseline(tmp_path: Path) -> None:
    for version in ("0.9.0", "0.10.0", "0.2.1"):
        (tmp_path / version).mkdir()
    assert evolution.last_release(tmp_path) == tmp_path / "0.10.0"


def test_todays_schemas_are_compatible_with_the_last_release() -> None:
    """Fails on any breaking change against contracts/released/<newest>.

    A breaking change needs a new topic version (README, "Changing a contract"); a deliberate
    tightening of an input is accepted with ``python -m contracts.evolution snapshot``.
    """
    release = evolution.last_release()
    assert release is not None, "no snapshot: python -m contracts.evolution snapshot"
    found = evolution.compare_with_release(release)
    assert not found, "\n".join(f"{name}: {b}" for name, breaks in found.items() for b in breaks)
