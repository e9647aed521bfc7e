"""asyncpg repositories of the intake service: applications, the submission index, pools.

Every method runs on the caller's connection, inside the caller's transaction.

Lock order for a submission: its submission id in the index first (``claim_submission``), then
the application row (``lock_application``). Contacts and decisions lock the application only.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

import asyncpg

from contracts.assessment import PoolPublished
from services.intake.domain import ApplicationState


@dataclass(frozen=True)
class IndexedSubmission:
    application_id: UUID
    submitter_cvr: str | None


@dataclass(frozen=True)
class Claim:
    """The application a submission id is bound to, and whether this transaction bound it."""

    application_id: UUID
    new: bool


class IntakeStore:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    # -- applications ----------------------------------------------------------------------------
    async def read_application(self, application_id: UUID) -> ApplicationState | None:
        state = await self.conn.fetchval(
            "SELECT state FROM applications WHERE application_id = $1", application_id)
        return None if state is None else ApplicationState.model_validate_json(state)

    async def lock_application(self, application_id: UUID) -> ApplicationState:
        """The application's state, locked until the transaction ends; a new one if unknown.

        The empty row inserted for an unknown id is what a concurrent writer waits on; it stays
        only if this transaction commits (a refusal that raises rolls it back).
        """
        fresh = ApplicationState(application_id=application_id)
        await self.conn.execute(
            "INSERT INTO applications (application_id, state) VALUES ($1, $2::jsonb)"
            " ON CONFLICT (application_id) DO NOTHING",
            application_id, fresh.model_dump_json())
        state = await self.conn.fetchval(
            "SELECT state FROM applications WHERE application_id = $1 FOR UPDATE", application_id)
        return ApplicationState.model_validate_json(state)

    async def save_application(self, state: ApplicationState) -> None:
        await self.conn.execute(
            "UPDATE applications SET state = $2::jsonb, applicant_cvr = $3, pool_id = $4,"
            " updated_at = now() WHERE application_id = $1",
            state.application_id, state.model_dump_json(), state.applicant_cvr, state.pool_id)

    # -- the submission index ----------------------------------------------------------------------
    async def claim_submission(
        self, submission_id: UUID, application_id: UUID, submitter_cvr: str | None
    ) -> Claim:
        """Bind ``submission_id`` to ``application_id`` unless it is bound already.

        A concurrent claim of the same id waits here until the first claimant's transaction ends.
        """
        inserted = await self.conn.fetchval(
            "INSERT INTO submission_index (submission_id, application_id, submitter_cvr)"
            " VALUES ($1, $2, $3) ON CONFLICT (submission_id) DO NOTHING RETURNING application_id",
            submission_id, application_id, submitter_cvr)
        if inserted is not None:
            return Claim(inserted, new=True)
        bound = await self.conn.fetchval(
            "SELECT application_id FROM submission_index WHERE submission_id = $1", submission_id)
        return Claim(bound, new=False)

    async def release_submission(self, submission_id: UUID) -> None:
        """Undo this transaction's claim (a refused token must not bind an id)."""
        await self.conn.execute("DELETE FROM submission_index WHERE submission_id = $1",
                                submission_id)

    async def submission(self, submission_id: UUID) -> IndexedSubmission | None:
        row = await self.conn.fetchrow(
            "SELECT application_id, submitter_cvr FROM submission_index WHERE submission_id = $1",
            submission_id)
        return None if row is None else IndexedSubmission(row["application_id"],
                                                          row["submitter_cvr"])

    # -- pools ---------------------------------------------------------------------------------------
    async def pool(self, pool_id: str) -> PoolPublished | None:
        published = await self.conn.fetchval(
            "SELECT published FROM pools WHERE pool_id = $1", pool_id)
        return None if published is None else PoolPublished.model_validate_json(published)

    async def pools_for(self, pool_id: str | None) -> dict[str, PoolPublished]:
        """The mapping the domain takes: the one pool a command names, if it is published."""
        pool = await self.pool(pool_id) if pool_id is not None else None
        return {} if pool is None else {pool.pool_id: pool}

    async def save_pool(self, pool: PoolPublished) -> None:
        """Keep the latest version: an older or repeated ``PoolPublished`` changes nothing."""
        await self.conn.execute(
            "INSERT INTO pools (pool_id, version, published) VALUES ($1, $2, $3::jsonb)"
            " ON CONFLICT (pool_id) DO UPDATE SET version = EXCLUDED.version,"
            " published = EXCLUDED.published, updated_at = now()"
            " WHERE pools.version < EXCLUDED.version",
            pool.pool_id, pool.version, pool.model_dump_json())
