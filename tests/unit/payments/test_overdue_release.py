"""A late report accepted releases exactly the hold its overdue notice caused, by itself; other
holds keep the two-person release (R18, R19; issue 16 item 7)."""

from __future__ import annotations

from datetime import date
from uuid import UUID

import pytest

from contracts.payments import PaymentsReleased
from contracts.reporting import OverdueReportResolved
from services.payments.domain import evolve_holds, hold_for_overdue_report, is_held
from services.payments.domain.holds import HoldBook
from services.payments.domain.overdue_release import release_resolved_overdue
from tests.unit.payments.builders import APP_ID, CVR, OTHER_CVR, at, released_by_two
from tests.unit.payments.test_holds import overdue

REPORT = UUID("1e2d3c4b-5a69-4788-9a0b-1c2d3e4f5a6b")
NOW = at(2023, 7, 10)


def resolved(kind: str = "status", due: date = date(2023, 6, 30)) -> OverdueReportResolved:
    return OverdueReportResolved(application_id=APP_ID, cvr=CVR, kind=kind, due=due,
                                 report_id=REPORT)


def held(*notices) -> HoldBook:  # type: ignore[no-untyped-def]
    book = None
    for notice in notices:
        for event in hold_for_overdue_report(book, notice, at(2023, 7, 1)):
            book = evolve_holds(book, event)
    assert book is not None
    return book


def test_the_notices_hold_is_released_automatically_once() -> None:
    book = held(overdue())
    (release,) = release_resolved_overdue(book, resolved(), NOW)
    assert isinstance(release, PaymentsReleased)
    assert (release.requested_by, release.approved_by, release.resolved_by_report) == (
        "automatic", "automatic", REPORT)
    book = evolve_holds(book, release)
    assert not is_held(book)
    assert release_resolved_overdue(book, resolved(), NOW) == []  # redelivered: once


def test_only_that_hold_is_released() -> None:
    book = held(overdue(), overdue(kind="final", due=date(2024, 3, 31)))
    (release,) = release_resolved_overdue(book, resolved(), NOW)
    book = evolve_holds(book, release)
    assert is_held(book)  # the final report's hold stays
    assert [h.reason for h in book.active_holds] == ["report_overdue"]


def test_nothing_to_release_without_the_hold() -> None:
    assert release_resolved_overdue(None, resolved(), NOW) == []
    assert release_resolved_overdue(held(overdue()), resolved(due=date(2023, 9, 30)), NOW) == []


def test_a_hold_released_by_two_people_before_is_left_as_is() -> None:
    book = held(overdue())
    hold_id = book.holds[0].hold_id
    book, _, manual = released_by_two(book, hold_id, "cw-1", "cw-2", [], NOW)
    book = evolve_holds(book, manual)
    assert release_resolved_overdue(book, resolved(), NOW) == []


def test_a_book_of_another_cvr_is_a_programming_error() -> None:
    other = HoldBook(cvr=OTHER_CVR, holds=())
    with pytest.raises(ValueError):
        release_resolved_overdue(other, resolved(), NOW)
