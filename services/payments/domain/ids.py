"""Deterministic ids (uuid5), so a re-run or a replay produces the very same ids.

Finance applies each instruction id exactly once (R17); if a re-run minted a fresh id for the
same period, finance would pay it twice. So every id here is a function of what it identifies.
"""

from __future__ import annotations

from datetime import date
from typing import Final
from uuid import NAMESPACE_URL, UUID, uuid5

NAMESPACE: Final[UUID] = uuid5(NAMESPACE_URL, "grants:payments")
"""The payments service's uuid5 namespace."""


def instruction_id(application_id: UUID, period_start: str, earlier: int = 0) -> UUID:
    """An instruction of a grant's payment period (``period_start`` is ``YYYY-MM``):
    ``earlier`` is how many first instructions and top-ups the period already has, so the
    first one keeps the historic id and each top-up gets its own."""
    if earlier == 0:
        return uuid5(NAMESPACE, f"{application_id}:{period_start}")
    return uuid5(NAMESPACE, f"{application_id}:{period_start}:topup:{earlier}")


def claim_id(application_id: UUID, earlier: int) -> UUID:
    """The grant's overpayment claim after ``earlier`` claims."""
    return uuid5(NAMESPACE, f"{application_id}:claim:{earlier}")


def reissue_id(failed_instruction_id: UUID) -> UUID:
    """The replacement of a failed instruction; a failed replacement chains the same way."""
    return uuid5(NAMESPACE, f"{failed_instruction_id}:reissue")


def overdue_hold_id(application_id: UUID, kind: str, due: date) -> UUID:
    """One hold per overdue report (grant, report kind, due date)."""
    return uuid5(NAMESPACE, f"hold:report_overdue:{application_id}:{kind}:{due.isoformat()}")
