"""The money side of a grant file: payment instructions, what finance reported paid, payments'
own overpayment claims, and reporting's repayment claims and waivers (R17, R22).

Kept beside :mod:`.grant_file`, whose ``evolve`` dispatches these events here.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict

from contracts.base import UtcDatetime
from contracts.finance import PaymentExecuted, PaymentFailed
from contracts.payments import OverpaymentClaimed, PaymentInstructed, PaymentResultRecorded
from contracts.reporting import RepaymentClaimed, RepaymentWaived

if TYPE_CHECKING:
    from services.reporting.domain.grant_file import GrantFile


class Instruction(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    amount_oere: int
    due_date: date
    outcome: Literal["instructed", "executed", "failed"] = "instructed"
    executed_at: UtcDatetime | None = None
    # What finance reported it paid (the first result wins); None: the instructed amount.
    executed_oere: int | None = None

    @property
    def paid_oere(self) -> int:
        if self.outcome != "executed":
            return 0
        return self.amount_oere if self.executed_oere is None else self.executed_oere


def _instructed(s: GrantFile, p: PaymentInstructed, _at: datetime) -> GrantFile:
    key = str(p.instruction_id)
    if key in s.instructions:
        return s  # stable id: a re-run or redelivery is the same instruction
    instruction = Instruction(amount_oere=p.amount_oere, due_date=p.due_date)
    return s.model_copy(update={"instructions": {**s.instructions, key: instruction}})


def _payment_result(
    s: GrantFile, key: str, p: PaymentExecuted | PaymentFailed | PaymentResultRecorded,
    at: datetime,
) -> GrantFile:
    current = s.instructions.get(key)
    if current is None or current.outcome == "executed":
        # Executed is final: money that left cannot un-leave by a later failure report.
        return s
    if isinstance(p, PaymentExecuted):
        updated = current.model_copy(update={"outcome": "executed", "executed_at": p.executed_at,
                                             "executed_oere": p.amount_oere})
    elif isinstance(p, PaymentResultRecorded):
        if p.outcome not in ("executed", "failed"):
            return s
        updated = current.model_copy(update={
            "outcome": p.outcome,
            "executed_at": at if p.outcome == "executed" else None,
            "executed_oere": p.executed_oere if p.outcome == "executed" else None,
        })
    else:
        updated = current.model_copy(update={"outcome": "failed"})
    return s.model_copy(update={"instructions": {**s.instructions, key: updated}})


def _result_recorded(s: GrantFile, p: PaymentResultRecorded, at: datetime) -> GrantFile:
    return _payment_result(s, str(p.instruction_id), p, at)


def _overpayment(s: GrantFile, p: OverpaymentClaimed, _at: datetime) -> GrantFile:
    key = str(p.claim_id)
    if key in s.overpayment_claims:
        return s
    return s.model_copy(update={
        "overpayment_claims": (*s.overpayment_claims, key),
        "overpayment_claimed_oere": s.overpayment_claimed_oere + p.amount_oere})


def _claimed(s: GrantFile, p: RepaymentClaimed, _at: datetime) -> GrantFile:
    return s.model_copy(update={"claimed_oere": s.claimed_oere + p.amount_oere})


def _waived(s: GrantFile, p: RepaymentWaived, _at: datetime) -> GrantFile:
    return s.model_copy(update={"waived_oere": s.waived_oere + p.amount_oere})
