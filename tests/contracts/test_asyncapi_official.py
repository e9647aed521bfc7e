"""The exported AsyncAPI documents (docs/asyncapi/*.json) against the official AsyncAPI 3.0.0
JSON Schema, as the AsyncAPI Initiative publishes it (npm `@asyncapi/specs`, fetched and
sha512-checked by scripts/asyncapi-schema.sh, which scripts/test.sh runs). Issue 19, item 1."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / ".venv" / "share" / "asyncapi-specs" / "6.11.1" / "schemas" / "3.0.0.json"
DOCUMENTS = sorted((ROOT / "docs" / "asyncapi").glob("*.json"))


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    if not SPECS.is_file():
        pytest.skip("the official AsyncAPI schema was not fetched (offline?): "
                    "run bash scripts/asyncapi-schema.sh")
    schema = json.loads(SPECS.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema)


def _errors(validator: jsonschema.protocols.Validator, doc: dict[str, Any]) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}"
            for e in validator.iter_errors(doc)]


def test_there_is_a_document_per_service_and_one_for_the_platform() -> None:
    assert {p.stem for p in DOCUMENTS} == {
        "platform", "intake", "assessment", "payments", "reporting"}


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.stem)
def test_each_exported_document_is_valid_asyncapi_3(
        validator: jsonschema.protocols.Validator, path: Path) -> None:
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["asyncapi"] == "3.0.0"
    assert _errors(validator, doc) == []


def test_the_official_schema_refuses_a_broken_document(
        validator: jsonschema.protocols.Validator) -> None:
    """So the check above can fail: a channel whose messages is a list, and an operation
    without its action, are refused."""
    doc = json.loads((ROOT / "docs" / "asyncapi" / "intake.json").read_text(encoding="utf-8"))
    broken = copy.deepcopy(doc)
    channel = next(iter(broken["channels"].values()))
    channel["messages"] = ["not a map"]
    assert _errors(validator, broken)
    broken = copy.deepcopy(doc)
    operation = next(iter(broken["operations"].values()))
    del operation["action"]
    assert _errors(validator, broken)
