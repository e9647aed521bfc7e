"""Thin adapters around the reporting domain: the event consumer and the HTTP routes.

Each input event and each command is one transaction: record the event(s) the overview needs,
lock the grant file it changes, evolve it with the domain, emit what the domain decided, save.
Events this service emits are also recorded (after an explicit flush to the outbox, in the same
transaction), so a grant's timeline and the pool overview show reporting's own events at once.

Aggregate id: the application id, for every event about one grant.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar
from uuid import UUID, uuid4

import asyncpg
from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from contracts.assessment import GrantAwarded, PoolPublished
from contracts.base import Contract
from contracts.bounds import LONG_TEXT, MAX_LIST, SignedAmount, multi_line, single_line
from contracts.envelope import Envelope
from contracts.finance import PaymentExecuted, PaymentFailed
from contracts.payments import (
    AwardAccepted, AwardLapsed, OverpaymentClaimed, PaymentInstructed, PaymentResultRecorded,
    RevisedBudgetApproved,
)
from contracts.reporting import AuditStatementType, ReportRejected
from contracts.refusal import Refusal
from servicekit.clock import Clock
from servicekit.consumer import Handler, Incoming
from servicekit.http import cause_of_request
from servicekit.identity import Principal
from servicekit.logging import get_logger
from servicekit.outbox import Cause, Emitter, cause_of_event
from servicekit.scheduler import Tick
from servicekit.service import ServiceRuntime, UnitOfWork
from services.reporting.domain import (
    GrantFile, PoolFigures, PoolSummary, SubmitReport, apply_payload, audit_level,
    decide_report, evolve, export_360giving, overdue, pool_overview, settle_repayment, to_csv,
    to_json,
)
from services.reporting.domain import reasons as rc
from services.reporting.domain.grant_file import report_fingerprint
from services.reporting.settings import funder_id_of
from services.reporting.store import ReportingStore

log = get_logger(__name__)
T = TypeVar("T")
FINANCE_ROLE = "finance"
# The input events that change a grant file (finance results are routed by instruction).
_FILE_EVENTS = (GrantAwarded, AwardAccepted, AwardLapsed, RevisedBudgetApproved,
                PaymentInstructed, PaymentResultRecorded, OverpaymentClaimed)


# -- consumer ----------------------------------------------------------------------------------

def event_handler(runtime: ServiceRuntime) -> Handler:
    """One handler for every input topic: keep the event, evolve the grant file it names, and
    settle a repayment a late finance result changed (R22)."""

    async def on_event(conn: asyncpg.Connection, item: Incoming, emitter: Emitter) -> None:
        envelope, payload = item.envelope, item.envelope.payload
        store = ReportingStore(conn)
        cause = cause_of_event(envelope, runtime.name)
        if isinstance(payload, (PaymentExecuted, PaymentFailed)):
            if envelope.actor.role != FINANCE_ROLE:
                # Payments dead-letters it; here it is simply not a payment result.
                log.warning("finance_result_not_from_finance", role=envelope.actor.role)
                return
            owner = await store.grant_of_instruction(payload.instruction_id)
            await store.record_events([envelope], origin="consumed", application_id=owner,
                                      topic=item.topic)
            if owner is not None:
                await _evolve(store, emitter, runtime.clock, owner, [envelope], cause)
            return  # else applied when its instruction arrives
        await store.record_events([envelope], origin="consumed", topic=item.topic)
        application_id = getattr(payload, "application_id", None)
        if not isinstance(payload, _FILE_EVENTS) or application_id is None:
            return
        later: list[Envelope[Any]] = []
        if isinstance(payload, PaymentInstructed):
            await store.index_instruction(payload.instruction_id, application_id)
            later = await store.unrouted_results(payload.instruction_id)
            await store.route_results(payload.instruction_id, application_id)
        await _evolve(store, emitter, runtime.clock, application_id, [envelope, *later], cause)

    return on_event


async def _evolve(store: ReportingStore, emitter: Emitter, clock: Clock, application_id: UUID,
                  envelopes: Sequence[Envelope[Any]], cause: Cause) -> None:
    state = await store.lock_file(application_id, create=True)
    assert state is not None
    updated = state
    for envelope in envelopes:
        updated = evolve(updated, envelope)
    # A payment result after the accepted final report: the difference is claimed now.
    settled = settle_repayment(updated)
    for event in settled:
        updated = apply_payload(updated, event, clock.now())
        emitter.emit(event, aggregate_id=str(application_id), cause=cause)
    if updated != state:
        await store.save_file(updated)
    if settled:
        await _flush_and_record(store, emitter)


async def _flush_and_record(store: ReportingStore, emitter: Emitter) -> None:
    """Write the emitted events to outbox + audit chain now (still in the caller's transaction)
    and keep them with the consumed ones."""
    written = await emitter.flush(store.conn)
    await store.record_events(written, origin="emitted")


# -- HTTP plumbing -----------------------------------------------------------------------------

def _not_awarded(application_id: UUID) -> Refusal:
    return Refusal(rc.GRANT_NOT_AWARDED, f"no award is known for application "
                                                f"{application_id}", "not_found")


def _check_grantee(principal: Principal, state: GrantFile) -> None:
    assert state.award is not None
    if principal.cvr != state.award.cvr:
        raise Refusal("cvr_mismatch", "the token's CVR is not the grantee's CVR", "forbidden")


class _Body(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EmptyBody(_Body):
    pass


class AuditStatementBody(_Body):
    """A typed statement (R21): what it is, its reference and, over 500,000 DKK, the reference
    of the performance audit."""

    type: AuditStatementType
    reference: single_line(200)
    performance_audit: single_line(200) | None = None


class ReportBody(_Body):
    """A status report (text) or the final report (accounts per post in øre, the statement —
    a bare reference (v1: the statement the audit level requires) or typed — optionally what was
    spent per month). Amounts are raw integers: the domain names a negative one by its post."""

    # Within the bounds of ReportSubmitted (contracts.bounds): what is accepted here can be
    # recorded; a longer text, a larger amount, more posts are refused with their codes.
    kind: Literal["status", "final"]
    text: multi_line(LONG_TEXT) | None = None
    accounts: Annotated[dict[single_line(200), SignedAmount],
                        Field(max_length=MAX_LIST)] | None = None
    audit_statement: single_line(200) | AuditStatementBody | None = None
    spent_months: Annotated[dict[single_line(200), Annotated[
        dict[single_line(200), SignedAmount], Field(max_length=MAX_LIST)]],
        Field(max_length=MAX_LIST)] | None = None

    def statement(self) -> tuple[str | None, AuditStatementType | None, str | None]:
        """(reference, type, performance audit) of the statement, however it was written."""
        s = self.audit_statement
        if isinstance(s, AuditStatementBody):
            return s.reference, s.type, s.performance_audit
        return s, None, None


def _resent_final(state: GrantFile, body: ReportBody) -> UUID | None:
    """The accepted final report's id when ``body`` is that very report sent again, so the
    domain recognises the resend (one effect) instead of refusing a second final report."""
    if body.kind != "final" or state.final_report_id is None:
        return None
    accepted = state.reports.get(state.final_report_id)
    accounts = body.accounts
    if accounts is not None and any(v < 0 for v in accounts.values()):
        accounts = None
    sent = report_fingerprint("final", body.text or "", accounts, *body.statement())
    return UUID(state.final_report_id) if accepted and accepted.fingerprint == sent else None


def _json(model: BaseModel) -> Any:
    return model.model_dump(mode="json")


def _grant_view(state: GrantFile, timeline: Sequence[BaseModel]) -> dict[str, Any]:
    award = state.award
    assert award is not None
    status = ("lapsed" if state.lapsed else "closed" if state.final_accepted
              else "accepted" if state.accepted_at is not None else "awaiting_acceptance")
    reports = [{"report_id": key, **_json(record)}
               for key, record in sorted(state.reports.items(),
                                         key=lambda kv: (kv[1].submitted_at, kv[0]))]
    for r in reports:
        r.pop("fingerprint", None)
    return {
        "application_id": str(state.application_id),
        "status": status,
        "pool_id": award.pool_id,
        "programme": award.programme,
        "region_code": award.region_code,
        "cvr": award.cvr,
        "recipient_name": award.recipient_name,
        "applied_oere": award.applied_oere,
        "awarded_oere": award.amount_oere,
        "project_period": _json(award.project_period),
        "reporting_deadlines": [_json(d) for d in award.reporting_deadlines],
        "audit_level": audit_level(award.amount_oere),
        "accepted_at": _json_instant(state.accepted_at),
        "budget": _json(state.budget) if state.budget is not None else None,
        "paid_oere": state.paid_oere,
        "spent_oere": state.final_spent_oere,
        "repayment": {"claimed_oere": state.claimed_oere, "waived_oere": state.waived_oere},
        "reports": reports,
        "overdue_notified": list(state.overdue_notified),
        "timeline": [_json(entry) for entry in timeline],
    }


def _json_instant(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def _pool_view(pool_id: str, events: Sequence[Envelope[Any]]) -> dict[str, Any]:
    """The overview's figures for one pool, with every published sub-pool (zeros included)."""
    summary = pool_overview(events).pools.get(pool_id) or PoolSummary(
        pool_id=pool_id, total=PoolFigures(), sub_pools={})
    published = [e.payload for e in events if isinstance(e.payload, PoolPublished)
                 and e.payload.pool_id == pool_id]
    view: dict[str, Any] = {"pool_id": pool_id, "title": None, "version": None,
                            "total_amount_oere": None, "sub_pool_amounts_oere": {}}
    sub_pools = dict(summary.sub_pools)
    if published:
        latest = max(published, key=lambda p: p.version)
        view |= {"title": latest.definition.title, "version": latest.version,
                 "total_amount_oere": latest.definition.total_oere,
                 "sub_pool_amounts_oere": {s.region_code: s.amount_oere
                                           for s in latest.definition.sub_pools}}
        for s in latest.definition.sub_pools:
            sub_pools.setdefault(s.region_code, PoolFigures())
    view["total"] = _json(summary.total)
    view["sub_pools"] = {code: _json(f) for code, f in sorted(sub_pools.items())}
    return view


# -- HTTP routes -------------------------------------------------------------------------------

def http_router(runtime: ServiceRuntime) -> APIRouter:  # noqa: C901 - one closure per route
    router = APIRouter(tags=["reporting"])
    applicant = Depends(runtime.require("applicant"))
    caseworker = Depends(runtime.require("caseworker"))
    reader = Depends(runtime.require("applicant", "caseworker", "auditor"))
    anyone = Depends(runtime.require())

    @router.post("/grants/{application_id}/reports", status_code=201)
    async def submit_report(application_id: UUID, body: ReportBody, request: Request,
                            principal: Principal = applicant) -> dict[str, Any]:
        cause = cause_of_request(request, principal, "applicant")

        async def work(uow: UnitOfWork) -> dict[str, Any]:
            store = ReportingStore(uow.conn)
            state = await store.lock_file(application_id)
            if state is None or state.award is None:
                raise _not_awarded(application_id)
            _check_grantee(principal, state)
            now = runtime.clock.now()
            report_id = _resent_final(state, body) or uuid4()
            reference, statement_type, performance_audit = body.statement()
            command = SubmitReport(
                report_id=report_id, application_id=application_id, kind=body.kind,
                text=body.text or "", accounts=body.accounts, audit_statement=reference,
                audit_statement_type=statement_type, performance_audit=performance_audit,
                spent_months=body.spent_months,
                submitted_by=principal.subject[:128], submitted_at=now)
            events = decide_report(state, command)
            updated = _apply(uow, state, events, now, cause)
            if events:
                await store.save_file(updated)
                await _flush_and_record(store, uow.emitter)
            record = updated.reports[str(report_id)]
            rejected = next((e for e in events if isinstance(e, ReportRejected)), None)
            assert updated.award is not None
            return {"report_id": str(report_id), "status": record.status,
                    "reasons": [_json(r) for r in rejected.reasons] if rejected else [],
                    "audit_level": audit_level(updated.award.amount_oere)}

        return await runtime.in_transaction(work)

    @router.get("/grants/{application_id}")
    async def grant(application_id: UUID, principal: Principal = reader) -> dict[str, Any]:
        async with runtime.pool.acquire() as conn:
            store = ReportingStore(conn)
            state = await store.read_file(application_id)
            if state is None or state.award is None:
                raise _not_awarded(application_id)
            if not principal.roles & {"caseworker", "auditor"}:
                _check_grantee(principal, state)
            events = await store.events_of_application(application_id)
        timeline = pool_overview(events).timelines.get(str(application_id), [])
        return _grant_view(state, timeline)

    @router.get("/pools/{pool_id}/overview")
    async def pool(pool_id: str, _: Principal = anyone) -> dict[str, Any]:
        async with runtime.pool.acquire() as conn:
            events = await ReportingStore(conn).events_of_pool(pool_id)
        if not events:
            raise Refusal("pool_not_found", f"no event names the pool {pool_id!r}", "not_found")
        return _pool_view(pool_id, events)

    async def package() -> dict[str, Any]:
        async with runtime.pool.acquire() as conn:
            store = ReportingStore(conn)
            files, titles = await store.awarded_files(), await store.pool_titles()
        return export_360giving(files, funder_id=funder_id_of(runtime.settings),
                                pool_titles=titles)

    @router.get("/exports/360giving.json")
    async def export_json(_: Principal = anyone) -> Response:
        return Response(to_json(await package()), media_type="application/json")

    @router.get("/exports/360giving.csv", response_class=Response, responses={200: {
        "description": "the 360Giving rows as CSV",
        "content": {"text/csv": {"schema": {"type": "string"}}}}})
    async def export_csv(_: Principal = anyone) -> Response:
        return Response(to_csv(await package()), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="360giving.csv"'})

    @router.post("/ops/sweep")
    async def sweep(request: Request, _: EmptyBody | None = Body(None),
                    principal: Principal = caseworker) -> dict[str, Any]:
        cause = cause_of_request(request, principal, "caseworker")
        return {"overdue": await sweep_overdue(runtime, runtime.clock.now(), cause)}

    return router


async def sweep_overdue(runtime: ServiceRuntime, now: datetime, cause: Cause
                        ) -> list[dict[str, Any]]:
    """Overdue reports (R18) at ``now``: a ``ReportOverdue`` per passed, unmet deadline, once.
    Run by the scheduler (rule ``overdue_reports``) and by an operator's ``/ops/sweep``."""
    # Find candidates without locks, then lock only those (in application order) and decide
    # again on the locked file: a consumer may have changed it meanwhile.
    async with runtime.pool.acquire() as conn:
        candidates = [f.application_id for f in await ReportingStore(conn).open_files()
                      if overdue(f, now)]
    if not candidates:
        return []

    async def work(uow: UnitOfWork) -> list[dict[str, Any]]:
        store = ReportingStore(uow.conn)
        notices: list[dict[str, Any]] = []
        for application_id in sorted(candidates):
            state = await store.lock_file(application_id)
            events = overdue(state, now) if state is not None else []
            if state is None or not events:
                continue
            await store.save_file(_apply(uow, state, events, now, cause))
            notices += [_json(e) for e in events]
        if notices:
            await _flush_and_record(store, uow.emitter)
        return notices

    return await runtime.in_transaction(work)


def scheduled_rules(runtime: ServiceRuntime) -> None:
    """Reporting's time-driven rules, run by the service's scheduler on its clock."""

    async def overdue_reports(tick: Tick) -> dict[str, Any]:
        return {"overdue": await sweep_overdue(runtime, tick.now, tick.cause)}

    runtime.schedule("overdue_reports", overdue_reports)


def _apply(uow: UnitOfWork, state: GrantFile, events: Sequence[Contract], now: datetime,
           cause: Cause) -> GrantFile:
    """Emit a grant's events and fold them into its file."""
    for event in events:
        uow.emit(event, aggregate_id=str(state.application_id), cause=cause)
        state = apply_payload(state, event, now)
    return state
