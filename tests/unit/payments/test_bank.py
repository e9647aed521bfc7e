"""Bank master data (R19): two people, neither a grant approver, a history of events."""

from __future__ import annotations

import pytest

from contracts.base import Actor
from contracts.refusal import Refusal
from services.payments.domain.bank import (
    approve_bank_change,
    bank_change_id,
    bank_change_of,
    evolve_bank,
    request_bank_change,
)
from tests.unit.payments.builders import APPROVER, CVR, GRANTEE, at, refusal

A = Actor(id="cw-a", role="caseworker")
B = Actor(id="cw-b", role="caseworker")
APPROVERS = {APPROVER}


def requested(account: str = "1234-0001234567"):  # type: ignore[no-untyped-def]
    (event,) = request_bank_change(None, CVR, account, A, APPROVERS, at(2023, 1, 1))
    return evolve_bank(None, event), event


def test_two_people_change_it_and_the_history_stays() -> None:
    book, asked = requested()
    assert asked.change_id == bank_change_id(CVR, 0) and book.current is None
    (changed,) = approve_bank_change(book, asked.change_id, B, APPROVERS, at(2023, 1, 2))
    book = evolve_bank(book, changed)
    assert (changed.requested_by, changed.approved_by) == ("cw-a", "cw-b")
    assert book.current is not None and book.current.account_reference == "1234-0001234567"
    assert approve_bank_change(book, asked.change_id, B, APPROVERS, at(2023, 1, 3)) == []
    (again,) = request_bank_change(book, CVR, "9999-1", B, APPROVERS, at(2023, 2, 1))
    book = evolve_bank(book, again)
    assert again.change_id == bank_change_id(CVR, 1) and len(book.changes) == 2
    assert book.current.account_reference == "1234-0001234567"  # until approved


def test_one_person_cannot_ask_and_approve() -> None:
    book, asked = requested()
    with pytest.raises(Refusal) as excinfo:
        approve_bank_change(book, asked.change_id, A, APPROVERS, at(2023, 1, 2))
    assert refusal(excinfo) == ("two_person_rule", "forbidden")


@pytest.mark.parametrize("step", ["request", "approve"])
def test_a_grant_approver_can_neither_ask_nor_approve(step: str) -> None:
    approver = Actor(id=APPROVER, role="caseworker")
    with pytest.raises(Refusal) as excinfo:
        if step == "request":
            request_bank_change(None, CVR, "1", approver, APPROVERS, at(2023, 1, 1))
        else:
            book, asked = requested()
            approve_bank_change(book, asked.change_id, approver, APPROVERS, at(2023, 1, 2))
    assert refusal(excinfo) == ("segregation_of_duties", "forbidden")


def test_one_change_waits_at_a_time_and_a_retry_is_harmless() -> None:
    book, _ = requested()
    assert request_bank_change(book, CVR, "1234-0001234567", A, APPROVERS, at(2023, 1, 1)) == []
    with pytest.raises(Refusal) as excinfo:
        request_bank_change(book, CVR, "other", B, APPROVERS, at(2023, 1, 1))
    assert refusal(excinfo) == ("bank_change_pending", "conflict")


def test_only_a_caseworker_and_only_a_known_change() -> None:
    with pytest.raises(Refusal) as excinfo:
        request_bank_change(None, CVR, "1", GRANTEE, APPROVERS, at(2023, 1, 1))
    assert excinfo.value.code == "role_not_allowed"
    with pytest.raises(Refusal) as excinfo:
        approve_bank_change(None, bank_change_id(CVR, 0), B, APPROVERS, at(2023, 1, 1))
    assert refusal(excinfo) == ("bank_change_not_found", "not_found")


def test_a_change_is_found_only_in_a_book_that_holds_it() -> None:
    book, asked = requested()
    assert bank_change_of(book, asked.change_id) == (book, book.changes[0])
    for absent, change_id in ((book, bank_change_id(CVR, 1)), (None, asked.change_id)):
        with pytest.raises(Refusal) as excinfo:
            bank_change_of(absent, change_id)
        assert refusal(excinfo) == ("bank_change_not_found", "not_found")
