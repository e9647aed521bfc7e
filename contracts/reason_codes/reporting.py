"""Every stable code the reporting service produces, with its meaning (the README lists these).

Three families:
- :data:`REASON_CODES` appear in ``ReportRejected.reasons`` (with a ``path`` where one applies);
- :data:`REFUSAL_CODES` name a refused command (``Refusal.code``): nothing was recorded;
"""

from __future__ import annotations

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
