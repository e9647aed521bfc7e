"""One suite for servicekit.jsonb_repository.JsonbTable, run against every backend that claims to
behave like it (eventsourcing's one-suite-per-port pattern): the fake database of the unit tests
(tests/unit/servicekit/test_jsonb_table_fake.py) and asyncpg on the embedded PostgreSQL
(tests/integration/test_jsonb_repository.py). A fast service-layer test on the fake is only worth
something while the fake keeps what PostgreSQL does; this suite is what keeps them together.

Besides JsonbTable and KeyIndex, the suite runs each form of the SQL subset the fake claims to
know (see fake_database.py), as the stores write it: conditional inserts and upserts, a guarded
upsert, selects by equality, ``ANY``, ``<=``, a JSON field's NULL, ``IS DISTINCT FROM``, a
parenthesised ``OR``, ``DISTINCT``, updates (also from ``unnest`` arrays) and deletes; and the
statements the fake models as a whole (intake's set-based load, assessment's one-application
lock), through the store that runs them, on the service's own tables. A store statement
the fake runs is one of these; any other it refuses.

A backend subclasses :class:`JsonbTableSuite` and provides two fixtures: ``conn`` (a connection
on which the tables of :data:`SCHEMA` exist, empty) and ``columns`` (the committed columns of a
``books`` row other than ``state``, or ``None``)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from contracts.register import Organisation, OrganisationRecorded
from servicekit.jsonb_repository import JsonbTable, KeyIndex
from services.assessment import store as assessment_store
from services.assessment.domain import ApplicationFile, PoolRound, publish_pool
from services.assessment.store import AssessmentStore
from services.intake import store as intake_store
from services.intake.domain import ApplicationState
from services.intake.store import Claim, IntakeStore
from tests.unit.assessment.builders import pool_raw
from tests.unit.intake.factories import pool_definition, published

# intake's tables, as its migrations create them (for the intake store's statements)
_INTAKE_MIGRATIONS = sorted((Path(intake_store.__file__).parent / "migrations").glob("*.sql"))
# assessment's rounds and files (its register tables would clash with intake's)
_ASSESSMENT_MIGRATION = Path(assessment_store.__file__).parent / "migrations" / "001_assessment.sql"
# What a PostgreSQL backend creates (the fake needs no schema).
SCHEMA = "".join(f"{p.read_text()};" for p in (*_INTAKE_MIGRATIONS, _ASSESSMENT_MIGRATION)) + (
    "CREATE TABLE books (cvr text PRIMARY KEY, state jsonb NOT NULL, total bigint,"
    " total_of timestamptz, updated_at timestamptz NOT NULL DEFAULT now());"
    "CREATE TABLE ledgers (programme text PRIMARY KEY, state jsonb NOT NULL,"
    " updated_at timestamptz NOT NULL DEFAULT now());"
    "CREATE TABLE hold_index (hold_id uuid PRIMARY KEY, cvr text NOT NULL);"
    "CREATE TABLE entries (entry_id uuid PRIMARY KEY, book text NOT NULL, version int,"
    " note jsonb, seen_at timestamptz)")


class Book(BaseModel):
    cvr: str
    entries: list[int] = []


BOOKS = JsonbTable("books", "cvr", Book, key_of=lambda b: b.cvr,
                   columns={"total": lambda b: sum(b.entries)}, stamped=("total_of",))
LEDGERS = JsonbTable("ledgers", "programme", Book)  # the key is not in the aggregate

HOLDS = KeyIndex("hold_index", "hold_id", "cvr")
Columns = Callable[[str], Awaitable[dict[str, Any] | None]]
E1, E2, E3 = (uuid.UUID(int=n) for n in (1, 2, 3))
_ADD = ("INSERT INTO entries (entry_id, book, version, note) VALUES ($1, $2, $3, $4::jsonb)"
        " ON CONFLICT (entry_id) DO NOTHING")


async def _entries(conn: Any, where: str = "", *args: Any) -> list[tuple[Any, ...]]:
    """(id, book, version, note as parsed) of the entries ``where`` selects, in id order (jsonb
    comes back as text; PostgreSQL normalises it, so it is compared parsed)."""
    rows = await conn.fetch("SELECT entry_id, book, version, note FROM entries"
                            f"{' WHERE ' + where if where else ''} ORDER BY entry_id", *args)
    return [(r["entry_id"], r["book"], r[2], None if r[3] is None else json.loads(r[3]))
            for r in rows]


class JsonbTableSuite:
    async def test_reading_a_missing_row_is_none(self, conn: Any) -> None:
        assert await BOOKS.read(conn, "10000000") is None
        async with conn.transaction():
            assert await BOOKS.lock(conn, "10000000") is None
            assert await BOOKS.lock(conn, "10000000", share=True) is None

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

    async def test_select_goes_in_key_order(self, conn: Any) -> None:
        for cvr in ("44444444", "11111111", "33333333"):
            await BOOKS.save(conn, Book(cvr=cvr, entries=[int(cvr[0])]))
        assert [b.cvr for b in await BOOKS.select(conn)] == ["11111111", "33333333", "44444444"]

    async def test_a_key_outside_the_aggregate_is_passed_to_save(self, conn: Any) -> None:
        with pytest.raises(TypeError, match="pass key="):
            await LEDGERS.save(conn, Book(cvr="x"))
        await LEDGERS.save(conn, Book(cvr="x", entries=[7]), key="programme-1")
        assert await LEDGERS.read(conn, "programme-1") == Book(cvr="x", entries=[7])
        assert await LEDGERS.read(conn, "x") is None

    async def test_a_key_index_keeps_the_first_value(self, conn: Any) -> None:
        hold = uuid.uuid4()
        assert await HOLDS.get(conn, hold) is None
        await HOLDS.put(conn, hold, "11111111")
        await HOLDS.put(conn, hold, "22222222")  # a redelivered event indexes again: no change
        assert await HOLDS.get(conn, hold) == "11111111"
        with pytest.raises(RuntimeError):
            async with conn.transaction():
                await HOLDS.put(conn, E1, "33333333")
                raise RuntimeError("refused: roll back")
        assert await HOLDS.get(conn, E1) is None

    async def test_insert_unless_there_is_a_row_and_returning(self, conn: Any) -> None:
        claim = ("INSERT INTO entries (entry_id, book) VALUES ($1, $2)"
                 " ON CONFLICT (entry_id) DO NOTHING RETURNING book")
        assert await conn.fetchval(claim, E1, "a") == "a"
        assert await conn.fetchval(claim, E1, "b") is None  # bound already: nothing returned
        await conn.executemany(_ADD, [(E2, "b", 1, '{"n": 1}'), (E1, "c", 1, None)])
        assert await _entries(conn) == [(E1, "a", None, None), (E2, "b", 1, {"n": 1})]
        assert await conn.fetchrow("SELECT book FROM entries WHERE entry_id = $1", E3) is None

    async def test_an_upsert_sets_only_what_it_names(self, conn: Any) -> None:
        upsert = ("INSERT INTO entries (entry_id, book, note, seen_at)"
                  " VALUES ($1, $2, $3::jsonb, now()) ON CONFLICT (entry_id)"
                  " DO UPDATE SET note = EXCLUDED.note, seen_at = now()")
        await conn.execute(_ADD, E1, "a", 7, '{"n": 1}')
        await conn.execute(upsert, E1, "changed", '{"n": 2}')  # the book is not in the SET
        await conn.execute(upsert, E2, "b", None)
        assert await _entries(conn) == [(E1, "a", 7, {"n": 2}), (E2, "b", None, None)]
        assert None not in [r["seen_at"] for r in await conn.fetch("SELECT seen_at FROM entries")]

    async def test_a_guarded_upsert_keeps_the_latest_version(self, conn: Any) -> None:
        latest = ("INSERT INTO entries (entry_id, book, version) VALUES ($1, $2, $3)"
                  " ON CONFLICT (entry_id) DO UPDATE SET version = EXCLUDED.version,"
                  " book = EXCLUDED.book WHERE entries.version < EXCLUDED.version")
        await conn.execute(latest, E1, "v2", 2)
        await conn.execute(latest, E1, "v1", 1)  # older: no change
        await conn.execute(latest, E1, "v2 again", 2)  # repeated: no change
        assert await _entries(conn) == [(E1, "v2", 2, None)]
        await conn.execute(latest, E1, "v3", 3)
        assert await _entries(conn) == [(E1, "v3", 3, None)]

    async def test_conditions_fields_and_distinct(self, conn: Any) -> None:
        await conn.executemany(_ADD, [(E3, "a", 1, '{"by": "x", "n": 3, "done": null}'),
                                      (E1, "a", 2, '{"by": "x", "n": 1, "done": true}'),
                                      (E2, "b", None, '{"n": 2}')])
        assert [e[0] for e in await _entries(conn, "book = $1", "a")] == [E1, E3]
        assert [e[0] for e in await _entries(conn, "book = $1 AND version = $2", "a", 2)] == [E1]
        assert await _entries(conn, "version = $1", None) == []  # NULL equals nothing
        assert [e[0] for e in await _entries(conn, "entry_id = ANY($1::uuid[])",
                                             [E3, E2, uuid.uuid4()])] == [E2, E3]
        assert [e[0] for e in await _entries(conn, "note->>'by' IS NULL")] == [E2]
        assert [e[0] for e in await _entries(
            conn, "note->>'by' IS NOT NULL AND note->>'done' IS NULL")] == [E3]
        fields = await conn.fetch("SELECT entry_id, note->>'n' AS n, note->>'done' AS done"
                                  " FROM entries ORDER BY entry_id FOR UPDATE")
        assert [(r["n"], r["done"]) for r in fields] == [("1", "true"), ("2", None), ("3", None)]
        assert [e[0] for e in await _entries(conn, "version <= $1", 1)] == [E3]  # NULL: no
        assert [e[0] for e in await _entries(conn, "version <= $1", None)] == []
        assert [e[0] for e in await _entries(
            conn, "note->>'by' IS NOT NULL AND (version <= $1 OR book = $2)", 1, "a")] == [E1, E3]
        assert [e[0] for e in await _entries(conn, "(version = $1 OR version = $2)", 2, 9)] == [E1]
        approvers = await conn.fetch(
            "SELECT DISTINCT note->>'by' AS by FROM entries WHERE book = $1", "a")
        assert [r["by"] for r in approvers] == ["x"]

    async def test_update_and_delete_what_the_condition_selects(self, conn: Any) -> None:
        await conn.executemany(_ADD, [(E1, "a", 1, None), (E2, "a", 1, None),
                                      (E3, "b", 1, None)])
        await conn.executemany("UPDATE entries SET version = $2, note = $3::jsonb"
                               " WHERE entry_id = $1", [(E1, 5, '{"n": 5}'), (E3, 6, None)])
        await conn.execute("UPDATE entries SET seen_at = now() WHERE book = $1", "b")
        assert await _entries(conn) == [(E1, "a", 5, {"n": 5}), (E2, "a", 1, None),
                                        (E3, "b", 6, None)]
        assert await conn.fetchval("SELECT seen_at FROM entries WHERE entry_id = $1",
                                   E3) is not None
        with pytest.raises(RuntimeError):
            async with conn.transaction():
                await conn.execute("DELETE FROM entries WHERE entry_id = ANY($1::uuid[])",
                                   [E1, E3])
                assert [e[0] for e in await _entries(conn)] == [E2]
                raise RuntimeError("refused: roll back")
        assert [e[0] for e in await _entries(conn)] == [E1, E2, E3]
        await conn.execute("DELETE FROM entries WHERE book = $1", "a")
        assert [e[0] for e in await _entries(conn)] == [E3]

    async def test_is_distinct_from_compares_nulls_too(self, conn: Any) -> None:
        """What payments' scheduled run reads: a stamp is current while it equals updated_at."""
        for cvr in ("11111111", "22222222", "33333333"):
            await BOOKS.save(conn, Book(cvr=cvr, entries=[1]))  # stamped: total_of = updated_at
        await conn.execute("UPDATE books SET total_of = $1 WHERE cvr = $2", None, "22222222")
        await conn.execute("UPDATE books SET total = $1 WHERE cvr = $2", 9, "33333333")
        stale = "(total <= $1 OR total_of IS DISTINCT FROM updated_at)"
        assert [b.cvr for b in await BOOKS.select(conn, stale, 0)] == ["22222222"]
        assert [b.cvr for b in await BOOKS.select(conn, f"cvr = ANY($2) AND {stale}", 1,
                                                  ["11111111", "33333333"], lock="update")
                ] == ["11111111"]

    async def test_update_from_unnest_sets_each_named_row(self, conn: Any) -> None:
        await conn.executemany(_ADD, [(E1, "a", 1, None), (E2, "b", 1, None)])
        await conn.execute(
            "UPDATE entries AS e SET version = u.version, note = u.note::jsonb, seen_at = now()"
            " FROM unnest($1::uuid[], $2::int[], $3::text[]) AS u(id, version, note)"
            " WHERE e.entry_id = u.id", [E2, E3], [5, 6], ['{"n": 5}', None])
        # E3 has no row: an UPDATE makes none; E1 is not named: untouched
        assert await _entries(conn) == [(E1, "a", 1, None), (E2, "b", 5, {"n": 5})]
        seen = {r["entry_id"]: r["seen_at"] for r in await conn.fetch(
            "SELECT entry_id, seen_at FROM entries")}
        assert seen[E1] is None and seen[E2] is not None

    # -- intake's store (services/intake/store.py) on intake's tables -------------------------------
    async def test_intake_load_claims_creates_locks_and_reads_pool_versions(
            self, conn: Any) -> None:
        store = IntakeStore(conn)
        s0, s1, a0, a1, a2 = (uuid.UUID(int=n) for n in (10, 11, 20, 21, 22))
        pool, other = published(), published(pool_definition(pool_id="other-2022"), version=3)
        await store.save_pool(pool)
        await store.save_pool(other)
        assert (await store.claim_submission(s0, a0, "11111111")) == Claim(a0, new=True)
        kept = ApplicationState(application_id=a0, applicant_cvr="11111111", pool_id=pool.pool_id)
        async with conn.transaction():
            await store.lock_application(a0)
            await store.save_application(kept)
        assert await store.load([], [], {}) == intake_store.Loaded()  # nothing asked, nothing run
        async with conn.transaction():
            loaded = await store.load(
                [(s1, a1, "22222222"), (s0, a2, "33333333"), (s1, a2, "44444444")], [a1, a0, a1],
                {pool.pool_id: pool.version, other.pool_id: None, "unpublished": 1})
        # s1 claimed now (by its first claim), s0 bound before to a0 whatever this one says
        assert loaded.claims == {s1: Claim(a1, new=True), s0: Claim(a0, new=False)}
        assert loaded.states == {a0: kept, a1: ApplicationState(application_id=a1)}
        assert loaded.pool_versions == {pool.pool_id: 1, other.pool_id: 3}
        assert list(loaded.pool_rows) == [other.pool_id]  # the caller has pool's version
        assert type(other).model_validate_json(loaded.pool_rows[other.pool_id]) == other
        index = await store.submission(s1)
        assert index is not None and (index.application_id, index.submitter_cvr) == (a1, "22222222")
        assert await store.read_application(a1) == ApplicationState(application_id=a1)
        assert await store.read_application(a2) is None  # claimed for, never locked
        again = await store.load([(s1, a1, "22222222")], [a1], {pool.pool_id: 0})
        assert again.claims == {s1: Claim(a1, new=False)} and list(again.pool_rows) == [pool.pool_id]
        with pytest.raises(RuntimeError):
            async with conn.transaction():
                await store.load([(E1, E2, None)], [E2], {})
                raise RuntimeError("refused: roll back")
        assert await store.submission(E1) is None and await store.read_application(E2) is None

    async def test_intake_saves_many_applications_with_their_columns(self, conn: Any) -> None:
        store = IntakeStore(conn)
        a1, a2, a3 = (uuid.UUID(int=n) for n in (31, 32, 33))
        async with conn.transaction():
            await store.load([], [a1, a2], {})
            await store.save_applications([
                ApplicationState(application_id=a1, applicant_cvr="11111111", pool_id="p"),
                ApplicationState(application_id=a3, applicant_cvr="33333333")])  # no row: none
            await store.save_applications([])
        assert await store.read_application(a1) == ApplicationState(
            application_id=a1, applicant_cvr="11111111", pool_id="p")
        assert await store.read_application(a2) == ApplicationState(application_id=a2)
        assert await store.read_application(a3) is None
        columns = await conn.fetchrow("SELECT applicant_cvr, pool_id, updated_at FROM applications"
                                      " WHERE application_id = $1", a1)
        assert (columns["applicant_cvr"], columns["pool_id"]) == ("11111111", "p")
        assert columns["updated_at"] is not None

    async def test_intake_register_keeps_the_latest_revision(self, conn: Any) -> None:
        store = IntakeStore(conn)

        def recorded(revision: int, name: str) -> OrganisationRecorded:
            return OrganisationRecorded(
                revision=revision, entry_version=1, change="created", source="suite",
                source_version=1, changed_by="svc-assessment",
                organisation=Organisation(cvr="29189846", name=name, kind="municipality",
                                          municipality_code="751"))

        await store.save_organisation(recorded(2, "Aarhus Kommune"))
        await store.save_organisation(recorded(1, "older"))
        assert {c: (e.organisation.name, e.revision) for c, e in (
            await store.organisations(["29189846", "12345678"])).items()} == {
            "29189846": ("Aarhus Kommune", 2)}
        assert await store.organisations([]) == {}

    # -- assessment's one-application lock (services/assessment/store.py) -------------------------
    async def test_assessment_locks_one_application_with_its_pool(self, conn: Any) -> None:
        store = AssessmentStore(conn)
        pool = publish_pool(PoolRound(pool_id="example-2025"), pool_raw())
        assert pool is not None
        a1, a2, a3 = (uuid.UUID(int=n) for n in (41, 42, 43))
        for pool_id in ("example-2025", "unpublished"):
            await conn.execute("INSERT INTO pool_rounds (pool_id) VALUES ($1)"
                               " ON CONFLICT (pool_id) DO NOTHING", pool_id)
        await store.save(PoolRound(pool_id="example-2025"),
                         PoolRound(pool_id="example-2025", pool=pool))
        files = {a: ApplicationFile(application_id=a, accepted_submission_id=a) for a in (a1, a2)}
        await store.save_files([("example-2025", files[a1]), ("unpublished", files[a2])])
        async with conn.transaction():
            published = await store.lock_application(a1)
            unpublished = await store.lock_application(a2)
            assert await store.lock_application(a3) is None
        assert published == PoolRound(pool_id="example-2025", pool=pool,
                                      applications={str(a1): files[a1]})
        assert unpublished == PoolRound(pool_id="unpublished", applications={str(a2): files[a2]})
