"""The scenario output's ``intake`` status and reasons for one application."""

from __future__ import annotations

from datetime import timedelta

from contracts.base import Applicant

from services.intake.domain import ApplicationState, intake_outcome

from tests.unit.intake.factories import (
    APP, CVR_KBH, DEADLINE, MS, Desk, applicant_claims, budget, contact, decision, submission,
)

HOUR = timedelta(hours=1)


def test_nothing_yet() -> None:
    assert intake_outcome(ApplicationState(application_id=APP)) == ("invalid", ["nothing_submitted"])


def test_on_time() -> None:
    desk = Desk()
    desk.submit(submission(), DEADLINE)
    assert intake_outcome(desk.state()) == ("on_time", [])


def test_late_rejected() -> None:
    desk = Desk()
    desk.submit(submission(), DEADLINE + MS)
    assert intake_outcome(desk.state()) == ("late_rejected", ["deadline_passed"])


def test_on_time_then_late_stays_on_time() -> None:
    desk = Desk()
    desk.submit(submission(1), DEADLINE)
    desk.submit(submission(2), DEADLINE + MS)
    assert intake_outcome(desk.state()) == ("on_time", [])


def test_invalid_with_its_reasons() -> None:
    desk = Desk()
    desk.submit(submission(budget=budget(total=5)), DEADLINE - HOUR)
    assert intake_outcome(desk.state()) == ("invalid", ["budget_total_mismatch"])


def test_unauthorised_counts_as_invalid_with_its_reasons() -> None:
    desk = Desk()
    desk.submit(submission(), DEADLINE - HOUR, claims=applicant_claims(CVR_KBH))
    assert intake_outcome(desk.state()) == ("invalid", ["cvr_mismatch"])


def test_the_newest_refusal_gives_the_reasons() -> None:
    desk = Desk()
    desk.submit(submission(1, budget=budget(total=5)), DEADLINE - HOUR)
    bad_cvr = Applicant(cvr="29189847", municipality_code="751", name="A")
    desk.submit(submission(2, applicant=bad_cvr), DEADLINE - HOUR, claims=applicant_claims("29189847"))
    assert intake_outcome(desk.state()) == ("invalid", ["cvr_invalid"])


def test_a_stored_version_outranks_refused_submissions() -> None:
    desk = Desk()
    desk.submit(submission(1), DEADLINE - HOUR)
    desk.submit(submission(2, budget=budget(total=5)), DEADLINE - HOUR)
    assert intake_outcome(desk.state()) == ("on_time", [])


def test_pending_exception_with_no_submission() -> None:
    desk = Desk()
    desk.contact(contact(DEADLINE + HOUR))
    assert intake_outcome(desk.state()) == ("exception_pending", [])


def test_pending_exception_after_a_late_rejection() -> None:
    desk = Desk()
    desk.submit(submission(), DEADLINE + MS)
    desk.contact(contact(DEADLINE + HOUR))
    assert intake_outcome(desk.state()) == ("exception_pending", [])


def test_refused_after_a_late_rejection_reports_the_exceptions_reasons() -> None:
    desk = Desk()
    desk.submit(submission(), DEADLINE + MS)
    desk.contact(contact(DEADLINE + timedelta(hours=49)))
    assert intake_outcome(desk.state()) == ("exception_refused", ["contact_after_48h"])


def test_granted_with_nothing_submitted_yet() -> None:
    desk = Desk()
    desk.contact(contact(DEADLINE + HOUR))
    desk.decide(decision(True), DEADLINE + 2 * HOUR)
    assert intake_outcome(desk.state()) == ("exception_granted", [])


def test_state_survives_json() -> None:
    desk = Desk()
    desk.submit(submission(1), DEADLINE + MS)
    desk.contact(contact(DEADLINE + HOUR))
    desk.decide(decision(True), DEADLINE + 2 * HOUR)
    stored = desk.state().model_dump(mode="json")
    assert intake_outcome(ApplicationState.model_validate(stored)) == ("exception_granted", [])
