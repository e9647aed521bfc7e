"""A valid instance of a JSON Schema, built from the schema alone: what a client generator does
with an AsyncAPI or OpenAPI document (issue 19, done-when). Every required property, the first
alternative of an ``anyOf``/``oneOf``, the first ``enum`` value, strings of the least allowed
length (a ``pattern``'s shortest match, a ``format``'s canonical form), numbers at their minimum.
``$ref`` is resolved against ``root`` (the whole document). Optional properties are left out.

(hypothesis-jsonschema, the usual tool, does not run on this Hypothesis release.)
"""

from __future__ import annotations

import uuid
from typing import Any

from hypothesis import find
from hypothesis import strategies as st

_FORMATS = {"uuid": lambda: str(uuid.uuid4()), "date-time": lambda: "2025-01-01T00:00:00Z",
            "date": lambda: "2025-01-01", "email": lambda: "a@example.org",
            "uri": lambda: "https://example.org/"}


def _resolve(ref: str, root: dict[str, Any]) -> dict[str, Any]:
    assert ref.startswith("#/"), f"only local references: {ref}"
    node: Any = root
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node  # type: ignore[no-any-return]


def instance(schema: dict[str, Any], root: dict[str, Any]) -> Any:
    if "$ref" in schema:
        return instance(_resolve(schema["$ref"], root), root)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return instance(schema[key][0], root)
    if "allOf" in schema:
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            merged.update(instance(part, root))
        return merged
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next(k for k in kind if k != "null")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        return {name: instance(props.get(name, {"type": "string"}), root)
                for name in schema.get("required", [])}
    if kind == "array":
        return [instance(schema.get("items", {"type": "string"}), root)
                for _ in range(schema.get("minItems", 0))]
    if kind == "integer":
        return int(schema.get("minimum", 0))
    if kind == "number":
        return float(schema.get("minimum", 0))
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    return _string(schema)


def _string(schema: dict[str, Any]) -> str:
    if schema.get("format") in _FORMATS:
        return _FORMATS[schema["format"]]()
    if "pattern" in schema:
        text: str = find(st.from_regex(schema["pattern"], fullmatch=True),
                         lambda s: len(s) >= schema.get("minLength", 0))
        return text
    return "x" * max(1, schema.get("minLength", 0))
