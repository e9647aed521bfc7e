"""Every stable code the assessment service produces, with its meaning (the README lists these).

Two families:
- :data:`REASON_CODES` appear in events (``EligibilityAssessed.reasons``,
  ``ApplicationRejected.reasons``): why an application is not eligible or was not funded;
- :data:`REFUSAL_CODES` name a refused command (``Refusal.code``): nothing was recorded.
"""

from __future__ import annotations

# Eligibility gate (R10, R2), in the order they are listed in an event.
APPLICANT_GROUP_NOT_ELIGIBLE = "applicant_group_not_eligible"
PURPOSE_NOT_ELIGIBLE = "purpose_not_eligible"
TARGET_GROUP_NOT_ELIGIBLE = "target_group_not_eligible"
COST_CATEGORY_NOT_ELIGIBLE = "cost_category_not_eligible"
REGION_NOT_IN_POOL = "region_not_in_pool"
ALREADY_FUNDED_IN_PROGRAMME = "already_funded_in_programme"
# Scoring and allocation (R11, R12).
NOT_SCORED = "not_scored"
MINIMUM_REQUIREMENT_NOT_MET = "minimum_requirement_not_met"
SUB_POOL_EXHAUSTED = "sub_pool_exhausted"
APPLICANT_HAS_BETTER_APPLICATION = "applicant_has_better_application"

REASON_CODES: dict[str, str] = {
    APPLICANT_GROUP_NOT_ELIGIBLE:
        "the applicant's kind in the organisation register (municipality, region, voluntary "
        "organisation, ...) is not in the pool's applicant group (R10)",
    PURPOSE_NOT_ELIGIBLE:
        "the pool checks purpose and the application's purpose is not the pool's (compared "
        "case-insensitively, whitespace normalised) (R10)",
    TARGET_GROUP_NOT_ELIGIBLE:
        "the pool names a target group and the application's target group is not it (compared "
        "case-insensitively, whitespace normalised) (R10)",
    COST_CATEGORY_NOT_ELIGIBLE:
        "the budget has a line whose category (salary / other) the pool does not fund (R10)",
    REGION_NOT_IN_POOL:
        "the pool is split into regional sub-pools and the applicant's region in the organisation "
        "register is none of them (R1, R12)",
    ALREADY_FUNDED_IN_PROGRAMME:
        "the applicant (the legal entity, by CVR; a municipality also by its municipality) "
        "already has an award in this pool programme: an earlier round, another pool of the "
        "programme, or a better-ranked application of its own in this round (R2)",
    APPLICANT_HAS_BETTER_APPLICATION:
        "the applicant has a better-ranked application in this round, and only that one can win "
        "(it did not: e.g. its sub-pool ran out); with once_per_applicant_in_programme (R2)",
    NOT_SCORED:
        "the application is eligible but no assessor (other than recused ones) scored it before "
        "allocation (R11)",
    MINIMUM_REQUIREMENT_NOT_MET:
        "the assessors' mean score on a minimum-requirement criterion is below the pool's "
        "minimum_requirement_threshold (R11)",
    SUB_POOL_EXHAUSTED:
        "the application was ranked, but its full applied-for amount no longer fits in what "
        "remains of its regional sub-pool (or the pool stops at the first that does not fit) (R12)",
}

REFUSAL_CODES: dict[str, str] = {
    "pool_invalid": "the pool definition does not validate; details name each field path (422)",
    "pool_mismatch": "the definition's pool_id is not the pool being published to (422)",
    "pool_decided": "decisions were made under the current version; the pool can no longer "
                    "change (409)",
    "pool_not_published": "no version of the pool has been published (404)",
    "application_unknown": "no application with this id in the pool (404)",
    "application_not_accepted": "the application has no accepted version yet (409)",
    "application_decided": "the application is decided; scores can no longer change it (409)",
    "version_unknown": "intake accepted a submission assessment never received (409)",
    "criterion_unknown": "a score names a criterion the pool does not have (422)",
    "criteria_incomplete": "a score leaves out one or more of the pool's criteria (422)",
    "score_out_of_range": "a criterion score is outside 0–5 (422)",
    "justification_missing": "a score has no written justification (422)",
    "assessor_recused": "the assessor declared a conflict of interest on this application (409)",
    "segregation_of_duties": "the approver scored or recused from an application in the batch "
                             "(403)",
    "recommendations_changed": "the recommendations changed since the approver saw them (409)",
    "payment_frequency_not_awarded": (
        "the approval set a payment frequency for an application the batch does not award (422)"
    ),
    "register_invalid": "a register file or entry does not validate; details name each row's "
                        "line and field (422)",
    "register_too_large": "a register file sent over HTTP is larger than 64 MiB; load it from "
                          "GRANTS_REGISTER_FILES instead (413)",
    "organisation_unknown": "no organisation with this CVR in the register (404; 422 for a prior "
                            "award naming an unregistered CVR without its municipality)",
    "applicant_register_mismatch": "a prior award names a municipality that contradicts the "
                                   "register's entry for its CVR (422)",
}
