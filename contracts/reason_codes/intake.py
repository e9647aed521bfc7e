"""Every reason code the intake service can emit, with its one-line meaning.

The README's reason-code table is generated from :data:`REASON_CODES`, and a test checks that
every code the domain emits is listed here, so a new code cannot ship undocumented.
"""

from __future__ import annotations

REASON_CODES: dict[str, str] = {
    # R3: the submission could not be parsed into the contract
    "json_invalid": "the body is not a JSON object",
    "field_missing": "a required field is missing",
    "field_unknown": "a field the contract does not know (unknown keys are refused, not ignored)",
    "field_invalid": "a field has the wrong type or format",
    "field_empty": "a text field that must not be empty is empty",
    "field_too_long": "a text or list field is longer than the contract allows",
    "not_an_integer": "a whole number was expected (amounts are integer øre, never decimals)",
    "amount_negative": "an amount in øre is negative",
    "amount_too_large": "an amount in øre is above the ceiling of 10^15 øre (10 billion DKK)",
    "text_control_character": "a text holds a control character (NUL and the like; tab and "
                              "newline only where the text is multi-line)",
    "quantity_negative": "a budget line quantity is negative",
    # R3: business validation of a parsed submission
    "cvr_invalid": "the applicant's CVR number fails the modulus-11 check",
    "municipality_unknown": "the municipality code is not one of the 98 Danish municipalities",
    "pool_unknown": "no published pool has this pool id",
    "pool_not_open": "the pool has no deadline, so it does not take applications",
    "budget_empty": "the budget has no lines",
    "salary_rate_missing": "a salary line lacks its rate (rate_oere) or quantity",
    "salary_amount_mismatch": "a salary line's rate × quantity differs from its amount",
    "line_amount_mismatch": "a non-salary line's rate × quantity differs from its amount",
    "duplicate_post": "two budget lines have the same post name",
    "budget_total_mismatch": "the applied-for total differs from the sum of the budget lines",
    "application_id_conflict": "the application id belongs to another applicant or pool",
    # R2, R4: who the applicant is comes from the organisation register, by the token's CVR
    "applicant_unknown": "the applicant's CVR is not in the organisation register (and the pool "
                         "does not admit unregistered applicants)",
    "applicant_register_mismatch": "a typed municipality code, kind or region code of the "
                                   "applicant contradicts the organisation register's entry "
                                   "for its CVR",
    "region_not_of_municipality": "an unregistered applicant's typed region code is not the "
                                  "region of its typed municipality",
    # R4: authentication (checked by the adapter, 401) and authorisation (403)
    "token_missing": "no bearer token was presented",
    "token_invalid": "the token's signature, issuer or audience could not be verified",
    "token_expired": "the token has expired",
    "cvr_mismatch": "the token's organisation (cvr claim) is not the applicant",
    "role_not_allowed": "the token's roles do not allow this action",
    "subject_missing": "the token names no subject (sub), so the decision has no maker",
    "decider_is_applicant": "an applicant's own employee may not decide the applicant's exception",
    # R5: deadline
    "deadline_passed": "received after the pool's deadline, and no IT-problem exception admits it",
    # R6–R8: IT-problem exceptions
    "documentation_missing": "a contact before the deadline has no documentation of the problem",
    "attempt_not_documented": "a contact after the deadline does not document an attempt in time",
    "screenshot_missing": "a contact after the deadline has no screenshot with a visible time",
    "screenshot_after_deadline": "the screenshot's visible time is after the deadline",
    "contact_after_48h": "the contact came too long after the deadline (pool setting, 48 h)",
    "submission_outside_exception_window": "the late version came after the exception's window",
    "exception_refused": "a caseworker refused the IT-problem exception",
    "exception_unknown": "the application has no IT-problem exception with this id",
    "exception_already_decided": "the exception is no longer pending (refused by rule, or decided)",
    "exception_already_pending": "an exception of this application already awaits a caseworker",
    "exception_already_granted": "an exception for this application has already been granted",
    "reasons_on_approval": "an approval carries refusal reasons",
    "reason_unknown": "a caseworker's refusal reason is not one of the exception refusal codes",
    "contacted_at_in_future": "the contact time is later than the time it is recorded",
    "application_unknown": "no application with this id is on record (a caseworker reports a "
                           "contact only for an application intake knows)",
    # scenario outcome
    "nothing_submitted": "nothing has been submitted or reported for this application",
}
