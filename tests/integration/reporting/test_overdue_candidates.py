"""The overdue sweep reads only the grant files whose stored ``overdue_from`` has come
(003_overdue_from.sql), on a real PostgreSQL: a file whose deadline day has not ended is not
read, one whose day ended is, a file with nothing left to notify is never read by the sweep, and
a row whose stored instant is not known to be current (written before the migration, or by an
older replica that did not stamp it) is read too, so no deadline is missed."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

import services.reporting
from servicekit import db
from services.reporting.store import ReportingStore
from tests.unit.reporting.test_overdue import STATUS_END, accept
from tests.unit.reporting.grants import awarded

pytestmark = pytest.mark.integration
MIGRATIONS = Path(services.reporting.__file__).parent / "migrations"


async def test_only_files_due_by_now_or_of_unknown_instant_are_read(fresh_database: str) -> None:
    pool = await db.create_pool(fresh_database)
    try:
        await db.migrate(pool, MIGRATIONS)
        state = awarded()
        async with pool.acquire() as conn, conn.transaction():
            await ReportingStore(conn).save_file(state)
        async with pool.acquire() as conn:
            store = ReportingStore(conn)
            before = STATUS_END - timedelta(microseconds=1)
            assert await store.open_files(before) == []
            assert [f.application_id for f in await store.open_files(STATUS_END)] == [
                state.application_id]
            assert len(await store.open_files()) == 1  # without a time: every open file
        # the final report accepted: open no more, nothing left to notify
        async with pool.acquire() as conn, conn.transaction():
            await ReportingStore(conn).save_file(accept(state, "final", 9))
        async with pool.acquire() as conn:
            assert await ReportingStore(conn).open_files(STATUS_END + timedelta(days=999)) == []
        # an older writer updated the row without stamping its instant
        async with pool.acquire() as conn, conn.transaction():
            await ReportingStore(conn).save_file(state)
        await pool.execute("UPDATE grant_files SET updated_at = now() + interval '1 second'")
        async with pool.acquire() as conn:
            assert len(await ReportingStore(conn).open_files(before)) == 1
    finally:
        await pool.close()
