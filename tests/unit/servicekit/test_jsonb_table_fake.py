"""The JsonbTable suite on the unit tests' fake database (tests/unit/servicekit/fake_database.py),
so the service-layer tests that run on the fake rest on the same behaviour as PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.servicekit.fake_database import FakeConnection, FakeDatabase
from tests.unit.servicekit.jsonb_table_suite import Columns, JsonbTableSuite


class TestJsonbTableOnTheFake(JsonbTableSuite):
    @pytest.fixture
    def conn(self) -> FakeConnection:
        return FakeConnection(FakeDatabase())

    @pytest.fixture
    def columns(self, conn: FakeConnection) -> Columns:
        async def committed(cvr: str) -> dict[str, Any] | None:
            row = conn.db.tables.get("books", {}).get(cvr)
            return None if row is None else {k: v for k, v in row.items() if k != "state"}
        return committed


@pytest.mark.parametrize("sql", [
    "SELECT state FROM books WHERE total > $1",  # a comparison it does not evaluate
    "SELECT state FROM books WHERE total = $1 OR cvr = $1",
    "SELECT f.state FROM books f JOIN ledgers l ON true WHERE f.cvr = $1",
    "SELECT count(*) FROM books",
    "WITH x AS (SELECT 1) SELECT * FROM x",
    "INSERT INTO books (cvr, state) SELECT cvr, state FROM ledgers ON CONFLICT DO NOTHING",
    "INSERT INTO books (cvr, state) VALUES ($1, $2) ON CONFLICT (cvr)"
    " DO UPDATE SET total = books.total + 1",
    "UPDATE books SET total = total + $1 WHERE cvr = $1",
    "DELETE FROM books",
])
async def test_the_fake_refuses_a_statement_it_does_not_know(sql: str) -> None:
    conn = FakeConnection(FakeDatabase())
    with pytest.raises(AssertionError, match="unexpected query"):
        await conn.fetch(sql, "x", "y")
