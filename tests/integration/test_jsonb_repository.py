"""servicekit.jsonb_repository.JsonbTable on a real PostgreSQL: what the stores of payments, intake
and assessment rely on. The shared suite (tests/unit/servicekit/jsonb_table_suite.py, also run on
the unit tests' fake) pins read, lock with and without creating, rollback, key order and the
derived columns; the tests below it are what only PostgreSQL has (row locks between connections,
a store's own condition, concurrent creating writers)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from servicekit.jsonb_repository import JsonbTable, KeyIndex
from tests.unit.servicekit.jsonb_table_suite import BOOKS, SCHEMA, Book, Columns, JsonbTableSuite

pytestmark = pytest.mark.integration


@pytest.fixture
async def conn(fresh_database: str) -> AsyncIterator[asyncpg.Connection]:
    c = await asyncpg.connect(fresh_database)
    await c.execute(SCHEMA)
    try:
        yield c
    finally:
        await c.close()


async def test_a_lock_makes_a_second_writer_wait(fresh_database: str,
                                                 conn: asyncpg.Connection) -> None:
    await BOOKS.save(conn, Book(cvr="33333333"))
    other = await asyncpg.connect(fresh_database)
    try:
        async with conn.transaction():
            await BOOKS.lock(conn, "33333333")
            async with other.transaction():
                await other.execute("SET LOCAL lock_timeout = '200ms'")
                with pytest.raises(asyncpg.LockNotAvailableError):
                    await BOOKS.lock(other, "33333333")
        async with other.transaction():  # a share lock does not block another share lock
            await BOOKS.lock(other, "33333333", share=True)
            async with conn.transaction():
                assert await BOOKS.lock(conn, "33333333", share=True) is not None
    finally:
        await other.close()


class TestJsonbTableOnPostgres(JsonbTableSuite):
    @pytest.fixture
    def columns(self, conn: asyncpg.Connection) -> Columns:
        async def committed(cvr: str) -> dict[str, Any] | None:
            row = await conn.fetchrow(
                "SELECT total, total_of, updated_at FROM books WHERE cvr = $1", cvr)
            return None if row is None else dict(row)
        return committed


async def test_select_under_a_stores_own_condition_goes_in_key_order(
        conn: asyncpg.Connection) -> None:
    for cvr in ("44444444", "11111111", "33333333"):
        await BOOKS.save(conn, Book(cvr=cvr, entries=[int(cvr[0])]))
    async with conn.transaction():
        big = await BOOKS.select(conn, "total >= $1", 3, lock="update")
    assert [b.cvr for b in big] == ["33333333", "44444444"]


def test_names_are_plain_identifiers() -> None:
    with pytest.raises(ValueError, match="identifier"):
        JsonbTable("books; DROP TABLE books", "cvr", Book)
    with pytest.raises(ValueError, match="identifier"):
        JsonbTable("books", "cvr", Book, columns={"total = 0 --": lambda b: 0})


async def test_concurrent_creating_locks_make_one_row(fresh_database: str,
                                                      conn: asyncpg.Connection) -> None:
    async def writer(n: int) -> None:
        c = await asyncpg.connect(fresh_database)
        try:
            async with c.transaction():
                book = await BOOKS.lock(c, "55555555", create=lambda: Book(cvr="55555555"))
                assert book is not None
                await BOOKS.save(c, book.model_copy(update={"entries": [*book.entries, n]}))
        finally:
            await c.close()

    await asyncio.gather(*(writer(n) for n in range(5)))
    book = await BOOKS.read(conn, "55555555")
    assert book is not None and sorted(book.entries) == [0, 1, 2, 3, 4]  # no lost update


def test_a_key_index_names_are_plain_identifiers() -> None:
    with pytest.raises(ValueError, match="identifier"):
        KeyIndex("hold_index", "hold_id", "cvr FROM x --")
