"""A caseworker withdraws an award (issue 16 item 5): an ``AwardLapsed`` with reason
``withdrawn``, only before any payment instruction, once."""

from __future__ import annotations

from datetime import date
from uuid import uuid4

import pytest

from contracts.base import Actor
from contracts.payments import AwardLapsed, PaymentInstructed
from contracts.refusal import Refusal
from services.payments.domain import accept_award, lapse_overdue
from services.payments.domain.state import InstructionRecord
from services.payments.domain.withdrawal import withdraw_award
from tests.unit.payments.builders import (
    APP_ID, CASEWORKER, CVR, DEADLINE, GRANTEE, ONE_SECOND, Driver, refusal,
)


@pytest.mark.parametrize("accepted", [False, True])
def test_a_caseworker_withdraws_an_award_accepted_or_not(accepted: bool) -> None:
    grant = Driver.accepted() if accepted else Driver.for_award()
    events = grant(withdraw_award, CASEWORKER, DEADLINE - ONE_SECOND)
    assert events == [AwardLapsed(application_id=APP_ID, reason="withdrawn",
                                  decided_by=CASEWORKER.id, lapsed_at=DEADLINE - ONE_SECOND)]
    assert grant.state.lapse is not None and grant.state.lapse.reason == "withdrawn"
    assert grant(withdraw_award, CASEWORKER, DEADLINE) == []  # a retry: once
    assert grant(lapse_overdue, DEADLINE + ONE_SECOND) == []  # nothing lapses it again
    if not accepted:  # a withdrawn award can no longer be accepted
        with pytest.raises(Refusal) as refused:
            grant(accept_award, GRANTEE, CVR, DEADLINE - ONE_SECOND)
        assert refusal(refused) == ("award_lapsed", "conflict")


def test_only_a_caseworker_withdraws() -> None:
    grant = Driver.for_award()
    with pytest.raises(Refusal) as refused:
        grant(withdraw_award, GRANTEE, DEADLINE)
    assert refusal(refused) == ("role_not_allowed", "forbidden")
    with pytest.raises(Refusal):
        grant(withdraw_award, Actor(id="a", role="approver"), DEADLINE)


def test_an_award_that_lapsed_otherwise_is_not_withdrawn() -> None:
    grant = Driver.for_award()
    grant(lapse_overdue, DEADLINE + ONE_SECOND)
    with pytest.raises(Refusal) as refused:
        grant(withdraw_award, CASEWORKER, DEADLINE + 2 * ONE_SECOND)
    assert refusal(refused) == ("award_lapsed", "conflict")


def test_no_withdrawal_once_a_payment_was_instructed() -> None:
    grant = Driver.accepted()
    instruction = PaymentInstructed(
        instruction_id=uuid4(), application_id=APP_ID, cvr=CVR, amount_oere=1,
        due_date=date(2023, 1, 1), period_start="2023-01", period_end="2023-03",
        budget_version=1)
    grant.state = grant.state.model_copy(
        update={"instructions": (InstructionRecord(instruction=instruction),)})
    with pytest.raises(Refusal) as refused:
        grant(withdraw_award, CASEWORKER, DEADLINE)
    assert refusal(refused) == ("payments_instructed", "conflict")
    assert not grant.state.is_lapsed
