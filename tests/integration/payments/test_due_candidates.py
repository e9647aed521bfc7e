"""The scheduled payment run reads only the grants whose stored next due date has come
(004_payment_due.sql), on a real PostgreSQL: a grant due later is not locked, one due today is,
and a row whose stored date is not known to be current (written before the migration, or by an
older replica that did not stamp it) is read too, so no due date is missed."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

import services.payments
from servicekit import db
from services.payments.store import PaymentsStore
from tests.unit.payments.builders import STAFF
from tests.unit.payments.test_ledger import ready

pytestmark = pytest.mark.integration
MIGRATIONS = Path(services.payments.__file__).parent / "migrations"


async def test_only_grants_due_by_the_run_date_or_of_unknown_date_are_read(
        fresh_database: str) -> None:
    pool = await db.create_pool(fresh_database)
    try:
        await db.migrate(pool, MIGRATIONS)
        grant = ready({"2023-01": {STAFF: 100}, "2023-04": {STAFF: 100}}, amount=300).state
        async with pool.acquire() as conn, conn.transaction():
            await PaymentsStore(conn).save_grant(grant)
        async with pool.acquire() as conn, conn.transaction():
            store = PaymentsStore(conn)
            assert await store.lock_accepted_grants(date(2022, 12, 31)) == []
            assert [g.application_id for g in await store.lock_accepted_grants(
                date(2023, 1, 1))] == [grant.application_id]
            assert len(await store.lock_accepted_grants()) == 1  # a caseworker's run: all
        # an older writer updated the row without stamping its due date
        await pool.execute("UPDATE grant_accounts SET updated_at = now() + interval '1 second'")
        async with pool.acquire() as conn, conn.transaction():
            assert len(await PaymentsStore(conn).lock_accepted_grants(date(2022, 12, 31))) == 1
    finally:
        await pool.close()
