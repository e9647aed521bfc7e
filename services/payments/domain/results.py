"""Finance results on instructions, and the caseworker's re-issue of a failed one (R17).

Finance applies each instruction id once and reports once; the first result for an instruction
is final. Every result is acknowledged by exactly one ``PaymentResultRecorded``, so the log shows
what finance said even when it changed nothing (an unknown id, a repeat).
"""

from __future__ import annotations

from uuid import UUID

from contracts.base import Actor
from contracts.finance import PaymentExecuted, PaymentFailed
from contracts.payments import PaymentInstructed, PaymentResultRecorded
from services.payments.domain.account import require_not_lapsed, require_role
from services.payments.domain.errors import DomainRefusal
from services.payments.domain.holds import HoldBook, is_held
from services.payments.domain.ids import reissue_id
from services.payments.domain.state import GrantAccount


def record_result(state: GrantAccount | None,
                  result: PaymentExecuted | PaymentFailed) -> list[PaymentResultRecorded]:
    """``state`` is the grant the adapter found for the instruction id (None: no grant has it).

    A second result for the same instruction, whether it repeats or contradicts the first, is a
    ``duplicate`` and changes nothing: finance applies an id exactly once, so a contradiction is
    finance's error to resolve, and flipping a failed payment to executed after a caseworker
    re-issued it would hide a double payment instead of showing it.
    """
    record = state.instruction(result.instruction_id) if state is not None else None
    if state is None or record is None:
        return [PaymentResultRecorded(
            instruction_id=result.instruction_id,
            application_id=state.application_id if state is not None else None,
            outcome="unknown_instruction")]
    if record.outcome != "instructed":
        outcome = "duplicate"
    elif isinstance(result, PaymentExecuted):
        outcome = "executed"
    else:
        outcome = "failed"
    return [PaymentResultRecorded(instruction_id=result.instruction_id,
                                  application_id=state.application_id, outcome=outcome)]


def reissue_failed(state: GrantAccount, failed_instruction_id: UUID, actor: Actor,
                   holds: HoldBook | None) -> list[PaymentInstructed]:
    """A caseworker re-issues a failed instruction under a new stable id that names the one it
    replaces; the same period, amount and due date. Asking twice re-issues once."""
    require_role(actor, "caseworker")
    record = state.instruction(failed_instruction_id)
    if record is None:
        raise DomainRefusal("instruction_not_found",
                            f"no instruction {failed_instruction_id} on this grant", 404)
    if record.reissued_as is not None:
        return []
    if record.outcome != "failed":
        raise DomainRefusal("instruction_not_failed",
                            f"the instruction is {record.outcome}, not failed", 409)
    require_not_lapsed(state)
    if holds is not None and holds.cvr != state.cvr:
        raise ValueError("the hold book belongs to another CVR")
    if is_held(holds):
        raise DomainRefusal("payments_held", "payments to this grantee are held", 409)
    old = record.instruction
    return [PaymentInstructed.model_validate({
        **dict(old), "instruction_id": reissue_id(old.instruction_id),
        "replaces_instruction_id": old.instruction_id})]
