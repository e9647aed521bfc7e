"""Turning a submission that does not parse into the contract into stable reasons (R3).

Pydantic's error types are an implementation detail and change between versions; portals need
codes they can rely on and a field path they can point at. This module is the one place that maps
one to the other.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from pydantic import ValidationError

from contracts.base import Reason
from contracts.intake import PortalSubmission, SubmitApplication

from services.intake.domain.reason_codes import reason

_INTEGER_ERRORS = frozenset({"int_type", "int_parsing", "int_from_float", "int_parsing_size"})
_NEGATIVE_ERRORS = frozenset({"greater_than_equal", "greater_than"})
_EMPTY_ERRORS = frozenset({"string_too_short", "too_short"})
_TOO_LONG_ERRORS = frozenset({"string_too_long", "too_long"})
_NOT_AN_OBJECT = frozenset({"json_invalid", "json_type", "model_type", "model_attributes_type"})
_TOO_LARGE_ERRORS = frozenset({"less_than_equal", "less_than"})
# Codes the contracts' own validators raise as pydantic error types (contracts.bounds).
_CONTRACT_CODES = frozenset({"text_control_character", "amount_too_large"})


def dotted_path(loc: Sequence[str | int]) -> str | None:
    """``('budget', 'lines', 0, 'amount_oere')`` → ``'budget.lines.0.amount_oere'``."""
    return _escaped(".".join(str(part) for part in loc)) or None


def _unsafe(ch: str) -> bool:
    return unicodedata.category(ch) in ("Cc", "Cs")


def _escaped(text: str) -> str:
    """Control characters and lone surrogates as ``\\uXXXX``: a reason echoes the client's keys
    (and pydantic sometimes the offending character), and NUL or a lone surrogate cannot be
    stored as JSONB or encoded as UTF-8, so an unknown key ``"\\u0000"`` must not break the
    refusal that names it."""
    if not any(_unsafe(ch) for ch in text):
        return text
    return "".join(f"\\u{ord(ch):04x}" if _unsafe(ch) else ch for ch in text)


def _code_for(error_type: str, loc: Sequence[str | int], value: Any) -> str:
    if error_type == "missing":
        return "field_missing"
    if error_type == "extra_forbidden":
        return "field_unknown"
    if error_type in _CONTRACT_CODES:
        return error_type
    if error_type in _INTEGER_ERRORS:
        return "not_an_integer"
    if error_type in _TOO_LARGE_ERRORS and str(loc[-1] if loc else "").endswith("_oere"):
        return "amount_too_large"  # above contracts.bounds.MAX_AMOUNT_OERE
    if error_type in _NEGATIVE_ERRORS and _is_negative_number(value):
        leaf = str(loc[-1]) if loc else ""
        if leaf.endswith("_oere"):
            return "amount_negative"
        if leaf == "quantity":
            return "quantity_negative"
    if error_type in _EMPTY_ERRORS:
        return "field_empty"
    if error_type in _TOO_LONG_ERRORS:
        return "field_too_long"
    if error_type in _NOT_AN_OBJECT and not loc:
        return "json_invalid"
    return "field_invalid"


def _is_negative_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value < 0


def reasons_from_validation_error(
    error: ValidationError, *, drop_prefix: Sequence[str] = ()
) -> list[Reason]:
    """One reason per distinct (code, path), in pydantic's order.

    ``drop_prefix`` removes a wrapper from the paths, e.g. ``("submission",)`` when the error came
    from parsing a :class:`contracts.intake.PortalSubmission`, so both paths report the same paths.
    """
    reasons: list[Reason] = []
    seen: set[tuple[str, str | None]] = set()
    prefix = tuple(drop_prefix)
    for item in error.errors(include_url=False):
        loc = tuple(item.get("loc", ()))
        if prefix and loc[: len(prefix)] == prefix:
            loc = loc[len(prefix) :]
        code = _code_for(item["type"], loc, item.get("input"))
        path = dotted_path(loc)
        if (code, path) in seen:
            continue
        seen.add((code, path))
        # pydantic's message explains the type/format; our code carries the stable meaning.
        reasons.append(reason(code, path, _escaped(str(item.get("msg", ""))) or None))
    return reasons


@dataclass(frozen=True)
class ParsedSubmission:
    """The outcome of parsing raw submission JSON.

    Exactly one of ``command`` and ``reasons`` is set. For a submission that does not parse, the
    ids are read best-effort from the raw JSON so the refusal can still name what it refuses.
    """

    command: SubmitApplication | None
    reasons: tuple[Reason, ...]
    submission_id: UUID | None
    application_id: UUID | None
    pool_id: str | None


def parse_submission(raw: bytes | str | Mapping[str, Any]) -> ParsedSubmission:
    """Parse raw JSON (or an already-decoded dict) into :class:`SubmitApplication`."""
    try:
        if isinstance(raw, Mapping):
            command = SubmitApplication.model_validate(dict(raw))
        else:
            command = SubmitApplication.model_validate_json(raw)
    except ValidationError as error:
        loose = _loose_object(raw)
        return ParsedSubmission(
            command=None,
            reasons=tuple(reasons_from_validation_error(error)),
            submission_id=_uuid_or_none(loose.get("submission_id")),
            application_id=_uuid_or_none(loose.get("application_id")),
            pool_id=_short_str_or_none(loose.get("pool_id")),
        )
    return ParsedSubmission(
        command=command,
        reasons=(),
        submission_id=command.submission_id,
        application_id=command.application_id,
        pool_id=command.pool_id,
    )


def parse_portal_submission(raw: bytes | str) -> tuple[str | None, ParsedSubmission]:
    """Parse a message of the portal topic (:class:`PortalSubmission`) into its token and the
    submission, as :func:`parse_submission` would have parsed the submission alone.

    Never raises for bad content: a message that is not the contract gives a submission without
    a command, whose reasons name the fields as an HTTP body would (``submission.`` dropped).
    The token is returned whenever the message carries one as a string, so the adapter can
    authenticate before it judges the content, as on the HTTP path.
    """
    try:
        message = PortalSubmission.model_validate_json(raw)
    except ValidationError as error:
        loose = _loose_object(raw)
        token = loose.get("token")
        inner = loose.get("submission")
        inner = inner if isinstance(inner, Mapping) else {}
        return (token if isinstance(token, str) and token else None), ParsedSubmission(
            command=None,
            reasons=tuple(reasons_from_validation_error(error, drop_prefix=("submission",))),
            submission_id=_uuid_or_none(inner.get("submission_id")),
            application_id=_uuid_or_none(inner.get("application_id")),
            pool_id=_short_str_or_none(inner.get("pool_id")),
        )
    command = message.submission
    return message.token, ParsedSubmission(
        command=command,
        reasons=(),
        submission_id=command.submission_id,
        application_id=command.application_id,
        pool_id=command.pool_id,
    )


def _loose_object(raw: bytes | str | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(raw, Mapping):
        return raw
    try:
        value = json.loads(raw)
    except (ValueError, TypeError, RecursionError):  # nested deeper than Python's stack
        return {}
    return value if isinstance(value, dict) else {}


def _uuid_or_none(value: Any) -> UUID | None:
    if not isinstance(value, str):
        return None
    try:
        return UUID(value)
    except ValueError:
        return None


def _short_str_or_none(value: Any) -> str | None:
    # The same bounds the contract puts on pool_id, so the refusal event itself stays valid
    # (and serialisable: Python's json reads lone surrogates that pydantic refused).
    if isinstance(value, str) and 1 <= len(value) <= 80 and not any(_unsafe(c) for c in value):
        return value
    return None
