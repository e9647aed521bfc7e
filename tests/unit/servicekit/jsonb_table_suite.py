"""One suite for servicekit.jsonb_repository.JsonbTable, run against every backend that claims to
behave like it (eventsourcing's one-suite-per-port pattern): the fake database of the unit tests
(tests/unit/servicekit/test_jsonb_table_fake.py) and asyncpg on the embedded PostgreSQL
(tests/integration/test_jsonb_repository.py). A fast service-layer test on the fake is only worth
something while the fake keeps what PostgreSQL does; this suite is what keeps them together.

A backend subclasses :class:`JsonbTableSuite` and provides two fixtures: ``conn`` (a connection
on which the tables ``books`` and ``ledgers`` exist, empty) and ``columns`` (the committed
columns of a ``books`` row other than ``state``, or ``None``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from pydantic import BaseModel

from servicekit.jsonb_repository import JsonbTable


class Book(BaseModel):
    cvr: str
    entries: list[int] = []


BOOKS = JsonbTable("books", "cvr", Book, key_of=lambda b: b.cvr,
                   columns={"total": lambda b: sum(b.entries)}, stamped=("total_of",))
LEDGERS = JsonbTable("ledgers", "programme", Book)  # the key is not in the aggregate

Columns = Callable[[str], Awaitable[dict[str, Any] | None]]


class JsonbTableSuite:
    async def test_reading_a_missing_row_is_none(self, conn: Any) -> None:
        assert await BOOKS.read(conn, "10000000") is None
        async with conn.transaction():
            assert await BOOKS.lock(conn, "10000000") is None
            assert await BOOKS.lock(conn, "10000000", share=True) is None
        assert await BOOKS.lock_many(conn, ["10000000"]) == {}

    async def test_save_then_read_writes_the_derived_and_stamped_columns(
            self, conn: Any, columns: Columns) -> None:
        await BOOKS.save(conn, Book(cvr="11111111", entries=[2, 3]))
        assert await BOOKS.read(conn, "11111111") == Book(cvr="11111111", entries=[2, 3])
        await BOOKS.save(conn, Book(cvr="11111111", entries=[2, 3, 5]))  # replaces
        assert await BOOKS.read(conn, "11111111") == Book(cvr="11111111", entries=[2, 3, 5])
        row = await columns("11111111")
        assert row is not None and row["total"] == 10
        assert row["total_of"] is not None and row["total_of"] == row["updated_at"]

    async def test_lock_creates_only_when_asked_and_only_if_the_transaction_commits(
            self, conn: Any) -> None:
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
        assert await BOOKS.read(conn, "22222222") == Book(cvr="22222222", entries=[1])
        async with conn.transaction():  # an existing row is never replaced by create
            kept = await BOOKS.lock(conn, "22222222", create=lambda: Book(cvr="22222222"))
        assert kept == Book(cvr="22222222", entries=[1])

    async def test_a_rolled_back_save_leaves_nothing(self, conn: Any, columns: Columns) -> None:
        await BOOKS.save(conn, Book(cvr="33333333", entries=[1]))
        with pytest.raises(RuntimeError):
            async with conn.transaction():
                await BOOKS.save(conn, Book(cvr="33333333", entries=[1, 2]))
                await BOOKS.save(conn, Book(cvr="34444444", entries=[4]))
                assert await BOOKS.read(conn, "34444444") == Book(cvr="34444444", entries=[4])
                raise RuntimeError("refused: roll back")
        assert await BOOKS.read(conn, "33333333") == Book(cvr="33333333", entries=[1])
        assert await BOOKS.read(conn, "34444444") is None
        row = await columns("33333333")
        assert row is not None and row["total"] == 1

    async def test_lock_many_and_select_go_in_key_order(self, conn: Any) -> None:
        for cvr in ("44444444", "11111111", "33333333"):
            await BOOKS.save(conn, Book(cvr=cvr, entries=[int(cvr[0])]))
        async with conn.transaction():
            locked = await BOOKS.lock_many(conn, ["44444444", "99999999", "11111111", "44444444"])
        assert list(locked) == ["11111111", "44444444"]  # sorted, unknown keys left out
        assert locked["44444444"] == Book(cvr="44444444", entries=[4])
        assert [b.cvr for b in await BOOKS.select(conn)] == ["11111111", "33333333", "44444444"]

    async def test_a_key_outside_the_aggregate_is_passed_to_save(self, conn: Any) -> None:
        with pytest.raises(TypeError, match="pass key="):
            await LEDGERS.save(conn, Book(cvr="x"))
        await LEDGERS.save(conn, Book(cvr="x", entries=[7]), key="programme-1")
        assert await LEDGERS.read(conn, "programme-1") == Book(cvr="x", entries=[7])
        assert await LEDGERS.read(conn, "x") is None
