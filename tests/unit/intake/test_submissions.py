"""R3–R5, R9: deciding submissions — receipts, idempotency, versions, deadline, refusals."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import uuid5

import pytest

from contracts.base import Applicant
from contracts.intake import (
    ApplicationAccepted, ApplicationReceived, ApplicationRejectedLate, SubmissionInvalid,
    SubmissionUnauthorized,
)

from services.intake.domain import (
    ApplicationState, application_id_for, binds_submission_id, decide_malformed,
    decide_submission, parse_submission, receipt_for,
)
from services.intake.domain.commands import INTAKE_NAMESPACE

from tests.unit.intake.factories import (
    APP, CVR_AARHUS, CVR_KBH, DEADLINE, MS, Desk, applicant, applicant_claims, budget, names,
    pools_of, register_of, submission, uid,
)

BEFORE = DEADLINE - timedelta(hours=1)


def test_on_time_submission_is_received_and_accepted() -> None:
    desk = Desk()
    decided = desk.submit(submission(), BEFORE)
    assert names(decided) == ["ApplicationReceived", "ApplicationAccepted"]
    received, accepted = decided.events
    assert isinstance(received, ApplicationReceived) and isinstance(accepted, ApplicationAccepted)
    assert received.version == 1
    assert received.timeliness == "on_time"
    assert received.deadline == DEADLINE
    assert received.supersedes_submission_id is None
    assert received.received_at_local == "2022-09-28T11:00:00+02:00"
    assert (accepted.basis, accepted.version, accepted.exception_id) == ("on_time", 1, None)
    assert decided.answer == "ok"
    receipt = decided.receipt
    assert receipt is not None
    assert (receipt.submission_id, receipt.application_id, receipt.version) == (uid(1), APP, 1)
    assert receipt.status == "on_time"
    assert receipt.received_at == BEFORE
    assert receipt.received_at_local == "2022-09-28T11:00:00+02:00"
    assert receipt.reasons == []


def test_exactly_at_the_deadline_is_on_time() -> None:
    assert Desk().submit(submission(), DEADLINE).receipt.status == "on_time"  # type: ignore[union-attr]


def test_one_millisecond_late_is_rejected() -> None:
    desk = Desk()
    decided = desk.submit(submission(), DEADLINE + MS)
    assert names(decided) == ["ApplicationReceived", "ApplicationRejectedLate"]
    rejected = decided.events[1]
    assert isinstance(rejected, ApplicationRejectedLate)
    assert rejected.reasons == ["deadline_passed"]
    assert rejected.deadline == DEADLINE
    assert decided.events[0].timeliness == "late"  # type: ignore[union-attr]
    assert decided.receipt.status == "late_rejected"  # type: ignore[union-attr]
    assert [r.code for r in decided.receipt.reasons] == ["deadline_passed"]  # type: ignore[union-attr]


def test_the_clients_claimed_time_never_decides() -> None:
    claimed_early = submission(client_sent_at=DEADLINE - timedelta(days=1))
    decided = Desk().submit(claimed_early, DEADLINE + MS)
    assert decided.receipt.status == "late_rejected"  # type: ignore[union-attr]
    assert decided.events[0].client_sent_at == DEADLINE - timedelta(days=1)  # type: ignore[union-attr]
    claimed_late = submission(client_sent_at=DEADLINE + timedelta(days=1))
    assert Desk().submit(claimed_late, DEADLINE).receipt.status == "on_time"  # type: ignore[union-attr]


def test_same_submission_twice_has_one_effect_and_the_same_receipt() -> None:
    desk = Desk()
    first = desk.submit(submission(), BEFORE)
    again = desk.submit(submission(), BEFORE + timedelta(minutes=5))
    assert again.events == ()
    assert again.receipt == first.receipt
    assert again.answer == "ok"
    # even after the deadline: a resend of an on-time submission stays on time
    late_again = desk.submit(submission(), DEADLINE + timedelta(hours=3))
    assert late_again.events == () and late_again.receipt == first.receipt


def test_resend_of_a_late_submission_has_one_effect() -> None:
    desk = Desk()
    first = desk.submit(submission(), DEADLINE + MS)
    again = desk.submit(submission(), DEADLINE + timedelta(minutes=1))
    assert again.events == () and again.receipt == first.receipt
    assert desk.events() == ["ApplicationReceived", "ApplicationRejectedLate"]


def test_new_version_before_deadline_supersedes() -> None:
    desk = Desk()
    desk.submit(submission(1), BEFORE)
    decided = desk.submit(submission(2, purpose="better purpose"), DEADLINE)
    received, accepted = decided.events
    assert isinstance(received, ApplicationReceived) and isinstance(accepted, ApplicationAccepted)
    assert (received.version, received.supersedes_submission_id) == (2, uid(1))
    assert (accepted.version, accepted.submission_id) == (2, uid(2))
    assert decided.receipt.version == 2  # type: ignore[union-attr]
    third = desk.submit(submission(3), DEADLINE)
    assert third.events[0].supersedes_submission_id == uid(2)  # type: ignore[union-attr]
    state = desk.state()
    assert state.accepted is not None and state.accepted.version == 3
    # old receipts stay what they were
    assert receipt_for(state, uid(1)).version == 1  # type: ignore[union-attr]


def test_late_new_version_is_rejected_and_the_on_time_version_stays_accepted() -> None:
    desk = Desk()
    desk.submit(submission(1), BEFORE)
    decided = desk.submit(submission(2), DEADLINE + MS)
    assert names(decided) == ["ApplicationReceived", "ApplicationRejectedLate"]
    received = decided.events[0]
    assert (received.version, received.supersedes_submission_id) == (2, None)  # type: ignore[union-attr]
    assert decided.events[1].submission_id == uid(2)  # type: ignore[union-attr]
    state = desk.state()
    assert state.accepted is not None
    assert (state.accepted.submission_id, state.accepted.basis) == (uid(1), "on_time")


def test_application_id_is_derived_when_absent() -> None:
    command = submission(application_id=None)
    derived = application_id_for(command)
    assert derived == uuid5(INTAKE_NAMESPACE, f"application:{uid(1)}")
    assert application_id_for(command) == derived
    desk = Desk()
    decided = desk.submit(command, BEFORE)
    assert decided.receipt.application_id == derived  # type: ignore[union-attr]
    assert desk.submit(command, BEFORE).events == ()


def test_state_of_another_application_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        decide_submission(
            ApplicationState(application_id=uid(9)), submission(), BEFORE,
            claims=applicant_claims(), pools=pools_of(), register=register_of(),
        )


def test_naive_now_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        decide_submission(
            ApplicationState(application_id=APP), submission(), datetime(2022, 9, 28, 11),
            claims=applicant_claims(), pools=pools_of(), register=register_of(),
        )


# --- refusals --------------------------------------------------------------------------------


def test_unauthorised_submission() -> None:
    desk = Desk()
    decided = desk.submit(submission(), BEFORE, claims=applicant_claims(CVR_KBH))
    assert names(decided) == ["SubmissionUnauthorized"]
    event = decided.events[0]
    assert isinstance(event, SubmissionUnauthorized)
    assert (event.status, [r.code for r in event.reasons]) == (403, ["cvr_mismatch"])
    assert decided.answer == "forbidden"
    assert decided.receipt.status == "unauthorized"  # type: ignore[union-attr]
    assert decided.receipt.version is None  # type: ignore[union-attr]
    # nothing is bound: the rightful owner can still use the id
    assert desk.state().applicant_cvr is None
    assert not binds_submission_id(decided)


def test_every_decision_but_a_refused_token_binds_the_submission_id() -> None:
    desk = Desk()
    accepted = desk.submit(submission(), BEFORE)
    late = desk.submit(submission(2), DEADLINE + MS)
    bad = submission(3, applicant=Applicant(cvr="29189847", municipality_code="999", name="X"))
    invalid = Desk().submit(bad, BEFORE, claims=applicant_claims("29189847"))
    assert [names(d) for d in (accepted, late, invalid)] == [
        ["ApplicationReceived", "ApplicationAccepted"],
        ["ApplicationReceived", "ApplicationRejectedLate"], ["SubmissionInvalid"]]
    assert all(binds_submission_id(d) for d in (accepted, late, invalid))
    no_role = Desk().submit(submission(), BEFORE, claims={"cvr": CVR_AARHUS, "roles": []})
    assert names(no_role) == ["SubmissionUnauthorized"] and not binds_submission_id(no_role)


def test_unauthorised_then_retried_with_a_proper_token_takes_effect() -> None:
    desk = Desk()
    desk.submit(submission(), BEFORE, claims={"cvr": CVR_AARHUS, "roles": []})
    decided = desk.submit(submission(), BEFORE)
    assert names(decided) == ["ApplicationReceived", "ApplicationAccepted"]


def test_authorisation_comes_before_the_repeat() -> None:
    desk = Desk()
    desk.submit(submission(), BEFORE)
    decided = desk.submit(submission(), BEFORE, claims=applicant_claims(CVR_KBH))
    assert decided.receipt.status == "unauthorized"  # type: ignore[union-attr]


def test_invalid_submission_reports_every_violation() -> None:
    desk = Desk()
    bad = submission(applicant=Applicant(cvr="29189847", municipality_code="999", name="X"))
    bad = bad.model_copy(update={"applicant": bad.applicant})
    decided = desk.submit(bad, BEFORE, claims=applicant_claims("29189847"))
    assert names(decided) == ["SubmissionInvalid"]
    event = decided.events[0]
    assert isinstance(event, SubmissionInvalid)
    assert [(r.code, r.path) for r in event.reasons] == [
        ("cvr_invalid", "applicant.cvr"),
        ("municipality_unknown", "applicant.municipality_code"),
    ]
    assert (event.application_id, event.pool_id, event.received_at) == (APP, "familiehus-2022", BEFORE)
    assert decided.answer == "invalid"
    assert decided.receipt.status == "invalid"  # type: ignore[union-attr]
    assert desk.state().applicant_cvr is None


def test_invalid_submission_resent_has_one_effect() -> None:
    desk = Desk()
    bad = submission(budget=budget(total=1))
    first = desk.submit(bad, BEFORE)
    again = desk.submit(bad, BEFORE + timedelta(seconds=1))
    # the same 422 and the same reasons: a retry after a timeout never reads success (issue 14.9)
    assert again.events == () and again.receipt == first.receipt and again.answer == "invalid"
    assert first.answer == "invalid"


def test_a_fixed_submission_needs_a_new_submission_id() -> None:
    desk = Desk()
    desk.submit(submission(1, budget=budget(total=1)), BEFORE)
    assert desk.submit(submission(1), BEFORE).receipt.status == "invalid"  # type: ignore[union-attr]
    assert desk.submit(submission(2), BEFORE).receipt.status == "on_time"  # type: ignore[union-attr]
    assert desk.submit(submission(2), BEFORE).receipt.version == 1  # type: ignore[union-attr]


def test_invalid_submissions_get_no_version_number() -> None:
    desk = Desk()
    desk.submit(submission(1), BEFORE)
    desk.submit(submission(2, budget=budget(total=1)), BEFORE)
    assert desk.submit(submission(3), BEFORE).receipt.version == 2  # type: ignore[union-attr]


def test_reusing_someone_elses_application_id_is_refused() -> None:
    desk = Desk()
    desk.submit(submission(1), BEFORE)
    intruder = submission(2, applicant=applicant(CVR_KBH, "101"))
    decided = desk.submit(intruder, BEFORE)
    assert names(decided) == ["SubmissionInvalid"]
    assert [(r.code, r.path) for r in decided.events[0].reasons] == [  # type: ignore[union-attr]
        ("application_id_conflict", "application_id")
    ]
    assert decided.answer == "invalid"
    state = desk.state()
    assert state.applicant_cvr == CVR_AARHUS and state.accepted.submission_id == uid(1)  # type: ignore[union-attr]
    # the intruder's resend repeats the refusal
    assert desk.submit(intruder, BEFORE).events == ()


def test_reusing_an_application_id_for_another_pool_is_refused() -> None:
    from tests.unit.intake.factories import pool_definition, published

    desk = Desk(pools=pools_of(published(), published(pool_definition(pool_id="other-2022"))))
    desk.submit(submission(1), BEFORE)
    decided = desk.submit(submission(2, pool_id="other-2022"), BEFORE)
    assert decided.receipt.reasons[0].code == "application_id_conflict"  # type: ignore[union-attr]


def test_someone_else_resending_the_owners_submission_id_sees_no_receipt_of_it() -> None:
    desk = Desk()
    desk.submit(submission(1), BEFORE)
    intruder = submission(1, applicant=applicant(CVR_KBH, "101"))
    for _ in range(2):
        decided = desk.submit(intruder, BEFORE)
        assert decided.receipt.status == "invalid"  # type: ignore[union-attr]
        assert decided.receipt.version is None  # type: ignore[union-attr]
    assert desk.submit(submission(1), BEFORE).receipt.status == "on_time"  # type: ignore[union-attr]


def test_refused_submissions_never_bind_the_application() -> None:
    desk = Desk()
    desk.submit(submission(1, applicant=applicant(CVR_KBH, "101"), budget=budget(total=1)), BEFORE)
    assert desk.submit(submission(2), BEFORE).receipt.status == "on_time"  # type: ignore[union-attr]


# --- malformed --------------------------------------------------------------------------------


def test_malformed_submission() -> None:
    raw = submission().model_dump(mode="json")
    raw["budget"]["total_oere"] = -1
    parsed = parse_submission(raw)
    state = ApplicationState(application_id=APP)
    decided = decide_malformed(state, parsed, BEFORE)
    assert names(decided) == ["SubmissionInvalid"]
    event = decided.events[0]
    assert (event.submission_id, event.application_id, event.pool_id) == (uid(1), APP, "familiehus-2022")  # type: ignore[union-attr]
    assert decided.answer == "invalid"
    assert decided.receipt.status == "invalid"  # type: ignore[union-attr]
    assert [(r.code, r.path) for r in decided.receipt.reasons] == [("amount_negative", "budget.total_oere")]  # type: ignore[union-attr]


def test_malformed_without_ids_and_state() -> None:
    decided = decide_malformed(None, parse_submission(b"{"), BEFORE)
    event = decided.events[0]
    assert (event.submission_id, event.application_id) == (None, None)  # type: ignore[union-attr]
    assert decided.receipt.submission_id is None  # type: ignore[union-attr]


def test_malformed_resent_has_one_effect() -> None:
    from services.intake.domain import evolve_all

    raw = submission().model_dump(mode="json")
    raw["purpose"] = ""
    parsed = parse_submission(raw)
    state = ApplicationState(application_id=APP)
    first = decide_malformed(state, parsed, BEFORE)
    state = evolve_all(state, first.events)
    again = decide_malformed(state, parsed, BEFORE + timedelta(seconds=3))
    assert again.events == () and again.receipt == first.receipt


def test_malformed_resend_of_a_stored_submission_id_does_not_reveal_its_receipt() -> None:
    from services.intake.domain import evolve_all

    desk = Desk()
    desk.submit(submission(1), BEFORE)
    raw = submission(1).model_dump(mode="json")
    raw["purpose"] = ""
    state = desk.state()
    first = decide_malformed(state, parse_submission(raw), BEFORE)
    assert first.receipt.status == "invalid"  # type: ignore[union-attr]
    state = evolve_all(state, first.events)
    again = decide_malformed(state, parse_submission(raw), BEFORE)
    assert again.receipt.status == "invalid"  # type: ignore[union-attr]
    assert receipt_for(state, uid(1)).status == "on_time"  # type: ignore[union-attr]


def test_decide_malformed_refuses_a_parsed_submission() -> None:
    with pytest.raises(ValueError):
        decide_malformed(None, parse_submission(submission().model_dump(mode="json")), BEFORE)


def test_decide_malformed_refuses_the_state_of_another_application() -> None:
    raw = submission().model_dump(mode="json")
    raw["purpose"] = ""
    with pytest.raises(ValueError):
        decide_malformed(ApplicationState(application_id=uid(9)), parse_submission(raw), BEFORE)
