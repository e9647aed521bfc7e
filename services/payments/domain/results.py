"""Finance results on instructions, reconciliation of a mismatched amount, and the two-person
re-issue of a failed instruction (R17, R19).

Finance applies each instruction id once and reports once; the first result for an instruction
is final. Every result is acknowledged by exactly one ``PaymentResultRecorded``, so the log shows
what finance said even when it changed nothing (an unknown id, a repeat).
"""

from __future__ import annotations

from datetime import datetime
from typing import Final
from uuid import UUID

from contracts.base import Actor
from contracts.finance import PaymentExecuted, PaymentFailed
from contracts.payments import (
    PaymentInstructed,
    PaymentReconciliationHeld,
    PaymentReconciliationResolved,
    PaymentResultRecorded,
    ReissueRequested,
)
from contracts.refusal import Refusal
from services.payments.domain.account import require_not_lapsed, require_role
from services.payments.domain.holds import HoldBook, is_held, require_two_people
from services.payments.domain.ids import reissue_id
from services.payments.domain.state import GrantAccount, InstructionRecord, require_aware

AMOUNT_MISMATCH: Final = "payment_amount_mismatch"
ResultEvent = PaymentResultRecorded | PaymentReconciliationHeld


def record_result(state: GrantAccount | None, result: PaymentExecuted | PaymentFailed,
                  now: datetime | None = None) -> list[ResultEvent]:
    """``state`` is the grant the adapter found for the instruction id (None: no grant has it);
    ``now`` the service's time (default: the result's own time).

    A second result for the same instruction, whether it repeats or contradicts the first, is a
    ``duplicate`` and changes nothing: finance applies an id exactly once, so a contradiction is
    finance's error to resolve, and flipping a failed payment to executed after a caseworker
    re-issued it would hide a double payment instead of showing it.

    An executed result records what finance says it paid and its reference. An amount that
    differs from the instruction is a ``payment_amount_mismatch``: only the executed amount
    counts (as paid, and in the ledger), and the grant waits on a reconciliation hold.
    """
    record = state.instruction(result.instruction_id) if state is not None else None
    if state is None or record is None:
        return [PaymentResultRecorded(
            instruction_id=result.instruction_id,
            application_id=state.application_id if state is not None else None,
            outcome="unknown_instruction")]
    if record.outcome != "instructed":
        return [PaymentResultRecorded(instruction_id=result.instruction_id,
                                      application_id=state.application_id, outcome="duplicate")]
    if isinstance(result, PaymentFailed):
        return [PaymentResultRecorded(instruction_id=result.instruction_id,
                                      application_id=state.application_id, outcome="failed")]
    instructed = record.instruction.amount_oere
    mismatch = result.amount_oere != instructed
    events: list[ResultEvent] = [PaymentResultRecorded(
        instruction_id=result.instruction_id, application_id=state.application_id,
        outcome="executed", executed_oere=result.amount_oere,
        finance_reference=result.finance_reference or None,
        reason=AMOUNT_MISMATCH if mismatch else None)]
    if mismatch:
        events.append(PaymentReconciliationHeld(
            application_id=state.application_id, instruction_id=result.instruction_id,
            instructed_oere=instructed, executed_oere=result.amount_oere,
            reason=AMOUNT_MISMATCH, held_at=require_aware(now or result.executed_at)))
    return events


def resolve_reconciliation(state: GrantAccount, instruction_id: UUID, actor: Actor,
                           note: str, now: datetime) -> list[PaymentReconciliationResolved]:
    """A caseworker who did not approve the grant confirms a mismatched result: the executed
    amount stands (the ledger pays a shortfall, offsets or claims an excess) and the grant's
    payments resume. Resolving a resolved case again emits nothing."""
    require_role(actor, "caseworker")
    require_not_grant_approver(state, actor)
    case = next((r for r in state.reconciliations if r.instruction_id == instruction_id), None)
    if case is None:
        raise Refusal("reconciliation_not_found",
                      f"no reconciliation for instruction {instruction_id}", "not_found")
    if not case.open:
        return []
    return [PaymentReconciliationResolved(application_id=state.application_id,
                                          instruction_id=instruction_id, resolved_by=actor.id,
                                          note=note, resolved_at=require_aware(now))]


def may_move_money(state: GrantAccount, actor: Actor) -> bool:
    """R19: whoever approved the grant (its allocation) does not move its money."""
    return actor.id != state.approved_by


def require_not_grant_approver(state: GrantAccount, actor: Actor) -> None:
    """:func:`may_move_money`, or the refusal that says why not."""
    if not may_move_money(state, actor):
        raise Refusal("segregation_of_duties",
                      "whoever approved a grant may not run, release or re-issue its "
                      "payments", "forbidden")


def _failed_record(state: GrantAccount, failed_instruction_id: UUID) -> InstructionRecord:
    record = state.instruction(failed_instruction_id)
    if record is None:
        raise Refusal("instruction_not_found",
                      f"no instruction {failed_instruction_id} on this grant", "not_found")
    return record


def _require_reissuable(state: GrantAccount, record: InstructionRecord,
                        holds: HoldBook | None) -> None:
    if record.outcome != "failed":
        raise Refusal("instruction_not_failed",
                      f"the instruction is {record.outcome}, not failed", "conflict")
    require_not_lapsed(state)
    if holds is not None and holds.cvr != state.cvr:
        raise ValueError("the hold book belongs to another CVR")
    if is_held(holds):
        raise Refusal("payments_held", "payments to this grantee are held", "conflict")


def request_reissue(state: GrantAccount, failed_instruction_id: UUID, actor: Actor,
                    holds: HoldBook | None, now: datetime) -> list[ReissueRequested]:
    """The first of two caseworkers asks to re-issue a failed instruction (R19). Asking again
    is a retry; another caseworker asking is refused (they approve instead)."""
    require_role(actor, "caseworker")
    require_not_grant_approver(state, actor)
    record = _failed_record(state, failed_instruction_id)
    if record.reissued_as is not None or record.reissue_requested_by == actor.id:
        return []
    _require_reissuable(state, record, holds)
    if record.reissue_requested_by is not None:
        raise Refusal("reissue_already_requested",
                      "another caseworker asked to re-issue this instruction; a second "
                      "person approves it", "conflict")
    return [ReissueRequested(application_id=state.application_id,
                             instruction_id=failed_instruction_id, requested_by=actor.id,
                             requested_at=require_aware(now))]


def reissue_failed(state: GrantAccount, failed_instruction_id: UUID, actor: Actor,
                   holds: HoldBook | None) -> list[PaymentInstructed]:
    """A second caseworker approves a requested re-issue: a new stable id that names the one it
    replaces; the same period, amount, offsets and due date. Approving twice re-issues once."""
    require_role(actor, "caseworker")
    require_not_grant_approver(state, actor)
    record = _failed_record(state, failed_instruction_id)
    if record.reissued_as is not None:
        return []
    _require_reissuable(state, record, holds)
    if record.reissue_requested_by is None:
        raise Refusal("reissue_not_requested",
                      "a first caseworker asks for the re-issue before a second one "
                      "approves it", "conflict")
    require_two_people(record.reissue_requested_by, actor.id)
    old = record.instruction
    return [PaymentInstructed.model_validate({
        **dict(old), "instruction_id": reissue_id(old.instruction_id),
        "replaces_instruction_id": old.instruction_id})]
