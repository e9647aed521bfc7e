"""The order in which the eligibility gate lists its reasons (the codes are
:mod:`contracts.reason_codes.assessment`, wire vocabulary)."""

from __future__ import annotations

from contracts.reason_codes import assessment as r

# Order in which gate reasons are listed, so equal inputs give byte-equal events.
GATE_REASON_ORDER: tuple[str, ...] = (
    r.APPLICANT_GROUP_NOT_ELIGIBLE, r.PURPOSE_NOT_ELIGIBLE, r.TARGET_GROUP_NOT_ELIGIBLE,
    r.COST_CATEGORY_NOT_ELIGIBLE, r.REGION_NOT_IN_POOL, r.ALREADY_FUNDED_IN_PROGRAMME,
)
