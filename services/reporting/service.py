"""Reporting's service layer: plain command handlers, each one unit of work around the domain.

A handler takes the unit of work and a command (``handler(uow, command)``, run by
``runtime.handle``): it locks the grant file, asks the domain, emits the events, saves the file
and records the emitted events beside the consumed ones (after an explicit flush, in the same
transaction), so a grant's timeline and the pool overview show them at once. No rule lives here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from contracts.base import Contract
from contracts.reporting import ReportRejected
from servicekit.outbox import Cause, Emitter
from servicekit.service import ServiceRuntime, UnitOfWork
from services.reporting.domain import (
    GrantFile, SubmitReport, apply_payload, awarded, decide_report, overdue, require_grantee,
    resent_final_report,
)
from services.reporting.requests import ReportBody
from services.reporting.store import ReportingStore
from services.reporting.views import json_of


async def flush_and_record(store: ReportingStore, emitter: Emitter) -> None:
    """Write the emitted events to outbox + audit chain now (still in the caller's transaction)
    and keep them with the consumed ones."""
    written = await emitter.flush(store.conn)
    await store.record_events(written, origin="emitted")


def emit_and_apply(uow: UnitOfWork, state: GrantFile, events: Sequence[Contract],
                   now: datetime, cause: Cause) -> GrantFile:
    """Emit a grant's events and fold them into its file."""
    for event in events:
        uow.emit(event, aggregate_id=str(state.application_id), cause=cause)
        state = apply_payload(state, event, now)
    return state


@dataclass(frozen=True)
class ReportOnGrant:
    """A grantee's report as it arrived: who (subject, token CVR), when, and the body."""

    application_id: UUID
    body: ReportBody
    subject: str
    cvr: str | None
    now: datetime
    cause: Cause


@dataclass(frozen=True)
class ReportDecided:
    report_id: UUID
    file: GrantFile
    rejected: ReportRejected | None


async def submit_report(uow: UnitOfWork, cmd: ReportOnGrant) -> ReportDecided:
    store = ReportingStore(uow.conn)
    state = awarded(await store.lock_file(cmd.application_id), cmd.application_id)
    require_grantee(state, cmd.cvr)
    body = cmd.body
    reference, statement_type, performance_audit = body.statement()
    command = SubmitReport(
        report_id=uuid4(), application_id=cmd.application_id, kind=body.kind,
        text=body.text or "", accounts=body.accounts, audit_statement=reference,
        audit_statement_type=statement_type, performance_audit=performance_audit,
        spent_months=body.spent_months, submitted_by=cmd.subject[:128], submitted_at=cmd.now)
    resent = resent_final_report(state, command)
    if resent is not None:
        command = command.model_copy(update={"report_id": resent})
    events = decide_report(state, command)
    updated = emit_and_apply(uow, state, events, cmd.now, cmd.cause)
    if events:
        await store.save_file(updated)
        await flush_and_record(store, uow.emitter)
    return ReportDecided(command.report_id, updated,
                         next((e for e in events if isinstance(e, ReportRejected)), None))


@dataclass(frozen=True)
class SendOverdueNotices:
    candidates: Sequence[UUID]
    now: datetime
    cause: Cause


async def send_overdue_notices(uow: UnitOfWork, cmd: SendOverdueNotices
                               ) -> list[dict[str, Any]]:
    """Lock each candidate (in application order) and decide again on the locked file: a
    consumer may have changed it since it was found."""
    store = ReportingStore(uow.conn)
    notices: list[dict[str, Any]] = []
    for application_id in sorted(cmd.candidates):
        state = await store.lock_file(application_id)
        events = overdue(state, cmd.now) if state is not None else []
        if state is None or not events:
            continue
        await store.save_file(emit_and_apply(uow, state, events, cmd.now, cmd.cause))
        notices += [json_of(e) for e in events]
    if notices:
        await flush_and_record(store, uow.emitter)
    return notices


async def sweep_overdue(runtime: ServiceRuntime, now: datetime, cause: Cause
                        ) -> list[dict[str, Any]]:
    """Overdue reports (R18) at ``now``: a ``ReportOverdue`` per passed, unmet deadline, once.
    Run by the scheduler (rule ``overdue_reports``) and by an operator's ``/ops/sweep``.
    Candidates are found without locks, then only those are locked."""
    async with runtime.pool.acquire() as conn:
        candidates = [f.application_id for f in await ReportingStore(conn).open_files(now)
                      if overdue(f, now)]
    if not candidates:
        return []
    return await runtime.handle(send_overdue_notices, SendOverdueNotices(candidates, now, cause))
