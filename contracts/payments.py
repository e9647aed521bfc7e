"""Payments: grant accounts, acceptance, revised budgets, instructions, holds."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field

from contracts.base import Contract, Currency, Cvr, Oere, Reason, ReasonCode, UtcDatetime, YearMonth

MonthlyBudget = dict[YearMonth, dict[str, Oere]]
"""Revised budget: ``{"YYYY-MM": {post: øre}}`` (R15)."""


class GrantAccountOpened(Contract):
    application_id: UUID
    cvr: Cvr
    amount_oere: Oere
    acceptance_deadline: UtcDatetime


class AwardAccepted(Contract):
    application_id: UUID
    accepted_by: str
    accepted_at: UtcDatetime


class AwardLapsed(Contract):
    """The award no longer runs and its money is free in its sub-pool: not accepted in time,
    not started within 6 months (a caseworker's decision), or ``withdrawn`` by a caseworker
    (e.g. the grantee declined) before any payment was instructed."""

    application_id: UUID
    reason: Literal["acceptance_deadline_passed", "project_not_started", "withdrawn"]
    decided_by: str | None = None
    lapsed_at: UtcDatetime


class CaseworkerTaskOpened(Contract):
    """Something a caseworker must decide. ``project_start_check`` (R18): an accepted project
    shows no start within 6 months of its period start (no approved budget puts money in a month
    up to ``due``); a caseworker lapses it (``POST /grants/{id}/lapse``) or dismisses the task
    (the project may go on)."""

    task_id: UUID
    kind: Literal["project_start_check"]
    application_id: UUID
    due: date
    opened_at: UtcDatetime


class CaseworkerTaskClosed(Contract):
    """A task is done: the grant ``lapsed``, the project ``started`` after all (an approved
    budget shows it), or a caseworker ``dismissed`` it (``closed_by``)."""

    task_id: UUID
    kind: Literal["project_start_check"]
    application_id: UUID
    outcome: Literal["lapsed", "started", "dismissed"]
    closed_by: str | None = None
    closed_at: UtcDatetime


class RevisedBudgetSubmitted(Contract):
    application_id: UUID
    budget_version: Annotated[int, Field(ge=1)]
    months: MonthlyBudget
    total_oere: Oere
    submitted_by: str


class RevisedBudgetApproved(Contract):
    """This version now governs payments (R15/R16)."""

    application_id: UUID
    budget_version: Annotated[int, Field(ge=1)]
    months: MonthlyBudget
    total_oere: Oere
    award_oere: Oere
    approval: Literal["automatic", "caseworker"]
    approved_by: str | None = None


class RevisedBudgetPendingApproval(Contract):
    """A later change that needs a caseworker's approval before it governs (R16)."""

    application_id: UUID
    budget_version: Annotated[int, Field(ge=1)]
    reasons: Annotated[list[Reason], Field(min_length=1)]


class RevisedBudgetRejected(Contract):
    application_id: UUID
    budget_version: Annotated[int, Field(ge=1)]
    reasons: Annotated[list[Reason], Field(min_length=1)]
    rejected_by: str | None = None


class PeriodAmount(Contract):
    """An amount attributed to one payment period (named by its first month)."""

    period_start: YearMonth
    amount_oere: Annotated[int, Field(gt=0)]


class PaymentInstructed(Contract):
    """An instruction for finance (R17). ``instruction_id`` is stable across re-runs and replays;
    finance applies each id exactly once and resolves the NemKonto from the CVR.

    ``amount_oere`` is what finance pays. An instruction is the first one of its period or a
    top-up of it (a later budget raised a period already instructed). ``offsets`` say how much
    of what this period makes due was *not* paid because earlier periods had been instructed
    more than a later budget makes due for them (the money moves, nothing is paid twice):
    the period is covered by ``amount_oere`` plus the offsets."""

    instruction_id: UUID
    application_id: UUID
    cvr: Cvr
    currency: Currency = "DKK"
    amount_oere: Annotated[int, Field(gt=0)]
    due_date: date
    period_start: YearMonth
    period_end: YearMonth
    budget_version: Annotated[int, Field(ge=1)]
    replaces_instruction_id: UUID | None = None
    offsets: list[PeriodAmount] = []


class PaymentsHeld(Contract):
    """New instructions to this grantee stop until released (R18)."""

    hold_id: UUID
    cvr: Cvr
    application_id: UUID | None = None
    reason: ReasonCode
    held_at: UtcDatetime


class HoldReleaseRequested(Contract):
    """The first of the two people asked to release a hold (R19). A different second person,
    neither of them a grant approver of this grantee, releases it (``PaymentsReleased``)."""

    hold_id: UUID
    cvr: Cvr
    requested_by: str
    requested_at: UtcDatetime


class PaymentsReleased(Contract):
    """A hold released by two different people (R19), or — for a hold an overdue report caused
    — by itself once that report was accepted late: then ``resolved_by_report`` names it and
    ``requested_by`` / ``approved_by`` are ``"automatic"``."""

    hold_id: UUID
    cvr: Cvr
    requested_by: str
    approved_by: str
    released_at: UtcDatetime
    resolved_by_report: UUID | None = None


class PaymentResultRecorded(Contract):
    """Payments applied a finance result to an instruction (or ignored it as unknown/duplicate).

    For an executed result, ``executed_oere`` is what finance reports it paid and
    ``finance_reference`` finance's own reference; ``reason`` is ``payment_amount_mismatch``
    when the amount differs from the instruction (only the executed amount counts as paid, and
    the grant waits on a reconciliation hold)."""

    instruction_id: UUID
    application_id: UUID | None = None
    outcome: Literal["executed", "failed", "unknown_instruction", "duplicate"]
    executed_oere: Oere | None = None
    finance_reference: Annotated[str, Field(max_length=128)] | None = None
    reason: ReasonCode | None = None


class OverpaymentClaimed(Contract):
    """A later approved budget makes less due than was already instructed for periods that
    have begun, and no later period is left to offset it against: the difference is claimed
    back from the grantee (R17). ``periods`` attribute it to the periods instructed over what
    they now make due."""

    claim_id: UUID
    application_id: UUID
    cvr: Cvr
    currency: Currency = "DKK"
    amount_oere: Annotated[int, Field(gt=0)]
    periods: Annotated[list[PeriodAmount], Field(min_length=1)]
    budget_version: Annotated[int, Field(ge=1)]
    claimed_on: date


class PaymentReconciliationHeld(Contract):
    """Finance reported an amount that differs from the instruction: no new instruction for
    this grant until a caseworker resolves it."""

    application_id: UUID
    instruction_id: UUID
    instructed_oere: Oere
    executed_oere: Oere
    reason: ReasonCode
    held_at: UtcDatetime


class PaymentReconciliationResolved(Contract):
    """A caseworker resolved a reconciliation hold; the executed amount stands in the ledger
    (a shortfall is paid, an excess offset or claimed, by the next runs)."""

    application_id: UUID
    instruction_id: UUID
    resolved_by: str
    note: Annotated[str, Field(max_length=2000)] = ""
    resolved_at: UtcDatetime


class ReissueRequested(Contract):
    """The first person of a two-person re-issue of a failed instruction (R19)."""

    application_id: UUID
    instruction_id: UUID
    requested_by: str
    requested_at: UtcDatetime


class BankDetailsChangeRequested(Contract):
    """The first person asks to change a grantee's bank master data (R19). ``change_id``
    names the request; a second, different person approves it."""

    change_id: UUID
    cvr: Cvr
    account_reference: Annotated[str, Field(min_length=1, max_length=64)]
    requested_by: str
    requested_at: UtcDatetime


class BankDetailsChanged(Contract):
    """Two different people changed a grantee's bank master data (R19)."""

    change_id: UUID
    cvr: Cvr
    account_reference: Annotated[str, Field(min_length=1, max_length=64)]
    requested_by: str
    approved_by: str
    changed_at: UtcDatetime
