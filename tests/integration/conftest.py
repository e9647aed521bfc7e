"""Fixtures shared by the integration tests of several services."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from grants.stack import create_database, drop_database
from servicekit import db


@pytest.fixture
async def two_databases(pg_url: str) -> AsyncIterator[tuple[str, str]]:
    """Two new empty databases (full URLs), for two services of one test; dropped afterwards."""
    names = [f"test_{uuid.uuid4().hex[:12]}" for _ in range(2)]
    for name in names:
        await create_database(pg_url, name)
    try:
        yield f"{pg_url}/{names[0]}", f"{pg_url}/{names[1]}"
    finally:
        for name in names:
            await drop_database(pg_url, name)


@pytest.fixture
async def servicekit_database(fresh_database: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on a new database holding servicekit's own tables (outbox, inbox, audit chain),
    migrated; closed (and the database dropped) afterwards."""
    pool = await db.create_pool(fresh_database, min_size=1, max_size=24)
    try:
        await db.migrate(pool, None)
        yield pool
    finally:
        await pool.close()
