"""asyncpg repositories for the payments state: grant accounts, hold books and their indexes.

State is JSONB per aggregate (``GrantAccount`` per application, ``HoldBook`` per CVR), written
back whole after the domain evolved it. Writers lock what they change with ``SELECT … FOR UPDATE``
inside the caller's transaction.

Lock order, everywhere: hold books first (in ``cvr`` order when several), then grant accounts (in
``application_id`` order when several). A grantee's book exists from its first grant on, so a
payment run that share-locks every book makes a concurrent overdue-report hold wait for the run
(and the run sees a hold that committed before it).
"""

from __future__ import annotations

from datetime import date
from uuid import UUID

import asyncpg

from services.payments.domain import GrantAccount, HoldBook, next_payment_due
from services.payments.domain.bank import BankBook


class PaymentsStore:
    """The repositories, bound to one connection (and its open transaction)."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    # -- grant accounts ------------------------------------------------------------------------
    async def read_grant(self, application_id: UUID) -> GrantAccount | None:
        state = await self.conn.fetchval(
            "SELECT state FROM grant_accounts WHERE application_id = $1", application_id)
        return None if state is None else GrantAccount.model_validate_json(state)

    async def lock_grant(self, application_id: UUID) -> GrantAccount | None:
        state = await self.conn.fetchval(
            "SELECT state FROM grant_accounts WHERE application_id = $1 FOR UPDATE",
            application_id)
        return None if state is None else GrantAccount.model_validate_json(state)

    async def lock_accepted_grants(self, due_by: date | None = None) -> list[GrantAccount]:
        """Every accepted grant that has not lapsed, locked, in application order; with
        ``due_by``, only those whose stored next due date (``next_payment_due``) is on or before
        it, and those whose stored date is not known to be current (see 004_payment_due.sql)."""
        due = ("" if due_by is None else
               " AND (payment_due <= $1 OR payment_due_of IS DISTINCT FROM updated_at)")
        rows = await self.conn.fetch(
            "SELECT state FROM grant_accounts WHERE state->>'accepted_at' IS NOT NULL"
            f" AND state->>'lapse' IS NULL{due} ORDER BY application_id FOR UPDATE",
            *(() if due_by is None else (due_by,)))
        return [GrantAccount.model_validate_json(r["state"]) for r in rows]

    async def lock_unaccepted_grants(self) -> list[GrantAccount]:
        """Every grant neither accepted nor lapsed, locked, in application order."""
        rows = await self.conn.fetch(
            "SELECT state FROM grant_accounts WHERE state->>'accepted_at' IS NULL"
            " AND state->>'lapse' IS NULL ORDER BY application_id FOR UPDATE")
        return [GrantAccount.model_validate_json(r["state"]) for r in rows]

    async def save_grant(self, state: GrantAccount) -> None:
        await self.conn.execute(
            "INSERT INTO grant_accounts (application_id, cvr, state, payment_due, payment_due_of)"
            " VALUES ($1, $2, $3::jsonb, $4, now())"
            " ON CONFLICT (application_id) DO UPDATE SET state = EXCLUDED.state,"
            " payment_due = EXCLUDED.payment_due, updated_at = now(), payment_due_of = now()",
            state.application_id, state.cvr, state.model_dump_json(), next_payment_due(state))

    async def grant_approvers(self, cvr: str) -> set[str]:
        """Who approved any grant of this grantee: they may not release its payments (R19)."""
        rows = await self.conn.fetch(
            "SELECT DISTINCT state->>'approved_by' AS approver FROM grant_accounts"
            " WHERE cvr = $1", cvr)
        return {r["approver"] for r in rows if r["approver"] is not None}

    # -- hold books ----------------------------------------------------------------------------
    async def ensure_hold_book(self, cvr: str) -> None:
        await self.conn.execute(
            "INSERT INTO hold_books (cvr, state) VALUES ($1, $2::jsonb)"
            " ON CONFLICT (cvr) DO NOTHING",
            cvr, HoldBook(cvr=cvr).model_dump_json())

    async def read_hold_book(self, cvr: str) -> HoldBook | None:
        state = await self.conn.fetchval("SELECT state FROM hold_books WHERE cvr = $1", cvr)
        return None if state is None else HoldBook.model_validate_json(state)

    async def lock_hold_book(self, cvr: str, *, create: bool = False,
                             share: bool = False) -> HoldBook | None:
        """The grantee's book, locked (``share``: against writers only); with ``create`` an
        empty one if missing."""
        if create:
            await self.ensure_hold_book(cvr)
        mode = "FOR SHARE" if share else "FOR UPDATE"
        state = await self.conn.fetchval(f"SELECT state FROM hold_books WHERE cvr = $1 {mode}",
                                         cvr)
        return None if state is None else HoldBook.model_validate_json(state)

    async def share_lock_hold_books(self) -> dict[str, HoldBook]:
        """Every grantee's book, share-locked in cvr order (a payment run reads them all)."""
        rows = await self.conn.fetch("SELECT state FROM hold_books ORDER BY cvr FOR SHARE")
        books = [HoldBook.model_validate_json(r["state"]) for r in rows]
        return {b.cvr: b for b in books}

    async def save_hold_book(self, book: HoldBook) -> None:
        await self.conn.execute(
            "INSERT INTO hold_books (cvr, state) VALUES ($1, $2::jsonb)"
            " ON CONFLICT (cvr) DO UPDATE SET state = EXCLUDED.state, updated_at = now()",
            book.cvr, book.model_dump_json())

    async def index_hold(self, hold_id: UUID, cvr: str) -> None:
        await self.conn.execute(
            "INSERT INTO hold_index (hold_id, cvr) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            hold_id, cvr)

    async def cvr_of_hold(self, hold_id: UUID) -> str | None:
        value = await self.conn.fetchval("SELECT cvr FROM hold_index WHERE hold_id = $1",
                                         hold_id)
        return None if value is None else str(value)

    # -- instruction index ---------------------------------------------------------------------
    async def index_instruction(self, instruction_id: UUID, application_id: UUID) -> None:
        await self.conn.execute(
            "INSERT INTO instruction_index (instruction_id, application_id) VALUES ($1, $2)"
            " ON CONFLICT DO NOTHING", instruction_id, application_id)

    async def grant_of_instruction(self, instruction_id: UUID) -> UUID | None:
        value = await self.conn.fetchval(
            "SELECT application_id FROM instruction_index WHERE instruction_id = $1",
            instruction_id)
        return value

    # -- bank master data (R19) ----------------------------------------------------------------
    async def lock_bank_book(self, cvr: str) -> BankBook | None:
        state = await self.conn.fetchval(
            "SELECT state FROM bank_books WHERE cvr = $1 FOR UPDATE", cvr)
        return None if state is None else BankBook.model_validate_json(state)

    async def save_bank_book(self, book: BankBook) -> None:
        await self.conn.execute(
            "INSERT INTO bank_books (cvr, state) VALUES ($1, $2::jsonb)"
            " ON CONFLICT (cvr) DO UPDATE SET state = EXCLUDED.state, updated_at = now()",
            book.cvr, book.model_dump_json())

    async def index_bank_change(self, change_id: UUID, cvr: str) -> None:
        await self.conn.execute(
            "INSERT INTO bank_change_index (change_id, cvr) VALUES ($1, $2)"
            " ON CONFLICT DO NOTHING", change_id, cvr)

    async def cvr_of_bank_change(self, change_id: UUID) -> str | None:
        value = await self.conn.fetchval(
            "SELECT cvr FROM bank_change_index WHERE change_id = $1", change_id)
        return None if value is None else str(value)
