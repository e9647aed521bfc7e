"""Holds (R18), two-person rule and segregation of duties (R19)."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID, uuid4

import pytest

from itertools import product

from contracts.payments import HoldReleaseRequested, PaymentsHeld, PaymentsReleased
from contracts.reporting import OverdueReportResolved, ReportOverdue
from contracts.refusal import Refusal
from services.payments.domain import (
    HoldBook,
    ReleaseRequest,
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
    released_by_two,
)
from services.payments.domain.overdue_release import release_resolved_overdue

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
        book, _, release = released_by_two(book, book.holds[0].hold_id, "cw-a", "cw-b",
                                           [APPROVER], at(2023, 7, 3))
        book = evolve_holds(book, release)
        assert not is_held(book)
        assert hold_for_overdue_report(book, overdue(), at(2023, 7, 4)) == []

    def test_each_overdue_report_is_its_own_hold(self) -> None:
        book = held_book(overdue(), overdue(kind="final", due=date(2027, 3, 31)),
                         overdue(application_id=OTHER_GRANT))
        assert len({h.hold_id for h in book.holds}) == 3
        book, _, release = released_by_two(book, book.holds[0].hold_id, "cw-a", "cw-b",
                                           [APPROVER], at(2023, 8, 1))
        assert is_held(evolve_holds(book, release))  # two more still hold the CVR

    def test_a_hold_from_one_grant_stops_every_grant_of_the_cvr(self) -> None:
        grant = Driver.accepted()
        grant(submit_revised_budget, {"2023-01": {STAFF: 5}}, GRANTEE, CVR)
        book = held_book(overdue(application_id=OTHER_GRANT))
        assert instruct_due(grant.state, date(2023, 12, 31), book) == []

    def test_no_holds_is_not_held(self) -> None:
        assert not is_held(None) and not is_held(HoldBook(cvr=CVR))


def asked(book: HoldBook, requester: str = "cw-a", hold: int = 0,
          when: tuple[int, ...] = (2023, 8, 1)) -> HoldBook:
    """The book after ``requester`` asked to release its ``hold``-th hold."""
    (event,) = request_release(book, book.holds[hold].hold_id, requester, [APPROVER], at(*when))
    return evolve_holds(book, event)


def refused(call: object, *args: object) -> tuple[str, str]:
    with pytest.raises(Refusal) as excinfo:
        call(*args)  # type: ignore[operator]
    return refusal(excinfo)


class TestReleaseRequest:
    """The first of the two people (R19): who may ask, and asking again."""

    def test_a_first_request_is_an_event_the_hold_keeps(self) -> None:
        book = held_book(overdue())
        hold_id = book.holds[0].hold_id
        events = request_release(book, hold_id, "cw-a", [APPROVER], at(2023, 8, 1))
        assert events == [HoldReleaseRequested(hold_id=hold_id, cvr=CVR, requested_by="cw-a",
                                               requested_at=at(2023, 8, 1))]
        hold = evolve_holds(book, events[0]).holds[0]
        assert hold.release_request == ReleaseRequest(requested_by="cw-a",
                                                      requested_at=at(2023, 8, 1))
        assert hold.active and hold.requested_by is None and hold.approved_by is None
        assert is_held(evolve_holds(book, events[0]))  # asking releases nothing yet

    def test_the_same_person_asking_again_changes_nothing(self) -> None:
        book = asked(held_book(overdue()), "cw-a")
        hold_id = book.holds[0].hold_id
        assert request_release(book, hold_id, "cw-a", [APPROVER], at(2023, 8, 2)) == []
        request = book.holds[0].release_request
        assert request is not None and request.requested_at == at(2023, 8, 1)  # the first

    def test_a_second_person_approves_rather_than_asks(self) -> None:
        book = asked(held_book(overdue()), "cw-a")
        assert refused(request_release, book, book.holds[0].hold_id, "cw-b", [APPROVER],
                       at(2023, 8, 2)) == ("release_already_requested", "conflict")

    def test_the_approver_of_a_grant_of_the_cvr_may_not_ask(self) -> None:
        book = held_book(overdue())
        assert refused(request_release, book, book.holds[0].hold_id, "x", ["x", APPROVER],
                       at(2023, 8, 1)) == ("segregation_of_duties", "forbidden")
        # nor while someone else's request waits: the duty is checked before the conflict
        assert refused(request_release, asked(book), book.holds[0].hold_id, APPROVER,
                       [APPROVER], at(2023, 8, 2)) == ("segregation_of_duties", "forbidden")

    def test_a_hold_released_by_people_cannot_be_asked_for(self) -> None:
        book = held_book(overdue())
        hold_id = book.holds[0].hold_id
        book, _, release = released_by_two(book, hold_id, "cw-a", "cw-b", [], at(2023, 8, 1))
        book = evolve_holds(book, release)
        for who in ("cw-a", "cw-b", "cw-c"):
            assert refused(request_release, book, hold_id, who, [], at(2023, 8, 2)) == (
                "hold_released", "conflict")

    def test_a_hold_a_late_report_released_cannot_be_asked_for(self) -> None:
        book = held_book(overdue())
        hold_id = book.holds[0].hold_id
        (release,) = release_resolved_overdue(book, OverdueReportResolved(
            application_id=APP_ID, cvr=CVR, kind="status", due=date(2023, 6, 30),
            report_id=uuid4()), at(2023, 8, 1))
        assert refused(request_release, evolve_holds(book, release), hold_id, "cw-a", [],
                       at(2023, 8, 2)) == ("hold_released", "conflict")

    def test_an_unknown_hold_cannot_be_asked_for(self) -> None:
        assert refused(request_release, held_book(overdue()), OTHER_GRANT, "cw-a", [],
                       at(2023, 8, 1)) == ("hold_not_found", "not_found")
        assert refused(request_release, None, OTHER_GRANT, "cw-a", [], at(2023, 8, 1)) == (
            "hold_not_found", "not_found")

    def test_a_request_is_for_one_hold(self) -> None:
        book = asked(held_book(overdue(), overdue(application_id=OTHER_GRANT)), "cw-a", hold=0)
        assert book.holds[1].release_request is None
        assert refused(release_hold, book, book.holds[1].hold_id, "cw-b", [],
                       at(2023, 8, 2)) == ("release_not_requested", "conflict")
        # and another person may ask for the other hold
        assert len(request_release(book, book.holds[1].hold_id, "cw-b", [], at(2023, 8, 2))) == 1

    def test_a_naive_instant_is_a_programming_error(self) -> None:
        book = held_book(overdue())
        with pytest.raises(ValueError):
            request_release(book, book.holds[0].hold_id, "cw-a", [], datetime(2023, 8, 1))
        with pytest.raises(ValueError):
            release_hold(asked(book), book.holds[0].hold_id, "cw-b", [], datetime(2023, 8, 2))


class TestRelease:
    """The second person (R19), decided from the book alone."""

    def test_two_different_people_neither_the_grant_approver(self) -> None:
        book = asked(held_book(overdue()), "cw-a")
        hold_id = book.holds[0].hold_id
        events = release_hold(book, hold_id, "cw-b", [APPROVER], at(2023, 8, 2))
        assert events == [PaymentsReleased(hold_id=hold_id, cvr=CVR, requested_by="cw-a",
                                           approved_by="cw-b", released_at=at(2023, 8, 2))]
        released = evolve_holds(book, events[0]).holds[0]
        assert (released.requested_by, released.approved_by) == ("cw-a", "cw-b")
        assert released.released_at == at(2023, 8, 2) and not released.active
        assert released.release_request is not None  # when it was asked stays on record
        assert not is_held(evolve_holds(book, events[0]))

    def test_approving_before_anyone_asked_is_refused(self) -> None:
        book = held_book(overdue())
        for who in ("cw-b", APPROVER):
            assert refused(release_hold, book, book.holds[0].hold_id, who, [APPROVER],
                           at(2023, 8, 1)) == ("release_not_requested", "conflict")

    def test_the_requester_cannot_approve_alone(self) -> None:
        book = asked(held_book(overdue()), "cw-a")
        assert refused(release_hold, book, book.holds[0].hold_id, "cw-a", [APPROVER],
                       at(2023, 8, 2)) == ("two_person_rule", "forbidden")
        # refused is not consumed: a second person still can
        assert len(release_hold(book, book.holds[0].hold_id, "cw-b", [APPROVER],
                                at(2023, 8, 2))) == 1

    def test_the_approver_of_any_grant_of_the_cvr_cannot_approve(self) -> None:
        book = asked(held_book(overdue()), "cw-a")
        for approvers in ([APPROVER], ["other-approver", APPROVER]):
            assert refused(release_hold, book, book.holds[0].hold_id, APPROVER, approvers,
                           at(2023, 8, 2)) == ("segregation_of_duties", "forbidden")

    def test_a_requester_who_approved_a_grant_since_cannot_have_it_released(self) -> None:
        # cw-a asked while approving nothing; then approved another grant of this grantee
        book = asked(held_book(overdue()), "cw-a")
        assert refused(release_hold, book, book.holds[0].hold_id, "cw-b", [APPROVER, "cw-a"],
                       at(2023, 8, 2)) == ("segregation_of_duties", "forbidden")

    @pytest.mark.parametrize(("requester", "approver"),
                             list(product(["cw-a", "cw-b", APPROVER], repeat=2)))
    def test_every_pair_of_people(self, requester: str, approver: str) -> None:
        """The whole rule over three people, one of whom approved the grant."""
        book = held_book(overdue())
        hold_id = book.holds[0].hold_id
        if requester == APPROVER:
            assert refused(request_release, book, hold_id, requester, [APPROVER],
                           at(2023, 8, 1)) == ("segregation_of_duties", "forbidden")
            return
        book = asked(book, requester)
        if approver == requester:
            expected: tuple[str, str] | None = ("two_person_rule", "forbidden")
        elif approver == APPROVER:
            expected = ("segregation_of_duties", "forbidden")
        else:
            expected = None
        if expected is None:
            (release,) = release_hold(book, hold_id, approver, [APPROVER], at(2023, 8, 2))
            assert (release.requested_by, release.approved_by) == (requester, approver)
        else:
            assert refused(release_hold, book, hold_id, approver, [APPROVER],
                           at(2023, 8, 2)) == expected

    def test_releasing_twice_releases_once_whoever_asks(self) -> None:
        book = held_book(overdue())
        hold_id = book.holds[0].hold_id
        book, _, release = released_by_two(book, hold_id, "cw-a", "cw-b", [], at(2023, 8, 1))
        book = evolve_holds(book, release)
        for who in ("cw-b", "cw-a", APPROVER):  # the release stands: nothing to refuse
            assert release_hold(book, hold_id, who, [APPROVER], at(2023, 8, 2)) == []

    def test_a_hold_a_late_report_released_is_not_released_again(self) -> None:
        book = asked(held_book(overdue()), "cw-a")
        (release,) = release_resolved_overdue(book, OverdueReportResolved(
            application_id=APP_ID, cvr=CVR, kind="status", due=date(2023, 6, 30),
            report_id=uuid4()), at(2023, 8, 2))
        book = evolve_holds(book, release)
        assert release_hold(book, book.holds[0].hold_id, "cw-b", [], at(2023, 8, 3)) == []
        assert book.holds[0].approved_by == "automatic"

    def test_releasing_one_hold_leaves_the_others(self) -> None:
        book = asked(held_book(overdue(), overdue(application_id=OTHER_GRANT)), "cw-a")
        (release,) = release_hold(book, book.holds[0].hold_id, "cw-b", [], at(2023, 8, 2))
        book = evolve_holds(book, release)
        assert [h.hold_id for h in book.active_holds] == [book.holds[1].hold_id]
        assert is_held(book)

    def test_unknown_hold(self) -> None:
        assert refused(release_hold, held_book(overdue()), OTHER_GRANT, "b", [],
                       at(2023, 8, 1)) == ("hold_not_found", "not_found")
        assert refused(release_hold, None, OTHER_GRANT, "b", [], at(2023, 8, 1)) == (
            "hold_not_found", "not_found")


class TestEvolve:
    """The book folds each step once, whatever is delivered again."""

    def test_a_redelivered_request_or_release_changes_nothing(self) -> None:
        book = held_book(overdue())
        hold_id = book.holds[0].hold_id
        requested, asked_event, release = released_by_two(book, hold_id, "cw-a", "cw-b", [],
                                                          at(2023, 8, 1))
        assert evolve_holds(requested, asked_event) == requested
        released = evolve_holds(requested, release)
        assert evolve_holds(released, release) == released
        assert evolve_holds(released, asked_event) == released

    def test_the_first_request_stands(self) -> None:
        book = asked(held_book(overdue()), "cw-a")
        later = HoldReleaseRequested(hold_id=book.holds[0].hold_id, cvr=CVR,
                                     requested_by="cw-z", requested_at=at(2023, 9, 1))
        assert evolve_holds(book, later) == book

    def test_the_first_release_stands(self) -> None:
        book = asked(held_book(overdue()), "cw-a")
        (release,) = release_hold(book, book.holds[0].hold_id, "cw-b", [], at(2023, 8, 2))
        book = evolve_holds(book, release)
        other = release.model_copy(update={"approved_by": "cw-z", "released_at": at(2023, 9, 1)})
        assert evolve_holds(book, other) == book

    @pytest.mark.parametrize("event", [
        HoldReleaseRequested(hold_id=OTHER_GRANT, cvr=CVR, requested_by="cw-a",
                             requested_at=at(2023, 8, 1)),
        PaymentsReleased(hold_id=OTHER_GRANT, cvr=CVR, requested_by="cw-a", approved_by="cw-b",
                         released_at=at(2023, 8, 1)),
    ])
    def test_a_step_of_an_unknown_hold_is_a_programming_error(
            self, event: HoldReleaseRequested | PaymentsReleased) -> None:
        with pytest.raises(ValueError):
            evolve_holds(held_book(overdue()), event)
        with pytest.raises(ValueError):
            evolve_holds(None, event)

    def test_a_book_with_a_request_round_trips_and_an_older_one_still_loads(self) -> None:
        book = asked(held_book(overdue()), "cw-a")
        assert HoldBook.model_validate_json(book.model_dump_json()) == book
        older = held_book(overdue()).model_dump(mode="json")
        for hold in older["holds"]:
            del hold["release_request"]  # stored before the request was part of the hold
        assert HoldBook.model_validate(older) == held_book(overdue())
