"""R3: a submission that does not parse gets stable codes with dotted field paths."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from contracts.intake import PortalSubmission, SubmitApplication

from services.intake.domain import REASON_CODES, parse_submission, reasons_from_validation_error

from tests.unit.intake.factories import submission


def valid_raw() -> dict[str, Any]:
    return submission().model_dump(mode="json")


def codes_and_paths(raw: Any) -> set[tuple[str, str | None]]:
    parsed = parse_submission(raw if isinstance(raw, str | bytes) else json.dumps(raw))
    assert parsed.command is None
    return {(r.code, r.path) for r in parsed.reasons}


def test_valid_json_parses_to_the_command() -> None:
    parsed = parse_submission(json.dumps(valid_raw()))
    assert parsed.command == submission()
    assert parsed.reasons == ()
    assert parsed.submission_id == submission().submission_id


def test_a_dict_parses_too() -> None:
    assert parse_submission(valid_raw()).command == submission()


def test_missing_field() -> None:
    raw = valid_raw()
    del raw["purpose"]
    del raw["budget"]["lines"][0]["amount_oere"]
    assert codes_and_paths(raw) == {
        ("field_missing", "purpose"),
        ("field_missing", "budget.lines.0.amount_oere"),
    }


def test_unknown_field_is_refused_not_ignored() -> None:
    raw = valid_raw()
    raw["applicant"]["nickname"] = "Aarhus"
    raw["priority"] = "high"
    assert codes_and_paths(raw) == {
        ("field_unknown", "applicant.nickname"),
        ("field_unknown", "priority"),
    }


def test_negative_amounts_and_quantity() -> None:
    raw = valid_raw()
    raw["budget"]["lines"][0]["amount_oere"] = -1
    raw["budget"]["lines"][0]["rate_oere"] = -50
    raw["budget"]["lines"][0]["quantity"] = -2
    raw["budget"]["total_oere"] = -1
    assert codes_and_paths(raw) == {
        ("amount_negative", "budget.lines.0.amount_oere"),
        ("amount_negative", "budget.lines.0.rate_oere"),
        ("quantity_negative", "budget.lines.0.quantity"),
        ("amount_negative", "budget.total_oere"),
    }


@pytest.mark.parametrize("value", [1.5, 1.0, "100", True])
def test_amount_must_be_a_json_integer(value: Any) -> None:
    raw = valid_raw()
    raw["budget"]["lines"][1]["amount_oere"] = value
    assert codes_and_paths(raw) == {("not_an_integer", "budget.lines.1.amount_oere")}


def test_zero_is_a_valid_amount() -> None:
    raw = valid_raw()
    raw["budget"]["lines"][1]["amount_oere"] = 0
    raw["budget"]["total_oere"] = raw["budget"]["lines"][0]["amount_oere"]
    assert parse_submission(raw).command is not None


def test_wrong_formats_are_field_invalid() -> None:
    raw = valid_raw()
    raw["submission_id"] = "not-a-uuid"
    raw["applicant"]["cvr"] = "1234"
    raw["applicant"]["municipality_code"] = "7510"
    raw["budget"]["lines"][0]["category"] = "travel"
    raw["client_sent_at"] = "yesterday"
    raw["budget"]["lines"] = raw["budget"]["lines"][:1]
    assert codes_and_paths(raw) == {
        ("field_invalid", "submission_id"),
        ("field_invalid", "applicant.cvr"),
        ("field_invalid", "applicant.municipality_code"),
        ("field_invalid", "budget.lines.0.category"),
        ("field_invalid", "client_sent_at"),
    }


def test_empty_and_too_long_text() -> None:
    raw = valid_raw()
    raw["purpose"] = ""
    raw["pool_id"] = "x" * 81
    assert codes_and_paths(raw) == {("field_empty", "purpose"), ("field_too_long", "pool_id")}


@pytest.mark.parametrize("body", ["{", "", "[]", "null", '"text"', "42", b"\xff\xfe"])
def test_not_a_json_object(body: str | bytes) -> None:
    parsed = parse_submission(body)
    assert parsed.command is None
    assert [(r.code, r.path) for r in parsed.reasons] == [("json_invalid", None)]
    assert parsed.submission_id is None


def test_lines_not_a_list() -> None:
    raw = valid_raw()
    raw["budget"]["lines"] = {"post": "x"}
    assert codes_and_paths(raw) == {("field_invalid", "budget.lines")}


def test_every_violation_is_reported_once_with_its_path() -> None:
    raw = valid_raw()
    raw["budget"]["lines"] = [
        {"post": "", "category": "salary", "amount_oere": -1, "rate_oere": 1.5},
        {"category": "other", "amount_oere": 5, "extra": 1},
    ]
    reasons = parse_submission(raw).reasons
    pairs = [(r.code, r.path) for r in reasons]
    assert len(pairs) == len(set(pairs))
    assert set(pairs) == {
        ("field_empty", "budget.lines.0.post"),
        ("amount_negative", "budget.lines.0.amount_oere"),
        ("not_an_integer", "budget.lines.0.rate_oere"),
        ("field_missing", "budget.lines.1.post"),
        ("field_unknown", "budget.lines.1.extra"),
    }
    assert all(r.message for r in reasons)


def test_ids_are_read_best_effort_from_an_invalid_submission() -> None:
    raw = valid_raw()
    raw["budget"]["total_oere"] = -5
    parsed = parse_submission(raw)
    assert parsed.command is None
    assert parsed.submission_id == submission().submission_id
    assert parsed.application_id == submission().application_id
    assert parsed.pool_id == "familiehus-2022"


def test_unreadable_ids_stay_none() -> None:
    raw = valid_raw()
    raw["submission_id"] = 12
    raw["application_id"] = "nope"
    raw["pool_id"] = "p" * 200
    parsed = parse_submission(raw)
    assert (parsed.submission_id, parsed.application_id, parsed.pool_id) == (None, None, None)


def test_portal_wrapper_prefix_can_be_dropped() -> None:
    raw = {"token": "t", "submission": valid_raw()}
    raw["submission"]["budget"]["total_oere"] = -1
    with pytest.raises(ValidationError) as caught:
        PortalSubmission.model_validate(raw)
    assert [(r.code, r.path) for r in reasons_from_validation_error(caught.value)] == [
        ("amount_negative", "submission.budget.total_oere")
    ]
    assert [
        (r.code, r.path)
        for r in reasons_from_validation_error(caught.value, drop_prefix=("submission",))
    ] == [("amount_negative", "budget.total_oere")]


def test_codes_are_documented() -> None:
    raw = valid_raw()
    raw.update(submission_id=1, extra=1, purpose="", pool_id=None)
    with pytest.raises(ValidationError) as caught:
        SubmitApplication.model_validate(raw)
    assert all(r.code in REASON_CODES for r in reasons_from_validation_error(caught.value))
