"""What payments' HTTP requests look like: their bodies, and the caller as the commands name it
(:class:`Call`, a dependency of the module-level routers with the running service, ``Runtime``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from contracts.base import Actor, Reason
from contracts.payments import MonthlyBudget
from contracts.refusal import Refusal
from servicekit.http import cause_of_request
from servicekit.identity import Principal
from servicekit.outbox import Cause
from servicekit.service import ServiceRuntime, current_runtime, requires

Runtime = Annotated[ServiceRuntime, Depends(current_runtime)]


def actor_of(principal: Principal, role: str) -> Actor:
    return Actor(id=principal.subject[:128], role=role)


@dataclass(frozen=True)
class Call:
    """A verified caller in one role as a command names it: who (``actor``, and the token's
    ``principal`` for its CVR), when (the service's ``now``) and why (``cause``)."""

    principal: Principal
    actor: Actor
    now: datetime
    cause: Cause


def call_as(role: str) -> Callable[..., Call]:
    """The dependency of a route only a caller with ``role`` may use, and acts in."""

    verified = Depends(requires(role))

    def call(request: Request, runtime: Runtime, principal: Principal = verified) -> Call:
        return Call(principal, actor_of(principal, role), runtime.clock.now(),
                    cause_of_request(request, principal, role))

    return call


AsApplicant = Annotated[Call, Depends(call_as("applicant"))]
AsCaseworker = Annotated[Call, Depends(call_as("caseworker"))]
Caseworker = Annotated[Principal, Depends(requires("caseworker"))]
"""A verified caseworker who only reads (a command's caller is :data:`AsCaseworker`)."""


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
