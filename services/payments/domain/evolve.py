"""``evolve(state, event) -> state``: how each event changes a grant account.

The command functions decide events and never change state themselves; the adapter stores
``apply(state, events)``. The same fold over the event log rebuilds the state on replay (R23).
The account is born from the consumed ``GrantAwarded`` (it carries the period, frequency and
indicative budget that ``GrantAccountOpened`` does not), so a replay feeds that input first.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from contracts.assessment import GrantAwarded
from contracts.payments import (
    AwardAccepted,
    AwardLapsed,
    GrantAccountOpened,
    OverpaymentClaimed,
    PaymentInstructed,
    PaymentReconciliationHeld,
    PaymentReconciliationResolved,
    PaymentResultRecorded,
    RevisedBudgetApproved,
    RevisedBudgetPendingApproval,
    RevisedBudgetRejected,
    RevisedBudgetSubmitted,
    ReissueRequested,
)
from services.payments.domain.state import (
    BudgetVersion,
    ClaimRecord,
    DomainState,
    GrantAccount,
    InstructionRecord,
    Lapse,
    Reconciliation,
)

M = TypeVar("M", bound=DomainState)

GrantEvent = (
    GrantAwarded
    | GrantAccountOpened
    | AwardAccepted
    | AwardLapsed
    | RevisedBudgetSubmitted
    | RevisedBudgetApproved
    | RevisedBudgetPendingApproval
    | RevisedBudgetRejected
    | PaymentInstructed
    | PaymentResultRecorded
    | OverpaymentClaimed
    | PaymentReconciliationHeld
    | PaymentReconciliationResolved
    | ReissueRequested
)


def account_from_award(award: GrantAwarded) -> GrantAccount:
    return GrantAccount(
        application_id=award.application_id,
        cvr=award.applicant.cvr,
        amount_oere=award.amount_oere,
        project_period=award.project_period,
        acceptance_deadline=award.acceptance_deadline,
        payment_frequency=award.payment_frequency,
        budget_lines=tuple(award.budget_lines),
        approved_by=award.approved_by,
    )


def apply(state: GrantAccount | None, events: Iterable[GrantEvent]) -> GrantAccount | None:
    for event in events:
        state = evolve(state, event)
    return state


def evolve(state: GrantAccount | None, event: GrantEvent) -> GrantAccount | None:
    if isinstance(event, GrantAwarded):
        # The same award delivered twice opens nothing new.
        return state if state is not None else account_from_award(event)
    if isinstance(event, PaymentResultRecorded) and event.outcome in ("unknown_instruction",
                                                                     "duplicate"):
        return state  # acknowledged, changed nothing (there may not even be a grant)
    if state is None:
        raise ValueError(f"{type(event).__name__} before the grant's GrantAwarded")
    if getattr(event, "application_id", state.application_id) != state.application_id:
        raise ValueError(f"{type(event).__name__} belongs to another grant")
    match event:
        case GrantAccountOpened():
            return state
        case AwardAccepted():
            return _update(state, accepted_by=event.accepted_by, accepted_at=event.accepted_at)
        case AwardLapsed():
            lapse = Lapse(reason=event.reason, decided_by=event.decided_by,
                          lapsed_at=event.lapsed_at)
            return _update(state, lapse=lapse)
        case RevisedBudgetSubmitted():
            return _submitted(state, event)
        case RevisedBudgetApproved():
            return _decided(state, event.budget_version, status="approved",
                            approval=event.approval, decided_by=event.approved_by,
                            months=_plain(event.months), total_oere=event.total_oere)
        case RevisedBudgetPendingApproval():
            return _decided(state, event.budget_version, status="pending_approval",
                            reasons=tuple(event.reasons))
        case RevisedBudgetRejected():
            return _rejected(state, event)
        case PaymentInstructed():
            return _instructed(state, event)
        case PaymentResultRecorded():
            return _result(state, event)
        case OverpaymentClaimed():
            return _claimed(state, event)
        case PaymentReconciliationHeld():
            case_ = Reconciliation(instruction_id=event.instruction_id,
                                   instructed_oere=event.instructed_oere,
                                   executed_oere=event.executed_oere, held_at=event.held_at)
            return _update(state, reconciliations=(*state.reconciliations, case_))
        case PaymentReconciliationResolved():
            cases = tuple(_copy(c, resolved_by=event.resolved_by, resolved_at=event.resolved_at,
                                note=event.note)
                          if c.instruction_id == event.instruction_id and c.open else c
                          for c in state.reconciliations)
            return _update(state, reconciliations=cases)
        case ReissueRequested():
            return _update(state, instructions=tuple(
                _copy(r, reissue_requested_by=event.requested_by)
                if r.instruction_id == event.instruction_id else r for r in state.instructions))
    raise TypeError(f"not a grant account event: {type(event).__name__}")


def _copy(model: M, **changes: Any) -> M:
    # model_copy(update=...) skips validation; re-validating keeps the stored JSON honest.
    return type(model).model_validate({**dict(model), **changes})


def _update(state: GrantAccount, **changes: Any) -> GrantAccount:
    return _copy(state, **changes)


def _plain(months: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    return {month: dict(posts) for month, posts in months.items()}


def _submitted(state: GrantAccount, event: RevisedBudgetSubmitted) -> GrantAccount:
    # A newer submission replaces a version still waiting for a caseworker, so an old change
    # can never be approved over a newer one.
    earlier = tuple(
        _copy(b, status="superseded") if b.status == "pending_approval" else b
        for b in state.budgets
    )
    version = BudgetVersion(version=event.budget_version, months=_plain(event.months),
                            total_oere=event.total_oere, status="submitted",
                            submitted_by=event.submitted_by)
    return _update(state, budgets=(*earlier, version))


def _replace_budget(state: GrantAccount, version: BudgetVersion) -> GrantAccount:
    budgets = tuple(version if b.version == version.version else b for b in state.budgets)
    return _update(state, budgets=budgets)


def _decided(state: GrantAccount, version_no: int, **changes: Any) -> GrantAccount:
    budget = state.budget(version_no)
    if budget is None:
        raise ValueError(f"budget version {version_no} was never submitted")
    return _replace_budget(state, _copy(budget, **changes))


def _rejected(state: GrantAccount, event: RevisedBudgetRejected) -> GrantAccount:
    budget = state.budget(event.budget_version)
    if budget is None:
        # Input that could not be written as a MonthlyBudget is rejected without a
        # RevisedBudgetSubmitted; the version number is still used up.
        budget = BudgetVersion(version=event.budget_version, months=None, total_oere=0,
                               status="rejected", reasons=tuple(event.reasons),
                               decided_by=event.rejected_by)
        return _update(state, budgets=(*state.budgets, budget))
    changed = _copy(budget, status="rejected", reasons=tuple(event.reasons),
                    decided_by=event.rejected_by)
    return _replace_budget(state, changed)


def _instructed(state: GrantAccount, event: PaymentInstructed) -> GrantAccount:
    if state.instruction(event.instruction_id) is not None:
        return state
    records = tuple(
        _copy(r, reissued_as=event.instruction_id)
        if r.instruction_id == event.replaces_instruction_id else r
        for r in state.instructions
    )
    return _update(state, instructions=(*records, InstructionRecord(instruction=event)))


def _result(state: GrantAccount, event: PaymentResultRecorded) -> GrantAccount:
    changes: dict[str, Any] = {"outcome": event.outcome}
    if event.outcome == "executed":
        changes.update(executed_oere=event.executed_oere,
                       finance_reference=event.finance_reference)
    records = tuple(
        _copy(r, **changes)
        if r.instruction_id == event.instruction_id else r
        for r in state.instructions
    )
    return _update(state, instructions=records)


def _claimed(state: GrantAccount, event: OverpaymentClaimed) -> GrantAccount:
    if any(c.claim_id == event.claim_id for c in state.claims):
        return state
    claim = ClaimRecord(claim_id=event.claim_id, amount_oere=event.amount_oere,
                        periods={p.period_start: p.amount_oere for p in event.periods},
                        claimed_on=event.claimed_on)
    return _update(state, claims=(*state.claims, claim))
