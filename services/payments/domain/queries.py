"""Read-side helpers: money paid and instructed, and where the revised budget stands."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from contracts.base import Reason
from services.payments.domain.schedule import committed_oere
from services.payments.domain.state import BudgetStatus, GrantAccount


def paid_oere(state: GrantAccount) -> int:
    """What finance reported it paid, summed over the executed instructions."""
    return sum(r.paid_oere for r in state.instructions)


def instructed_oere(state: GrantAccount) -> int:
    """Sum of the instructions issued, each at what it counts (a failed one that was re-issued
    counted once, as its re-issue), less what was claimed back. Never more than the award."""
    return committed_oere(state)


def claimed_oere(state: GrantAccount) -> int:
    return sum(c.amount_oere for c in state.claims)


def category_of(state: GrantAccount, post: str) -> Literal["salary", "other"] | None:
    """A post's category is that of the indicative budget line with the same name; a new post
    (approved by a caseworker) has none."""
    return next((line.category for line in state.budget_lines if line.post == post), None)


@dataclass(frozen=True)
class BudgetStatusView:
    """Where the revised budget stands: ``status`` of the latest submitted version (``none``
    before any), its reasons, and the version that governs payments."""

    status: BudgetStatus | Literal["none"]
    version: int | None
    reasons: tuple[Reason, ...]
    governing_version: int | None

    @property
    def reason_codes(self) -> list[str]:
        return [r.code for r in self.reasons]


def budget_status(state: GrantAccount) -> BudgetStatusView:
    latest = state.latest_budget
    governing = state.latest_approved_budget
    governing_version = governing.version if governing is not None else None
    if latest is None:
        return BudgetStatusView(status="none", version=None, reasons=(),
                                governing_version=None)
    return BudgetStatusView(status=latest.status, version=latest.version, reasons=latest.reasons,
                            governing_version=governing_version)
