"""Which event type lives on which topic, at which schema version, with which payload.

``decode`` turns bytes from any platform topic into a typed :class:`Envelope`; ``encode`` is its
inverse. Both are the only way services read and write event JSON. ``envelope_of`` wraps a
payload in its envelope, with the event type and schema version the registry gives it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import TypeAdapter, ValidationError, create_model

from contracts import assessment, finance, intake, payments, register, reporting
from contracts import topics as t
from contracts.base import Actor, Contract
from contracts.envelope import Envelope


@dataclass(frozen=True)
class EventSpec:
    event_type: str
    payload: type[Contract]
    topic: t.Topic
    schema_version: int = 1

    @property
    def envelope(self) -> type[Envelope[Any]]:
        return _envelope_class(self)


_SPECS: list[EventSpec] = [
    EventSpec("ApplicationReceived", intake.ApplicationReceived, t.INTAKE_APPLICATIONS),
    EventSpec("ApplicationAccepted", intake.ApplicationAccepted, t.INTAKE_APPLICATIONS),
    EventSpec("ApplicationRejectedLate", intake.ApplicationRejectedLate, t.INTAKE_APPLICATIONS),
    EventSpec("SubmissionInvalid", intake.SubmissionInvalid, t.INTAKE_APPLICATIONS),
    EventSpec("SubmissionUnauthorized", intake.SubmissionUnauthorized, t.INTAKE_APPLICATIONS),
    EventSpec("ItProblemExceptionRequested", intake.ItProblemExceptionRequested, t.INTAKE_EXCEPTIONS),
    EventSpec("ItProblemExceptionDecided", intake.ItProblemExceptionDecided, t.INTAKE_EXCEPTIONS),
    EventSpec("PoolPublished", assessment.PoolPublished, t.ASSESSMENT_POOLS),
    EventSpec("PriorAwardImported", assessment.PriorAwardImported, t.ASSESSMENT_POOLS),
    EventSpec("OrganisationRecorded", register.OrganisationRecorded, t.ASSESSMENT_POOLS),
    EventSpec("RegisterSourceLoaded", register.RegisterSourceLoaded, t.ASSESSMENT_POOLS),
    EventSpec("EligibilityAssessed", assessment.EligibilityAssessed, t.ASSESSMENT_ASSESSMENTS),
    EventSpec("ApplicationScored", assessment.ApplicationScored, t.ASSESSMENT_ASSESSMENTS),
    EventSpec("GrantAwarded", assessment.GrantAwarded, t.ASSESSMENT_DECISIONS),
    EventSpec("ApplicationRejected", assessment.ApplicationRejected, t.ASSESSMENT_DECISIONS),
    EventSpec("GrantAccountOpened", payments.GrantAccountOpened, t.PAYMENTS_GRANTS),
    EventSpec("AwardAccepted", payments.AwardAccepted, t.PAYMENTS_GRANTS),
    EventSpec("AwardLapsed", payments.AwardLapsed, t.PAYMENTS_GRANTS),
    EventSpec("CaseworkerTaskOpened", payments.CaseworkerTaskOpened, t.PAYMENTS_GRANTS),
    EventSpec("CaseworkerTaskClosed", payments.CaseworkerTaskClosed, t.PAYMENTS_GRANTS),
    EventSpec("RevisedBudgetSubmitted", payments.RevisedBudgetSubmitted, t.PAYMENTS_GRANTS),
    EventSpec("RevisedBudgetApproved", payments.RevisedBudgetApproved, t.PAYMENTS_GRANTS),
    EventSpec(
        "RevisedBudgetPendingApproval", payments.RevisedBudgetPendingApproval, t.PAYMENTS_GRANTS
    ),
    EventSpec("RevisedBudgetRejected", payments.RevisedBudgetRejected, t.PAYMENTS_GRANTS),
    EventSpec("PaymentInstructed", payments.PaymentInstructed, t.PAYMENTS_INSTRUCTIONS),
    EventSpec("PaymentsHeld", payments.PaymentsHeld, t.PAYMENTS_INSTRUCTIONS),
    EventSpec("HoldReleaseRequested", payments.HoldReleaseRequested, t.PAYMENTS_INSTRUCTIONS),
    EventSpec("PaymentsReleased", payments.PaymentsReleased, t.PAYMENTS_INSTRUCTIONS),
    EventSpec("PaymentResultRecorded", payments.PaymentResultRecorded, t.PAYMENTS_INSTRUCTIONS),
    EventSpec("OverpaymentClaimed", payments.OverpaymentClaimed, t.PAYMENTS_INSTRUCTIONS),
    EventSpec("PaymentReconciliationHeld", payments.PaymentReconciliationHeld,
              t.PAYMENTS_INSTRUCTIONS),
    EventSpec("PaymentReconciliationResolved", payments.PaymentReconciliationResolved,
              t.PAYMENTS_INSTRUCTIONS),
    EventSpec("ReissueRequested", payments.ReissueRequested, t.PAYMENTS_INSTRUCTIONS),
    EventSpec("BankDetailsChangeRequested", payments.BankDetailsChangeRequested,
              t.PAYMENTS_GRANTS),
    EventSpec("BankDetailsChanged", payments.BankDetailsChanged, t.PAYMENTS_GRANTS),
    EventSpec("PaymentExecuted", finance.PaymentExecuted, t.FINANCE_RESULTS),
    EventSpec("PaymentFailed", finance.PaymentFailed, t.FINANCE_RESULTS),
    EventSpec("ReportSubmitted", reporting.ReportSubmitted, t.REPORTING_REPORTS),
    EventSpec("ReportAccepted", reporting.ReportAccepted, t.REPORTING_REPORTS),
    EventSpec("ReportRejected", reporting.ReportRejected, t.REPORTING_REPORTS),
    EventSpec("ReportOverdue", reporting.ReportOverdue, t.REPORTING_REPORTS),
    EventSpec("OverdueReportResolved", reporting.OverdueReportResolved, t.REPORTING_REPORTS),
    EventSpec("RepaymentClaimed", reporting.RepaymentClaimed, t.REPORTING_REPORTS),
    EventSpec("RepaymentWaived", reporting.RepaymentWaived, t.REPORTING_REPORTS),
]

EVENTS: dict[str, EventSpec] = {s.event_type: s for s in _SPECS}
_PAYLOAD_TO_TYPE: dict[type[Contract], str] = {s.payload: s.event_type for s in _SPECS}


@functools.cache
def _envelope_class(spec: EventSpec) -> type[Envelope[Any]]:
    """``Envelope[Payload]`` with ``event_type`` and ``schema_version`` pinned as constants.

    Built on first use, not at import: the 45 classes cost ~0.15 s, in every process that
    imports the contracts (each service start, each CLI call), most of which use a few."""
    # A class built at run time from values: mypy sees neither a type nor a Literal in them.
    return create_model(
        f"{spec.event_type}Event",
        __base__=Envelope[spec.payload],  # type: ignore[name-defined]  # a variable's class
        __doc__=spec.payload.__doc__,
        event_type=(Literal[spec.event_type], ...),  # type: ignore[arg-type]  # a run-time value
        schema_version=(Literal[spec.schema_version], ...),  # type: ignore[arg-type]  # same
    )


_HEADER = TypeAdapter(dict[str, Any])


class UnknownEventType(ValueError):
    pass


def spec_for(payload: Contract | type[Contract]) -> EventSpec:
    cls = payload if isinstance(payload, type) else type(payload)
    try:
        return EVENTS[_PAYLOAD_TO_TYPE[cls]]
    except KeyError:
        raise UnknownEventType(f"{cls.__name__} is not a registered event") from None


def envelope_of(payload: Contract, *, event_id: UUID, occurred_at: datetime, correlation_id: str,
                actor: Actor, aggregate_id: str, sequence: int,
                causation_id: str | None = None) -> Envelope[Any]:
    """``payload`` in its registered envelope: the event type and schema version are the
    registry's, never the caller's (raises :class:`UnknownEventType` for an unregistered one)."""
    spec = spec_for(payload)
    return spec.envelope(
        event_id=event_id, event_type=spec.event_type, schema_version=spec.schema_version,
        occurred_at=occurred_at, correlation_id=correlation_id, causation_id=causation_id,
        actor=actor, aggregate_id=aggregate_id, sequence=sequence, payload=payload)


def decode(raw: bytes | str | dict[str, Any], event_type: str | None = None) -> Envelope[Any]:
    """Parse and validate an event of any registered type.

    ``event_type`` is a hint (the Kafka header of that name): when it names a known type, the
    bytes are validated in one pass against that type's envelope, whose pinned ``event_type``
    and ``schema_version`` still check the body; otherwise (or if that fails) the body is read
    first to find its type, for a precise error.

    Raises ``pydantic.ValidationError`` for a malformed message and :class:`UnknownEventType` for
    an event type this version of the contracts does not know.
    """
    hinted = EVENTS.get(event_type) if event_type else None
    if hinted is not None and not isinstance(raw, dict):
        try:
            return hinted.envelope.model_validate_json(raw)
        except ValidationError:
            pass
    data = raw if isinstance(raw, dict) else _HEADER.validate_json(raw)
    event_type = data.get("event_type")
    spec = EVENTS.get(event_type) if isinstance(event_type, str) else None
    if spec is None:
        raise UnknownEventType(f"unknown event_type {event_type!r}")
    if data.get("schema_version") != spec.schema_version:
        raise UnknownEventType(
            f"{event_type} schema_version {data.get('schema_version')!r} is not {spec.schema_version}"
        )
    return spec.envelope.model_validate(data)


def encode(envelope: Envelope[Any]) -> bytes:
    return envelope.model_dump_json().encode()


__all__ = ["EVENTS", "EventSpec", "UnknownEventType", "ValidationError", "decode", "encode",
           "envelope_of", "spec_for"]
