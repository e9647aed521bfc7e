"""The auditors' replay reads a hold's two-person release (R19) — held, asked for by one
person (``HoldReleaseRequested``), released by another — as part of the log: every step is
counted, none is a violation, and the rebuilt state of the grants is what it is without them
(a hold stops new instructions; it changes no amount the invariants compare)."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid5

from audit.replay import replay
from contracts import payments as p
from tests.unit.reporting.builders import at, example_round, uid

HELD = at("2025-09-01T10:00:00+02:00")


def _held_and_released(rnd, hold_id, asks: bool = True) -> None:  # type: ignore[no-untyped-def]
    app, cvr = rnd.app["KBH"], rnd.awarded["KBH"].applicant.cvr
    rnd.log.add(p.PaymentsHeld(hold_id=hold_id, cvr=cvr, application_id=app,
                               reason="report_overdue", held_at=HELD), HELD, key=app)
    if asks:
        when = HELD + timedelta(days=1)
        rnd.log.add(p.HoldReleaseRequested(hold_id=hold_id, cvr=cvr, requested_by="cw-1",
                                           requested_at=when), when, key=app)
    when = HELD + timedelta(days=2)
    rnd.log.add(p.PaymentsReleased(hold_id=hold_id, cvr=cvr, requested_by="cw-1",
                                   approved_by="cw-2", released_at=when), when, key=app)


def test_a_release_asked_for_and_approved_verifies_and_is_counted() -> None:
    plain = replay(example_round().log.events)
    rnd = example_round()
    _held_and_released(rnd, uid("hold", 1))
    result = replay(rnd.log.events)
    assert result.verified, result.violations
    assert (result.counts["PaymentsHeld"], result.counts["HoldReleaseRequested"],
            result.counts["PaymentsReleased"]) == (1, 1, 1)
    assert result.events == plain.events + 3
    assert result.applications == plain.applications and result.totals == plain.totals


def test_a_redelivered_request_counts_once() -> None:
    rnd = example_round()
    _held_and_released(rnd, uid("hold", 2))
    again = rnd.log.events[-2]
    assert again.envelope.event_type == "HoldReleaseRequested"
    rnd.log.events.append(again)
    result = replay(rnd.log.events)
    assert result.counts["HoldReleaseRequested"] == 1 and result.duplicates == 1


def test_a_log_from_before_the_request_was_an_event_verifies_too() -> None:
    # releases recorded before HoldReleaseRequested existed have no request in the log
    rnd = example_round()
    _held_and_released(rnd, uuid5(uid("hold"), "old"), asks=False)
    result = replay(rnd.log.events)
    assert result.verified and "HoldReleaseRequested" not in result.counts
