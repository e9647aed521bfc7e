"""Payments' command handlers (services/payments/service.py) on a fake unit of work: the unit
tests' fake database (tests/unit/servicekit/fake_database.py, held to PostgreSQL's behaviour by
the shared JsonbTable suite) and a real Emitter. Fast checks of what a handler does around the
domain: it locks and saves the grant through the store, emits the domain's events under the
grant's aggregate id, and a refused command leaves the stored state as it was."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from contracts.base import Actor
from contracts.payments import AwardAccepted
from contracts.refusal import Refusal
from servicekit.clock import SimulatedClock
from servicekit.outbox import Cause, Emitter
from servicekit.service import UnitOfWork
from services.payments.domain import GrantAccount, accept_award, next_payment_due
from services.payments.service import ChangeGrant, change_grant
from services.payments.store import GRANTS
from tests.unit.payments.builders import APP_ID, CVR, DEADLINE, GRANTEE, opened
from tests.unit.servicekit.fake_database import FakeConnection, FakeDatabase

CAUSE = Cause(actor=GRANTEE, correlation_id="c-1")


def unit_of_work() -> tuple[UnitOfWork, FakeConnection]:
    conn = FakeConnection(FakeDatabase())
    emitter = Emitter(clock=SimulatedClock(datetime(2022, 11, 1, tzinfo=UTC)), channel="payments")
    return UnitOfWork(conn=conn, emitter=emitter), conn  # type: ignore[arg-type]


def accept(actor: Actor = GRANTEE, when: datetime = DEADLINE) -> ChangeGrant:
    return ChangeGrant(application_id=APP_ID, cause=CAUSE,
                       decide=lambda state: accept_award(state, actor, CVR, when))


async def stored(conn: FakeConnection) -> GrantAccount | None:
    return await GRANTS.read(conn, APP_ID)


async def test_a_change_locks_saves_and_emits_under_the_grants_id() -> None:
    uow, conn = unit_of_work()
    await GRANTS.save(conn, opened())
    async with conn.transaction():
        updated = await change_grant(uow, accept())
    assert updated.accepted_at is not None
    assert await stored(conn) == updated  # committed
    [pending] = uow.emitter.pending
    assert isinstance(pending.payload, AwardAccepted)
    assert pending.aggregate_id == str(APP_ID) and pending.cause == CAUSE
    row: dict[str, Any] = conn.db.tables["grant_accounts"][APP_ID]
    assert (row["cvr"], row["payment_due"]) == (CVR, next_payment_due(updated))


async def test_a_retried_change_emits_nothing_and_keeps_the_state() -> None:
    uow, conn = unit_of_work()
    await GRANTS.save(conn, opened())
    async with conn.transaction():
        first = await change_grant(uow, accept())
    uow.emitter.pending.clear()
    async with conn.transaction():
        again = await change_grant(uow, accept(when=DEADLINE - timedelta(days=1)))
    assert again == first == await stored(conn)
    assert uow.emitter.pending == []


async def test_a_refused_change_leaves_the_stored_grant_as_it_was() -> None:
    uow, conn = unit_of_work()
    before = opened()
    await GRANTS.save(conn, before)
    with pytest.raises(Refusal):
        async with conn.transaction():
            await change_grant(uow, accept(when=DEADLINE + timedelta(seconds=1)))  # R14: late
    assert await stored(conn) == before
    assert conn.db.rollbacks == 1 and uow.emitter.pending == []


async def test_a_change_of_an_unknown_grant_is_refused_as_not_found() -> None:
    uow, conn = unit_of_work()
    with pytest.raises(Refusal) as refused:
        async with conn.transaction():
            await change_grant(uow, accept())
    assert (refused.value.code, refused.value.kind) == ("grant_not_found", "not_found")
    assert await stored(conn) is None
