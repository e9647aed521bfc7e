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
from servicekit.jsonb_repository import JsonbTable, KeyIndex

# ``cvr`` and the next due date are columns too, for the queries below; ``payment_due_of`` says
# which version of the state the due date was computed from (004_payment_due.sql).
GRANTS = JsonbTable("grant_accounts", "application_id", GrantAccount,
                    key_of=lambda g: g.application_id,
                    columns={"cvr": lambda g: g.cvr, "payment_due": next_payment_due},
                    stamped=("payment_due_of",))
HOLD_BOOKS = JsonbTable("hold_books", "cvr", HoldBook, key_of=lambda b: b.cvr)
BANK_BOOKS = JsonbTable("bank_books", "cvr", BankBook, key_of=lambda b: b.cvr)
HOLDS = KeyIndex("hold_index", "hold_id", "cvr")
INSTRUCTIONS = KeyIndex("instruction_index", "instruction_id", "application_id")
BANK_CHANGES = KeyIndex("bank_change_index", "change_id", "cvr")


class PaymentsStore:
    """The repositories, bound to one connection (and its open transaction)."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    # -- grant accounts ------------------------------------------------------------------------
    async def read_grant(self, application_id: UUID) -> GrantAccount | None:
        return await GRANTS.read(self.conn, application_id)

    async def lock_grant(self, application_id: UUID) -> GrantAccount | None:
        return await GRANTS.lock(self.conn, application_id)

    async def lock_accepted_grants(self, due_by: date | None = None) -> list[GrantAccount]:
        """Every accepted grant that has not lapsed, locked, in application order; with
        ``due_by``, only those whose stored next due date (``next_payment_due``) is on or before
        it, and those whose stored date is not known to be current (see 004_payment_due.sql)."""
        due = ("" if due_by is None else
               " AND (payment_due <= $1 OR payment_due_of IS DISTINCT FROM updated_at)")
        return await GRANTS.select(
            self.conn, f"state->>'accepted_at' IS NOT NULL AND state->>'lapse' IS NULL{due}",
            *(() if due_by is None else (due_by,)), lock="update")

    async def lock_unaccepted_grants(self) -> list[GrantAccount]:
        """Every grant neither accepted nor lapsed, locked, in application order."""
        return await GRANTS.select(
            self.conn, "state->>'accepted_at' IS NULL AND state->>'lapse' IS NULL",
            lock="update")

    async def save_grant(self, state: GrantAccount) -> None:
        await GRANTS.save(self.conn, state)

    async def grant_approvers(self, cvr: str) -> set[str]:
        """Who approved any grant of this grantee: they may not release its payments (R19)."""
        rows = await self.conn.fetch(
            "SELECT DISTINCT state->>'approved_by' AS approver FROM grant_accounts"
            " WHERE cvr = $1", cvr)
        return {r["approver"] for r in rows if r["approver"] is not None}

    # -- hold books ----------------------------------------------------------------------------
    async def ensure_hold_book(self, cvr: str) -> None:
        await HOLD_BOOKS.ensure(self.conn, cvr, HoldBook(cvr=cvr))

    async def read_hold_book(self, cvr: str) -> HoldBook | None:
        return await HOLD_BOOKS.read(self.conn, cvr)

    async def lock_hold_book(self, cvr: str, *, create: bool = False,
                             share: bool = False) -> HoldBook | None:
        """The grantee's book, locked (``share``: against writers only); with ``create`` an
        empty one if missing."""
        return await HOLD_BOOKS.lock(self.conn, cvr, share=share,
                                     create=(lambda: HoldBook(cvr=cvr)) if create else None)

    async def share_lock_hold_books(self) -> dict[str, HoldBook]:
        """Every grantee's book, share-locked in cvr order (a payment run reads them all)."""
        return {b.cvr: b for b in await HOLD_BOOKS.select(self.conn, lock="share")}

    async def save_hold_book(self, book: HoldBook) -> None:
        await HOLD_BOOKS.save(self.conn, book)

    async def index_hold(self, hold_id: UUID, cvr: str) -> None:
        await HOLDS.put(self.conn, hold_id, cvr)

    async def cvr_of_hold(self, hold_id: UUID) -> str | None:
        value = await HOLDS.get(self.conn, hold_id)
        return None if value is None else str(value)

    # -- instruction index ---------------------------------------------------------------------
    async def index_instruction(self, instruction_id: UUID, application_id: UUID) -> None:
        await INSTRUCTIONS.put(self.conn, instruction_id, application_id)

    async def grant_of_instruction(self, instruction_id: UUID) -> UUID | None:
        value: UUID | None = await INSTRUCTIONS.get(self.conn, instruction_id)
        return value

    # -- bank master data (R19) ----------------------------------------------------------------
    async def lock_bank_book(self, cvr: str) -> BankBook | None:
        return await BANK_BOOKS.lock(self.conn, cvr)

    async def save_bank_book(self, book: BankBook) -> None:
        await BANK_BOOKS.save(self.conn, book)

    async def index_bank_change(self, change_id: UUID, cvr: str) -> None:
        await BANK_CHANGES.put(self.conn, change_id, cvr)

    async def cvr_of_bank_change(self, change_id: UUID) -> str | None:
        value = await BANK_CHANGES.get(self.conn, change_id)
        return None if value is None else str(value)
