"""Overdue reports (R18): a reporting deadline passed without an accepted report of its kind.

The caller passes ``now`` (a scheduler tick, or the simulated clock); nothing here reads a clock.
Payments holds the grantee when it sees ``ReportOverdue``.

Decisions where the rules are silent:
- a report is due until the end of its due date in Europe/Copenhagen (the first instant of the
  next local day), so a deadline has passed at ``now >= that instant``;
- deadlines of one kind are met in order: the n-th ``status`` deadline is met once n status
  reports have been accepted (a late report still counts towards it, but its notice stays sent);
- each deadline is notified once (the file remembers ``ReportOverdue`` it has seen);
- nothing is overdue for a lapsed award, or after the final report was accepted;
- a report accepted late meets its deadline as above; each notified deadline it now meets is
  ``OverdueReportResolved`` once (:func:`resolved_overdue`), and payments releases the hold that
  notice caused by itself. A deadline is met only by a report of its own kind.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from uuid import UUID

from contracts.reporting import OverdueReportResolved, ReportOverdue
from services.reporting.domain.grant_file import GrantFile, overdue_key
from services.reporting.domain.rules import end_of_day


def _unnotified(state: GrantFile) -> Iterator[tuple[str, str, date]]:
    """(cvr, kind, due) of every unmet, not yet notified deadline, oldest first, whatever the
    time: :func:`overdue` keeps those whose day has ended, :func:`overdue_from` the earliest."""
    award = state.award
    if award is None or state.lapsed or state.final_accepted:
        return
    seen: dict[str, int] = {}
    for deadline in sorted(award.reporting_deadlines, key=lambda d: (d.due, d.kind)):
        seen[deadline.kind] = seen.get(deadline.kind, 0) + 1
        if state.accepted_reports(deadline.kind) >= seen[deadline.kind]:
            continue
        if overdue_key(deadline.kind, deadline.due) in state.overdue_notified:
            continue
        yield award.cvr, deadline.kind, deadline.due


def overdue(state: GrantFile, now: datetime) -> list[ReportOverdue]:
    """``ReportOverdue`` for every passed, unmet, not yet notified deadline, oldest first."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return [ReportOverdue(application_id=state.application_id, cvr=cvr, kind=kind, due=due)
            for cvr, kind, due in _unnotified(state) if now >= end_of_day(due)]


def overdue_from(state: GrantFile) -> datetime | None:
    """The first instant at which :func:`overdue` would notify something for this file as it
    stands (``None``: never, until the file changes). The store keeps it in an indexed column
    so the scheduler's sweep reads only the files that are due, not every open file."""
    ends = [end_of_day(due) for _cvr, _kind, due in _unnotified(state)]
    return min(ends, default=None)


def resolved_overdue(state: GrantFile, report_id: UUID) -> list[OverdueReportResolved]:
    """After ``report_id`` was accepted (and applied to ``state``): every notified, not yet
    resolved deadline the accepted reports of its kind now meet, oldest first."""
    award = state.award
    if award is None:
        return []
    resolved: list[OverdueReportResolved] = []
    seen: dict[str, int] = {}
    for deadline in sorted(award.reporting_deadlines, key=lambda d: (d.due, d.kind)):
        seen[deadline.kind] = seen.get(deadline.kind, 0) + 1
        key = overdue_key(deadline.kind, deadline.due)
        if key not in state.overdue_notified or key in state.overdue_resolved:
            continue
        if state.accepted_reports(deadline.kind) >= seen[deadline.kind]:
            resolved.append(OverdueReportResolved(
                application_id=state.application_id, cvr=award.cvr, kind=deadline.kind,
                due=deadline.due, report_id=report_id))
    return resolved
