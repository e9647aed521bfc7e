"""A fake of the database a service's transaction touches (servicekit.inbox.claim, an effect,
servicekit.outbox.Emitter.flush, and the stores' tables): what a transaction did is kept only
when it commits, as in PostgreSQL.

The stores' tables are kept in memory (:attr:`FakeDatabase.tables`: table → key → column →
value) and reached through a small subset of SQL, each form of which the shared suite
(tests/unit/servicekit/jsonb_table_suite.py) runs on the fake and on PostgreSQL alike:

- ``SELECT [DISTINCT] c, c AS a, c->>'f' AS a FROM t [WHERE …] [ORDER BY c] [FOR UPDATE|SHARE]``
- ``INSERT INTO t (c, …) VALUES ($n[::type] | now(), …) ON CONFLICT [(k)] DO NOTHING``, or
  ``… DO UPDATE SET c = EXCLUDED.c | c = now(), … [WHERE t.c < EXCLUDED.c]``
- ``UPDATE t SET c = $n[::type] | c = now(), … WHERE …`` and ``DELETE FROM t WHERE …``
- ``UPDATE t AS a SET c = u.x[::type] | c = now(), … FROM unnest($n::type[], …) AS u(x, …)
  WHERE a.k = u.y``: each row of the arrays updates the rows whose ``k`` is its ``y`` (the
  arrays name each ``y`` once: PostgreSQL takes an arbitrary one of repeated matches)
- a condition (``WHERE``) is atoms joined by ``AND``: ``c = $n``, ``c = ANY($n)``,
  ``c <= $n``, ``c->>'f' IS [NOT] NULL``, ``c IS DISTINCT FROM c2``, or a parenthesised
  ``(atom OR atom …)`` of those (NULL compares as PostgreSQL: ``=`` and ``<=`` are not true,
  ``IS DISTINCT FROM`` is NULL-safe).

and statements as a whole, modelled in Python (:data:`_MODELLED`): intake's set-based load
(``services.intake.store._LOAD``, one CTE that claims, creates, locks and reads pool versions),
as PostgreSQL runs it: each part reads the statement's snapshot, so a claim or row the statement
itself makes is reported as made (kinds 1 and 3), not as found (kinds 2 and 4); assessment's
one-application lock (``services.assessment.store.LOCK_APPLICATION``: a file with its pool).

Any other statement fails the test: a store's statement outside this subset is refused, never
guessed at. A table's key is its rows' conflict column: the one ``ON CONFLICT (k)`` names, else
the first column an ``INSERT`` writes. The fake knows no column defaults: a column no statement
wrote reads as NULL.

Tables are copied when a transaction begins and replace the committed ones only when it
commits, so a rolled-back transaction leaves nothing; ``now()`` is the transaction's start, as
in PostgreSQL. There is one connection at a time: row locks have nothing to wait for and are not
modelled (tests/integration/test_jsonb_repository.py pins them on PostgreSQL). A statement
outside a transaction commits by itself (autocommit)."""

from __future__ import annotations

import contextlib
import copy
import json
import re
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from contracts.envelope import Envelope
from contracts.registry import decode
from servicekit.clock import SimulatedClock
from servicekit.outbox import Emitter
from servicekit.service import UnitOfWork
from services.assessment.store import LOCK_APPLICATION as _ASSESSMENT_LOCK_APPLICATION
from services.intake.store import _LOAD as _INTAKE_LOAD

Rows = dict[Any, dict[str, Any]]


class FakeDatabase:
    def __init__(self, claimed: Sequence[UUID] = ()) -> None:
        self.inbox: set[UUID] = set(claimed)
        self.effects: list[Any] = []
        self.outbox: list[tuple[UUID, str]] = []  # (event id, topic)
        self.envelopes: list[bytes] = []  # the outbox rows' values, in order
        self.sequences: dict[str, int] = {}
        self.tables: dict[str, Rows] = {}  # table → key → column → value
        self.keys: dict[str, str] = {}  # table → its key column
        self.commits = 0
        self.rollbacks = 0


class Record:
    """A row as asyncpg gives it: by column name or position, iterating over its values."""

    def __init__(self, values: dict[str, Any]) -> None:
        self._values = values

    def __getitem__(self, item: str | int) -> Any:
        if isinstance(item, int):
            return list(self._values.values())[item]
        return self._values[item]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values.values())

    def __len__(self) -> int:
        return len(self._values)

    def keys(self) -> list[str]:
        return list(self._values)

    def get(self, key: str, default: Any = None) -> Any:
        return self._values.get(key, default)


class FakeConnection:
    def __init__(self, db: FakeDatabase) -> None:
        self.db = db
        self._open: dict[str, Any] | None = None

    @contextlib.asynccontextmanager
    async def transaction(self, *, isolation: str | None = None,
                          readonly: bool = False) -> AsyncIterator[None]:
        # isolation/readonly as asyncpg takes them: one connection at a time has nothing to be
        # isolated from, and a read-only transaction is one that writes nothing
        self._open = {"inbox": set(), "effects": [], "outbox": [], "envelopes": [],
                      "sequences": {},
                      "tables": copy.deepcopy(self.db.tables), "now": datetime.now(UTC)}
        try:
            yield
        except BaseException:
            self.db.rollbacks += 1
            raise
        else:
            self.db.inbox |= self._open["inbox"]
            self.db.effects += self._open["effects"]
            self.db.outbox += self._open["outbox"]
            self.db.envelopes += self._open["envelopes"]
            self.db.sequences.update(self._open["sequences"])
            self.db.tables = self._open["tables"]
            self.db.commits += 1
        finally:
            self._open = None

    def record(self, effect: Any) -> None:
        """A handler's effect, in the open transaction."""
        assert self._open is not None, "an effect outside the batch's transaction"
        self._open["effects"].append(effect)

    # -- asyncpg's calls -----------------------------------------------------------------------
    async def fetch(self, sql: str, *args: Any) -> list[Record]:
        if "INSERT INTO inbox" in sql:  # servicekit.inbox.claim
            assert self._open is not None
            _, ids = args
            fresh = [i for i in dict.fromkeys(ids)
                     if i not in self.db.inbox and i not in self._open["inbox"]]
            self._open["inbox"] |= set(fresh)
            return [Record({"event_id": i}) for i in fresh]
        if "aggregate_sequence" in sql:  # servicekit.outbox._next_sequences
            assert self._open is not None
            rows = []
            for aggregate, count in zip(*args):
                last = self._open["sequences"].get(aggregate, self.db.sequences.get(aggregate, 0))
                self._open["sequences"][aggregate] = last + count
                rows.append(Record({"aggregate_id": aggregate, "last_sequence": last + count}))
            return rows
        return self._statement(sql, args)

    async def fetchrow(self, sql: str, *args: Any) -> Record | None:
        rows = await self.fetch(sql, *args)
        return rows[0] if rows else None

    async def fetchval(self, sql: str, *args: Any) -> Any:
        row = await self.fetchrow(sql, *args)
        return None if row is None else row[0]

    async def execute(self, sql: str, *args: Any) -> None:
        if "servicekit_append_events" in sql:  # servicekit.outbox.Emitter.flush
            assert self._open is not None
            self._open["outbox"] += list(zip(args[0], args[1]))
            self._open["envelopes"] += args[3]
            return
        self._statement(sql, args)

    async def executemany(self, sql: str, args: Sequence[Sequence[Any]]) -> None:
        for one in args:
            await self.execute(sql, *one)

    # -- the SQL subset ------------------------------------------------------------------------
    def _statement(self, sql: str, args: Sequence[Any]) -> list[Record]:
        if sql in _MODELLED:
            return _MODELLED[sql](self, args)
        if m := _SELECT.fullmatch(sql):
            return self._select(m, args)
        if m := _INSERT.fullmatch(sql):
            return self._insert(m, args)
        if m := _UPDATE_FROM.fullmatch(sql):
            self._update_from(m, args)
            return []
        if m := _UPDATE.fullmatch(sql):
            rows = self._table(m["table"])
            changes = _assignments(m["sets"], args, self._now())
            for row in self._where(rows, m["where"], args):
                row.update(changes)
            return []
        if m := _DELETE.fullmatch(sql):
            rows = self._table(m["table"])
            gone = {id(row) for row in self._where(rows, m["where"], args)}
            for key in [k for k, row in rows.items() if id(row) in gone]:
                del rows[key]
            return []
        raise AssertionError(f"unexpected query {sql}")

    def _select(self, m: re.Match[str], args: Sequence[Any]) -> list[Record]:
        rows = self._where(self._table(m["table"]), m["where"], args)
        if m["order"]:
            rows.sort(key=lambda row: row.get(m["order"]))
        picks = [_projection(item, sql=m.string) for item in m["columns"].split(", ")]
        found = [Record({name: pick(row) for name, pick in picks}) for row in rows]
        if m["distinct"]:
            found = list({tuple(r): r for r in found}.values())
        return found

    def _insert(self, m: re.Match[str], args: Sequence[Any]) -> list[Record]:
        columns = m["columns"].split(", ")
        now = self._now()
        values = [now if v == "now()" else _parameter(v, args, sql=m.string)
                  for v in m["values"].split(", ")]
        new = dict(zip(columns, values, strict=True))
        # the SET list is checked before it is needed, so a statement the fake does not know
        # fails even when it inserts
        sets = [_EXCLUDED.fullmatch(a) for a in (m["sets"] or "").split(", ") if m["sets"]]
        assert all(sets), f"unexpected query {m.string}: the assignments {m['sets']!r}"
        key = self._key(m["table"], m["key"] or columns[0])
        rows = self._table(m["table"])
        old = rows.get(new[key])
        if old is None:
            rows[new[key]] = new
            return [Record({m["returning"]: new[m["returning"]]})] if m["returning"] else []
        if m["sets"] is None:  # DO NOTHING
            return []
        if m["guard"]:  # WHERE t.c < EXCLUDED.c
            column = m["guard"]
            if old.get(column) is None or new.get(column) is None or old[column] >= new[column]:
                return []
        for a in sets:
            assert a is not None
            old[a["column"]] = now if a["now"] else new.get(a["column"])
        return [Record({m["returning"]: old[m["returning"]]})] if m["returning"] else []

    def _update_from(self, m: re.Match[str], args: Sequence[Any]) -> None:
        names = m["names"].split(", ")
        arrays = [_parameter(a, args, sql=m.string) for a in m["arrays"].split(", ")]
        assert len(names) == len(arrays), f"unexpected query {m.string}: the unnest's names"
        sets = [_FROM_SET.fullmatch(a) for a in m["sets"].split(", ")]
        assert all(sets), f"unexpected query {m.string}: the assignments {m['sets']!r}"
        assert all(s["u"] == m["u"] and s["from"] in names for s in sets if s and s["from"]), (
            f"unexpected query {m.string}: an assignment from outside {m['u']}")
        given = [dict(zip(names, values, strict=True)) for values in zip(*arrays, strict=True)]
        by = [u[m["by"]] for u in given]
        assert len(set(by)) == len(by), f"{m.string}: {m['by']} repeated (PostgreSQL: any one)"
        now = self._now()
        rows = self._table(m["table"])
        for u in given:
            for row in rows.values():
                if u[m["by"]] is not None and row.get(m["key"]) == u[m["by"]]:
                    for s in sets:
                        assert s is not None
                        row[s["column"]] = now if s["now"] else u[s["from"]]

    def _where(self, rows: Rows, where: str | None, args: Sequence[Any]) -> list[dict[str, Any]]:
        tests = [_condition(atom, args, sql=where) for atom in where.split(" AND ")] if where else []
        return [row for row in rows.values() if all(test(row) for test in tests)]

    def _key(self, table: str, column: str) -> str:
        known = self.db.keys.setdefault(table, column)
        assert known == column, f"{table}: keyed by {known}, a statement conflicts on {column}"
        return column

    def _now(self) -> datetime:
        return datetime.now(UTC) if self._open is None else self._open["now"]

    def _table(self, name: str) -> Rows:
        """The rows of ``name`` this connection sees: the open transaction's copy, or the
        committed rows for a statement outside a transaction."""
        tables = self.db.tables if self._open is None else self._open["tables"]
        return tables.setdefault(name, {})


_LOCK = r"(?: FOR (?:UPDATE|SHARE))?"
_SELECT = re.compile(r"SELECT (?P<distinct>DISTINCT )?(?P<columns>[\w>' -]+(?:, [\w>' -]+)*)"
                     r" FROM (?P<table>\w+)(?: WHERE (?P<where>.+?))?"
                     r"(?: ORDER BY (?P<order>\w+))?" + _LOCK)
_INSERT = re.compile(r"INSERT INTO (?P<table>\w+) \((?P<columns>\w+(?:, \w+)*)\)"
                     r" VALUES \((?P<values>(?:\$\d+(?:::\w+)?|now\(\))"
                     r"(?:, (?:\$\d+(?:::\w+)?|now\(\)))*)\)"
                     r" ON CONFLICT(?: \((?P<key>\w+)\))? DO (?:NOTHING|UPDATE SET (?P<sets>.+?)"
                     r"(?: WHERE (?P=table)\.(?P<guard>\w+) < EXCLUDED\.(?P=guard))?)"
                     r"(?: RETURNING (?P<returning>\w+))?")
_UPDATE = re.compile(r"UPDATE (?P<table>\w+) SET (?P<sets>.+?) WHERE (?P<where>.+)")
_UPDATE_FROM = re.compile(
    r"UPDATE (?P<table>\w+) AS (?P<alias>\w+) SET (?P<sets>.+?)"
    r" FROM unnest\((?P<arrays>\$\d+::\w+\[\](?:, \$\d+::\w+\[\])*)\)"
    r" AS (?P<u>\w+)\((?P<names>\w+(?:, \w+)*)\)"
    r" WHERE (?P=alias)\.(?P<key>\w+) = (?P=u)\.(?P<by>\w+)")
_FROM_SET = re.compile(r"(?P<column>\w+) = (?:(?P<u>\w+)\.(?P<from>\w+)(?:::\w+)?|(?P<now>now\(\)))")
_DELETE = re.compile(r"DELETE FROM (?P<table>\w+) WHERE (?P<where>.+)")
_EXCLUDED = re.compile(r"(?P<column>\w+) = (?:EXCLUDED\.(?P=column)|(?P<now>now\(\)))")
_SET = re.compile(r"(?P<column>\w+) = (?:(?P<param>\$\d+(?:::\w+)?)|(?P<now>now\(\)))")
_PARAMETER = re.compile(r"\$(?P<n>\d+)(?:::\w+(?:\[\])?)?")
_EQUALS = re.compile(r"(?P<column>\w+) = (?P<param>\$\d+(?:::\w+)?)")
_ANY = re.compile(r"(?P<column>\w+) = ANY\((?P<param>\$\d+(?:::\w+\[\])?)\)")
_AT_MOST = re.compile(r"(?P<column>\w+) <= (?P<param>\$\d+(?:::\w+)?)")
_DISTINCT = re.compile(r"(?P<column>\w+) IS DISTINCT FROM (?P<other>\w+)")
_EITHER = re.compile(r"\((?P<alternatives>[^()]+(?: OR [^()]+)+)\)")
_FIELD = r"(?P<column>\w+)->>'(?P<field>\w+)'"
_IS_NULL = re.compile(_FIELD + r" IS (?P<not>NOT )?NULL")
_PICK = re.compile(r"(?:(?P<column>\w+)|" + _FIELD.replace("column", "doc") + r")"
                   r"(?: AS (?P<name>\w+))?")


def _parameter(text: str, args: Sequence[Any], *, sql: str | None) -> Any:
    p = _PARAMETER.fullmatch(text)
    assert p, f"unexpected query {sql}: the value {text!r}"
    return args[int(p["n"]) - 1]


def _field(row: dict[str, Any], column: str, field: str) -> str | None:
    """``column->>'field'``: the field of a JSON column as text (NULL when absent or null)."""
    raw = row.get(column)
    value = None if raw is None else json.loads(raw).get(field)
    return value if value is None or isinstance(value, str) else json.dumps(value)


def _condition(atom: str, args: Sequence[Any], *, sql: str | None
               ) -> Callable[[dict[str, Any]], bool]:
    if m := _EQUALS.fullmatch(atom):
        value = _parameter(m["param"], args, sql=sql)
        return lambda row: value is not None and row.get(m["column"]) == value
    if m := _ANY.fullmatch(atom):
        values = set(_parameter(m["param"], args, sql=sql))
        return lambda row: row.get(m["column"]) in values
    if m := _IS_NULL.fullmatch(atom):
        return lambda row: (_field(row, m["column"], m["field"]) is None) != bool(m["not"])
    if m := _AT_MOST.fullmatch(atom):
        bound = _parameter(m["param"], args, sql=sql)
        return lambda row: (bound is not None and row.get(m["column"]) is not None
                            and row[m["column"]] <= bound)
    if m := _DISTINCT.fullmatch(atom):
        return lambda row: row.get(m["column"]) != row.get(m["other"])
    if m := _EITHER.fullmatch(atom):
        tests = [_condition(a, args, sql=sql) for a in m["alternatives"].split(" OR ")]
        return lambda row: any(test(row) for test in tests)
    raise AssertionError(f"unexpected query {sql}: the condition {atom!r}")


def _projection(item: str, *, sql: str) -> tuple[str, Callable[[dict[str, Any]], Any]]:
    p = _PICK.fullmatch(item)
    assert p, f"unexpected query {sql}: the column {item!r}"
    if p["column"]:
        return p["name"] or p["column"], lambda row: row.get(p["column"])
    assert p["name"], f"{item!r} needs a name (AS) in {sql}"
    return p["name"], lambda row: _field(row, p["doc"], p["field"])


def _assignments(sets: str, args: Sequence[Any], now: datetime) -> dict[str, Any]:
    changes = {}
    for assignment in sets.split(", "):
        s = _SET.fullmatch(assignment)
        assert s, f"unexpected query: the assignment {assignment!r}"
        changes[s["column"]] = now if s["now"] else _parameter(s["param"], args, sql=sets)
    return changes


def _intake_load(conn: FakeConnection, args: Sequence[Any]) -> list[Record]:
    """``services.intake.store._LOAD`` (see there), on the fake's tables: (kind, id, ref, name,
    body, version) rows; every part reads the tables as they were before the statement."""
    sids, aids, cvrs, apps, template, zero, pool_ids, versions = args
    index = conn._table("submission_index")
    applications = conn._table("applications")
    pools = conn._table("pools")
    conn._key("submission_index", "submission_id")
    conn._key("applications", "application_id")
    bound = {s: index[s]["application_id"] for s in sids if s in index}
    found = {a: applications[a]["state"] for a in sorted(apps) if a in applications}
    rows: list[Record] = []

    def row(kind: int, id_: Any = None, ref: Any = None, name: Any = None, body: Any = None,
            version: Any = None) -> None:
        rows.append(Record({"kind": kind, "id": id_, "ref": ref, "name": name, "body": body,
                            "version": version}))

    for s, a, c in sorted(zip(sids, aids, cvrs), key=lambda claim: claim[0]):
        if s not in index:
            index[s] = {"submission_id": s, "application_id": a, "submitter_cvr": c}
            row(1, s)
    for s, a in bound.items():
        row(2, s, a)
    for a in sorted(set(apps)):
        if a not in applications:
            applications[a] = {"application_id": a, "state": template.replace(zero, str(a))}
            row(3, a)
    for a, state in found.items():
        row(4, a, body=state)
    for p, v in zip(pool_ids, versions):
        if p in pools:
            stored = pools[p]
            row(5, name=p, version=stored["version"],
                body=stored["published"] if stored["version"] != v else None)
    return rows


def _assessment_lock_application(conn: FakeConnection, args: Sequence[Any]) -> list[Record]:
    """``services.assessment.store.LOCK_APPLICATION``: the application's file with its pool
    row's ``pool`` (NULL when the pool has no row); no row for an unknown application."""
    (application_id,) = args
    conn._key("application_files", "application_id")
    conn._key("pool_rounds", "pool_id")
    file = conn._table("application_files").get(application_id)
    if file is None:
        return []
    pool = conn._table("pool_rounds").get(file["pool_id"])
    return [Record({"pool_id": file["pool_id"], "file": file["file"],
                    "pool": None if pool is None else pool.get("pool")})]


# Statements the fake knows as a whole (exact text → model); the shared suite runs each.
_MODELLED: dict[str, Callable[[FakeConnection, Sequence[Any]], list[Record]]] = {
    _INTAKE_LOAD: _intake_load,
    _ASSESSMENT_LOCK_APPLICATION: _assessment_lock_application,
}


class FakePool:
    def __init__(self, db: FakeDatabase) -> None:
        self.db = db

    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[FakeConnection]:
        yield FakeConnection(self.db)


class FakeService:
    """What ``ServiceRuntime.handle`` does, on the fake: each command in a unit of work of its
    own (one transaction, a real Emitter on a simulated clock), its events flushed to the outbox
    before the commit. :meth:`handle` returns the handler's result and the envelopes the command
    committed (none when it was refused: the transaction rolled back)."""

    def __init__(self, now: datetime, channel: str = "outbox_test") -> None:
        self.db = FakeDatabase()
        self.conn = FakeConnection(self.db)
        self.clock = SimulatedClock(now)
        self.channel = channel

    async def handle(self, handler: Callable[[UnitOfWork, Any], Any], command: Any
                     ) -> tuple[Any, list[Envelope[Any]]]:
        before = len(self.db.envelopes)
        async with self.conn.transaction():
            uow = UnitOfWork(conn=self.conn,  # type: ignore[arg-type]  # the fake connection
                             emitter=Emitter(clock=self.clock, channel=self.channel))
            result = await handler(uow, command)
            await uow.emitter.flush(self.conn)  # type: ignore[arg-type]
        return result, [decode(raw) for raw in self.db.envelopes[before:]]
