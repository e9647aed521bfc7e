"""Thin adapters around the payments domain: the event consumer and the HTTP routes.

Each command is one transaction: lock the state it changes (see :mod:`.store` for the lock
order), run the domain, apply the returned events (``apply`` / ``evolve_holds``), emit them to the
outbox, save. Aggregate ids: the application id for everything about one grant; a hold's events
carry the application id of the overdue report that caused it (the CVR when it has none); a
finance result for an instruction no grant knows carries the instruction id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import date, datetime
from typing import Annotated, Any, TypeVar
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Body, Depends, Request
from pydantic import BaseModel, ConfigDict, Field, StrictBool, TypeAdapter

from contracts.assessment import GrantAwarded
from contracts.base import Actor, Contract, Reason
from contracts.finance import PaymentExecuted, PaymentFailed
from contracts.payments import (
    MonthlyBudget,
    OverpaymentClaimed,
    PaymentInstructed,
    PaymentResultRecorded,
    PaymentsReleased,
)
from contracts.reporting import OverdueReportResolved, ReportOverdue
from contracts.refusal import Refusal
from servicekit.consumer import Handler, Incoming, PoisonMessage
from servicekit.http import cause_of_request
from servicekit.identity import Principal
from servicekit.openapi import raw_body
from servicekit.logging import get_logger
from servicekit.outbox import Cause, Emitter, cause_of_event
from servicekit.service import ServiceRuntime, UnitOfWork
from services.payments.domain import (
    RunEvent,
    GrantAccount,
    HoldBook,
    accept_award,
    apply,
    approve_pending_budget,
    budget_status,
    evolve_holds,
    hold_for_overdue_report,
    instruct_due,
    instructed_oere,
    is_held,
    ledger,
    lapse_not_started,
    lapse_overdue,
    open_account,
    paid_oere,
    record_result,
    run_date,
    reject_pending_budget,
    release_hold,
    submit_revised_budget,
)
from services.payments.overdue_release import release_for_resolved_report
from services.payments.store import PaymentsStore

log = get_logger(__name__)
T = TypeVar("T")
FINANCE_ROLE = "finance"


# -- consumer: awards, finance results, overdue reports ------------------------------------------

def event_handler(runtime: ServiceRuntime) -> Handler:
    """One handler for the three input topics; other event types on them are ignored. A late
    report accepted (``OverdueReportResolved``) releases the hold its notice caused."""

    async def on_event(conn: asyncpg.Connection, item: Incoming, emitter: Emitter) -> None:
        envelope = item.envelope
        event = envelope.payload
        cause = cause_of_event(envelope, runtime.name)
        store = PaymentsStore(conn)
        if isinstance(event, GrantAwarded):
            await _open_account(store, event, emitter, cause)
        elif isinstance(event, (PaymentExecuted, PaymentFailed)):
            if envelope.actor.role != FINANCE_ROLE:
                raise PoisonMessage(f"a finance result must come from role {FINANCE_ROLE!r}, "
                                    f"not {envelope.actor.role!r}")
            await _record_result(store, event, emitter, cause, runtime.clock.now())
        elif isinstance(event, ReportOverdue):
            await _hold(store, event, emitter, cause, runtime.clock.now())
        elif isinstance(event, OverdueReportResolved):
            await release_for_resolved_report(store, event, emitter, cause, runtime.clock.now())

    return on_event


async def _open_account(store: PaymentsStore, award: GrantAwarded, emitter: Emitter,
                        cause: Cause) -> None:
    await store.ensure_hold_book(award.applicant.cvr)  # lock order: the book exists first
    state = await store.lock_grant(award.application_id)
    events = open_account(state, award)
    if not events:
        return  # the same award again (another event id): opened once
    opened = apply(None, [award, *events])
    assert opened is not None
    await store.save_grant(opened)
    for event in events:
        emitter.emit(event, aggregate_id=str(award.application_id), cause=cause)


async def _record_result(store: PaymentsStore, result: PaymentExecuted | PaymentFailed,
                         emitter: Emitter, cause: Cause, now: datetime) -> None:
    application_id = await store.grant_of_instruction(result.instruction_id)
    state = await store.lock_grant(application_id) if application_id is not None else None
    events = record_result(state, result, now)
    for event in events:
        if isinstance(event, PaymentResultRecorded) and event.outcome == "unknown_instruction":
            log.warning("finance_result_unknown_instruction",
                        instruction_id=str(result.instruction_id))
        aggregate = event.application_id or event.instruction_id
        emitter.emit(event, aggregate_id=str(aggregate), cause=cause)
    if state is not None and any(not isinstance(e, PaymentResultRecorded)
                                 or e.outcome in ("executed", "failed") for e in events):
        updated = apply(state, events)
        assert updated is not None
        await store.save_grant(updated)


async def _hold(store: PaymentsStore, report: ReportOverdue, emitter: Emitter, cause: Cause,
                now: datetime) -> None:
    book = await store.lock_hold_book(report.cvr, create=True)
    events = hold_for_overdue_report(book, report, now)
    for event in events:
        book = evolve_holds(book, event)
        await store.index_hold(event.hold_id, event.cvr)
        emitter.emit(event, aggregate_id=str(report.application_id), cause=cause)
    if events:
        assert book is not None
        await store.save_hold_book(book)


# -- HTTP plumbing -------------------------------------------------------------------------------

def actor_of(principal: Principal, role: str) -> Actor:
    return Actor(id=principal.subject[:128], role=role)  # type: ignore[arg-type]


def _not_found(application_id: UUID) -> Refusal:
    return Refusal("grant_not_found", f"no grant account for application {application_id}",
                   "not_found")


async def _locked_grant(store: PaymentsStore, application_id: UUID) -> GrantAccount:
    state = await store.lock_grant(application_id)
    if state is None:
        raise _not_found(application_id)
    return state


async def _save(uow: UnitOfWork, store: PaymentsStore, state: GrantAccount,
                events: Sequence[Contract], cause: Cause) -> GrantAccount:
    """Emit a grant's events, fold them into its state and store it."""
    if not events:
        return state
    for event in events:
        uow.emit(event, aggregate_id=str(state.application_id), cause=cause)
    updated = apply(state, events)  # type: ignore[arg-type]
    assert updated is not None
    await store.save_grant(updated)
    return updated


_INSTANT = TypeAdapter(datetime)


def _json(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json")


def _instant(moment: datetime) -> str:
    """An instant as the events carry it (ISO-8601, UTC as ``Z``)."""
    return str(_INSTANT.dump_python(moment, mode="json"))


def _reasons(reasons: Sequence[Reason]) -> list[dict[str, Any]]:
    return [_json(r) for r in reasons]


class RevisedBudgetBody(BaseModel):
    """A revised monthly budget: øre per post per month (the request's documented shape; the
    handler reads the body raw so that the domain names every bad month and post)."""

    model_config = ConfigDict(extra="forbid")
    months: MonthlyBudget


def _months_of(raw: Any) -> object:
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


class _Body(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EmptyBody(_Body):
    pass


class DecisionBody(_Body):
    approve: StrictBool
    message: Annotated[str, Field(max_length=2000)] = ""


class PaymentRunBody(_Body):
    """``through`` may only narrow a run to an earlier date; the run's date is the service's."""

    through: date | None = None


def _grant_view(state: GrantAccount, holds: HoldBook | None) -> dict[str, Any]:
    view = budget_status(state)
    status = ("lapsed" if state.is_lapsed else "accepted" if state.is_accepted
              else "awaiting_acceptance")
    return {
        **_json(state),
        "status": status,
        "budget": {"status": view.status, "version": view.version,
                   "reasons": _reasons(view.reasons), "governing_version": view.governing_version},
        "instructed_oere": instructed_oere(state),
        "paid_oere": paid_oere(state),
        "held": is_held(holds),
        "holds": [_json(h) for h in holds.active_holds] if holds is not None else [],
        "reconciliation_open": state.reconciliation_open,
        "ledger": [{**asdict(line), "due_date": line.due_date.isoformat(),
                    "covered_oere": line.covered_oere, "difference_oere": line.difference_oere}
                   for line in ledger(state)],
    }


def _released_view(hold_id: UUID, cvr: str, book: HoldBook) -> dict[str, Any]:
    hold = book.hold(hold_id)
    assert hold is not None and hold.released_at is not None
    assert hold.requested_by is not None and hold.approved_by is not None
    return _json(PaymentsReleased(hold_id=hold_id, cvr=cvr, requested_by=hold.requested_by,
                                  approved_by=hold.approved_by, released_at=hold.released_at))


# -- HTTP routes ---------------------------------------------------------------------------------

def http_router(runtime: ServiceRuntime) -> APIRouter:  # noqa: C901 - one closure per route
    router = APIRouter(tags=["payments"])
    applicant = Depends(runtime.require("applicant"))
    caseworker = Depends(runtime.require("caseworker"))
    reader = Depends(runtime.require("applicant", "caseworker"))

    @router.post("/grants/{application_id}/acceptance")
    async def accept(application_id: UUID, request: Request, _: EmptyBody | None = Body(None),
                     principal: Principal = applicant) -> dict[str, Any]:
        actor, cause = actor_of(principal, "applicant"), cause_of_request(request, principal,
                                                                           "applicant")

        async def work(uow: UnitOfWork) -> GrantAccount:
            store = PaymentsStore(uow.conn)
            state = await _locked_grant(store, application_id)
            events = accept_award(state, actor, principal.cvr or "", runtime.clock.now())
            return await _save(uow, store, state, events, cause)

        state = await runtime.in_transaction(work)
        assert state.accepted_at is not None
        return {"accepted_at": _instant(state.accepted_at)}

    @router.post("/grants/{application_id}/revised-budgets", status_code=201,
                 openapi_extra=raw_body(RevisedBudgetBody))
    async def revise(application_id: UUID, request: Request, raw: Any = Body(...),
                     principal: Principal = applicant) -> dict[str, Any]:
        months = _months_of(raw)
        actor, cause = actor_of(principal, "applicant"), cause_of_request(request, principal,
                                                                           "applicant")

        async def work(uow: UnitOfWork) -> GrantAccount:
            store = PaymentsStore(uow.conn)
            state = await _locked_grant(store, application_id)
            events = submit_revised_budget(state, months, actor, principal.cvr or "")
            return await _save(uow, store, state, events, cause)

        # No events means the very budget already approved or waiting was sent again: the
        # latest version is its verdict.
        budget = (await runtime.in_transaction(work)).latest_budget
        assert budget is not None
        return {"budget_version": budget.version, "status": budget.status,
                "reasons": _reasons(budget.reasons)}

    @router.post("/grants/{application_id}/revised-budgets/{version}/decision")
    async def decide_budget(application_id: UUID, version: int, body: DecisionBody,
                            request: Request, principal: Principal = caseworker) -> dict[str, Any]:
        actor, cause = actor_of(principal, "caseworker"), cause_of_request(request, principal,
                                                                            "caseworker")

        async def work(uow: UnitOfWork) -> str:
            store = PaymentsStore(uow.conn)
            state = await _locked_grant(store, application_id)
            events: Sequence[Contract]
            if body.approve:
                events = approve_pending_budget(state, version, actor)
            else:
                events = reject_pending_budget(state, version, actor, body.message)
            state = await _save(uow, store, state, events, cause)
            decided = state.budget(version)
            assert decided is not None
            return decided.status

        return {"status": await runtime.in_transaction(work)}

    @router.post("/grants/{application_id}/lapse")
    async def lapse(application_id: UUID, request: Request, _: EmptyBody | None = Body(None),
                    principal: Principal = caseworker) -> dict[str, Any]:
        actor, cause = actor_of(principal, "caseworker"), cause_of_request(request, principal,
                                                                            "caseworker")

        async def work(uow: UnitOfWork) -> GrantAccount:
            store = PaymentsStore(uow.conn)
            state = await _locked_grant(store, application_id)
            events = lapse_not_started(state, actor, runtime.clock.now())
            return await _save(uow, store, state, events, cause)

        state = await runtime.in_transaction(work)
        assert state.lapse is not None
        return {"application_id": str(application_id), **_json(state.lapse)}

    @router.post("/payment-runs")
    async def payment_run(request: Request, body: PaymentRunBody | None = Body(None),
                          principal: Principal = caseworker) -> dict[str, Any]:
        cause = cause_of_request(request, principal, "caseworker")
        actor = actor_of(principal, "caseworker")
        today = run_date(runtime.clock.now(), body.through if body else None)
        refused: list[dict[str, str]] = []

        async def work(uow: UnitOfWork) -> list[RunEvent]:
            store = PaymentsStore(uow.conn)
            books = await store.share_lock_hold_books()  # lock order: books, then grants
            issued: list[RunEvent] = []
            for state in await store.lock_accepted_grants():
                if state.approved_by == actor.id:  # R19: not the grant's own approver
                    refused.append({"application_id": str(state.application_id),
                                    "error": "segregation_of_duties"})
                    continue
                events = instruct_due(state, today, books.get(state.cvr))
                for event in events:
                    if isinstance(event, PaymentInstructed):
                        await store.index_instruction(event.instruction_id, event.application_id)
                await _save(uow, store, state, events, cause)
                issued += events
            return issued

        events = await runtime.in_transaction(work)
        return {"run_date": today.isoformat(),
                "instructions": [_json(e) for e in events if isinstance(e, PaymentInstructed)],
                "claims": [_json(e) for e in events if isinstance(e, OverpaymentClaimed)],
                "refused": refused}

    @router.post("/holds/{hold_id}/release-requests")
    async def request_release(hold_id: UUID, _: EmptyBody | None = Body(None),
                              principal: Principal = caseworker) -> dict[str, Any]:
        requester = actor_of(principal, "caseworker").id

        async def work(uow: UnitOfWork) -> asyncpg.Record:
            store = PaymentsStore(uow.conn)
            cvr, book = await _locked_book(store, hold_id)
            hold = book.hold(hold_id)
            assert hold is not None
            if not hold.active:
                raise Refusal("hold_released", "the hold is already released", "conflict")
            if requester in await store.grant_approvers(cvr):
                raise Refusal("segregation_of_duties",
                              "whoever approved a grant may not release its payments", "forbidden")
            pending = await store.release_request(hold_id)
            if pending is None:
                await store.add_release_request(hold_id, cvr, requester, runtime.clock.now())
                pending = await store.release_request(hold_id)
            elif pending["requested_by"] != requester:
                raise Refusal(
                    "release_already_requested",
                    "another caseworker asked to release this hold; a second person approves "
                    "it at release-approvals", "conflict")
            assert pending is not None
            return pending

        pending = await runtime.in_transaction(work)
        return {"hold_id": str(hold_id), "cvr": pending["cvr"], "status": "release_requested",
                "requested_by": pending["requested_by"],
                "requested_at": _instant(pending["requested_at"])}

    @router.post("/holds/{hold_id}/release-approvals")
    async def approve_release(hold_id: UUID, request: Request, _: EmptyBody | None = Body(None),
                              principal: Principal = caseworker) -> dict[str, Any]:
        approver, cause = actor_of(principal, "caseworker").id, cause_of_request(
            request, principal, "caseworker")

        async def work(uow: UnitOfWork) -> dict[str, Any]:
            store = PaymentsStore(uow.conn)
            cvr, book = await _locked_book(store, hold_id)
            hold = book.hold(hold_id)
            assert hold is not None
            if not hold.active:
                return _released_view(hold_id, cvr, book)  # released before: once
            pending = await store.release_request(hold_id)
            if pending is None:
                raise Refusal("release_not_requested",
                              "a first caseworker asks at release-requests before a "
                              "second one approves", "conflict")
            events = release_hold(book, hold_id, pending["requested_by"], approver,
                                  await store.grant_approvers(cvr), runtime.clock.now())
            for event in events:
                book = evolve_holds(book, event)
                # keyed by the application, else by the hold: never by the CVR, which for a
                # sole proprietorship is personal data and must not be a Kafka key
                uow.emit(event, aggregate_id=str(hold.application_id or f"hold:{hold_id}"),
                         cause=cause)
            await store.save_hold_book(book)
            await store.remove_release_request(hold_id)
            return _released_view(hold_id, cvr, book)

        return await runtime.in_transaction(work)

    @router.get("/grants/{application_id}")
    async def grant(application_id: UUID, principal: Principal = reader) -> dict[str, Any]:
        async with runtime.pool.acquire() as conn:
            store = PaymentsStore(conn)
            state = await store.read_grant(application_id)
            if state is None:
                raise _not_found(application_id)
            if "caseworker" not in principal.roles and principal.cvr != state.cvr:
                raise Refusal("cvr_mismatch", "the token's CVR is not the grantee's CVR",
                              "forbidden")
            holds = await store.read_hold_book(state.cvr)
        return _grant_view(state, holds)

    @router.post("/ops/sweep")
    async def sweep(request: Request, _: EmptyBody | None = Body(None),
                    principal: Principal = caseworker) -> dict[str, Any]:
        cause = cause_of_request(request, principal, "caseworker")
        return {"lapsed": await lapse_unaccepted(runtime, runtime.clock.now(), cause)}

    return router


async def lapse_unaccepted(runtime: ServiceRuntime, now: datetime, cause: Cause
                           ) -> list[dict[str, Any]]:
    """Every award still unaccepted after its deadline at ``now`` lapses, once (the operators'
    /ops/sweep and the scheduler's acceptance_lapse rule)."""

    async def work(uow: UnitOfWork) -> list[dict[str, Any]]:
        store = PaymentsStore(uow.conn)
        lapsed = []
        for state in await store.lock_unaccepted_grants():
            events = lapse_overdue(state, now)
            await _save(uow, store, state, events, cause)
            lapsed += [{"application_id": str(e.application_id), "reason": e.reason,
                        "lapsed_at": _instant(e.lapsed_at)} for e in events]
        return lapsed

    return await runtime.in_transaction(work)


async def _locked_book(store: PaymentsStore, hold_id: UUID) -> tuple[str, HoldBook]:
    cvr = await store.cvr_of_hold(hold_id)
    book = await store.lock_hold_book(cvr) if cvr is not None else None
    if cvr is None or book is None or book.hold(hold_id) is None:
        raise Refusal("hold_not_found", f"no hold {hold_id}", "not_found")
    return cvr, book
