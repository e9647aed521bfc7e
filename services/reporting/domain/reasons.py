"""Every stable code the reporting domain produces, with its meaning (the README lists these).

Three families:
- :data:`REASON_CODES` appear in ``ReportRejected.reasons`` (with a ``path`` where one applies);
- :data:`REFUSAL_CODES` name a refused command (``Refusal.code``): nothing was recorded;
- :data:`INVARIANTS` name what the auditors' replay verifies (R23); a violation carries one.
"""

from __future__ import annotations

from contracts.refusal import Refusal
# Final report and accounts (R20, R21). Listed in this order in a ReportRejected.
NO_APPROVED_BUDGET = "no_approved_budget"
ACCOUNTS_MISSING = "accounts_missing"
POST_NOT_IN_BUDGET = "post_not_in_budget"
AMOUNT_NEGATIVE = "amount_negative"
MONTH_INVALID = "month_invalid"
SPENT_OUTSIDE_PERIOD = "spent_outside_period"
SPENT_MONTHS_MISMATCH = "spent_months_mismatch"
AUDIT_STATEMENT_MISSING = "audit_statement_missing"
AUDIT_STATEMENT_WRONG_TYPE = "audit_statement_wrong_type"
PERFORMANCE_AUDIT_MISSING = "performance_audit_missing"
FINAL_REPORT_BEFORE_PERIOD_END = "final_report_before_period_end"
# Status report.
TEXT_MISSING = "text_missing"

REASON_CODES: dict[str, str] = {
    NO_APPROVED_BUDGET:
        "a final report arrived before any revised budget was approved, so there is nothing to "
        "account against (R16, R20)",
    ACCOUNTS_MISSING: "a final report without accounts ({post: spent øre}) (R20)",
    POST_NOT_IN_BUDGET:
        "the accounts (or spent_months) hold a post that is not in the latest approved revised "
        "budget; path accounts.<post> or spent_months.<YYYY-MM>.<post> (R16, R20)",
    AMOUNT_NEGATIVE:
        "an accounts (or spent_months) amount is negative; path names the post, the message the "
        "amount (R20)",
    MONTH_INVALID: "a spent_months key is not a month written YYYY-MM; path spent_months.<key>",
    SPENT_OUTSIDE_PERIOD:
        "money was spent in a month outside the award's project period; path "
        "spent_months.<YYYY-MM> (R20)",
    SPENT_MONTHS_MISMATCH:
        "spent_months were given but do not add up, per post, to the accounts; path "
        "accounts.<post> (R20)",
    AUDIT_STATEMENT_MISSING:
        "a final report without the reference of its reviewer's or auditor's statement; every "
        "final report needs one, whatever the audit level (R21)",
    AUDIT_STATEMENT_WRONG_TYPE:
        "the statement is a reviewer's statement, but the award is over 100,000 DKK and needs a "
        "registered or state-authorised auditor's statement; path audit_statement.type (R21). "
        "An auditor's statement also serves an award up to 100,000 DKK",
    PERFORMANCE_AUDIT_MISSING:
        "a typed statement for an award over 500,000 DKK without the reference of its "
        "performance audit; path audit_statement.performance_audit (R21)",
    FINAL_REPORT_BEFORE_PERIOD_END:
        "a final report sent before the project period ended (it is accepted from the day "
        "after the period's last day, Europe/Copenhagen); status reports may come any time (R20)",
    TEXT_MISSING: "a status report without text (R20)",
}

# Refused commands (no event).
GRANT_NOT_AWARDED = "grant_not_awarded"
AWARD_LAPSED = "award_lapsed"
FINAL_REPORT_ALREADY_ACCEPTED = "final_report_already_accepted"
REPORT_ID_REUSED = "report_id_reused"

REFUSAL_CODES: dict[str, str] = {
    GRANT_NOT_AWARDED: "no award (GrantAwarded) is known for this application (404)",
    AWARD_LAPSED: "the award lapsed; nothing can be reported on it (409)",
    FINAL_REPORT_ALREADY_ACCEPTED: "a final report was already accepted for this grant (409)",
    REPORT_ID_REUSED:
        "this report_id was already used for a report with different content (409); the same "
        "report sent twice is accepted once and has no further effect",
}

# The auditors' replay (R23): what it verifies, one code per invariant, with the rule letter.
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
