"""servicekit.jsonb_repository.JsonbTable on a real PostgreSQL: what the stores of payments, intake
and assessment rely on (read, lock with and without creating, lock in key order, save with
derived and stamped columns, everything inside the caller's transaction)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from pydantic import BaseModel

from servicekit.jsonb_repository import JsonbTable, KeyIndex

pytestmark = pytest.mark.integration


class Book(BaseModel):
    cvr: str
    entries: list[int] = []


BOOKS = JsonbTable("books", "cvr", Book, key_of=lambda b: b.cvr,
                   columns={"total": lambda b: sum(b.entries)}, stamped=("total_of",))
LEDGERS = JsonbTable("ledgers", "programme", Book)  # the key is not in the aggregate


@pytest.fixture
async def conn(fresh_database: str) -> AsyncIterator[asyncpg.Connection]:
    c = await asyncpg.connect(fresh_database)
    await c.execute(
        "CREATE TABLE books (cvr text PRIMARY KEY, state jsonb NOT NULL, total bigint,"
        " total_of timestamptz, updated_at timestamptz NOT NULL DEFAULT now());"
        "CREATE TABLE ledgers (programme text PRIMARY KEY, state jsonb NOT NULL,"
        " updated_at timestamptz NOT NULL DEFAULT now());"
        "CREATE TABLE hold_index (hold_id uuid PRIMARY KEY, cvr text NOT NULL)")
    try:
        yield c
    finally:
        await c.close()


async def test_read_save_and_the_derived_columns(conn: asyncpg.Connection) -> None:
    assert await BOOKS.read(conn, "11111111") is None
    await BOOKS.save(conn, Book(cvr="11111111", entries=[2, 3]))
    assert await BOOKS.read(conn, "11111111") == Book(cvr="11111111", entries=[2, 3])
    await BOOKS.save(conn, Book(cvr="11111111", entries=[2, 3, 5]))  # replaces, one row
    row = await conn.fetchrow("SELECT count(*) OVER () AS n, total, total_of = updated_at AS"
                              " stamped_together FROM books")
    assert (row["n"], row["total"], row["stamped_together"]) == (1, 10, True)


async def test_lock_creates_only_when_asked_and_only_if_the_transaction_commits(
        conn: asyncpg.Connection) -> None:
    async with conn.transaction():
        assert await BOOKS.lock(conn, "22222222") is None
    with pytest.raises(RuntimeError):
        async with conn.transaction():
            made = await BOOKS.lock(conn, "22222222", create=lambda: Book(cvr="22222222"))
            assert made == Book(cvr="22222222")
            raise RuntimeError("refused: roll back")
    assert await BOOKS.read(conn, "22222222") is None
    async with conn.transaction():
        await BOOKS.lock(conn, "22222222", create=lambda: Book(cvr="22222222", entries=[1]))
    # an existing row is never replaced by create
    async with conn.transaction():
        kept = await BOOKS.lock(conn, "22222222", create=lambda: Book(cvr="22222222"))
    assert kept == Book(cvr="22222222", entries=[1])


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


async def test_lock_many_and_select_go_in_key_order(conn: asyncpg.Connection) -> None:
    for cvr in ("44444444", "11111111", "33333333"):
        await BOOKS.save(conn, Book(cvr=cvr, entries=[int(cvr[0])]))
    async with conn.transaction():
        locked = await BOOKS.lock_many(conn, ["44444444", "99999999", "11111111", "44444444"])
    assert list(locked) == ["11111111", "44444444"]  # sorted, unknown keys left out
    async with conn.transaction():
        big = await BOOKS.select(conn, "total >= $1", 3, lock="update")
    assert [b.cvr for b in big] == ["33333333", "44444444"]
    assert [b.cvr for b in await BOOKS.select(conn)] == ["11111111", "33333333", "44444444"]


async def test_a_key_outside_the_aggregate_is_passed_to_save(conn: asyncpg.Connection) -> None:
    with pytest.raises(TypeError, match="pass key="):
        await LEDGERS.save(conn, Book(cvr="x"))
    await LEDGERS.save(conn, Book(cvr="x", entries=[7]), key="programme-1")
    assert await LEDGERS.read(conn, "programme-1") == Book(cvr="x", entries=[7])


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


async def test_a_key_index_keeps_the_first_value(conn: asyncpg.Connection) -> None:
    holds = KeyIndex("hold_index", "hold_id", "cvr")
    hold = uuid.uuid4()
    assert await holds.get(conn, hold) is None
    await holds.put(conn, hold, "11111111")
    await holds.put(conn, hold, "22222222")  # a redelivered event indexes again: no change
    assert await holds.get(conn, hold) == "11111111"
    with pytest.raises(ValueError, match="identifier"):
        KeyIndex("hold_index", "hold_id", "cvr FROM x --")
