"""Finance results: what a finance system publishes after applying an instruction."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import Field

from contracts.base import Contract, Oere, UtcDatetime


class PaymentExecuted(Contract):
    instruction_id: UUID
    amount_oere: Oere
    executed_at: UtcDatetime
    finance_reference: Annotated[str, Field(max_length=128)] = ""


class PaymentFailed(Contract):
    instruction_id: UUID
    failed_at: UtcDatetime
    reason: Annotated[str, Field(min_length=1, max_length=500)]
