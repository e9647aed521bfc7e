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


class PaymentInstructed(Contract):
    """An instruction for finance (R17). ``instruction_id`` is stable across re-runs and replays;
    finance applies each id exactly once and resolves the NemKonto from the CVR."""

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


class PaymentsHeld(Contract):
    """New instructions to this grantee stop until released (R18)."""

    hold_id: UUID
    cvr: Cvr
    application_id: UUID | None = None
    reason: ReasonCode
    held_at: UtcDatetime


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
    """Payments applied a finance result to an instruction (or ignored it as unknown/duplicate)."""

    instruction_id: UUID
    application_id: UUID | None = None
    outcome: Literal["executed", "failed", "unknown_instruction", "duplicate"]
