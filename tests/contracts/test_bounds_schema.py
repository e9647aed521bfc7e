"""The JSON Schema of a text kind states exactly what its validator refuses (contracts.bounds), so
a client generated from a schema (or schemathesis) never sends a text the service refuses."""

from __future__ import annotations

import re

import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError

from contracts.bounds import (
    MULTI_LINE_PATTERN, SINGLE_LINE_PATTERN, has_control_character, multi_line, single_line,
    text_keyed,
)

# Every C0 and C1 control character, DEL, and their printable neighbours.
CHARACTERS = [chr(c) for c in range(0x00, 0xA2)]


@pytest.mark.parametrize(("pattern", "multi"), [(SINGLE_LINE_PATTERN, False),
                                                (MULTI_LINE_PATTERN, True)])
def test_pattern_refuses_what_the_validator_refuses(pattern: str, multi: bool) -> None:
    kind = TypeAdapter(multi_line() if multi else single_line())
    assert kind.json_schema()["pattern"] == pattern
    for ch in CHARACTERS:
        text = f"a{ch}b"
        refused_by_schema = re.fullmatch(pattern, text) is None
        assert refused_by_schema == has_control_character(text, multi_line=multi), hex(ord(ch))
        try:
            kind.validate_python(text)
            refused = False
        except ValidationError:
            refused = True
        assert refused == refused_by_schema, hex(ord(ch))


def test_a_text_keyed_map_states_its_key_rule_in_property_names() -> None:
    class Accounts(BaseModel):
        posts: text_keyed(int, 20)

    schema = Accounts.model_json_schema()["properties"]["posts"]
    assert schema["propertyNames"] == {"maxLength": 20, "pattern": SINGLE_LINE_PATTERN}
    assert "patternProperties" not in schema and schema["additionalProperties"] == {
        "type": "integer"}
    with pytest.raises(ValidationError):
        Accounts(posts={"rent\x00": 1})
    with pytest.raises(ValidationError):
        Accounts(posts={"x" * 21: 1})
    assert Accounts(posts={"rent": 1}).posts == {"rent": 1}
