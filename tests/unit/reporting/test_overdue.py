"""R18: a reporting deadline passed without an accepted report → ReportOverdue, once."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from contracts.assessment import ReportingDeadline
from contracts.payments import AwardLapsed
from contracts.reporting import ReportAccepted
from services.reporting.domain.grant_file import GrantFile, apply_payload, evolve
from services.reporting.domain.overdue import overdue, overdue_from
from tests.unit.reporting.builders import envelope, uid
from tests.unit.reporting.grants import APP, CVR, awarded

# Due 2025-10-31 (CET after the 26 Oct switch): ends 2025-10-31T23:00Z.
STATUS_END = datetime(2025, 10, 31, 23, 0, tzinfo=UTC)
# Due 2026-03-31 (CEST): ends 2026-03-31T22:00Z.
FINAL_END = datetime(2026, 3, 31, 22, 0, tzinfo=UTC)


def accept(state: GrantFile, kind: str, n: int) -> GrantFile:
    event = ReportAccepted.model_validate({"report_id": uid("r", n), "application_id": APP,
                                           "kind": kind,
                                           "spent_oere": 1 if kind == "final" else None})
    return apply_payload(state, event, STATUS_END)


def test_nothing_is_overdue_during_the_due_date() -> None:
    assert overdue(awarded(), STATUS_END - timedelta(microseconds=1)) == []


def test_at_local_midnight_after_the_due_date_the_report_is_overdue() -> None:
    (notice,) = overdue(awarded(), STATUS_END)
    assert (notice.application_id, notice.cvr, notice.kind, notice.due) == (
        APP, CVR, "status", date(2025, 10, 31))


def test_each_deadline_is_notified_once() -> None:
    state = awarded()
    notices = overdue(state, FINAL_END)
    assert [(n.kind, n.due) for n in notices] == [("status", date(2025, 10, 31)),
                                                  ("final", date(2026, 3, 31))]
    for n, notice in enumerate(notices):
        state = evolve(state, envelope(notice, FINAL_END, n=n))
    assert overdue(state, FINAL_END + timedelta(days=400)) == []


def test_an_accepted_report_of_the_kind_meets_its_deadline() -> None:
    state = accept(awarded(), "status", 1)
    assert [n.kind for n in overdue(state, FINAL_END)] == ["final"]


def test_deadlines_of_one_kind_are_met_in_order() -> None:
    deadlines = [ReportingDeadline(kind="status", due=date(2025, 9, 30)),
                 ReportingDeadline(kind="status", due=date(2025, 12, 31)),
                 ReportingDeadline(kind="final", due=date(2026, 3, 31))]
    state = accept(awarded(deadlines=deadlines), "status", 1)
    now = datetime(2026, 1, 5, tzinfo=UTC)
    assert [(n.kind, n.due) for n in overdue(state, now)] == [("status", date(2025, 12, 31))]
    state = accept(state, "status", 2)
    assert overdue(state, now) == []


@pytest.mark.parametrize("how", ["lapsed", "final_accepted", "no_award"])
def test_nothing_is_overdue_for_a_lapsed_finished_or_unknown_grant(how: str) -> None:
    state = awarded()
    if how == "lapsed":
        state = evolve(state, envelope(AwardLapsed(
            application_id=APP, reason="project_not_started", lapsed_at=STATUS_END), STATUS_END))
    elif how == "final_accepted":
        state = accept(state, "final", 9)
    else:
        state = GrantFile.new(APP)
    assert overdue(state, FINAL_END + timedelta(days=1)) == []


def test_now_must_be_aware() -> None:
    with pytest.raises(ValueError):
        overdue(awarded(), datetime(2026, 1, 1))


def _files() -> list[GrantFile]:
    """Files in every shape the sweep meets: fresh, partly met, notified, lapsed, finished."""
    base = awarded()
    notified = evolve(base, envelope(overdue(base, STATUS_END)[0], STATUS_END))
    three = awarded(deadlines=[ReportingDeadline(kind="status", due=date(2025, 9, 30)),
                               ReportingDeadline(kind="status", due=date(2025, 12, 31)),
                               ReportingDeadline(kind="final", due=date(2026, 3, 31))])
    lapsed = evolve(base, envelope(AwardLapsed(
        application_id=APP, reason="project_not_started", lapsed_at=STATUS_END), STATUS_END))
    return [base, notified, accept(base, "status", 1), three, accept(three, "status", 1),
            accept(accept(three, "status", 1), "status", 2), lapsed, accept(base, "final", 9),
            GrantFile.new(APP), awarded(deadlines=[])]


def test_the_stored_overdue_instant_agrees_with_overdue_at_every_instant() -> None:
    """The sweep reads only files whose ``overdue_from`` has come: for every file, overdue()
    says something exactly from that instant on (never earlier, never missed), to the µs."""
    ends = [datetime(2025, 9, 30, 22, 0, tzinfo=UTC), STATUS_END,
            datetime(2025, 12, 31, 23, 0, tzinfo=UTC), FINAL_END]
    tick = timedelta(microseconds=1)
    instants = [e + d for e in ends for d in (-tick, timedelta(0), tick)]
    instants += [datetime(2025, 1, 1, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC)]
    for state in _files():
        due = overdue_from(state)
        for now in instants:
            assert bool(overdue(state, now)) == (due is not None and now >= due), (state, now)


def test_overdue_from_is_the_end_of_the_earliest_unmet_deadline_day() -> None:
    assert overdue_from(awarded()) == STATUS_END
    assert overdue_from(accept(awarded(), "status", 1)) == FINAL_END
    assert overdue_from(accept(awarded(), "final", 9)) is None
