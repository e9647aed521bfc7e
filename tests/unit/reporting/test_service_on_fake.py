"""Reporting's handlers (services/reporting/service.py ``submit_report`` and the overdue
sweep's ``send_overdue_notices``) on a fake unit of work (tests/unit/servicekit/fake_database.py, held to PostgreSQL's behaviour by the shared
suite): what the handler stores (the grant file, its overdue column, the emitted events kept
beside the consumed ones for the timeline and overview) and emits, that a resent final report
emits nothing and a refused one stores nothing, and that a deadline is notified once. What the
domain decides is pinned in test_reports.py and test_overdue.py."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from contracts.base import Actor
from contracts.refusal import Refusal
from contracts.reporting import (
    RepaymentClaimed, ReportAccepted, ReportOverdue, ReportRejected, ReportSubmitted,
)
from servicekit.outbox import Cause
from services.reporting.domain import GrantFile, overdue_from
from services.reporting.requests import ReportBody
from services.reporting.service import (
    ReportOnGrant, SendOverdueNotices, send_overdue_notices, submit_report,
)
from services.reporting.store import ReportingStore
from tests.unit.reporting.builders import at
from tests.unit.reporting.grants import APP, CVR, awarded, paid, with_budget
from tests.unit.servicekit.fake_database import FakeService

WHEN = at("2026-02-20T10:00:00+01:00")
ACCOUNTS = {"project staff": 120_000_000, "materials and meetings": 29_000_000}
CAUSE = Cause(actor=Actor(id="grantee-1", role="applicant"), correlation_id="c-report")


async def grantee_file() -> tuple[FakeService, GrantFile]:
    svc = FakeService(WHEN)
    state = paid(with_budget(awarded(150_000_000)), 75_000_000, 75_000_000)
    await ReportingStore(svc.conn).save_file(state)
    return svc, state


def final(accounts: dict[str, int] = ACCOUNTS, cvr: str | None = CVR,
          application_id: UUID = APP) -> ReportOnGrant:
    body = ReportBody.model_validate({"kind": "final", "accounts": accounts,
                                      "audit_statement": "RS-1"})
    return ReportOnGrant(application_id=application_id, body=body, subject="grantee-1", cvr=cvr,
                         now=WHEN, cause=CAUSE)


def recorded(svc: FakeService) -> list[dict[str, Any]]:
    """The events table's rows, as the timeline reads them."""
    return list(svc.db.tables.get("events", {}).values())


async def test_an_accepted_final_report_is_stored_emitted_and_recorded_for_the_timeline() -> None:
    svc, _ = await grantee_file()
    decided, emitted = await svc.handle(submit_report, final())
    assert [type(e.payload) for e in emitted] == [ReportSubmitted, ReportAccepted,
                                                  RepaymentClaimed]
    assert {(e.aggregate_id, e.correlation_id) for e in emitted} == {(str(APP), "c-report")}
    assert decided.rejected is None and emitted[0].payload.report_id == decided.report_id
    stored = await ReportingStore(svc.conn).read_file(APP)
    assert stored == decided.file and stored is not None
    assert stored.final_report_id == str(decided.report_id)
    assert svc.db.tables["grant_files"][APP]["overdue_from"] == overdue_from(stored)
    rows = recorded(svc)  # each emitted event, kept beside the consumed ones
    assert [r["event_id"] for r in rows] == [e.event_id for e in emitted]
    assert {(r["origin"], r["application_id"]) for r in rows} == {("emitted", APP)}
    assert [json.loads(r["envelope"])["event_type"] for r in rows] == [
        "ReportSubmitted", "ReportAccepted", "RepaymentClaimed"]


async def test_the_same_final_report_sent_again_emits_and_records_nothing() -> None:
    svc, _ = await grantee_file()
    first, _ = await svc.handle(submit_report, final())
    rows = recorded(svc)
    again, emitted = await svc.handle(submit_report, final())
    assert emitted == [] and again.report_id == first.report_id and again.rejected is None
    assert await ReportingStore(svc.conn).read_file(APP) == first.file
    assert recorded(svc) == rows


async def test_a_rejected_final_report_is_stored_and_answered_with_its_rejection() -> None:
    svc, _ = await grantee_file()
    decided, emitted = await svc.handle(submit_report, final({**ACCOUNTS, "travel": 5}))
    assert [type(e.payload) for e in emitted] == [ReportSubmitted, ReportRejected]
    assert decided.rejected == emitted[1].payload
    stored = await ReportingStore(svc.conn).read_file(APP)
    assert stored == decided.file and stored is not None and stored.final_report_id is None
    assert len(recorded(svc)) == 2


@pytest.mark.parametrize("command, code", [
    (final(cvr="27998194"), "cvr_mismatch"),  # not the grantee
    (final(application_id=UUID(int=7)), "grant_not_awarded"),  # no award known
])
async def test_a_refused_report_stores_and_emits_nothing(command: ReportOnGrant, code: str
                                                        ) -> None:
    svc, before = await grantee_file()
    with pytest.raises(Refusal) as refused:
        await svc.handle(submit_report, command)
    assert refused.value.code == code
    assert await ReportingStore(svc.conn).read_file(APP) == before
    assert recorded(svc) == [] and svc.db.envelopes == [] and svc.db.rollbacks == 1


# Due 2025-10-31 (CET): the status report is overdue from 2025-10-31T23:00Z.
STATUS_END = datetime(2025, 10, 31, 23, 0, tzinfo=UTC)
OTHER = UUID(int=1)  # sorts before APP
SWEEP = Cause(actor=Actor(id="scheduler", role="system"), correlation_id="c-sweep")


async def test_overdue_notices_are_emitted_in_application_order_saved_and_sent_once() -> None:
    svc = FakeService(STATUS_END)
    store = ReportingStore(svc.conn)
    mine = awarded()
    theirs = mine.model_copy(update={"application_id": OTHER})
    await store.save_file(mine)
    await store.save_file(theirs)
    sweep = SendOverdueNotices([APP, UUID(int=7), OTHER], STATUS_END, SWEEP)  # 7: no file
    notices, emitted = await svc.handle(send_overdue_notices, sweep)
    assert [(type(e.payload), e.aggregate_id) for e in emitted] == [
        (ReportOverdue, str(OTHER)), (ReportOverdue, str(APP))]
    assert {e.correlation_id for e in emitted} == {"c-sweep"}
    assert [n["application_id"] for n in notices] == [str(OTHER), str(APP)]
    for application_id in (OTHER, APP):
        stored = await store.read_file(application_id)
        assert stored is not None and stored.overdue_notified  # notified: kept on the file
        # the next instant the sweep looks at it: the final report's deadline
        assert svc.db.tables["grant_files"][application_id]["overdue_from"] == overdue_from(stored)
        assert overdue_from(stored) > STATUS_END
    assert [r["event_id"] for r in recorded(svc)] == [e.event_id for e in emitted]
    rows = recorded(svc)
    later = SendOverdueNotices([APP, OTHER], STATUS_END + timedelta(days=1), SWEEP)
    assert await svc.handle(send_overdue_notices, later) == ([], [])  # once
    assert recorded(svc) == rows


async def test_a_file_not_yet_overdue_is_left_as_it_was() -> None:
    svc = FakeService(STATUS_END)
    store = ReportingStore(svc.conn)
    await store.save_file(awarded())
    row = dict(svc.db.tables["grant_files"][APP])
    early = SendOverdueNotices([APP], STATUS_END - timedelta(microseconds=1), SWEEP)
    assert await svc.handle(send_overdue_notices, early) == ([], [])
    assert svc.db.tables["grant_files"][APP] == row and recorded(svc) == []
