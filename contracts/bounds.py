"""The bounds every input lives within, declared once for contracts, HTTP bodies and consumers.

Why: an unbounded field is a way to stall or poison the platform (a 2,000,000-character report
that no broker takes, a budget of 10^30 øre that overflows PostgreSQL's ``bigint``, a NUL that no
JSONB column can hold). Every free-text field is one of the two text kinds below, every list has
a maximum length, and every amount is at most :data:`MAX_AMOUNT_OERE`.

Refusals carry stable codes (listed in the README): ``field_too_long``, ``amount_too_large`` and
``text_control_character``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, Field, StrictInt
from pydantic.json_schema import JsonDict
from pydantic_core import PydanticCustomError

MAX_AMOUNT_OERE = 10**15
"""Ceiling of every amount in øre: 10 billion DKK, far above any grant (the 2022 family-house
pool is 126 M DKK), far below 2^63 (a PostgreSQL ``bigint``), so sums of many amounts stay exact
in every store."""

MAX_QUANTITY = 10**9
"""Ceiling of a budget line's quantity (hours, items)."""

SHORT_TEXT = 200
"""Names, posts, ids chosen by people: single line."""

LONG_TEXT = 20_000
"""Descriptions, plans, justifications, report texts: multi-line."""

MAX_LIST = 1_000
"""Budget lines, evidence references, accounts posts and other lists in a contract."""

MAX_HTTP_BODY_BYTES = 1024 * 1024
"""Default request body limit of every HTTP route (``GRANTS_HTTP_MAX_BODY_BYTES``)."""

MAX_JSON_DEPTH = 64
"""Deepest JSON nesting an HTTP body may have (contracts nest at most ~6 levels)."""

# C0 and C1 control characters and DEL; tab, newline and carriage return are allowed in
# multi-line text only. Lone surrogates cannot be encoded as UTF-8 and are refused too.
_CONTROL_MULTI_LINE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_CONTROL_SINGLE_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")

TEXT_CONTROL_CHARACTER = "text_control_character"
AMOUNT_TOO_LARGE = "amount_too_large"


def has_control_character(text: str, *, multi_line: bool = True) -> bool:
    pattern = _CONTROL_MULTI_LINE if multi_line else _CONTROL_SINGLE_LINE
    return pattern.search(text) is not None


def _single_line(value: str) -> str:
    if _CONTROL_SINGLE_LINE.search(value):
        raise PydanticCustomError(TEXT_CONTROL_CHARACTER,
                                  "control characters (also tab and newline) are not allowed")
    return value


def _multi_line(value: str) -> str:
    if _CONTROL_MULTI_LINE.search(value):
        raise PydanticCustomError(TEXT_CONTROL_CHARACTER,
                                  "control characters other than tab and newline are not allowed")
    return value


# The same rules as JSON Schema patterns (ECMA-262 escapes), so that a schema states what the
# validators refuse: a client generated from it, or schemathesis, never sends a refused text.
# Only in the JSON Schema (``json_schema_extra``): the validators above stay the check.
SINGLE_LINE_PATTERN = r"^[^\u0000-\u001f\u007f-\u009f]*$"
MULTI_LINE_PATTERN = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*$"


def single_line(max_length: int = SHORT_TEXT, min_length: int = 0) -> Any:
    """A one-line text of at most ``max_length`` characters, no control characters."""
    return Annotated[str, Field(min_length=min_length, max_length=max_length,
                                json_schema_extra={"pattern": SINGLE_LINE_PATTERN}),
                     AfterValidator(_single_line)]


def multi_line(max_length: int = LONG_TEXT, min_length: int = 0) -> Any:
    """A text of at most ``max_length`` characters; tab and newline allowed, no other control
    characters."""
    return Annotated[str, Field(min_length=min_length, max_length=max_length,
                                json_schema_extra={"pattern": MULTI_LINE_PATTERN}),
                     AfterValidator(_multi_line)]


def text_keyed(value: Any, max_length: int = SHORT_TEXT, max_items: int = MAX_LIST) -> Any:
    """A map from one-line texts (at most ``max_length`` characters) to ``value``, at most
    ``max_items`` entries. The key's rule is stated in ``propertyNames``: a key schema with a
    pattern would make pydantic write ``patternProperties``, which lets any other key through."""
    key = Annotated[str, Field(min_length=0, max_length=max_length),
                    AfterValidator(_single_line)]
    names: JsonDict = {"maxLength": max_length, "pattern": SINGLE_LINE_PATTERN}
    return Annotated[dict[key, value],
                     Field(max_length=max_items, json_schema_extra={"propertyNames": names})]


def _within_ceiling(value: int) -> int:
    if abs(value) > MAX_AMOUNT_OERE:
        raise PydanticCustomError(AMOUNT_TOO_LARGE,
                                  "an amount is at most 10^15 øre (also below zero)")
    return value


SignedAmount = Annotated[StrictInt, AfterValidator(_within_ceiling)]
"""A raw amount in øre a request may carry negative on purpose (a domain rule names the negative
one), within the ceiling on both sides, so what the domain accepts fits the contracts."""


def control_character_path(value: Any, path: tuple[str | int, ...] = (),
                           depth: int = 0) -> tuple[str | int, ...] | None:
    """The path of the first string (key or value) in decoded JSON that holds a control
    character other than tab/newline/CR, or None. Used at the HTTP edge for every body."""
    if isinstance(value, str):
        return path if _CONTROL_MULTI_LINE.search(value) else None
    if depth > MAX_JSON_DEPTH:
        return None  # the depth check refuses it
    if isinstance(value, dict):
        for key, item in value.items():
            if _CONTROL_MULTI_LINE.search(key):
                return (*path, "(key)")
            found = control_character_path(item, (*path, key), depth + 1)
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = control_character_path(item, (*path, index), depth + 1)
            if found is not None:
                return found
    return None


def json_depth_exceeds(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether decoded JSON nests deeper than ``limit`` (iterative: never a RecursionError)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return False
