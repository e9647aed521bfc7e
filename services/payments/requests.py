"""What payments' HTTP requests look like: their bodies and the caller as an actor."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from contracts.base import Actor, Reason
from contracts.payments import MonthlyBudget
from contracts.refusal import Refusal
from servicekit.identity import Principal


def actor_of(principal: Principal, role: str) -> Actor:
    return Actor(id=principal.subject[:128], role=role)


class RequestBody(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EmptyBody(RequestBody):
    pass


class DecisionBody(RequestBody):
    approve: StrictBool
    message: Annotated[str, Field(max_length=2000)] = ""


class PaymentRunBody(RequestBody):
    """``through`` may only narrow a run to an earlier date; the run's date is the service's."""

    through: date | None = None


class RevisedBudgetBody(BaseModel):
    """A revised monthly budget: øre per post per month (the request's documented shape; the
    handler reads the body raw so that the domain names every bad month and post)."""

    model_config = ConfigDict(extra="forbid")
    months: MonthlyBudget


def months_of(raw: Any) -> object:
    """The raw ``months`` of a revised budget body, unvalidated: the domain judges it and names
    every bad month, post and amount by its path."""
    if not isinstance(raw, dict):
        raise Refusal("invalid_request", "the body must be a JSON object", "invalid", reasons=[
            Reason(code="field_invalid", path="", message="expected {\"months\": {...}}")])
    unknown = sorted(set(raw) - {"months"})
    if "months" not in raw or unknown:
        reasons = [Reason(code="field_unknown", path=k, message="unknown field")
                   for k in unknown]
        if "months" not in raw:
            reasons.insert(0, Reason(code="field_missing", path="months",
                                     message="months is required"))
        raise Refusal("invalid_request", "the body is {\"months\": {...}}", "invalid",
                      reasons=reasons)
    return raw["months"]
