"""A fake of the database a consumer's transaction touches (servicekit.inbox.claim, an effect,
servicekit.outbox.Emitter.flush, the aggregate rows of a servicekit.jsonb_repository.JsonbTable):
what a transaction did is kept only when it commits, as in PostgreSQL. The SQL is recognised by
the table it names or by JsonbTable's statement shapes; any other statement fails the test.

JSONB tables are copied when a transaction begins and replace the committed ones only when it
commits, so a rolled-back transaction leaves nothing. There is one connection at a time: row
locks have nothing to wait for and are not modelled (tests/integration/test_jsonb_repository.py
pins them on PostgreSQL). A statement outside a transaction commits by itself (autocommit)."""

from __future__ import annotations

import contextlib
import copy
import re
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID


class FakeDatabase:
    def __init__(self, claimed: Sequence[UUID] = ()) -> None:
        self.inbox: set[UUID] = set(claimed)
        self.effects: list[Any] = []
        self.outbox: list[tuple[UUID, str]] = []  # (event id, topic)
        self.sequences: dict[str, int] = {}
        self.tables: dict[str, dict[Any, dict[str, Any]]] = {}  # table → key → column → value
        self.commits = 0
        self.rollbacks = 0


class FakeConnection:
    def __init__(self, db: FakeDatabase) -> None:
        self.db = db
        self._open: dict[str, Any] | None = None

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        self._open = {"inbox": set(), "effects": [], "outbox": [], "sequences": {},
                      "tables": copy.deepcopy(self.db.tables)}
        try:
            yield
        except BaseException:
            self.db.rollbacks += 1
            raise
        else:
            self.db.inbox |= self._open["inbox"]
            self.db.effects += self._open["effects"]
            self.db.outbox += self._open["outbox"]
            self.db.sequences.update(self._open["sequences"])
            self.db.tables = self._open["tables"]
            self.db.commits += 1
        finally:
            self._open = None

    def record(self, effect: Any) -> None:
        """A handler's effect, in the open transaction."""
        assert self._open is not None, "an effect outside the batch's transaction"
        self._open["effects"].append(effect)

    async def fetch(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        if m := _LOCK_MANY.fullmatch(sql):  # JsonbTable.lock_many
            rows = self._table(m["table"])
            return [{"key": k, "state": rows[k]["state"]} for k in sorted(args[0]) if k in rows]
        if m := _SELECT_ALL.fullmatch(sql):  # JsonbTable.select without a condition
            rows = self._table(m["table"])
            return [{"state": rows[k]["state"]} for k in sorted(rows)]
        assert self._open is not None
        if "INSERT INTO inbox" in sql:  # servicekit.inbox.claim
            _, ids = args
            fresh = [i for i in dict.fromkeys(ids)
                     if i not in self.db.inbox and i not in self._open["inbox"]]
            self._open["inbox"] |= set(fresh)
            return [{"event_id": i} for i in fresh]
        if "aggregate_sequence" in sql:  # servicekit.outbox._next_sequences
            rows = []
            for aggregate, count in zip(*args):
                last = self._open["sequences"].get(aggregate, self.db.sequences.get(aggregate, 0))
                self._open["sequences"][aggregate] = last + count
                rows.append({"aggregate_id": aggregate, "last_sequence": last + count})
            return rows
        raise AssertionError(f"unexpected query {sql}")

    async def fetchval(self, sql: str, *args: Any) -> Any:
        m = _READ_ONE.fullmatch(sql)  # JsonbTable.read / lock
        assert m, f"unexpected query {sql}"
        row = self._table(m["table"]).get(args[0])
        return None if row is None else row["state"]

    async def execute(self, sql: str, *args: Any) -> None:
        if m := _ENSURE.fullmatch(sql):  # JsonbTable.ensure: insert unless there is a row
            self._table(m["table"]).setdefault(args[0], {m["key"]: args[0], "state": args[1]})
            return
        if m := _UPSERT.fullmatch(sql):  # JsonbTable.save: every named column replaced
            now = datetime.now(UTC)
            values = [args[int(v[1:]) - 1] if v.startswith("$") else now
                      for v in (v.removesuffix("::jsonb") for v in m["values"].split(", "))]
            row = dict(zip(m["columns"].split(", "), values, strict=True))
            self._table(m["table"])[row[m["key"]]] = row
            return
        assert self._open is not None and "servicekit_append_events" in sql
        self._open["outbox"] += list(zip(args[0], args[1]))

    def _table(self, name: str) -> dict[Any, dict[str, Any]]:
        """The rows of ``name`` this connection sees: the open transaction's copy, or the
        committed rows for a statement outside a transaction."""
        tables = self.db.tables if self._open is None else self._open["tables"]
        return tables.setdefault(name, {})


# The statements servicekit.jsonb_repository.JsonbTable sends (names are plain identifiers).
_READ_ONE = re.compile(r"SELECT state FROM (?P<table>\w+) WHERE (?P<key>\w+) = \$1"
                       r"(?: FOR UPDATE| FOR SHARE)?")
_LOCK_MANY = re.compile(r"SELECT (?P<key>\w+) AS key, state FROM (?P<table>\w+)"
                        r" WHERE (?P=key) = ANY\(\$1\) ORDER BY (?P=key) FOR UPDATE")
_SELECT_ALL = re.compile(r"SELECT state FROM (?P<table>\w+) ORDER BY \w+"
                         r"(?: FOR UPDATE| FOR SHARE)?")
_ENSURE = re.compile(r"INSERT INTO (?P<table>\w+) \((?P<key>\w+), state\)"
                     r" VALUES \(\$1, \$2::jsonb\) ON CONFLICT \((?P=key)\) DO NOTHING")
_UPSERT = re.compile(r"INSERT INTO (?P<table>\w+) \((?P<columns>[\w, ]+)\)"
                     r" VALUES \((?P<values>[$\w:(), ]+?)\)"
                     r" ON CONFLICT \((?P<key>\w+)\) DO UPDATE SET [\w.=(), ]+")


class FakePool:
    def __init__(self, db: FakeDatabase) -> None:
        self.db = db

    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[FakeConnection]:
        yield FakeConnection(self.db)
