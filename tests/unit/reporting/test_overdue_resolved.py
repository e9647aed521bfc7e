"""A late report, once accepted, meets its notified deadline: ``OverdueReportResolved`` once, for
the deadline(s) the accepted reports of its kind now meet (issue 16 item 7)."""

from __future__ import annotations

from datetime import date, timedelta

from contracts.assessment import ReportingDeadline
from contracts.reporting import OverdueReportResolved, ReportAccepted
from services.reporting.domain.grant_file import GrantFile, evolve
from services.reporting.domain.overdue import overdue, resolved_overdue
from services.reporting.domain.reports import SubmitReport, decide_report
from tests.unit.reporting.builders import envelope, uid
from tests.unit.reporting.grants import APP, CVR, awarded
from tests.unit.reporting.test_overdue import FINAL_END, STATUS_END
from tests.unit.reporting.test_reports import final, ready

LATE = STATUS_END + timedelta(days=3)


def notified(state: GrantFile, now=FINAL_END) -> GrantFile:  # type: ignore[no-untyped-def]
    for n, notice in enumerate(overdue(state, now)):
        state = evolve(state, envelope(notice, now, n=50 + n))
    return state


def status_report(n: int, when=LATE) -> SubmitReport:  # type: ignore[no-untyped-def]
    return SubmitReport(report_id=uid("status", n), application_id=APP, kind="status",
                        text="late but here", submitted_by="grantee", submitted_at=when)


def test_a_late_status_report_resolves_its_notice_once() -> None:
    state = notified(ready(), STATUS_END)
    assert state.overdue_notified == ("status:2025-10-31",)
    events = decide_report(state, status_report(1))
    assert [type(e).__name__ for e in events] == [
        "ReportSubmitted", "ReportAccepted", "OverdueReportResolved"]
    resolved = events[-1]
    assert resolved == OverdueReportResolved(application_id=APP, cvr=CVR, kind="status",
                                             due=date(2025, 10, 31), report_id=uid("status", 1))
    for n, event in enumerate(events):
        state = evolve(state, envelope(event, LATE, n=60 + n))
    assert state.overdue_resolved == ("status:2025-10-31",)
    # a second status report resolves nothing more
    again = decide_report(state, status_report(2))
    assert not [e for e in again if isinstance(e, OverdueReportResolved)]


def test_a_report_on_time_resolves_nothing_and_a_rejected_one_neither() -> None:
    on_time = decide_report(ready(), status_report(1, when=STATUS_END - timedelta(days=1)))
    assert not [e for e in on_time if isinstance(e, OverdueReportResolved)]
    blank = status_report(2).model_copy(update={"text": "  "})
    rejected = decide_report(notified(ready(), STATUS_END), blank)
    assert [type(e).__name__ for e in rejected] == ["ReportSubmitted", "ReportRejected"]


def test_only_a_report_of_its_kind_meets_a_deadline_in_order() -> None:
    deadlines = [ReportingDeadline(kind="status", due=date(2025, 9, 30)),
                 ReportingDeadline(kind="status", due=date(2025, 11, 30)),
                 ReportingDeadline(kind="final", due=date(2026, 3, 31))]
    state = notified(awarded(deadlines=deadlines), FINAL_END)
    assert len(state.overdue_notified) == 3
    first = evolve(state, envelope(ReportAccepted(report_id=uid("s", 1), application_id=APP,
                                                  kind="status"), FINAL_END, n=70))
    assert [(r.kind, r.due) for r in resolved_overdue(first, uid("s", 1))] == [
        ("status", date(2025, 9, 30))]
    second = evolve(first, envelope(ReportAccepted(report_id=uid("s", 2), application_id=APP,
                                                   kind="status"), FINAL_END, n=71))
    assert [(r.kind, r.due) for r in resolved_overdue(second, uid("s", 2))] == [
        ("status", date(2025, 9, 30)), ("status", date(2025, 11, 30))]  # none resolved yet


def test_a_late_final_report_resolves_the_final_notice_beside_its_repayment() -> None:
    state = notified(ready(), FINAL_END)
    events = decide_report(state, final().model_copy(update={"submitted_at": FINAL_END}))
    names = [type(e).__name__ for e in events]
    assert names == ["ReportSubmitted", "ReportAccepted", "OverdueReportResolved",
                     "RepaymentClaimed"]
    assert events[2].kind == "final"
