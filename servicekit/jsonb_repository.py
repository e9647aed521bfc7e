"""One aggregate per row: its JSON in a ``state`` JSONB column under a key column.

The stores of payments (grant accounts, hold books, bank books), intake (applications) and
assessment (the funding ledger) each read, locked and upserted such rows with their own copy of
the same three statements. :class:`JsonbTable` is that pattern once: read, lock (``FOR UPDATE``
or ``FOR SHARE``, optionally creating an empty aggregate first so a concurrent writer waits on
the row), lock many in key order (the lock order the stores document), and save (an upsert that
also writes the columns a store derives from the aggregate for its own queries).

Every method runs on the caller's connection, inside the caller's transaction. Table and column
names are constants of the store that declares the table, checked here as plain identifiers:
no name ever comes from input.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Generic, Literal, TypeVar

import asyncpg
from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")
Lock = Literal["update", "share"] | None


def _name(value: str) -> str:
    if not _IDENTIFIER.fullmatch(value):
        raise ValueError(f"{value!r} is not a plain SQL identifier")
    return value


class JsonbTable(Generic[M]):
    """The rows of ``table``: ``key_column`` → ``model`` as JSON in ``state``.

    - ``key_of``: the key of an aggregate (``None`` when the key is not part of the model, as
      the funding ledger's programme: then :meth:`save` takes it as an argument).
    - ``columns``: the other columns :meth:`save` writes, each computed from the aggregate
      (e.g. a grant's ``cvr`` and next due date, which queries filter on).
    - ``stamped``: columns set to ``now()`` on every save, besides ``updated_at``.
    """

    def __init__(self, table: str, key_column: str, model: type[M], *,
                 key_of: Callable[[M], Any] | None = None,
                 columns: Mapping[str, Callable[[M], Any]] | None = None,
                 stamped: Iterable[str] = ()) -> None:
        self.table, self.key_column, self.model = _name(table), _name(key_column), model
        self.key_of = key_of
        self.columns = {_name(c): f for c, f in (columns or {}).items()}
        self.stamped = tuple(_name(c) for c in stamped)
        names = [self.key_column, "state", *self.columns]
        values = ["$1", "$2::jsonb", *(f"${i}" for i in range(3, len(names) + 1))]
        stamps = [*self.stamped, "updated_at"]
        updates = [f"{c} = EXCLUDED.{c}" for c in names[1:]] + [f"{c} = now()" for c in stamps]
        self._upsert = (
            f"INSERT INTO {self.table} ({', '.join([*names, *stamps])})"
            f" VALUES ({', '.join([*values, *('now()' for _ in stamps)])})"
            f" ON CONFLICT ({self.key_column}) DO UPDATE SET {', '.join(updates)}")
        self._select = f"SELECT state FROM {self.table}"
        self._ensure = (f"INSERT INTO {self.table} ({self.key_column}, state)"
                        f" VALUES ($1, $2::jsonb) ON CONFLICT ({self.key_column}) DO NOTHING")

    def decode(self, raw: str | bytes) -> M:
        return self.model.model_validate_json(raw)

    async def read(self, conn: asyncpg.Connection, key: Any) -> M | None:
        """The aggregate, or ``None`` when there is no row; not locked."""
        return await self._one(conn, key, None)

    async def lock(self, conn: asyncpg.Connection, key: Any, *, share: bool = False,
                   create: Callable[[], M] | None = None) -> M | None:
        """The aggregate, locked until the transaction ends (``share``: against writers only).
        With ``create`` a missing row is inserted first (``create()``'s aggregate), so a
        concurrent writer waits on it; it stays only if the transaction commits."""
        if create is not None:
            await self.ensure(conn, key, create())
        return await self._one(conn, key, "share" if share else "update")

    async def ensure(self, conn: asyncpg.Connection, key: Any, empty: M) -> None:
        """Insert ``empty`` under ``key`` when there is no row; an existing row is untouched."""
        await conn.execute(self._ensure, key, empty.model_dump_json())

    async def select(self, conn: asyncpg.Connection, where: str = "", *args: Any,
                     lock: Lock = None) -> list[M]:
        """The aggregates of the rows ``where`` (an SQL condition the store writes, with
        ``$n`` parameters in ``args``; never text from input) selects, in key order, locked as
        ``lock`` says."""
        condition = f" WHERE {where}" if where else ""
        return [self.decode(r["state"]) for r in await conn.fetch(
            f"{self._select}{condition} ORDER BY {self.key_column}{_lock_clause(lock)}", *args)]

    async def save(self, conn: asyncpg.Connection, aggregate: M, *, key: Any = None) -> None:
        """Insert or replace the row: the state, the derived columns, the stamps."""
        if key is None:
            if self.key_of is None:
                raise TypeError(f"{self.table}: the key is not in the aggregate; pass key=")
            key = self.key_of(aggregate)
        await conn.execute(self._upsert, key, aggregate.model_dump_json(),
                           *(f(aggregate) for f in self.columns.values()))

    async def _one(self, conn: asyncpg.Connection, key: Any, lock: Lock) -> M | None:
        state = await conn.fetchval(
            f"{self._select} WHERE {self.key_column} = $1{_lock_clause(lock)}", key)
        return None if state is None else self.decode(state)


def _lock_clause(lock: Lock) -> str:
    return {None: "", "update": " FOR UPDATE", "share": " FOR SHARE"}[lock]


class KeyIndex:
    """A lookup table ``key_column`` → ``value_column`` that routes a call to its aggregate (a
    hold id to its grantee's book, an instruction to its grant). Written once per key: a second
    write of a key keeps the first value (the ids it maps are never reused)."""

    def __init__(self, table: str, key_column: str, value_column: str) -> None:
        table, key_column, value_column = _name(table), _name(key_column), _name(value_column)
        self._put = (f"INSERT INTO {table} ({key_column}, {value_column}) VALUES ($1, $2)"
                     " ON CONFLICT DO NOTHING")
        self._get = f"SELECT {value_column} FROM {table} WHERE {key_column} = $1"

    async def put(self, conn: asyncpg.Connection, key: Any, value: Any) -> None:
        await conn.execute(self._put, key, value)

    async def get(self, conn: asyncpg.Connection, key: Any) -> Any:
        """The value of ``key``, or ``None`` when it was never indexed."""
        return await conn.fetchval(self._get, key)
