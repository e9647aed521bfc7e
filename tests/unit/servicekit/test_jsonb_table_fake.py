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


async def test_the_fake_refuses_a_statement_it_does_not_know() -> None:
    conn = FakeConnection(FakeDatabase())
    with pytest.raises(AssertionError, match="unexpected query"):
        await conn.fetchval("SELECT state FROM books WHERE total > $1", 1)
