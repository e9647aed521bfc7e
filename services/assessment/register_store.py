"""asyncpg repository of the organisation register (see ``migrations/002_register.sql``).

Every method runs on the caller's connection, in the caller's transaction. A change locks the
register's revision row first (:meth:`RegisterStore.lock_revision`), so changes are numbered
without gaps in the order they commit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import asyncpg

from contracts.register import OrganisationRecorded, RegisterSourceLoaded
from services.assessment.domain.register import RegisterEntry, SourceVersion


def _entry(value: str) -> RegisterEntry:
    return RegisterEntry.model_validate_json(value)


class RegisterStore:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def lock_revision(self) -> int:
        revision = await self.conn.fetchval(
            "SELECT revision FROM register_revision WHERE id FOR UPDATE")
        return int(revision)

    async def revision(self) -> int:
        return int(await self.conn.fetchval("SELECT revision FROM register_revision WHERE id"))

    async def entry(self, cvr: str) -> RegisterEntry | None:
        value = await self.conn.fetchval("SELECT entry FROM organisations WHERE cvr = $1", cvr)
        return None if value is None else _entry(value)

    async def entries(self, cvrs: Iterable[str]) -> dict[str, RegisterEntry]:
        rows = await self.conn.fetch(
            "SELECT cvr, entry FROM organisations WHERE cvr = ANY($1::text[])", list(cvrs))
        return {r["cvr"]: _entry(r["entry"]) for r in rows}

    async def of_municipality(self, municipality_code: str,
                              kind: str | None = None) -> list[RegisterEntry]:
        rows = await self.conn.fetch(
            "SELECT entry FROM organisations WHERE municipality_code = $1"
            " AND ($2::text IS NULL OR kind = $2) ORDER BY cvr LIMIT 1000",
            municipality_code, kind)
        return [_entry(r["entry"]) for r in rows]

    async def history(self, cvr: str) -> list[OrganisationRecorded]:
        rows = await self.conn.fetch(
            "SELECT event FROM organisation_history WHERE cvr = $1 ORDER BY revision", cvr)
        return [OrganisationRecorded.model_validate_json(r["event"]) for r in rows]

    async def record(self, events: Sequence[OrganisationRecorded]) -> None:
        """Apply changes: the entry in force and the history row of each, and the revision."""
        if not events:
            return
        entries = [RegisterEntry.from_event(e) for e in events]
        await self.conn.executemany(
            "INSERT INTO organisations (cvr, kind, municipality_code, revision, entry)"
            " VALUES ($1, $2, $3, $4, $5::jsonb) ON CONFLICT (cvr) DO UPDATE SET"
            " kind = EXCLUDED.kind, municipality_code = EXCLUDED.municipality_code,"
            " revision = EXCLUDED.revision, entry = EXCLUDED.entry, updated_at = now()",
            [(e.organisation.cvr, e.organisation.kind, e.organisation.municipality_code,
              e.revision, e.model_dump_json()) for e in entries])
        await self.conn.executemany(
            "INSERT INTO organisation_history (revision, cvr, event) VALUES ($1, $2, $3::jsonb)",
            [(e.revision, e.organisation.cvr, e.model_dump_json()) for e in events])
        await self.conn.execute("UPDATE register_revision SET revision = $1 WHERE id",
                                max(e.revision for e in events))

    async def source(self, source: str) -> SourceVersion | None:
        row = await self.conn.fetchrow(
            "SELECT version, content_hash FROM register_sources WHERE source = $1", source)
        return None if row is None else SourceVersion(source, row["version"], row["content_hash"])

    async def save_source(self, loaded: RegisterSourceLoaded) -> None:
        await self.conn.execute(
            "INSERT INTO register_sources (source, version, content_hash, loaded)"
            " VALUES ($1, $2, $3, $4::jsonb) ON CONFLICT (source) DO UPDATE SET"
            " version = EXCLUDED.version, content_hash = EXCLUDED.content_hash,"
            " loaded = EXCLUDED.loaded, updated_at = now()",
            loaded.source, loaded.source_version, loaded.content_hash, loaded.model_dump_json())
