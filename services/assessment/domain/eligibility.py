"""The minimum-criteria gate (R10) with once-per-applicant (R2), on the accepted version.

The gate is one pure function of (pool, accepted version, funding ledger), so running it again —
on a new accepted version, a new pool version, a newly imported prior award, or at allocation —
always gives the answer the current facts support. Every failing check adds its reason code (in
:data:`~services.assessment.domain.reasons.GATE_REASON_ORDER`), so a rejection explains all of
what is wrong, not just the first thing.

Text fields (purpose, target group) are compared as *normalised* strings: case-folded, with runs
of whitespace collapsed and the ends trimmed. Purpose is checked when the pool checks it
(``PoolDefinition.purpose_checked``: it sets ``purpose``, unless it says ``checks_purpose:
false``); a pool that sets no target group accepts any.

Who the applicant is comes from the organisation register, through intake (the version's
``applicant``): its kind for the applicant group, its region for the sub-pool. Once per applicant
is once per legal entity (:func:`contracts.register.applicant_keys`: the CVR, and for a
municipality the municipality), across every round and pool of the programme, when the pool's
``once_per_applicant_in_programme`` is set; two organisations in one municipality are two
applicants. The audit replay (R23) checks the same key.
"""

from __future__ import annotations

from uuid import UUID

from contracts.assessment import EligibilityAssessed
from contracts.pools import PoolDefinition
from contracts.reason_codes import assessment as r
from services.assessment.domain.reasons import GATE_REASON_ORDER
from services.assessment.domain.state import ApplicationVersion, FundingLedger, PoolRound


def normalised(text: str) -> str:
    return " ".join(text.split()).casefold()


def gate_reasons(
    pool: PoolDefinition, version: ApplicationVersion, ledger: FundingLedger,
    application_id: UUID,
) -> list[str]:
    """Every gate reason that applies, in the documented order; ``[]`` means eligible."""
    found: set[str] = set()
    if version.applicant.kind not in pool.applicant_group:
        found.add(r.APPLICANT_GROUP_NOT_ELIGIBLE)
    if pool.purpose_checked and normalised(pool.purpose or "") != normalised(version.purpose):
        found.add(r.PURPOSE_NOT_ELIGIBLE)
    if pool.target_group is not None and (
            normalised(pool.target_group) != normalised(version.target_group)):
        found.add(r.TARGET_GROUP_NOT_ELIGIBLE)
    if any(line.category not in pool.eligible_cost_categories for line in version.budget_lines):
        found.add(r.COST_CATEGORY_NOT_ELIGIBLE)
    if pool.sub_pools and version.region_code not in {s.region_code for s in pool.sub_pools}:
        found.add(r.REGION_NOT_IN_POOL)
    if pool.once_per_applicant_in_programme and ledger.funded(
            pool.programme_id, version.keys, excluding_application=application_id):
        found.add(r.ALREADY_FUNDED_IN_PROGRAMME)
    return [code for code in GATE_REASON_ORDER if code in found]


def assess_eligibility(state: PoolRound, ledger: FundingLedger,
                   application_id: UUID) -> EligibilityAssessed | None:
    """The gate's outcome for an application's accepted version, under the pool in force.

    Run it after ``ApplicationAccepted`` has been applied (a new accepted version re-runs it).

    ``None`` when there is nothing to assess: no accepted version yet, or the application is
    already decided (a decision is final; a later version does not reopen it).
    """
    file = state.file(application_id)
    version = file.accepted
    if version is None or file.decision is not None:
        return None
    pool = state.definition
    found = gate_reasons(pool, version, ledger, application_id)
    return EligibilityAssessed(
        application_id=application_id, submission_id=version.submission_id,
        pool_id=state.pool_id, pool_version=state.version,
        municipality_code=version.applicant.municipality_code,
        region_code=version.region_code,
        applied_oere=version.applied_oere, eligible=not found, reasons=found,
    )


def reassess_pool(state: PoolRound, ledger: FundingLedger) -> list[EligibilityAssessed]:
    """Re-run the gate for every undecided application whose outcome changed.

    Call after a new pool version or a new prior award: only applications whose eligibility,
    reasons or pool version differ from their last recorded ``EligibilityAssessed`` get a new
    event, so calling it twice emits nothing the second time.
    """
    changed = []
    for file in state.files():
        fresh = assess_eligibility(state, ledger, file.application_id)
        if fresh is not None and fresh != file.eligibility:
            changed.append(fresh)
    return changed
