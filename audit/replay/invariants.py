"""What the auditors' replay verifies (R23): one stable code per invariant, with its rule letter.

A :class:`~audit.replay.models.Violation` carries one of these codes; the README lists them.
"""

from __future__ import annotations

SUB_POOL_WITHIN_AMOUNT = "sub_pool_within_amount"
AWARD_WITHIN_APPLIED = "award_within_applied"
BUDGET_WITHIN_AWARD = "budget_within_award"
PAYMENTS_WITHIN_BUDGET = "payments_within_budget"
NO_PAYMENT_BEFORE_ACCEPTANCE = "no_payment_before_acceptance"
ONE_AWARD_PER_APPLICANT = "one_award_per_applicant"
NO_LATE_ACCEPTANCE = "no_late_acceptance"
ACCEPTED_REACHES_ASSESSMENT = "accepted_reaches_assessment"

INVARIANTS: dict[str, str] = {
    SUB_POOL_WITHIN_AMOUNT:
        "(a) the approved awards of a sub-pool (or of a pool without sub-pools) sum to at most its "
        "amount; the offending event is the GrantAwarded that first goes over",
    AWARD_WITHIN_APPLIED:
        "(b) an award is at most the total applied for in the accepted version of the application "
        "(and an award needs an accepted application)",
    BUDGET_WITHIN_AWARD:
        "(c) an approved revised budget (the sum of its months) is at most its award",
    PAYMENTS_WITHIN_BUDGET:
        "(d) the payments instructed to a grant sum to at most the latest approved budget in force "
        "and at most the award; no instruction before any approved budget",
    NO_PAYMENT_BEFORE_ACCEPTANCE:
        "(d) no PaymentInstructed before (occurred_at) the grant's AwardAccepted",
    ONE_AWARD_PER_APPLICANT:
        "(e) at most one award per applicant per programme, counting imported prior awards, for "
        "awards made under a pool with once_per_applicant_in_programme; the applicant is the "
        "legal entity (its CVR; a municipality also by its municipality code), so two "
        "organisations in one municipality are two applicants",
    NO_LATE_ACCEPTANCE:
        "(f) no ApplicationAccepted with basis on_time for a version received after the deadline, "
        "and none with basis exception_granted without an approved ItProblemExceptionDecided "
        "before it",
    ACCEPTED_REACHES_ASSESSMENT:
        "(g) every application intake accepted (on time, or on an approved exception) reached "
        "assessment (an EligibilityAssessed, ApplicationScored, GrantAwarded or "
        "ApplicationRejected for it) once assessment decided its pool after the acceptance; the "
        "offending event is the earliest such ApplicationAccepted. An application accepted after "
        "its pool's latest decision, or for a pool not decided yet, may still be on its way and "
        "is not flagged; a dead letter alone is an unprocessed input, not a violation",
}

INVARIANT_RULE: dict[str, str] = {
    SUB_POOL_WITHIN_AMOUNT: "a", AWARD_WITHIN_APPLIED: "b", BUDGET_WITHIN_AWARD: "c",
    PAYMENTS_WITHIN_BUDGET: "d", NO_PAYMENT_BEFORE_ACCEPTANCE: "d",
    ONE_AWARD_PER_APPLICANT: "e", NO_LATE_ACCEPTANCE: "f", ACCEPTED_REACHES_ASSESSMENT: "g",
}
