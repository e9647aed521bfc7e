"""The state of one grant account, kept as JSON (JSONB per grant) and rebuilt by ``evolve``.

Frozen pydantic models with plain JSON types: ``GrantAccount.model_dump(mode="json")`` stores it,
``GrantAccount.model_validate(row)`` loads it. Nothing here decides anything; the rules live in
the command modules, the transitions in :mod:`services.payments.domain.evolve`.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict

from contracts.base import BudgetLine, ProjectPeriod, Reason
from contracts.payments import PaymentInstructed
from contracts.pools import PaymentFrequency

BudgetStatus = Literal["submitted", "approved", "pending_approval", "rejected", "superseded"]
"""``submitted`` only exists between the two events of one submission; ``superseded`` is a
pending version that a newer submission replaced before a caseworker decided it."""

InstructionOutcome = Literal["instructed", "executed", "failed"]


class DomainState(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BudgetVersion(DomainState):
    """One submitted revised budget. ``months`` is None when the raw input could not be written
    as a contract ``MonthlyBudget`` (bad month keys, negative or non-integer amounts): such a
    version exists only as its rejection."""

    version: int
    months: dict[str, dict[str, int]] | None
    total_oere: int
    status: BudgetStatus
    reasons: tuple[Reason, ...] = ()
    submitted_by: str | None = None
    approval: Literal["automatic", "caseworker"] | None = None
    decided_by: str | None = None


class InstructionRecord(DomainState):
    instruction: PaymentInstructed
    outcome: InstructionOutcome = "instructed"
    reissued_as: UUID | None = None
    executed_oere: int | None = None  # what finance reported it paid
    finance_reference: str | None = None
    reissue_requested_by: str | None = None  # first person of a two-person re-issue

    @property
    def instruction_id(self) -> UUID:
        return self.instruction.instruction_id

    @property
    def counts_against_cap(self) -> bool:
        """A failed instruction that was re-issued is replaced by its re-issue; any other
        instruction (even a failed one waiting for a caseworker) keeps its money reserved."""
        return not (self.outcome == "failed" and self.reissued_as is not None)

    @property
    def counted_oere(self) -> int:
        """What this instruction counts in the ledger: nothing once a re-issue replaced it,
        what finance paid once executed, else the instructed amount (reserved)."""
        if not self.counts_against_cap:
            return 0
        if self.outcome == "executed" and self.executed_oere is not None:
            return self.executed_oere
        return self.instruction.amount_oere

    @property
    def paid_oere(self) -> int:
        if self.outcome != "executed":
            return 0
        return self.executed_oere if self.executed_oere is not None else (
            self.instruction.amount_oere)


class ClaimRecord(DomainState):
    """An overpayment claimed back (``OverpaymentClaimed``), per period."""

    claim_id: UUID
    amount_oere: int
    periods: dict[str, int]
    claimed_on: date


class Reconciliation(DomainState):
    """A finance result whose amount differs from its instruction (``payment_amount_mismatch``).
    Open (``resolved_by`` None) it holds the grant's payments."""

    instruction_id: UUID
    instructed_oere: int
    executed_oere: int
    held_at: AwareDatetime
    resolved_by: str | None = None
    resolved_at: AwareDatetime | None = None
    note: str = ""

    @property
    def open(self) -> bool:
        return self.resolved_by is None


class Lapse(DomainState):
    reason: Literal["acceptance_deadline_passed", "project_not_started", "withdrawn"]
    decided_by: str | None = None
    lapsed_at: AwareDatetime


class GrantAccount(DomainState):
    """A grant (identified by ``application_id``) from award to its last payment."""

    application_id: UUID
    cvr: str
    amount_oere: int
    project_period: ProjectPeriod
    acceptance_deadline: AwareDatetime
    payment_frequency: PaymentFrequency
    budget_lines: tuple[BudgetLine, ...]
    approved_by: str
    accepted_by: str | None = None
    accepted_at: AwareDatetime | None = None
    lapse: Lapse | None = None
    budgets: tuple[BudgetVersion, ...] = ()
    instructions: tuple[InstructionRecord, ...] = ()
    claims: tuple[ClaimRecord, ...] = ()
    reconciliations: tuple[Reconciliation, ...] = ()

    @property
    def is_accepted(self) -> bool:
        return self.accepted_at is not None

    @property
    def is_lapsed(self) -> bool:
        return self.lapse is not None

    @property
    def reconciliation_open(self) -> bool:
        return any(r.open for r in self.reconciliations)

    @property
    def indicative_posts(self) -> frozenset[str]:
        return frozenset(line.post for line in self.budget_lines)

    @property
    def latest_budget(self) -> BudgetVersion | None:
        return self.budgets[-1] if self.budgets else None

    @property
    def latest_approved_budget(self) -> BudgetVersion | None:
        """The version that governs payments (R15/R16). Versions are approved in version order
        (a newer submission supersedes a pending one), so the last approved is the latest."""
        for budget in reversed(self.budgets):
            if budget.status == "approved":
                return budget
        return None

    def budget(self, version: int) -> BudgetVersion | None:
        for budget in self.budgets:
            if budget.version == version:
                return budget
        return None

    def instruction(self, instruction_id: UUID) -> InstructionRecord | None:
        for record in self.instructions:
            if record.instruction_id == instruction_id:
                return record
        return None


def require_aware(moment: datetime) -> datetime:
    """The domain compares instants; a naive datetime would compare as local guesswork."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("an instant must carry its UTC offset")
    return moment
