"""The replay's per-application projection: intake status, assessment, budget, money."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

from contracts import assessment as a
from contracts import finance as f
from contracts import intake as i
from contracts import payments as p
from contracts import reporting as r
from contracts.base import Contract, Reason
from audit.replay import ApplicationView, replay
from tests.unit.reporting.builders import Log, Round, at, uid

T = at("2025-05-15T12:05:00+02:00")
APP = uid("app", "projection")
EXC = uid("exception", "projection")


def one(log: Log, app: UUID = APP) -> ApplicationView:
    return replay(log.events).applications[str(app)]


def requested(status: str = "pending",
              reasons: list[str] | None = None) -> i.ItProblemExceptionRequested:
    return i.ItProblemExceptionRequested(
        exception_id=EXC, application_id=APP, pool_id="example-2025", applicant_cvr="77808701",
        contacted_at=T, contact="after_deadline", documentation=True,
        attempted_before_deadline=status == "pending", status=status,  # type: ignore[arg-type]
        reasons=reasons or [])


def decided(approved: bool, reasons: list[str] | None = None) -> i.ItProblemExceptionDecided:
    return i.ItProblemExceptionDecided(exception_id=EXC, application_id=APP,
                                       pool_id="example-2025", approved=approved,
                                       decided_by="cw-1", decided_at=T, reasons=reasons or [])


def late_round() -> Round:
    """RANDERS submits after the deadline: received, then rejected as late."""
    rnd = Round()
    rnd.publish_pool()
    action = next(x for x in rnd.data["actions"] if x.get("ref") == "RANDERS")
    rnd.submit(action)
    return rnd


def test_a_late_submission_is_late_rejected_with_its_reasons() -> None:
    rnd = late_round()
    view = one(rnd.log, rnd.app["RANDERS"])
    assert (view.intake, view.intake_reasons) == ("late_rejected", ["deadline_passed"])
    assert view.decision == "none"


def test_a_pending_exception_request() -> None:
    log = Log()
    log.add(requested(), T)
    assert (one(log).intake, one(log).intake_reasons) == ("exception_pending", [])


def test_a_refused_request_without_a_submission_still_has_its_state() -> None:
    log = Log()
    log.add(requested("refused", ["contact_after_48h"]), T)
    assert (one(log).intake, one(log).intake_reasons) == ("exception_refused",
                                                          ["contact_after_48h"])


def test_a_caseworker_refusal_outranks_the_late_rejection() -> None:
    log = Log()
    log.add(requested(), T)
    log.add(i.ApplicationRejectedLate(application_id=APP, submission_id=uid("s"),
                                      pool_id="example-2025", received_at=T, deadline=T,
                                      reasons=["deadline_passed"]), T)
    log.add(decided(False, ["screenshot_missing"]), T + timedelta(hours=1))
    assert (one(log).intake, one(log).intake_reasons) == ("exception_refused",
                                                          ["screenshot_missing"])


def test_an_approved_exception_then_acceptance() -> None:
    log = Log()
    log.add(requested(), T)
    log.add(decided(True), T + timedelta(hours=1))
    assert one(log).intake == "exception_granted"  # granted, application not yet accepted
    log.add(i.ApplicationAccepted(application_id=APP, submission_id=uid("s"), version=1,
                                  pool_id="example-2025", basis="exception_granted",
                                  exception_id=EXC), T + timedelta(hours=2))
    assert (one(log).intake, one(log).intake_reasons) == ("exception_granted", [])


def test_an_acceptance_after_a_late_rejection_wins() -> None:
    rnd = late_round()
    rnd.log.add(i.ApplicationAccepted(application_id=rnd.app["RANDERS"],
                                      submission_id=rnd.sub["RANDERS"], version=1,
                                      pool_id="example-2025", basis="exception_granted"), T)
    assert one(rnd.log, rnd.app["RANDERS"]).intake == "exception_granted"


def test_invalid_only_when_nothing_valid_exists_for_the_application() -> None:
    log = Log()
    invalid = i.SubmissionInvalid(submission_id=uid("s1"), application_id=APP, received_at=T,
                                  reasons=[Reason(code="budget_total_mismatch"),
                                           Reason(code="purpose_missing")])
    log.add(invalid, T)
    assert (one(log).intake, one(log).intake_reasons) == (
        "invalid", ["budget_total_mismatch", "purpose_missing"])
    rnd = Round()
    rnd.publish_pool()
    rnd.submit(rnd.data["actions"][0])  # KBH on time
    rnd.log.add(invalid.model_copy(update={"application_id": rnd.app["KBH"]}),
                T + timedelta(hours=1))
    assert one(rnd.log, rnd.app["KBH"]).intake == "on_time"


def test_refused_submissions_without_an_application_id_are_keyed_by_submission() -> None:
    log = Log()
    log.add(i.SubmissionUnauthorized(submission_id=uid("s401"), received_at=T, status=403,
                                     reasons=[Reason(code="cvr_mismatch", path="token.cvr")]), T)
    log.add(i.SubmissionInvalid(received_at=T, reasons=[Reason(code="malformed")]), T,
            event_id=uid("no-ids"))
    result = replay(log.events)
    assert result.applications[str(uid("s401"))].intake == "invalid"
    assert result.applications[str(uid("s401"))].intake_reasons == ["cvr_mismatch"]
    assert result.applications[str(uid("no-ids"))].intake_reasons == ["malformed"]
    # Refused before they were applications: counted apart (issue 23), not as applications.
    assert result.totals.applications == 0
    assert result.totals.refused_submissions == 2


def test_received_without_a_decision_has_no_intake_status_yet() -> None:
    rnd = Round()
    rnd.publish_pool()
    rnd.submit(rnd.data["actions"][0])
    rnd.log.events = [e for e in rnd.log.events
                      if e.envelope.event_type != "ApplicationAccepted"]
    assert one(rnd.log, rnd.app["KBH"]).intake is None


def test_the_latest_score_and_eligibility_count() -> None:
    log = Log()
    for n, score in enumerate((12.0, 17.5)):
        log.add(a.ApplicationScored(application_id=APP, assessor=f"as-{n}", scores={"1": 4},
                                    justification="ok", aggregate_score=score),
                T + timedelta(minutes=n))
    log.add(a.ApplicationScored(application_id=APP, assessor="as-x", justification="recused",
                                recused=True), T + timedelta(minutes=5))
    log.add(a.EligibilityAssessed(application_id=APP, submission_id=uid("s"), pool_id="p",
                                  pool_version=1, municipality_code="101", region_code="1084",
                                  applied_oere=1, eligible=False,
                                  reasons=["purpose_not_eligible"]), T)
    view = one(log)
    assert view.score == 17.5
    assert (view.eligible, view.eligibility_reasons) == (False, ["purpose_not_eligible"])
    assert view.region_code == "1084"


def _budget_event(kind: str, version: int) -> Contract:
    months = {"2025-07": {"staff": 10}}
    if kind == "submitted":
        return p.RevisedBudgetSubmitted(application_id=APP, budget_version=version, months=months,
                                        total_oere=10, submitted_by="g")
    if kind == "approved":
        return p.RevisedBudgetApproved(application_id=APP, budget_version=version, months=months,
                                       total_oere=10, award_oere=10, approval="automatic")
    if kind == "pending":
        return p.RevisedBudgetPendingApproval(application_id=APP, budget_version=version,
                                              reasons=[Reason(code="new_post")])
    return p.RevisedBudgetRejected(application_id=APP, budget_version=version,
                                   reasons=[Reason(code="exceeds_award")])


def test_the_revised_budget_is_the_latest_versions_outcome() -> None:
    log = Log()
    assert replay(log.events).applications == {}
    log.add(_budget_event("submitted", 1), T)
    assert (one(log).revised_budget, one(log).revised_budget_reasons) == ("pending", [])
    log.add(_budget_event("approved", 1), T)
    assert one(log).revised_budget == "approved"
    log.add(_budget_event("submitted", 2), T + timedelta(days=1))
    log.add(_budget_event("pending", 2), T + timedelta(days=1))
    assert (one(log).revised_budget, one(log).revised_budget_reasons) == ("pending", ["new_post"])
    log.add(_budget_event("rejected", 2), T + timedelta(days=2))
    assert (one(log).revised_budget, one(log).revised_budget_reasons) == ("rejected",
                                                                           ["exceeds_award"])


def test_a_submission_read_after_its_outcome_does_not_hide_it() -> None:
    log = Log()
    log.add(_budget_event("approved", 1), T)
    log.add(_budget_event("submitted", 1), T - timedelta(minutes=1))
    assert one(log).revised_budget == "approved"


def test_money_paid_claimed_and_waived() -> None:
    log = Log()
    ins = uid("ins")
    log.add(p.PaymentInstructed(instruction_id=ins, application_id=APP, cvr="29189846",
                                amount_oere=500, due_date=T.date(), period_start="2025-07",
                                period_end="2025-09", budget_version=1), T)
    log.add(p.PaymentInstructed(instruction_id=uid("ins2"), application_id=APP, cvr="29189846",
                                amount_oere=700, due_date=T.date(), period_start="2025-07",
                                period_end="2025-09", budget_version=1), T)
    log.add(f.PaymentExecuted(instruction_id=ins, amount_oere=500, executed_at=T), T, key=APP)
    log.add(f.PaymentFailed(instruction_id=uid("ins2"), failed_at=T, reason="x"), T, key=APP)
    log.add(r.RepaymentWaived(application_id=APP, cvr="29189846", paid_oere=500, spent_oere=400,
                              amount_oere=100, threshold_oere=50_000), T)
    view = one(log)
    assert (view.instructed_oere, view.paid_oere) == (1200, 500)
    assert (view.repayment_oere, view.waived_oere) == (0, 100)
    log.add(r.RepaymentClaimed(application_id=APP, cvr="29189846", paid_oere=500, spent_oere=400,
                               amount_oere=60_000), T)
    assert one(log).repayment_oere == 60_000


def test_final_report_state() -> None:
    log = Log()
    rep = uid("rep")
    log.add(r.ReportSubmitted(report_id=rep, application_id=APP, kind="final", accounts={"a": 1},
                              audit_statement="x", submitted_by="g", submitted_at=T), T)
    assert one(log).final_report == "submitted"
    log.add(r.ReportRejected(report_id=rep, application_id=APP, kind="final",
                             reasons=[Reason(code="post_not_in_budget")]), T)
    assert one(log).final_report == "rejected"
    log.add(r.ReportAccepted(report_id=uid("rep2"), application_id=APP, kind="final",
                             spent_oere=7), T + timedelta(days=1))
    log.add(r.ReportOverdue(application_id=APP, cvr="29189846", kind="status", due=T.date()), T)
    view = one(log)
    assert (view.final_report, view.spent_oere, view.overdue_notices) == ("accepted", 7, 1)
