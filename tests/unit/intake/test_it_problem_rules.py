"""R6–R8 as rules on instants: which contacts are refused at once, which versions are covered."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.intake.domain import ExceptionRecord, contact_refusal_reasons, covers

from tests.unit.intake.factories import DEADLINE, MS, contact, uid

H48 = timedelta(hours=48)
SECOND = timedelta(seconds=1)


def reasons(**kwargs) -> list[str]:  # type: ignore[no-untyped-def]
    at = kwargs.pop("at")
    return contact_refusal_reasons(contact(at, **kwargs), DEADLINE, H48)


# --- before the deadline (R6) ---------------------------------------------------------------


def test_before_deadline_with_documentation_waits_for_a_caseworker() -> None:
    assert reasons(at=DEADLINE - timedelta(hours=2)) == []


def test_before_deadline_only_documentation_is_required() -> None:
    assert reasons(at=DEADLINE - MS, attempted=False, screenshot_at=None) == []


@pytest.mark.parametrize("at", [DEADLINE - timedelta(days=3), DEADLINE])
def test_before_deadline_without_documentation_is_refused(at) -> None:  # type: ignore[no-untyped-def]
    assert reasons(at=at, documentation=False) == ["documentation_missing"]


# --- after the deadline (R7) ----------------------------------------------------------------


def test_after_deadline_with_attempt_and_screenshot_waits_for_a_caseworker() -> None:
    assert reasons(at=DEADLINE + MS) == []


def test_after_deadline_the_screenshot_is_the_documentation() -> None:
    assert reasons(at=DEADLINE + timedelta(hours=1), documentation=False) == []


def test_after_deadline_attempt_must_be_documented() -> None:
    assert reasons(at=DEADLINE + MS, attempted=False) == ["attempt_not_documented"]


def test_after_deadline_screenshot_is_required() -> None:
    assert reasons(at=DEADLINE + MS, screenshot_at=None) == ["screenshot_missing"]


def test_screenshot_at_the_deadline_is_fine_one_ms_later_is_not() -> None:
    assert reasons(at=DEADLINE + timedelta(hours=1), screenshot_at=DEADLINE) == []
    assert reasons(at=DEADLINE + timedelta(hours=1), screenshot_at=DEADLINE + MS) == [
        "screenshot_after_deadline"
    ]


def test_after_deadline_every_missing_piece_is_reported() -> None:
    assert reasons(at=DEADLINE + MS, attempted=False, screenshot_at=None) == [
        "attempt_not_documented", "screenshot_missing"
    ]
    assert reasons(at=DEADLINE + MS, attempted=False, screenshot_at=DEADLINE + SECOND) == [
        "attempt_not_documented", "screenshot_after_deadline"
    ]


# --- the 48-hour limit (R8) ------------------------------------------------------------------


def test_exactly_48_hours_after_is_still_considered() -> None:
    assert reasons(at=DEADLINE + H48) == []


def test_48_hours_and_one_second_after_is_not_considered() -> None:
    assert reasons(at=DEADLINE + H48 + SECOND) == ["contact_after_48h"]
    assert reasons(at=DEADLINE + H48 + MS) == ["contact_after_48h"]


def test_a_contact_not_considered_gets_only_that_reason() -> None:
    assert reasons(at=DEADLINE + timedelta(days=5), attempted=False, screenshot_at=None) == [
        "contact_after_48h"
    ]


def test_the_late_contact_window_is_the_pools() -> None:
    at = DEADLINE + timedelta(hours=25)
    assert contact_refusal_reasons(contact(at), DEADLINE, timedelta(hours=24)) == ["contact_after_48h"]
    assert contact_refusal_reasons(contact(at), DEADLINE, timedelta(hours=72)) == []


# --- coverage of a late version (R8 "immediately after the contact") ------------------------


def record(contacted_at) -> ExceptionRecord:  # type: ignore[no-untyped-def]
    return ExceptionRecord(
        exception_id=uid(1), contacted_at=contacted_at, contact="after_deadline", status="pending"
    )


def test_a_version_up_to_the_end_of_the_window_is_covered() -> None:
    contacted = DEADLINE + timedelta(hours=2)
    window = timedelta(hours=24)
    assert covers(record(contacted), contacted + window, window)
    assert not covers(record(contacted), contacted + window + MS, window)


def test_a_version_sent_before_the_contact_is_covered() -> None:
    contacted = DEADLINE + timedelta(hours=2)
    assert covers(record(contacted), DEADLINE + timedelta(minutes=1), timedelta(hours=24))


def test_zero_window_covers_only_up_to_the_contact() -> None:
    contacted = DEADLINE + timedelta(hours=2)
    assert covers(record(contacted), contacted, timedelta(0))
    assert not covers(record(contacted), contacted + MS, timedelta(0))
