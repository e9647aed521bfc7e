"""A fake of the database a consumer's transaction touches (servicekit.inbox.claim, an effect,
servicekit.outbox.Emitter.flush): what a transaction did is kept only when it commits, as in
PostgreSQL. The SQL is recognised by the table it names; any other statement fails the test."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any
from uuid import UUID


class FakeDatabase:
    def __init__(self, claimed: Sequence[UUID] = ()) -> None:
        self.inbox: set[UUID] = set(claimed)
        self.effects: list[Any] = []
        self.outbox: list[tuple[UUID, str]] = []  # (event id, topic)
        self.sequences: dict[str, int] = {}
        self.commits = 0
        self.rollbacks = 0


class FakeConnection:
    def __init__(self, db: FakeDatabase) -> None:
        self.db = db
        self._open: dict[str, Any] | None = None

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        self._open = {"inbox": set(), "effects": [], "outbox": [], "sequences": {}}
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
            self.db.commits += 1
        finally:
            self._open = None

    def record(self, effect: Any) -> None:
        """A handler's effect, in the open transaction."""
        assert self._open is not None, "an effect outside the batch's transaction"
        self._open["effects"].append(effect)

    async def fetch(self, sql: str, *args: Any) -> list[dict[str, Any]]:
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

    async def execute(self, sql: str, *args: Any) -> None:
        assert self._open is not None and "servicekit_append_events" in sql
        self._open["outbox"] += list(zip(args[0], args[1]))


class FakePool:
    def __init__(self, db: FakeDatabase) -> None:
        self.db = db

    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[FakeConnection]:
        yield FakeConnection(self.db)
