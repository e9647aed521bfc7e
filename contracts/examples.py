"""One example message per event (and per command), exported next to the JSON Schemas.

Examples are kept per schema version forever: a contract change that makes an older example
invalid is a breaking change and needs a new topic version.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from contracts import assessment as a
from contracts import finance as f
from contracts import intake as i
from contracts import payments as p
from contracts import register as reg
from contracts import reporting as r
from contracts.base import Actor, Applicant, BudgetLine, Contract, IndicativeBudget, ProjectPeriod, Reason
from contracts.envelope import Envelope
from contracts.pools import PoolDefinition
from contracts.registry import envelope_of, spec_for

APP = UUID("6f1c1a52-3c5e-4c8e-9b7a-0d6c1d9e4a11")
SUB = UUID("0b7e2a9c-55d4-4f0a-8f43-0e3b6d2f7c21")
EXC = UUID("a3d5c0e1-2f4b-4c6d-8e9f-0a1b2c3d4e5f")
INS = UUID("c1d2e3f4-a5b6-4c7d-8e9f-a0b1c2d3e4f5")
REP = UUID("d4e5f6a7-b8c9-4d0e-9f1a-2b3c4d5e6f70")
HOLD = UUID("e5f6a7b8-c9d0-4e1f-8a2b-3c4d5e6f7081")
CLAIM = UUID("f6a7b8c9-d0e1-4f2a-9b3c-4d5e6f708192")
CHANGE = UUID("a7b8c9d0-e1f2-4a3b-8c4d-5e6f708192a3")
T = datetime.fromisoformat("2022-09-28T09:15:00+00:00")
APPLICANT = Applicant(cvr="29189846", municipality_code="751", name="Aarhus Kommune")
BUDGET = IndicativeBudget(
    lines=[
        BudgetLine(post="project staff", category="salary", rate_oere=50000, quantity=2400,
                   amount_oere=120000000),
        BudgetLine(post="materials and meetings", category="other", amount_oere=30000000),
    ],
    total_oere=150000000,
)
POOL = PoolDefinition.model_validate({
    "pool_id": "familiehus-2022", "title": "Pulje til udbredelse af familiehuse",
    "programme": "familiehuse", "total_dkk": 1000000, "applicant_group": ["municipality"],
    "deadline_local": "2022-09-28T12:00:00", "project_period": {"start": "2023-01-01",
    "end": "2026-12-31", "delayed_start_allowed": True},
    "target_group": "vulnerable parents of children aged 0-6 and expectant parents",
    "sub_pools": [{"region_code": "1082", "region": "Midtjylland", "amount_dkk": 1000000}],
    "criteria": [{"id": 1, "name": "Applicant group, purpose and target group",
                  "minimum_requirement": True}, {"id": 2, "name": "The intervention"}],
})
MONTHS = {"2023-01": {"project staff": 5000000, "materials and meetings": 1250000}}

EXAMPLE_PAYLOADS: list[Contract] = [
    i.ApplicationReceived(
        submission_id=SUB, application_id=APP, version=1, pool_id="familiehus-2022",
        applicant=APPLICANT, purpose="establish a family house",
        target_group="vulnerable parents of children aged 0-6 and expectant parents",
        budget=BUDGET, received_at=T, received_at_local="2022-09-28T11:15:00+02:00",
        deadline=datetime.fromisoformat("2022-09-28T10:00:00+00:00"), timeliness="on_time"),
    i.ApplicationAccepted(application_id=APP, submission_id=SUB, version=1,
                          pool_id="familiehus-2022", basis="on_time"),
    i.ApplicationRejectedLate(application_id=APP, submission_id=SUB, pool_id="familiehus-2022",
                              received_at=datetime.fromisoformat("2022-09-28T10:01:00+00:00"),
                              deadline=datetime.fromisoformat("2022-09-28T10:00:00+00:00"),
                              reasons=["deadline_passed"]),
    i.SubmissionInvalid(submission_id=SUB, pool_id="familiehus-2022", received_at=T,
                        reasons=[Reason(code="budget_total_mismatch", path="budget.total_oere",
                                        message="total 150000001 is not the sum of lines 150000000")]),
    i.SubmissionUnauthorized(submission_id=SUB, received_at=T, status=403,
                             reasons=[Reason(code="cvr_mismatch", path="token.cvr")]),
    i.ItProblemExceptionRequested(
        exception_id=EXC, application_id=APP, pool_id="familiehus-2022", applicant_cvr="29189846",
        contacted_at=datetime.fromisoformat("2022-09-28T10:30:00+00:00"), contact="after_deadline",
        documentation=True, attempted_before_deadline=True,
        screenshot_at=datetime.fromisoformat("2022-09-28T09:58:00+00:00"),
        evidence_refs=["screenshot-1.png"], status="pending"),
    i.ItProblemExceptionDecided(exception_id=EXC, application_id=APP, pool_id="familiehus-2022",
                                approved=True, decided_by="cw-7f3a", decided_at=T,
                                evidence_refs=["screenshot-1.png"]),
    a.PoolPublished(pool_id="familiehus-2022", version=1, content_hash="sha256:3f2a", definition=POOL,
                    deadline=datetime.fromisoformat("2022-09-28T10:00:00+00:00")),
    a.PriorAwardImported(programme="familiehuse", municipality_code="169", pool_id="familiehus-2020"),
    reg.OrganisationRecorded(
        revision=99, entry_version=2, change="updated",
        organisation=reg.Organisation(cvr="29189846", name="Aarhus Kommune",
                                      kind="municipality", municipality_code="751",
                                      region_code="1082"),
        previous=reg.Organisation(cvr="29189846", name="Aarhus Kommune", kind="municipality",
                                  municipality_code="746", region_code="1082"),
        source="caseworker", changed_by="cw-7f3a"),
    reg.RegisterSourceLoaded(source="municipalities", source_version=1,
                             content_hash="sha256:9d1e", format="grants-register-csv", rows=98,
                             changed=98, unchanged=0, revision=98),
    a.EligibilityAssessed(application_id=APP, submission_id=SUB, pool_id="familiehus-2022",
                          pool_version=1, municipality_code="751", region_code="1082",
                          applied_oere=150000000, eligible=True),
    a.ApplicationScored(application_id=APP, assessor="as-19c2", scores={"1": 5, "2": 4},
                        justification="clear plan, well anchored", aggregate_score=9.0),
    a.GrantAwarded(
        application_id=APP, pool_id="familiehus-2022", pool_version=1, programme="familiehuse",
        region_code="1082", sub_pool_amount_oere=100000000, municipality_code="751",
        applicant=APPLICANT, amount_oere=150000000, applied_oere=150000000, score=9.0, rank=1,
        project_period=ProjectPeriod(start=date(2023, 1, 1), end=date(2026, 12, 31)),
        acceptance_deadline=datetime.fromisoformat("2022-12-01T22:59:59+00:00"),
        payment_frequency="quarterly",
        reporting_deadlines=[a.ReportingDeadline(kind="final", due=date(2027, 3, 31))],
        budget_lines=list(BUDGET.lines), approved_by="ap-0c1d", decided_at=T),
    a.ApplicationRejected(application_id=APP, pool_id="familiehus-2022", pool_version=1,
                          programme="familiehuse", region_code="1082", municipality_code="751",
                          applied_oere=150000000, score=7.5, rank=12,
                          reasons=["sub_pool_exhausted"], approved_by="ap-0c1d", decided_at=T),
    p.GrantAccountOpened(application_id=APP, cvr="29189846", amount_oere=150000000,
                         acceptance_deadline=datetime.fromisoformat("2022-12-01T22:59:59+00:00")),
    p.AwardAccepted(application_id=APP, accepted_by="ap-5e6f", accepted_at=T),
    p.AwardLapsed(application_id=APP, reason="acceptance_deadline_passed", lapsed_at=T),
    p.RevisedBudgetSubmitted(application_id=APP, budget_version=1, months=MONTHS,
                             total_oere=6250000, submitted_by="ap-5e6f"),
    p.RevisedBudgetApproved(application_id=APP, budget_version=1, months=MONTHS, total_oere=6250000,
                            award_oere=150000000, approval="automatic"),
    p.RevisedBudgetPendingApproval(application_id=APP, budget_version=2, reasons=[
        Reason(code="new_post", path="months.2023-02.travel")]),
    p.RevisedBudgetRejected(application_id=APP, budget_version=2, reasons=[
        Reason(code="exceeds_award", message="total 150000001 > award 150000000")]),
    p.PaymentInstructed(instruction_id=INS, application_id=APP, cvr="29189846",
                        amount_oere=18750000, due_date=date(2023, 1, 1), period_start="2023-01",
                        period_end="2023-03", budget_version=1),
    p.PaymentsHeld(hold_id=HOLD, cvr="29189846", application_id=APP, reason="report_overdue",
                   held_at=T),
    p.CaseworkerTaskOpened(task_id=HOLD, kind="project_start_check", application_id=APP,
                           due=date(2023, 7, 1), opened_at=T),
    p.CaseworkerTaskClosed(task_id=HOLD, kind="project_start_check", application_id=APP,
                           outcome="dismissed", closed_by="cw-1", closed_at=T),
    p.HoldReleaseRequested(hold_id=HOLD, cvr="29189846", requested_by="cw-1", requested_at=T),
    p.PaymentsReleased(hold_id=HOLD, cvr="29189846", requested_by="cw-1", approved_by="cw-2",
                       released_at=T),
    p.PaymentResultRecorded(instruction_id=INS, application_id=APP, outcome="executed"),
    p.OverpaymentClaimed(claim_id=CLAIM, application_id=APP, cvr="29189846", amount_oere=250000,
                         periods=[p.PeriodAmount(period_start="2023-01", amount_oere=250000)],
                         budget_version=3, claimed_on=date(2026, 10, 1)),
    p.PaymentReconciliationHeld(application_id=APP, instruction_id=INS, instructed_oere=18750000,
                                executed_oere=1875000, reason="payment_amount_mismatch",
                                held_at=T),
    p.PaymentReconciliationResolved(application_id=APP, instruction_id=INS, resolved_by="cw-1",
                                    note="finance paid the rest by hand", resolved_at=T),
    p.ReissueRequested(application_id=APP, instruction_id=INS, requested_by="cw-1",
                       requested_at=T),
    p.BankDetailsChangeRequested(change_id=CHANGE, cvr="29189846",
                                 account_reference="NemKonto 1234-0001234567",
                                 requested_by="cw-1", requested_at=T),
    p.BankDetailsChanged(change_id=CHANGE, cvr="29189846",
                         account_reference="NemKonto 1234-0001234567", requested_by="cw-1",
                         approved_by="cw-2", changed_at=T),
    f.PaymentExecuted(instruction_id=INS, amount_oere=18750000, executed_at=T,
                      finance_reference="FIN-2023-000123"),
    f.PaymentFailed(instruction_id=INS, failed_at=T, reason="NemKonto not found for CVR"),
    r.ReportSubmitted(report_id=REP, application_id=APP, kind="final", accounts={
        "project staff": 120000000, "materials and meetings": 29000000},
        audit_statement="RS-2027-0220", submitted_by="ap-5e6f", submitted_at=T),
    r.ReportAccepted(report_id=REP, application_id=APP, kind="final", spent_oere=149000000,
                     audit_level="auditor_statement_and_performance_audit"),
    r.ReportRejected(report_id=REP, application_id=APP, kind="final", reasons=[
        Reason(code="post_not_in_budget", path="accounts.travel")]),
    r.ReportOverdue(application_id=APP, cvr="29189846", kind="final", due=date(2027, 3, 31)),
    r.OverdueReportResolved(application_id=APP, cvr="29189846", kind="final",
                            due=date(2027, 3, 31), report_id=REP),
    r.RepaymentClaimed(application_id=APP, cvr="29189846", paid_oere=150000000,
                       spent_oere=149000000, amount_oere=1000000),
    r.RepaymentWaived(application_id=APP, cvr="29189846", paid_oere=150000000,
                      spent_oere=149970000, amount_oere=30000, threshold_oere=50000),
]


def _actor(topic: str) -> Actor:
    # Finance results come from a finance system, everything else from a platform service.
    if topic == "grants.finance.results.v1":
        return Actor(id="finance-system-1", role="finance")
    return Actor(id="svc-" + topic.split(".")[1], role="system")


def example_envelope(payload: Contract, *, aggregate_id: str | None = None) -> Envelope[Any]:
    spec = spec_for(payload)
    return envelope_of(
        payload, event_id=uuid5(NAMESPACE_URL, f"grants:example:{spec.event_type}"),
        occurred_at=T, correlation_id="corr-2022-09-28-0001", causation_id=str(SUB),
        actor=_actor(spec.topic.name), aggregate_id=aggregate_id or str(APP), sequence=1,
    )


EXAMPLE_COMMANDS: dict[str, Contract] = {
    "PortalSubmission": i.PortalSubmission(
        token="eyJhbGciOiJFZERTQSJ9.eyJjdnIiOiIyOTE4OTg0NiJ9.c2ln",
        submission=i.SubmitApplication(
            submission_id=SUB, application_id=APP, pool_id="familiehus-2022", applicant=APPLICANT,
            purpose="establish a family house",
            target_group="vulnerable parents of children aged 0-6 and expectant parents",
            budget=BUDGET)),
}


# Edge cases kept next to the typical example of their event: what the typical one does not
# exercise (another branch of a union or literal, non-ASCII text, several reasons, late times).
_LATE = datetime.fromisoformat("2022-09-28T10:00:00.000001+00:00")
EDGE_CASES: dict[str, list[Contract]] = {
    "late-unicode": [
        i.ApplicationReceived(
            submission_id=SUB, application_id=APP, version=2, supersedes_submission_id=EXC,
            pool_id="familiehus-2022",
            applicant=Applicant(cvr="29189846", municipality_code="492", name="Ærø Kommune"),
            purpose="Familiehus på Ærø — «tryg start» for småbørnsfamilier",
            target_group="sårbare forældre", description="Ø" * 200, organisation="",
            anchoring_plan="forankring i sundhedsplejen", budget=BUDGET, received_at=_LATE,
            received_at_local="2022-09-28T12:00:00.000001+02:00",
            client_sent_at=datetime.fromisoformat("2022-09-28T09:59:59+00:00"),
            deadline=datetime.fromisoformat("2022-09-28T10:00:00+00:00"), timeliness="late",
            register_revision=98),
    ],
    "exception-granted": [
        i.ApplicationAccepted(application_id=APP, submission_id=SUB, version=2,
                              pool_id="familiehus-2022", basis="exception_granted",
                              exception_id=EXC),
    ],
    "several-reasons": [
        i.SubmissionInvalid(reasons=[
            Reason(code="budget_total_mismatch", path="budget.total_oere"),
            Reason(code="field_missing", path="purpose", message="påkrævet"),
            Reason(code="applicant_unknown", path="applicant.cvr")], received_at=T),
        i.SubmissionUnauthorized(received_at=T, status=401, reasons=[
            Reason(code="token_expired", path="token.exp")]),
        p.RevisedBudgetRejected(application_id=APP, budget_version=3, reasons=[
            Reason(code="exceeds_award", path="total_oere"),
            Reason(code="new_post", path="months.2023-02.travel")]),
    ],
    "refused": [
        i.ItProblemExceptionRequested(
            exception_id=EXC, application_id=APP, pool_id="familiehus-2022",
            applicant_cvr="29189846", contacted_at=datetime.fromisoformat("2022-10-03T08:00:00+00:00"),
            contact="after_deadline", documentation=False, attempted_before_deadline=False,
            status="refused", reasons=["contact_too_late", "no_documentation"]),
        i.ItProblemExceptionDecided(exception_id=EXC, application_id=APP, pool_id="familiehus-2022",
                                    approved=False, decided_by="cw-7f3a", decided_at=T,
                                    reasons=["no_documentation"]),
    ],
    "unknown-and-smallest": [
        p.PaymentResultRecorded(instruction_id=INS, outcome="unknown_instruction"),
        r.RepaymentWaived(application_id=APP, cvr="29189846", paid_oere=1, spent_oere=0,
                          amount_oere=1, threshold_oere=50000),
    ],
}
