"""005_release_requests_in_hold_books.sql on a real PostgreSQL: a release request still waiting
in the old table moves onto its hold (the domain state the release is decided from now), a
request of a hold released since is dropped, holds nobody asked for stay as they were, and the
table is gone."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

import pytest

import services.payments
from servicekit import db
from services.payments.domain import HoldBook, ReleaseRequest, evolve_holds, release_hold
from services.payments.store import PaymentsStore
from tests.unit.payments.builders import CVR, at
from tests.unit.payments.test_holds import OTHER_GRANT, asked, held_book, overdue

pytestmark = pytest.mark.integration
MIGRATIONS = Path(services.payments.__file__).parent / "migrations"
NEW = "005_release_requests_in_hold_books.sql"


async def test_waiting_requests_move_onto_their_holds(fresh_database: str,
                                                      tmp_path: Path) -> None:
    before = tmp_path / "migrations"
    before.mkdir()
    for sql in sorted(MIGRATIONS.glob("*.sql")):
        if sql.name < NEW:
            shutil.copy(sql, before / sql.name)
    # three holds: one asked for, one released since it was asked for, one nobody asked for
    book = held_book(overdue(), overdue(application_id=OTHER_GRANT),
                     overdue(kind="final", due=at(2027, 3, 31).date()))
    released = asked(book, "cw-x", hold=1)
    (release,) = release_hold(released, book.holds[1].hold_id, "cw-y", [], at(2023, 8, 2))
    old_book = evolve_holds(released, release)
    stored = old_book.model_dump(mode="json")
    for hold in stored["holds"]:
        del hold["release_request"]  # the book as the older version wrote it
    waiting, gone = book.holds[0].hold_id, book.holds[1].hold_id
    requested_at = datetime(2023, 8, 1, 9, 30, 15, 123456, tzinfo=UTC)
    pool = await db.create_pool(fresh_database)
    try:
        await db.migrate(pool, before)
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("INSERT INTO hold_books (cvr, state) VALUES ($1, $2::jsonb)",
                               CVR, HoldBook.model_validate(stored).model_dump_json())
            for hold_id, who in ((waiting, "cw-a"), (gone, "cw-x")):
                await conn.execute(
                    "INSERT INTO release_requests (hold_id, cvr, requested_by, requested_at)"
                    " VALUES ($1, $2, $3, $4)", hold_id, CVR, who, requested_at)
        assert await db.migrate(pool, MIGRATIONS) == [f"service/{NEW}"]
        async with pool.acquire() as conn:
            after = await PaymentsStore(conn).read_hold_book(CVR)
            assert await conn.fetchval("SELECT to_regclass('release_requests')") is None
        assert after is not None
        by_id: dict[UUID, object] = {h.hold_id: h.release_request for h in after.holds}
        assert by_id == {waiting: ReleaseRequest(requested_by="cw-a", requested_at=requested_at),
                         gone: None, book.holds[2].hold_id: None}
        assert [h.model_dump(exclude={"release_request"}) for h in after.holds] == [
            h.model_dump(exclude={"release_request"}) for h in old_book.holds]
        # and the second person releases it from the book
        (done,) = release_hold(after, waiting, "cw-b", [], at(2023, 8, 3))
        assert (done.requested_by, done.approved_by) == ("cw-a", "cw-b")
    finally:
        await pool.close()
