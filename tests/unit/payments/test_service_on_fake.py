"""Payments' command handlers (services/payments/service.py, money_service.py) on a fake unit of
work: the unit tests' fake database (tests/unit/servicekit/fake_database.py, held to
PostgreSQL's behaviour by the shared suite) and a real Emitter. Fast checks of what a handler
does around the domain: what it stores (the aggregates, their columns, the indexes), what it
emits (under which aggregate id, with which cause), that a retry emits nothing and a refused
command stores nothing. What the domain decides is pinned by the domain's own tests."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from contracts.base import Actor
from contracts.finance import PaymentFailed
from contracts.payments import (
    AwardAccepted,
    AwardLapsed,
    BankDetailsChanged,
    BankDetailsChangeRequested,
    HoldReleaseRequested,
    PaymentInstructed,
    PaymentsReleased,
)
from contracts.refusal import Refusal
from contracts.reporting import ReportOverdue
from servicekit.outbox import Cause
from services.payments.domain import (
    GrantAccount,
    HoldBook,
    accept_award,
    evolve_holds,
    hold_for_overdue_report,
    instruct_due,
    next_payment_due,
    record_result,
    reissue_failed,
    request_reissue,
    submit_revised_budget,
)
from services.payments.money_service import (
    ApproveBankChange,
    ChangeInstruction,
    RequestBankChange,
    approve_bank,
    ask_bank_change,
    change_instruction,
)
from services.payments.service import (
    ApproveRelease,
    ChangeGrant,
    LapseUnaccepted,
    RequestRelease,
    RunPayments,
    RunResult,
    approve_release,
    ask_release,
    change_grant,
    lapse_unaccepted,
    run_payments,
)
from services.payments.store import BANK_BOOKS, BANK_CHANGES, GRANTS, HOLD_BOOKS, HOLDS, INSTRUCTIONS
from tests.unit.payments.builders import (
    APP_ID,
    APPROVER,
    CVR,
    DEADLINE,
    GRANTEE,
    STAFF,
    Driver,
    at,
    opened,
)
from tests.unit.servicekit.fake_database import FakeService

CAUSE = Cause(actor=GRANTEE, correlation_id="c-1")
OTHER_APP = UUID("7f1c1a52-3c5e-4c8e-9b7a-0d6c1d9e4a12")
FIRST = Actor(id="caseworker-a", role="caseworker")
SECOND = Actor(id="caseworker-b", role="caseworker")
GRANT_APPROVER = Actor(id=APPROVER, role="caseworker")
RUN_DAY = date(2023, 4, 1)


def service() -> FakeService:
    return FakeService(datetime(2022, 11, 1, tzinfo=UTC))


async def stored(svc: FakeService, application_id: UUID = APP_ID) -> GrantAccount | None:
    return await GRANTS.read(svc.conn, application_id)


def payloads(envelopes: list[Any]) -> list[Any]:
    return [e.payload for e in envelopes]


def with_budget(**kwargs: Any) -> GrantAccount:
    """An accepted grant with an approved budget: two periods, both begun by ``RUN_DAY``."""
    grant = Driver.accepted(amount=1_000, **kwargs)
    grant(submit_revised_budget, {"2023-01": {STAFF: 400}, "2023-04": {STAFF: 600}}, GRANTEE, CVR)
    return grant.state


# -- a change of one grant --------------------------------------------------------------------

def accept(actor: Actor = GRANTEE, when: datetime = DEADLINE) -> ChangeGrant:
    return ChangeGrant(application_id=APP_ID, cause=CAUSE,
                       decide=lambda state: accept_award(state, actor, CVR, when))


async def test_a_change_locks_saves_and_emits_under_the_grants_id() -> None:
    svc = service()
    await GRANTS.save(svc.conn, opened())
    updated, emitted = await svc.handle(change_grant, accept())
    assert updated.accepted_at is not None
    assert await stored(svc) == updated  # committed
    [event] = emitted
    assert isinstance(event.payload, AwardAccepted)
    assert event.aggregate_id == str(APP_ID) and event.correlation_id == CAUSE.correlation_id
    assert event.actor == GRANTEE
    row: dict[str, Any] = svc.db.tables["grant_accounts"][APP_ID]
    assert (row["cvr"], row["payment_due"]) == (CVR, next_payment_due(updated))


async def test_a_retried_change_emits_nothing_and_keeps_the_state() -> None:
    svc = service()
    await GRANTS.save(svc.conn, opened())
    first, _ = await svc.handle(change_grant, accept())
    again, emitted = await svc.handle(change_grant, accept(when=DEADLINE - timedelta(days=1)))
    assert again == first == await stored(svc)
    assert emitted == []


async def test_a_refused_change_leaves_the_stored_grant_as_it_was() -> None:
    svc = service()
    before = opened()
    await GRANTS.save(svc.conn, before)
    with pytest.raises(Refusal):
        await svc.handle(change_grant, accept(when=DEADLINE + timedelta(seconds=1)))  # R14: late
    assert await stored(svc) == before
    assert svc.db.rollbacks == 1 and svc.db.envelopes == []


async def test_a_change_of_an_unknown_grant_is_refused_as_not_found() -> None:
    svc = service()
    with pytest.raises(Refusal) as refused:
        await svc.handle(change_grant, accept())
    assert (refused.value.code, refused.value.kind) == ("grant_not_found", "not_found")
    assert await stored(svc) is None


# -- payment runs and the acceptance sweep ------------------------------------------------------

def run(actor: Actor = FIRST, today: date = RUN_DAY) -> RunPayments:
    return RunPayments(today=today, actor=actor, cause=Cause(actor=actor, correlation_id="run"))


async def test_a_run_instructs_the_accepted_grants_indexes_and_saves_them() -> None:
    svc = service()
    await GRANTS.save(svc.conn, with_budget())
    await GRANTS.save(svc.conn, opened(application_id=OTHER_APP))  # not accepted: not run
    result, emitted = await svc.handle(run_payments, run())
    instructions = [e for e in payloads(emitted) if isinstance(e, PaymentInstructed)]
    assert len(instructions) == 2 and payloads(emitted) == result.events
    assert {e.aggregate_id for e in emitted} == {str(APP_ID)}
    assert result.refused == []
    state = await stored(svc)
    assert state is not None
    assert [i.instruction_id for i in state.instructions] == [
        i.instruction_id for i in instructions]
    for instruction in instructions:  # a finance result finds its grant
        assert await INSTRUCTIONS.get(svc.conn, instruction.instruction_id) == APP_ID
    again, emitted = await svc.handle(run_payments, run())  # the same day again: nothing new
    assert (again.events, emitted) == ([], [])
    assert await stored(svc) == state


async def test_a_run_by_the_grants_approver_lists_it_refused_and_stores_nothing() -> None:
    svc = service()
    before = with_budget()
    await GRANTS.save(svc.conn, before)
    result, emitted = await svc.handle(run_payments, run(GRANT_APPROVER))
    assert result.refused == [{"application_id": str(APP_ID), "error": "segregation_of_duties"}]
    assert (result.events, emitted) == ([], [])
    assert await stored(svc) == before
    assert svc.db.tables.get("instruction_index", {}) == {}


async def test_a_run_reads_the_grantees_hold_book() -> None:
    svc = service()
    before = with_budget()
    await GRANTS.save(svc.conn, before)
    await HOLD_BOOKS.save(svc.conn, held())
    result, emitted = await svc.handle(run_payments, run())
    assert (result.events, emitted) == ([], [])  # held (R18): nothing instructed
    assert await stored(svc) == before


def scheduled(today: date) -> RunPayments:
    """The scheduler's run (services/payments/scheduled.py ``pay_due_periods``): no actor."""
    return RunPayments(today=today, actor=None, cause=Cause(actor=FIRST, correlation_id="tick"))


async def test_the_scheduled_run_pays_each_period_on_its_due_date() -> None:
    svc = service()
    await GRANTS.save(svc.conn, with_budget())
    result, emitted = await svc.handle(run_payments, scheduled(date(2023, 2, 1)))
    [first] = [e for e in payloads(emitted) if isinstance(e, PaymentInstructed)]  # 2023-01 only
    assert result.events == payloads(emitted) and {e.aggregate_id for e in emitted} == {
        str(APP_ID)}
    assert await INSTRUCTIONS.get(svc.conn, first.instruction_id) == APP_ID
    row: dict[str, Any] = svc.db.tables["grant_accounts"][APP_ID]
    assert row["payment_due"] == date(2023, 4, 1) and row["payment_due_of"] == row["updated_at"]
    assert await svc.handle(run_payments, scheduled(date(2023, 3, 31))) == (RunResult([], []), [])
    result, emitted = await svc.handle(run_payments, scheduled(RUN_DAY))
    assert [e for e in result.events if isinstance(e, PaymentInstructed)] != []
    assert svc.db.tables["grant_accounts"][APP_ID]["payment_due"] is None  # nothing left


async def test_the_scheduled_run_reads_the_stored_due_date_while_its_stamp_is_current() -> None:
    """A stored due date that has not come keeps the grant out of the scheduled run (it is not
    even read); a row whose stamp is not its updated_at (written before 004_payment_due.sql) is
    read and decided; a caseworker's run reads every accepted grant."""
    svc = service()
    await GRANTS.save(svc.conn, with_budget())
    await GRANTS.save(svc.conn, with_budget(application_id=OTHER_APP))
    later = "UPDATE grant_accounts SET payment_due = $2 WHERE application_id = $1"
    await svc.conn.executemany(later, [(APP_ID, date(2024, 1, 1)), (OTHER_APP, date(2024, 1, 1))])
    await svc.conn.execute("UPDATE grant_accounts SET payment_due_of = $2"
                           " WHERE application_id = $1", OTHER_APP, None)  # an older row
    result, emitted = await svc.handle(run_payments, scheduled(RUN_DAY))
    assert {e.aggregate_id for e in emitted} == {str(OTHER_APP)} and result.events
    stamped = svc.db.tables["grant_accounts"][OTHER_APP]
    assert stamped["payment_due_of"] == stamped["updated_at"]  # current again once saved
    _, emitted = await svc.handle(run_payments, run())
    assert {e.aggregate_id for e in emitted} == {str(APP_ID)}


async def test_the_sweep_lapses_each_late_unaccepted_award_once() -> None:
    svc = service()
    await GRANTS.save(svc.conn, opened())
    accepted = with_budget(application_id=OTHER_APP)
    await GRANTS.save(svc.conn, accepted)
    late = DEADLINE + timedelta(seconds=1)
    sweep = LapseUnaccepted(now=late, cause=CAUSE)
    lapsed, emitted = await svc.handle(lapse_unaccepted, sweep)
    assert [x["application_id"] for x in lapsed] == [str(APP_ID)]
    [event] = emitted
    assert isinstance(event.payload, AwardLapsed) and event.aggregate_id == str(APP_ID)
    state = await stored(svc)
    assert state is not None and state.is_lapsed
    assert await stored(svc, OTHER_APP) == accepted
    assert await svc.handle(lapse_unaccepted, sweep) == ([], [])  # lapsed: not swept again


# -- re-issuing a failed instruction -------------------------------------------------------------

async def failed_instruction(svc: FakeService) -> PaymentInstructed:
    """A grant whose first instruction failed, stored with its index, as the consumers leave it."""
    grant = Driver(with_budget())
    first, _ = grant(instruct_due, RUN_DAY, None)
    grant(record_result, PaymentFailed(instruction_id=first.instruction_id,
                                       failed_at=at(2023, 4, 2), reason="account closed"))
    await GRANTS.save(svc.conn, grant.state)
    await INSTRUCTIONS.put(svc.conn, first.instruction_id, APP_ID)
    return first


def reissue(instruction_id: UUID, actor: Actor, *, approve: bool) -> ChangeInstruction:
    def decide(state: GrantAccount, book: HoldBook | None) -> list[Any]:
        if approve:
            return list(reissue_failed(state, instruction_id, actor, book))
        return list(request_reissue(state, instruction_id, actor, book, at(2023, 4, 3)))
    return ChangeInstruction(instruction_id=instruction_id, decide=decide,
                             cause=Cause(actor=actor, correlation_id="reissue"))


async def test_a_reissue_indexes_the_new_instruction_under_the_grant() -> None:
    svc = service()
    failed = await failed_instruction(svc)
    await svc.handle(change_instruction, reissue(failed.instruction_id, FIRST, approve=False))
    state, emitted = await svc.handle(change_instruction,
                                      reissue(failed.instruction_id, SECOND, approve=True))
    [event] = emitted
    assert isinstance(event.payload, PaymentInstructed) and event.aggregate_id == str(APP_ID)
    assert await INSTRUCTIONS.get(svc.conn, event.payload.instruction_id) == APP_ID
    assert state == await stored(svc)
    assert state.instruction(event.payload.instruction_id) is not None
    assert await svc.handle(change_instruction,  # approved twice: re-issued once
                            reissue(failed.instruction_id, SECOND, approve=True)) == (state, [])


async def test_a_reissue_of_an_unknown_instruction_is_refused_as_not_found() -> None:
    svc = service()
    await failed_instruction(svc)
    with pytest.raises(Refusal) as refused:
        await svc.handle(change_instruction, reissue(uuid4(), FIRST, approve=False))
    assert (refused.value.code, refused.value.kind) == ("instruction_not_found", "not_found")


# -- releasing a hold (R19) ----------------------------------------------------------------------

REPORT = ReportOverdue(application_id=APP_ID, cvr=CVR, kind="status", due=date(2023, 6, 30))


def held() -> HoldBook:
    [event] = hold_for_overdue_report(None, REPORT, at(2023, 7, 1))
    return evolve_holds(None, event)


async def a_held_grantee(svc: FakeService) -> UUID:
    """A grantee with one grant (approved by ``APPROVER``) and one active hold, indexed."""
    await GRANTS.save(svc.conn, opened())
    book = held()
    await HOLD_BOOKS.save(svc.conn, book)
    [hold] = book.holds
    await HOLDS.put(svc.conn, hold.hold_id, CVR)
    return hold.hold_id


async def test_a_release_is_asked_then_approved_by_two_people_and_stored() -> None:
    svc = service()
    hold_id = await a_held_grantee(svc)
    now = at(2023, 7, 2)
    (book, hold), emitted = await svc.handle(ask_release, RequestRelease(
        hold_id=hold_id, requester=FIRST.id, now=now, cause=CAUSE))
    [asked] = emitted
    assert isinstance(asked.payload, HoldReleaseRequested)
    assert asked.aggregate_id == str(APP_ID)  # the application's id, never the CVR
    assert await HOLD_BOOKS.read(svc.conn, CVR) == book and hold.release_request is not None
    again = await svc.handle(ask_release, RequestRelease(
        hold_id=hold_id, requester=FIRST.id, now=now + timedelta(hours=1), cause=CAUSE))
    assert again == ((book, hold), [])  # the same person again: a retry
    (book, hold), emitted = await svc.handle(approve_release, ApproveRelease(
        hold_id=hold_id, approver=SECOND.id, now=now, cause=CAUSE))
    [released] = emitted
    assert isinstance(released.payload, PaymentsReleased) and not hold.active
    assert released.aggregate_id == str(APP_ID)
    assert await HOLD_BOOKS.read(svc.conn, CVR) == book


@pytest.mark.parametrize("approver, code", [(FIRST.id, "two_person_rule"),
                                            (APPROVER, "segregation_of_duties")])
async def test_a_refused_release_stores_nothing(approver: str, code: str) -> None:
    svc = service()
    hold_id = await a_held_grantee(svc)
    (asked, _), _ = await svc.handle(ask_release, RequestRelease(
        hold_id=hold_id, requester=FIRST.id, now=at(2023, 7, 2), cause=CAUSE))
    with pytest.raises(Refusal) as refused:  # the grant's approver, read from the stored grants
        await svc.handle(approve_release, ApproveRelease(
            hold_id=hold_id, approver=approver, now=at(2023, 7, 3), cause=CAUSE))
    assert refused.value.code == code
    assert await HOLD_BOOKS.read(svc.conn, CVR) == asked
    assert len(svc.db.envelopes) == 1  # the request's event only


async def test_a_release_of_an_unknown_hold_is_refused_as_not_found() -> None:
    svc = service()
    await a_held_grantee(svc)
    with pytest.raises(Refusal) as refused:
        await svc.handle(ask_release, RequestRelease(
            hold_id=uuid4(), requester=FIRST.id, now=at(2023, 7, 2), cause=CAUSE))
    assert (refused.value.code, refused.value.kind) == ("hold_not_found", "not_found")


# -- bank master data (R19) ----------------------------------------------------------------------

def ask_bank(actor: Actor = FIRST) -> RequestBankChange:
    return RequestBankChange(cvr=CVR, account_reference="1234-5678", actor=actor,
                             now=at(2023, 5, 1), cause=Cause(actor=actor, correlation_id="bank"))


async def test_a_bank_change_is_indexed_and_approved_by_a_second_person() -> None:
    svc = service()
    await GRANTS.save(svc.conn, opened())
    book, emitted = await svc.handle(ask_bank_change, ask_bank())
    [asked] = emitted
    assert isinstance(asked.payload, BankDetailsChangeRequested)
    change_id = asked.payload.change_id
    assert asked.aggregate_id == f"bank:{change_id}"  # never the CVR
    assert await BANK_BOOKS.read(svc.conn, CVR) == book
    assert await BANK_CHANGES.get(svc.conn, change_id) == CVR
    assert await svc.handle(ask_bank_change, ask_bank()) == (book, [])  # a retry
    approve = ApproveBankChange(change_id=change_id, actor=SECOND, now=at(2023, 5, 2),
                                cause=CAUSE)
    book, emitted = await svc.handle(approve_bank, approve)
    assert payloads(emitted) == [BankDetailsChanged(
        change_id=change_id, cvr=CVR, account_reference="1234-5678", requested_by=FIRST.id,
        approved_by=SECOND.id, changed_at=at(2023, 5, 2))]
    assert await BANK_BOOKS.read(svc.conn, CVR) == book
    assert await svc.handle(approve_bank, approve) == (book, [])  # approved twice: once


async def test_a_bank_change_asked_by_the_grants_approver_stores_nothing() -> None:
    svc = service()
    await GRANTS.save(svc.conn, opened())
    with pytest.raises(Refusal) as refused:
        await svc.handle(ask_bank_change, ask_bank(GRANT_APPROVER))
    assert refused.value.code == "segregation_of_duties"
    assert await BANK_BOOKS.read(svc.conn, CVR) is None
    assert svc.db.tables.get("bank_change_index", {}) == {} and svc.db.envelopes == []


async def test_approving_an_unknown_bank_change_is_refused_as_not_found() -> None:
    svc = service()
    with pytest.raises(Refusal) as refused:
        await svc.handle(approve_bank, ApproveBankChange(
            change_id=uuid4(), actor=SECOND, now=at(2023, 5, 2), cause=CAUSE))
    assert (refused.value.code, refused.value.kind) == ("bank_change_not_found", "not_found")
