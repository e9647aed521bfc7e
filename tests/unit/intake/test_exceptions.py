"""R6–R8 end to end through the pure domain: contacts, caseworker decisions, admitted versions."""

from __future__ import annotations

from datetime import timedelta

import pytest

from contracts.intake import (
    ApplicationAccepted, ApplicationRejectedLate, ItProblemExceptionDecided,
    ItProblemExceptionRequested,
)
from contracts.refusal import Refusal

from services.intake.domain import contact_reported_by, intake_outcome, receipt_for

from tests.unit.intake.factories import (
    APP, CVR_AARHUS, CVR_KBH, DEADLINE, MS, Desk, applicant_claims, caseworker_claims, contact,
    decision, names, pool_definition, pools_of, published, submission, uid,
)

HOUR = timedelta(hours=1)
DAY = timedelta(hours=24)
BEFORE = DEADLINE - HOUR


def refused(call) -> Refusal:  # type: ignore[no-untyped-def]
    with pytest.raises(Refusal) as caught:
        call()
    return caught.value


# --- contacts --------------------------------------------------------------------------------


def test_contact_after_deadline_is_pending() -> None:
    desk = Desk()
    decided = desk.contact(contact(DEADLINE + HOUR))
    assert names(decided) == ["ItProblemExceptionRequested"]
    event = decided.events[0]
    assert isinstance(event, ItProblemExceptionRequested)
    assert (event.status, event.reasons, event.contact) == ("pending", [], "after_deadline")
    assert (event.exception_id, event.application_id, event.applicant_cvr) == (uid(500), APP, CVR_AARHUS)
    assert event.evidence_refs == ["screenshot-1.png"]
    assert decided.answer == "created"
    assert intake_outcome(desk.state()) == ("exception_pending", [])


def test_contact_at_the_deadline_is_a_contact_before_it() -> None:
    event = Desk().contact(contact(DEADLINE)).events[0]
    assert event.contact == "before_deadline"  # type: ignore[union-attr]


def test_contact_refused_by_rule_at_once() -> None:
    desk = Desk()
    event = desk.contact(contact(DEADLINE + HOUR, screenshot_at=None, attempted=False)).events[0]
    assert (event.status, event.reasons) == ("refused", ["attempt_not_documented", "screenshot_missing"])  # type: ignore[union-attr]
    assert intake_outcome(desk.state()) == (
        "exception_refused", ["attempt_not_documented", "screenshot_missing"]
    )


def test_contact_before_deadline_without_documentation_is_refused_at_once() -> None:
    desk = Desk()
    event = desk.contact(contact(BEFORE, documentation=False)).events[0]
    assert (event.status, event.reasons, event.contact) == ("refused", ["documentation_missing"], "before_deadline")  # type: ignore[union-attr]


def test_contact_more_than_48h_after_is_refused_with_no_submission() -> None:
    desk = Desk()
    desk.contact(contact(DEADLINE + timedelta(hours=48, seconds=1)))
    assert intake_outcome(desk.state()) == ("exception_refused", ["contact_after_48h"])


def test_contact_exactly_48h_after_is_considered() -> None:
    desk = Desk()
    assert desk.contact(contact(DEADLINE + timedelta(hours=48))).events[0].status == "pending"  # type: ignore[union-attr]


def test_late_contact_window_is_a_pool_setting() -> None:
    desk = Desk(pools=pools_of(published(pool_definition(late_contact_window_hours=12))))
    desk.contact(contact(DEADLINE + timedelta(hours=12, seconds=1)))
    assert intake_outcome(desk.state()) == ("exception_refused", ["contact_after_48h"])


def test_same_contact_twice_has_one_effect() -> None:
    desk = Desk()
    desk.contact(contact(DEADLINE + HOUR))
    again = desk.contact(contact(DEADLINE + HOUR), at=DEADLINE + 2 * HOUR)
    assert again.events == () and again.answer == "ok"
    assert desk.events() == ["ItProblemExceptionRequested"]


def test_contact_from_another_organisation_is_refused() -> None:
    error = refused(lambda: Desk().contact(contact(DEADLINE + HOUR), claims=applicant_claims(CVR_KBH)))
    assert (error.code, error.kind) == ("cvr_mismatch", "forbidden")


def test_contact_without_the_applicant_role_is_refused() -> None:
    claims = applicant_claims(roles=("assessor",))
    error = refused(lambda: Desk().contact(contact(DEADLINE + HOUR), claims=claims))
    assert (error.code, error.kind) == ("role_not_allowed", "forbidden")


def test_caseworker_may_record_a_contact() -> None:
    desk = Desk()
    assert names(desk.contact(contact(DEADLINE + HOUR), claims=caseworker_claims())) == [
        "ItProblemExceptionRequested"
    ]


def test_contact_for_someone_elses_application_is_refused() -> None:
    desk = Desk()
    desk.submit(submission(), BEFORE)
    error = refused(lambda: desk.contact(contact(DEADLINE + HOUR, cvr=CVR_KBH)))
    assert (error.code, error.kind) == ("application_id_conflict", "conflict")


def test_contact_binds_the_application() -> None:
    desk = Desk()
    desk.contact(contact(DEADLINE + HOUR))
    from tests.unit.intake.factories import applicant

    intruder = submission(1, applicant=applicant(CVR_KBH, "101"))
    assert desk.submit(intruder, DEADLINE + 2 * HOUR).receipt.reasons[0].code == "application_id_conflict"  # type: ignore[union-attr]


def test_contact_for_an_unknown_or_closed_pool() -> None:
    error = refused(lambda: Desk(pools={}).contact(contact(DEADLINE + HOUR)))
    assert (error.code, error.kind) == ("pool_unknown", "invalid")
    closed = Desk(pools=pools_of(published(pool_definition(deadline_local=None))))
    error = refused(lambda: closed.contact(contact(DEADLINE + HOUR)))
    assert (error.code, error.kind) == ("pool_not_open", "conflict")


def test_contact_recorded_before_it_happened_is_refused() -> None:
    error = refused(lambda: Desk().contact(contact(DEADLINE + HOUR), at=DEADLINE + HOUR - MS))
    assert (error.code, error.kind) == ("contacted_at_in_future", "invalid")


def test_only_one_open_exception_at_a_time() -> None:
    desk = Desk()
    desk.contact(contact(DEADLINE + HOUR, n=1))
    error = refused(lambda: desk.contact(contact(DEADLINE + 2 * HOUR, n=2)))
    assert (error.code, error.kind) == ("exception_already_pending", "conflict")
    desk.decide(decision(True, n=1), DEADLINE + 3 * HOUR)
    error = refused(lambda: desk.contact(contact(DEADLINE + 4 * HOUR, n=3)))
    assert (error.code, error.kind) == ("exception_already_granted", "conflict")


def test_a_new_contact_after_a_refusal_is_allowed() -> None:
    desk = Desk()
    desk.contact(contact(DEADLINE + HOUR, n=1, screenshot_at=None))
    second = desk.contact(contact(DEADLINE + 2 * HOUR, n=2))
    assert second.events[0].status == "pending"  # type: ignore[union-attr]
    assert intake_outcome(desk.state()) == ("exception_pending", [])


# --- caseworker decisions ------------------------------------------------------------------


def test_only_a_caseworker_decides() -> None:
    desk = Desk()
    desk.contact(contact(DEADLINE + HOUR))
    error = refused(lambda: desk.decide(decision(True), DEADLINE + 2 * HOUR, claims=applicant_claims()))
    assert (error.code, error.kind) == ("role_not_allowed", "forbidden")
    assert desk.events() == ["ItProblemExceptionRequested"]


def test_never_the_applicant_even_with_the_caseworker_role() -> None:
    desk = Desk()
    desk.contact(contact(DEADLINE + HOUR))
    claims = {"sub": "e-1", "cvr": CVR_AARHUS, "roles": ["applicant", "caseworker"]}
    error = refused(lambda: desk.decide(decision(True), DEADLINE + 2 * HOUR, claims=claims))
    assert (error.code, error.kind) == ("decider_is_applicant", "forbidden")


def test_a_decision_names_its_maker() -> None:
    desk = Desk()
    desk.contact(contact(DEADLINE + HOUR))
    error = refused(
        lambda: desk.decide(decision(True), DEADLINE + 2 * HOUR, claims={"roles": ["caseworker"]})
    )
    assert (error.code, error.kind) == ("subject_missing", "forbidden")
    decided = desk.decide(decision(True, evidence=("phone-note.txt", "screenshot-1.png")), DEADLINE + 2 * HOUR, claims=caseworker_claims("cw-7"))
    event = decided.events[0]
    assert isinstance(event, ItProblemExceptionDecided)
    assert (event.approved, event.decided_by, event.decided_at) == (True, "cw-7", DEADLINE + 2 * HOUR)
    assert event.evidence_refs == ["screenshot-1.png", "phone-note.txt"]
    assert event.reasons == []


def test_deciding_an_unknown_exception() -> None:
    desk = Desk()
    desk.submit(submission(), BEFORE)
    error = refused(lambda: desk.decide(decision(True, n=9), DEADLINE))
    assert (error.code, error.kind) == ("exception_unknown", "not_found")


def test_deciding_a_rule_refused_exception_is_a_conflict() -> None:
    desk = Desk()
    desk.contact(contact(DEADLINE + HOUR, screenshot_at=None))
    error = refused(lambda: desk.decide(decision(True), DEADLINE + 2 * HOUR))
    assert (error.code, error.kind) == ("exception_already_decided", "conflict")


@pytest.mark.parametrize("first", [True, False])
@pytest.mark.parametrize("second", [True, False])
def test_deciding_twice_is_a_conflict(first: bool, second: bool) -> None:
    desk = Desk()
    desk.contact(contact(DEADLINE + HOUR))
    desk.decide(decision(first), DEADLINE + 2 * HOUR)
    error = refused(lambda: desk.decide(decision(second), DEADLINE + 3 * HOUR))
    assert (error.code, error.kind) == ("exception_already_decided", "conflict")


def test_refusal_reasons() -> None:
    desk = Desk()
    desk.contact(contact(DEADLINE + HOUR))
    error = refused(lambda: desk.decide(decision(False, reasons=("not_a_code",)), DEADLINE + 2 * HOUR))
    assert (error.code, error.kind) == ("reason_unknown", "invalid")
    error = refused(lambda: desk.decide(decision(True, reasons=("exception_refused",)), DEADLINE + 2 * HOUR))
    assert (error.code, error.kind) == ("reasons_on_approval", "invalid")
    event = desk.decide(decision(False, reasons=("screenshot_after_deadline",)), DEADLINE + 2 * HOUR).events[0]
    assert event.reasons == ["screenshot_after_deadline"]  # type: ignore[union-attr]
    assert intake_outcome(desk.state()) == ("exception_refused", ["screenshot_after_deadline"])


def test_refusal_without_reasons_gets_the_default() -> None:
    desk = Desk()
    desk.contact(contact(DEADLINE + HOUR))
    assert desk.decide(decision(False), DEADLINE + 2 * HOUR).events[0].reasons == ["exception_refused"]  # type: ignore[union-attr]


# --- what a granted exception admits ---------------------------------------------------------


def test_one_minute_late_then_contact_then_granted() -> None:
    desk = Desk()
    late = desk.submit(submission(), DEADLINE + timedelta(minutes=1))
    assert late.receipt.status == "late_rejected"  # type: ignore[union-attr]
    desk.contact(contact(DEADLINE + HOUR))
    assert intake_outcome(desk.state()) == ("exception_pending", [])
    decided = desk.decide(decision(True), DEADLINE + 3 * HOUR)
    assert names(decided) == ["ItProblemExceptionDecided", "ApplicationAccepted"]
    accepted = decided.events[1]
    assert isinstance(accepted, ApplicationAccepted)
    assert (accepted.basis, accepted.exception_id, accepted.submission_id, accepted.version) == (
        "exception_granted", uid(500), uid(1), 1
    )
    assert intake_outcome(desk.state()) == ("exception_granted", [])
    assert receipt_for(desk.state(), uid(1)).status == "exception_granted"  # type: ignore[union-attr]


def test_granted_first_then_a_covered_version_arrives() -> None:
    desk = Desk()
    desk.contact(contact(DEADLINE + HOUR))
    decided = desk.decide(decision(True), DEADLINE + 2 * HOUR)
    assert names(decided) == ["ItProblemExceptionDecided"]
    assert intake_outcome(desk.state()) == ("exception_granted", [])
    arrived = desk.submit(submission(), DEADLINE + HOUR + DAY)  # the last instant of the window
    assert names(arrived) == ["ApplicationReceived", "ApplicationAccepted"]
    assert arrived.events[1].basis == "exception_granted"  # type: ignore[union-attr]
    assert arrived.events[1].exception_id == uid(500)  # type: ignore[union-attr]
    assert arrived.receipt.status == "exception_granted"  # type: ignore[union-attr]
    assert intake_outcome(desk.state()) == ("exception_granted", [])


def test_granted_but_the_version_comes_after_the_window() -> None:
    desk = Desk()
    desk.contact(contact(DEADLINE + HOUR))
    desk.decide(decision(True), DEADLINE + 2 * HOUR)
    arrived = desk.submit(submission(), DEADLINE + HOUR + DAY + MS)
    assert names(arrived) == ["ApplicationReceived", "ApplicationRejectedLate"]
    assert arrived.events[1].reasons == ["deadline_passed", "submission_outside_exception_window"]  # type: ignore[union-attr]
    assert arrived.receipt.status == "late_rejected"  # type: ignore[union-attr]
    assert intake_outcome(desk.state()) == (
        "late_rejected", ["deadline_passed", "submission_outside_exception_window"]
    )


def test_the_submission_window_is_a_pool_setting() -> None:
    desk = Desk(pools=pools_of(published(pool_definition(exception_submission_window_hours=2))))
    desk.contact(contact(DEADLINE + HOUR))
    desk.decide(decision(True), DEADLINE + 2 * HOUR)
    assert desk.submit(submission(1), DEADLINE + 3 * HOUR).receipt.status == "exception_granted"  # type: ignore[union-attr]
    assert desk.submit(submission(2), DEADLINE + 3 * HOUR + MS).receipt.status == "late_rejected"  # type: ignore[union-attr]
    assert desk.state().accepted.submission_id == uid(1)  # type: ignore[union-attr]


def test_grant_admits_the_newest_covered_version() -> None:
    desk = Desk()
    desk.contact(contact(DEADLINE + HOUR))
    for n, minutes in ((1, 70), (2, 80)):
        pending = desk.submit(submission(n), DEADLINE + timedelta(minutes=minutes))
        assert names(pending) == ["ApplicationReceived"]
        assert pending.receipt.status == "exception_pending"  # type: ignore[union-attr]
    decided = desk.decide(decision(True), DEADLINE + 3 * HOUR)
    assert decided.events[1].submission_id == uid(2)  # type: ignore[union-attr]
    state = desk.state()
    assert [receipt_for(state, uid(n)).status for n in (1, 2)] == ["exception_granted"] * 2  # type: ignore[union-attr]
    assert state.accepted.version == 2  # type: ignore[union-attr]


def test_a_later_contact_covers_a_late_version_sent_before_it() -> None:
    desk = Desk()
    desk.contact(contact(DEADLINE + HOUR, n=1, screenshot_at=None))  # refused by rule
    desk.submit(submission(1), DEADLINE + HOUR + DAY + MS)  # long after that contact
    desk.contact(contact(DEADLINE + 2 * DAY, n=2))
    # the version came before this second contact and is late: it is covered by it
    decided = desk.decide(decision(True, n=2), DEADLINE + 2 * DAY + HOUR)
    assert names(decided) == ["ItProblemExceptionDecided", "ApplicationAccepted"]


def test_late_version_replaces_the_on_time_one_only_through_a_granted_exception() -> None:
    desk = Desk()
    desk.submit(submission(1), BEFORE)
    desk.contact(contact(DEADLINE + HOUR))
    pending = desk.submit(submission(2), DEADLINE + 2 * HOUR)
    assert pending.receipt.status == "exception_pending"  # type: ignore[union-attr]
    assert intake_outcome(desk.state()) == ("on_time", [])
    decided = desk.decide(decision(True), DEADLINE + 3 * HOUR)
    assert decided.events[1].submission_id == uid(2)  # type: ignore[union-attr]
    assert intake_outcome(desk.state()) == ("exception_granted", [])


def test_grant_without_a_late_version_leaves_the_on_time_version() -> None:
    desk = Desk()
    desk.submit(submission(1), BEFORE)
    desk.contact(contact(DEADLINE - 2 * HOUR))
    assert names(desk.decide(decision(True), DEADLINE)) == ["ItProblemExceptionDecided"]
    assert intake_outcome(desk.state()) == ("on_time", [])


# --- what a refused exception settles ----------------------------------------------------


def test_pending_versions_are_rejected_when_the_exception_is_refused() -> None:
    desk = Desk()
    desk.contact(contact(DEADLINE + HOUR))
    desk.submit(submission(1), DEADLINE + 2 * HOUR)
    desk.submit(submission(2), DEADLINE + 3 * HOUR)
    decided = desk.decide(decision(False), DEADLINE + 4 * HOUR)
    assert names(decided) == [
        "ItProblemExceptionDecided", "ApplicationRejectedLate", "ApplicationRejectedLate"
    ]
    for event, n, hours in zip(decided.events[1:], (1, 2), (2, 3), strict=True):
        assert isinstance(event, ApplicationRejectedLate)
        assert (event.submission_id, event.received_at, event.deadline) == (uid(n), DEADLINE + hours * HOUR, DEADLINE)
        assert event.reasons == ["deadline_passed", "exception_refused"]
    state = desk.state()
    receipt = receipt_for(state, uid(2))
    assert receipt.status == "exception_refused"  # type: ignore[union-attr]
    assert [r.code for r in receipt.reasons] == ["deadline_passed", "exception_refused"]  # type: ignore[union-attr]
    assert intake_outcome(state) == ("exception_refused", ["exception_refused"])


def test_refusal_leaves_already_rejected_versions_alone() -> None:
    desk = Desk()
    desk.submit(submission(1), DEADLINE + MS)
    desk.contact(contact(DEADLINE + HOUR))
    assert names(desk.decide(decision(False), DEADLINE + 2 * HOUR)) == ["ItProblemExceptionDecided"]


def test_refused_exception_leaves_the_on_time_version_accepted() -> None:
    desk = Desk()
    desk.submit(submission(1), BEFORE)
    desk.contact(contact(DEADLINE + HOUR))
    desk.submit(submission(2), DEADLINE + 2 * HOUR)
    desk.decide(decision(False), DEADLINE + 3 * HOUR)
    state = desk.state()
    assert state.accepted.submission_id == uid(1)  # type: ignore[union-attr]
    assert intake_outcome(state) == ("on_time", [])


def test_late_version_covered_by_a_refused_exception() -> None:
    desk = Desk()
    desk.contact(contact(DEADLINE + HOUR, screenshot_at=None))
    arrived = desk.submit(submission(), DEADLINE + 2 * HOUR)
    assert arrived.events[1].reasons == ["deadline_passed", "screenshot_missing"]  # type: ignore[union-attr]
    assert arrived.receipt.status == "exception_refused"  # type: ignore[union-attr]
    assert intake_outcome(desk.state()) == ("exception_refused", ["screenshot_missing"])


def test_late_version_after_a_refused_exceptions_window() -> None:
    desk = Desk()
    desk.contact(contact(DEADLINE + HOUR, screenshot_at=None))
    arrived = desk.submit(submission(), DEADLINE + HOUR + DAY + MS)
    assert arrived.events[1].reasons == ["deadline_passed"]  # type: ignore[union-attr]
    assert arrived.receipt.status == "late_rejected"  # type: ignore[union-attr]


def test_late_version_after_a_pending_exceptions_window_is_rejected_at_once() -> None:
    desk = Desk()
    desk.contact(contact(DEADLINE + HOUR))
    arrived = desk.submit(submission(), DEADLINE + HOUR + DAY + MS)
    assert arrived.events[1].reasons == ["deadline_passed", "submission_outside_exception_window"]  # type: ignore[union-attr]
    assert intake_outcome(desk.state()) == ("exception_pending", [])
    # granting it later admits nothing: the only late version is outside its window
    assert names(desk.decide(decision(True), DEADLINE + 2 * DAY)) == ["ItProblemExceptionDecided"]
    assert intake_outcome(desk.state()) == (
        "late_rejected", ["deadline_passed", "submission_outside_exception_window"]
    )


# --- R6: contact before the deadline -----------------------------------------------------------


def test_contact_before_the_deadline_covers_a_version_within_its_window() -> None:
    desk = Desk()
    desk.contact(contact(DEADLINE - HOUR, attempted=False, screenshot_at=None))
    assert desk.submit(submission(1), DEADLINE + 2 * HOUR).receipt.status == "exception_pending"  # type: ignore[union-attr]
    desk.decide(decision(True), DEADLINE + 3 * HOUR)
    assert intake_outcome(desk.state()) == ("exception_granted", [])


def test_contact_before_the_deadline_does_not_cover_a_version_after_its_window() -> None:
    desk = Desk()
    desk.contact(contact(DEADLINE - 2 * DAY))
    arrived = desk.submit(submission(1), DEADLINE + MS)
    assert arrived.receipt.status == "late_rejected"  # type: ignore[union-attr]
    assert arrived.events[1].reasons == ["deadline_passed", "submission_outside_exception_window"]  # type: ignore[union-attr]


def test_caseworker_refusal_reasons_are_exception_reasons_only() -> None:
    desk = Desk()
    desk.contact(contact(DEADLINE + HOUR))
    error = refused(lambda: desk.decide(decision(False, reasons=("cvr_invalid",)), DEADLINE + 2 * HOUR))
    assert (error.code, error.kind) == ("reason_unknown", "invalid")


def test_refusal_reasons_are_not_repeated_on_the_rejection() -> None:
    desk = Desk()
    desk.contact(contact(DEADLINE + HOUR))
    desk.submit(submission(), DEADLINE + 2 * HOUR)
    reasons = ("screenshot_missing", "screenshot_missing", "exception_refused")
    decided = desk.decide(decision(False, reasons=reasons), DEADLINE + 3 * HOUR)
    assert decided.events[0].reasons == ["screenshot_missing", "exception_refused"]  # type: ignore[union-attr]
    assert decided.events[1].reasons == ["deadline_passed", "screenshot_missing", "exception_refused"]  # type: ignore[union-attr]


def test_someone_else_resending_a_contact_id_is_a_conflict() -> None:
    desk = Desk()
    desk.contact(contact(DEADLINE + HOUR))
    error = refused(lambda: desk.contact(contact(DEADLINE + HOUR, cvr=CVR_KBH)))
    assert (error.code, error.kind) == ("application_id_conflict", "conflict")


def test_without_an_id_the_latest_exception_is_decided() -> None:
    from services.intake.domain import DecideItProblemException

    desk = Desk()
    desk.contact(contact(DEADLINE + HOUR, n=1, screenshot_at=None))  # refused by rule
    desk.contact(contact(DEADLINE + 2 * HOUR, n=2))
    latest = DecideItProblemException(application_id=APP, approved=True)
    decided = desk.decide(latest, DEADLINE + 3 * HOUR)
    assert decided.events[0].exception_id == uid(2)  # type: ignore[union-attr]
    error = refused(lambda: desk.decide(latest, DEADLINE + 4 * HOUR))
    assert (error.code, error.kind) == ("exception_already_decided", "conflict")


def test_without_an_id_and_no_exception_at_all() -> None:
    from services.intake.domain import DecideItProblemException

    desk = Desk()
    desk.submit(submission(), BEFORE)
    error = refused(lambda: desk.decide(DecideItProblemException(application_id=APP, approved=False), DEADLINE))
    assert (error.code, error.kind) == ("exception_unknown", "not_found")


def test_a_refusal_carries_every_reason() -> None:
    desk = Desk()
    desk.contact(contact(DEADLINE + HOUR))
    claims = {"cvr": CVR_AARHUS, "roles": ["applicant"]}
    error = refused(lambda: desk.decide(decision(True), DEADLINE + 2 * HOUR, claims=claims))
    assert error.code == "role_not_allowed"
    assert [r.code for r in error.reasons] == ["role_not_allowed", "subject_missing", "decider_is_applicant"]


# --- who reports an IT problem (R6/R7) ----------------------------------------------------------

def test_a_caseworker_reports_for_the_bound_organisation_an_applicant_for_its_own() -> None:
    assert contact_reported_by({"caseworker"}, None, "29189846") == ("29189846", "caseworker")
    assert contact_reported_by({"caseworker", "applicant"}, "12345678", "29189846") == (
        "29189846", "caseworker")
    assert contact_reported_by({"applicant"}, "12345678", "29189846") == (
        "12345678", "applicant")
    assert contact_reported_by({"caseworker", "applicant"}, "12345678", None) == (
        "12345678", "applicant")


@pytest.mark.parametrize(("roles", "token_cvr", "code", "kind"), [
    ({"caseworker"}, None, "application_unknown", "not_found"),
    ({"applicant"}, None, "cvr_mismatch", "forbidden"),
    ({"applicant"}, "1234567", "cvr_mismatch", "forbidden"),
    ({"applicant"}, "1234567x", "cvr_mismatch", "forbidden"),
    (set(), "12345678", "cvr_mismatch", "forbidden"),
])
def test_who_may_not_report_an_it_problem(roles: set[str], token_cvr: str | None, code: str,
                                          kind: str) -> None:
    error = refused(lambda: contact_reported_by(roles, token_cvr, None))
    assert (error.code, error.kind) == (code, kind)
