"""asyncpg pool, database creation and ordered SQL migrations.

Migrations are ``NNN_name.sql`` files applied in name order, each once, in its own transaction,
under an advisory lock so two instances starting together do not race. servicekit's own tables
(outbox, inbox, audit chain) come first, then the service's.
"""

from __future__ import annotations

from pathlib import Path

import asyncpg

from servicekit.logging import get_logger

log = get_logger(__name__)
SERVICEKIT_MIGRATIONS = Path(__file__).parent / "migrations"
_MIGRATION_LOCK = 0x6D69_6772  # "migr"


async def ensure_database(server_url: str, name: str) -> None:
    """Create database ``name`` on the server if it does not exist (safe to race)."""
    conn = await asyncpg.connect(f"{server_url.rstrip('/')}/postgres")
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            try:
                await conn.execute(f'CREATE DATABASE "{name}"')
            except asyncpg.DuplicateDatabaseError:
                pass
    finally:
        await conn.close()


async def create_pool(dsn: str, *, min_size: int = 2, max_size: int = 10) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size)
    assert pool is not None
    return pool


def _migration_files(*dirs: Path) -> list[tuple[str, Path]]:
    files: list[tuple[str, Path]] = []
    for d in dirs:
        prefix = "servicekit" if d == SERVICEKIT_MIGRATIONS else "service"
        files += [(f"{prefix}/{p.name}", p) for p in sorted(d.glob("*.sql"))]
    return files


async def migrate(pool: asyncpg.Pool, service_migrations: Path | None) -> list[str]:
    """Apply pending migrations; returns the names applied now."""
    dirs = [SERVICEKIT_MIGRATIONS] + ([service_migrations] if service_migrations else [])
    applied_now: list[str] = []
    async with pool.acquire() as conn:
        await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK)
        try:
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {r["name"] for r in await conn.fetch("SELECT name FROM schema_migrations")}
            for name, path in _migration_files(*dirs):
                if name in done:
                    continue
                async with conn.transaction():
                    await conn.execute(path.read_text())
                    await conn.execute("INSERT INTO schema_migrations (name) VALUES ($1)", name)
                applied_now.append(name)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK)
    if applied_now:
        log.info("migrations_applied", migrations=applied_now)
    return applied_now
