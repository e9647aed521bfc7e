"""asyncpg repositories for the assessment state: pool rounds, funding ledgers, application index.

State is JSONB per aggregate (``PoolRound`` per pool, ``FundingLedger`` per programme), written
back whole after the domain evolved it. Writers lock the rows they change with
``SELECT … FOR UPDATE`` inside the caller's transaction.

Lock order, everywhere: a programme's ledger first, then its pool rounds (in ``pool_id`` order
when several). Intake events lock only their pool round and *read* the ledger after that lock,
so a concurrent prior-award import either committed before (the read sees it) or re-assesses the
round after (it waits for the round's lock).
"""

from __future__ import annotations

from uuid import UUID

import asyncpg

from services.assessment.domain import FundingLedger, PoolRound, new_round


class AssessmentStore:
    """The repositories, bound to one connection (and its open transaction)."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    # -- pool rounds ---------------------------------------------------------------------------
    async def read_round(self, pool_id: str) -> PoolRound | None:
        state = await self.conn.fetchval("SELECT state FROM pool_rounds WHERE pool_id = $1",
                                         pool_id)
        return None if state is None else PoolRound.model_validate_json(state)

    async def lock_round(self, pool_id: str, *, create: bool = False) -> PoolRound | None:
        """The round, locked for this transaction; with ``create`` an empty one if missing
        (an application may arrive before its pool is published)."""
        if create:
            await self.conn.execute(
                "INSERT INTO pool_rounds (pool_id, state) VALUES ($1, $2::jsonb)"
                " ON CONFLICT (pool_id) DO NOTHING",
                pool_id, new_round(pool_id).model_dump_json())
        state = await self.conn.fetchval(
            "SELECT state FROM pool_rounds WHERE pool_id = $1 FOR UPDATE", pool_id)
        return None if state is None else PoolRound.model_validate_json(state)

    async def lock_rounds_of(self, programme: str) -> list[PoolRound]:
        """Every published round of a programme, locked, in ``pool_id`` order."""
        rows = await self.conn.fetch(
            "SELECT state FROM pool_rounds WHERE programme = $1 ORDER BY pool_id FOR UPDATE",
            programme)
        return [PoolRound.model_validate_json(r["state"]) for r in rows]

    async def save_round(self, state: PoolRound) -> None:
        programme = state.pool.definition.programme_id if state.pool is not None else None
        await self.conn.execute(
            "INSERT INTO pool_rounds (pool_id, programme, state) VALUES ($1, $2, $3::jsonb)"
            " ON CONFLICT (pool_id) DO UPDATE SET programme = EXCLUDED.programme,"
            " state = EXCLUDED.state, updated_at = now()",
            state.pool_id, programme, state.model_dump_json())

    # -- funding ledgers -----------------------------------------------------------------------
    async def read_ledger(self, programme: str) -> FundingLedger:
        state = await self.conn.fetchval("SELECT state FROM funding_ledger WHERE programme = $1",
                                         programme)
        return FundingLedger() if state is None else FundingLedger.model_validate_json(state)

    async def lock_ledger(self, programme: str) -> FundingLedger:
        await self.conn.execute(
            "INSERT INTO funding_ledger (programme, state) VALUES ($1, $2::jsonb)"
            " ON CONFLICT (programme) DO NOTHING",
            programme, FundingLedger().model_dump_json())
        state = await self.conn.fetchval(
            "SELECT state FROM funding_ledger WHERE programme = $1 FOR UPDATE", programme)
        return FundingLedger.model_validate_json(state)

    async def save_ledger(self, programme: str, ledger: FundingLedger) -> None:
        await self.conn.execute(
            "INSERT INTO funding_ledger (programme, state) VALUES ($1, $2::jsonb)"
            " ON CONFLICT (programme) DO UPDATE SET state = EXCLUDED.state, updated_at = now()",
            programme, ledger.model_dump_json())

    # -- application index ---------------------------------------------------------------------
    async def index_application(self, application_id: UUID, pool_id: str) -> None:
        """Remember the pool of an application (the first pool it was received for)."""
        await self.conn.execute(
            "INSERT INTO application_index (application_id, pool_id) VALUES ($1, $2)"
            " ON CONFLICT (application_id) DO NOTHING",
            application_id, pool_id)

    async def pool_of(self, application_id: UUID) -> str | None:
        value = await self.conn.fetchval(
            "SELECT pool_id FROM application_index WHERE application_id = $1", application_id)
        return None if value is None else str(value)
