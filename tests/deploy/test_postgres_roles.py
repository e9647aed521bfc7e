"""deploy/postgres: the least-privilege roles of compose, run against a real PostgreSQL.

A private server (the embedded binaries) so the global roles this creates (intake, ...,
grants_auditor) cannot collide with the test session's server. Its auth is trust: these tests
check privileges, not passwords.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import asyncpg
import pytest

from grants.audit import verify_chain
from grants.stack import ALL_SERVICES, pg_bin_dir, start_postgres
from servicekit import db
from tests.deploy.support import DEPLOY

pytestmark = pytest.mark.integration

SERVICES_DIR = DEPLOY.parent / "services"


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, dict[str, str]]]:
    pg = start_postgres(durable=False, die_with_parent=True)
    env = {**os.environ, "PATH": f"{pg_bin_dir()}:{os.environ.get('PATH', '')}",
           "PGHOST": "127.0.0.1", "PGPORT": str(pg.port), "POSTGRES_USER": "postgres",
           "AUDITOR_DB_PASSWORD": "auditor-test"}
    env |= {f"{s.upper()}_DB_PASSWORD": f"{s}-test" for s in ALL_SERVICES}
    try:
        yield f"postgresql://{{role}}@127.0.0.1:{pg.port}", env
    finally:
        pg.stop()


def run(script: str, env: dict[str, str]) -> None:
    result = subprocess.run(["sh", str(DEPLOY / "postgres" / script)], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


async def test_services_own_their_databases_and_auditors_only_read_the_audit_trail(
        server: tuple[str, dict[str, str]]) -> None:
    url, env = server
    run("init-databases.sh", env)
    for service in ALL_SERVICES:
        # what a service does at start-up, as its own role: the database exists, it migrates it
        role_url = url.format(role=service)
        await db.ensure_database(role_url, service)
        pool = await db.create_pool(f"{role_url}/{service}", min_size=1, max_size=1)
        try:
            await db.migrate(pool, SERVICES_DIR / service / "migrations")
        finally:
            await pool.close()
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await asyncpg.connect(f"{url.format(role='intake')}/payments")
    conn = await asyncpg.connect(f"{url.format(role='intake')}/intake")
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute('CREATE DATABASE "another"')
    finally:
        await conn.close()

    env_admin = {**env, "PGUSER": "postgres"}
    run("grant-auditor.sh", env_admin)
    run("grant-auditor.sh", env_admin)  # idempotent
    auditor = url.format(role="grants_auditor")
    for service in ALL_SERVICES:
        report = await verify_chain(auditor, service, {})
        assert report.problem is None, report.problem
        conn = await asyncpg.connect(f"{auditor}/{service}")
        try:
            await conn.fetchval("SELECT count(*) FROM audit_log")
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.fetchval("SELECT count(*) FROM inbox")
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute("DELETE FROM audit_log")
        finally:
            await conn.close()
