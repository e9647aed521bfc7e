"""Holds (R18), two-person rule and segregation of duties (R19)."""

from __future__ import annotations

from datetime import date
from uuid import UUID

import pytest

from contracts.payments import PaymentsHeld, PaymentsReleased
from contracts.reporting import ReportOverdue
from contracts.refusal import Refusal
from services.payments.domain import (
    HoldBook,
    evolve_holds,
    hold_for_overdue_report,
    instruct_due,
    is_held,
    overdue_hold_id,
    release_hold,
    request_release,
    submit_revised_budget,
)
from tests.unit.payments.builders import (
    APP_ID,
    APPROVER,
    CVR,
    GRANTEE,
    STAFF,
    Driver,
    at,
    refusal,
)

OTHER_GRANT = UUID("7f1c1a52-3c5e-4c8e-9b7a-0d6c1d9e4a12")


def overdue(application_id: UUID = APP_ID, kind: str = "status",
            due: date = date(2023, 6, 30)) -> ReportOverdue:
    return ReportOverdue(application_id=application_id, cvr=CVR, kind=kind, due=due)


def held_book(*reports: ReportOverdue) -> HoldBook:
    book = None
    for report in reports:
        for event in hold_for_overdue_report(book, report, at(2023, 7, 1)):
            book = evolve_holds(book, event)
    assert book is not None
    return book


class TestHolds:
    def test_an_overdue_report_holds_the_cvr(self) -> None:
        events = hold_for_overdue_report(None, overdue(), at(2023, 7, 1))
        assert events == [PaymentsHeld(
            hold_id=overdue_hold_id(APP_ID, "status", date(2023, 6, 30)), cvr=CVR,
            application_id=APP_ID, reason="report_overdue", held_at=at(2023, 7, 1))]
        assert is_held(evolve_holds(None, events[0]))

    def test_once_per_overdue_report_even_after_release(self) -> None:
        book = held_book(overdue())
        assert hold_for_overdue_report(book, overdue(), at(2023, 7, 2)) == []
        (release,) = release_hold(book, book.holds[0].hold_id, "cw-a", "cw-b", [APPROVER],
                                  at(2023, 7, 3))
        book = evolve_holds(book, release)
        assert not is_held(book)
        assert hold_for_overdue_report(book, overdue(), at(2023, 7, 4)) == []

    def test_each_overdue_report_is_its_own_hold(self) -> None:
        book = held_book(overdue(), overdue(kind="final", due=date(2027, 3, 31)),
                         overdue(application_id=OTHER_GRANT))
        assert len({h.hold_id for h in book.holds}) == 3
        (release,) = release_hold(book, book.holds[0].hold_id, "cw-a", "cw-b", [APPROVER],
                                  at(2023, 8, 1))
        assert is_held(evolve_holds(book, release))  # two more still hold the CVR

    def test_a_hold_from_one_grant_stops_every_grant_of_the_cvr(self) -> None:
        grant = Driver.accepted()
        grant(submit_revised_budget, {"2023-01": {STAFF: 5}}, GRANTEE, CVR)
        book = held_book(overdue(application_id=OTHER_GRANT))
        assert instruct_due(grant.state, date(2023, 12, 31), book) == []

    def test_no_holds_is_not_held(self) -> None:
        assert not is_held(None) and not is_held(HoldBook(cvr=CVR))


class TestRelease:
    def test_two_different_people_neither_the_grant_approver(self) -> None:
        book = held_book(overdue())
        hold_id = book.holds[0].hold_id
        events = release_hold(book, hold_id, "cw-a", "cw-b", [APPROVER], at(2023, 8, 1))
        assert events == [PaymentsReleased(hold_id=hold_id, cvr=CVR, requested_by="cw-a",
                                           approved_by="cw-b", released_at=at(2023, 8, 1))]
        released = evolve_holds(book, events[0]).holds[0]
        assert (released.requested_by, released.approved_by) == ("cw-a", "cw-b")

    def test_one_person_cannot_release_alone(self) -> None:
        book = held_book(overdue())
        with pytest.raises(Refusal) as excinfo:
            release_hold(book, book.holds[0].hold_id, "cw-a", "cw-a", [APPROVER], at(2023, 8, 1))
        assert refusal(excinfo) == ("two_person_rule", "forbidden")

    @pytest.mark.parametrize(("requested_by", "approved_by"),
                             [(APPROVER, "cw-b"), ("cw-a", APPROVER)])
    def test_the_grant_approver_cannot_release(self, requested_by: str, approved_by: str) -> None:
        book = held_book(overdue())
        with pytest.raises(Refusal) as excinfo:
            release_hold(book, book.holds[0].hold_id, requested_by, approved_by, [APPROVER],
                         at(2023, 8, 1))
        assert refusal(excinfo) == ("segregation_of_duties", "forbidden")

    def test_the_approver_of_any_grant_of_the_cvr_cannot_release(self) -> None:
        book = held_book(overdue())
        with pytest.raises(Refusal) as excinfo:
            release_hold(book, book.holds[0].hold_id, "cw-a", "other-approver",
                         [APPROVER, "other-approver"], at(2023, 8, 1))
        assert refusal(excinfo) == ("segregation_of_duties", "forbidden")

    def test_unknown_hold(self) -> None:
        with pytest.raises(Refusal) as excinfo:
            release_hold(held_book(overdue()), OTHER_GRANT, "a", "b", [], at(2023, 8, 1))
        assert refusal(excinfo) == ("hold_not_found", "not_found")
        with pytest.raises(Refusal):
            release_hold(None, OTHER_GRANT, "a", "b", [], at(2023, 8, 1))

    def test_releasing_twice_releases_once(self) -> None:
        book = held_book(overdue())
        hold_id = book.holds[0].hold_id
        (release,) = release_hold(book, hold_id, "cw-a", "cw-b", [], at(2023, 8, 1))
        book = evolve_holds(book, release)
        assert release_hold(book, hold_id, "cw-a", "cw-b", [], at(2023, 8, 2)) == []

    def test_approving_before_anyone_asked_is_refused_until_released(self) -> None:
        book = held_book(overdue())
        hold_id = book.holds[0].hold_id
        with pytest.raises(Refusal) as excinfo:
            release_hold(book, hold_id, None, "cw-b", [], at(2023, 8, 1))
        assert refusal(excinfo) == ("release_not_requested", "conflict")
        (release,) = release_hold(book, hold_id, "cw-a", "cw-b", [], at(2023, 8, 1))
        assert release_hold(evolve_holds(book, release), hold_id, None, "cw-b", [],
                            at(2023, 8, 2)) == []


class TestReleaseRequest:
    """The first of the two people (R19): who may ask, and asking again."""

    def test_a_first_request_is_recorded_and_repeating_it_is_not(self) -> None:
        book = held_book(overdue())
        hold_id = book.holds[0].hold_id
        assert request_release(book, hold_id, "cw-a", None, [APPROVER]) is True
        assert request_release(book, hold_id, "cw-a", "cw-a", [APPROVER]) is False

    def test_a_second_person_approves_rather_than_asks(self) -> None:
        book = held_book(overdue())
        with pytest.raises(Refusal) as excinfo:
            request_release(book, book.holds[0].hold_id, "cw-b", "cw-a", [APPROVER])
        assert refusal(excinfo) == ("release_already_requested", "conflict")

    def test_the_approver_of_a_grant_of_the_cvr_may_not_ask(self) -> None:
        book = held_book(overdue())
        with pytest.raises(Refusal) as excinfo:
            request_release(book, book.holds[0].hold_id, APPROVER, None, ["x", APPROVER])
        assert refusal(excinfo) == ("segregation_of_duties", "forbidden")

    def test_a_released_or_unknown_hold_cannot_be_asked_for(self) -> None:
        book = held_book(overdue())
        hold_id = book.holds[0].hold_id
        (release,) = release_hold(book, hold_id, "cw-a", "cw-b", [], at(2023, 8, 1))
        with pytest.raises(Refusal) as excinfo:
            request_release(evolve_holds(book, release), hold_id, "cw-c", None, [])
        assert refusal(excinfo) == ("hold_released", "conflict")
        with pytest.raises(Refusal) as excinfo:
            request_release(book, OTHER_GRANT, "cw-c", None, [])
        assert refusal(excinfo) == ("hold_not_found", "not_found")
