"""Ranking and allocation per regional sub-pool (R12), with once per applicant (R2).

:func:`plan_allocation` is a pure query: it recommends a decision for every *undecided* accepted
application; an approver turns the plan into decisions (``decisions.approve``). Running it again
after decisions recommends only what is still undecided, with the money that remains, so the
walk is idempotent.

1. Gate. Each undecided application is checked again against the pool in force and the funding
   ledger (R10, R2): any gate reason rejects it, whatever its score. Eligible but with no
   (non-recused) score → ``not_scored``; a minimum-requirement mean below the threshold →
   ``minimum_requirement_not_met``. These get no rank.
2. Rank. Per sub-pool (a pool without sub-pools is one), the remaining applications — together
   with the ones decided earlier that had a rank — are ordered by:
     a. aggregate score, highest first (exact rational comparison);
     b. tie-break: the accepted version's ``received_at``, earliest first (whoever was ready
        first);
     c. then ``application_id`` ascending (a total order, so the result never depends on the
        order facts arrived in).
   ``rank`` is the place in that order, 1 = best, also for those that lose.
3. Walk, in rank order, with what remains of the sub-pool (its amount minus awards already
   decided in it): a municipality already awarded in this round (higher up, or decided earlier)
   gets ``already_funded_in_programme``; otherwise the *full* applied-for amount is awarded when
   it fits the remaining money, never part of it; one that does not fit is rejected
   ``sub_pool_exhausted``. After the first that does not fit, a lower-ranked smaller one may still
   be awarded if it fits, unless the pool sets ``fill_with_smaller_after_exhausted: false``; then
   every lower-ranked one is ``sub_pool_exhausted`` too. No sub-pool is over-committed: an award
   is made only when ``applied ≤ remaining``.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from fractions import Fraction
from typing import Literal
from uuid import UUID

from contracts.municipalities import region_of
from services.assessment.domain import reasons as r
from services.assessment.domain.eligibility import gate_reasons
from services.assessment.domain.pools import decision_region, sub_pool_amounts
from services.assessment.domain.scoring import exact_score, minimum_requirements_met, shown
from services.assessment.domain.state import ApplicationFile, FundingLedger, PoolRound, State


class Recommendation(State):
    """What allocation recommends for one undecided application."""

    application_id: UUID
    outcome: Literal["award", "reject"]
    region_code: str | None  # the sub-pool key (None: a pool without sub-pools)
    sub_pool_amount_oere: int | None  # None when the application belongs to no sub-pool
    municipality_code: str
    applied_oere: int
    amount_oere: int = 0
    score: float | None = None
    rank: int | None = None
    reasons: tuple[str, ...] = ()


class AllocationPlan(State):
    pool_id: str
    pool_version: int
    recommendations: tuple[Recommendation, ...]
    plan_hash: str  # lets an approver say "approve exactly what I saw"


def _rank_key(file: ApplicationFile) -> tuple[Fraction, datetime, str]:
    version = file.accepted
    assert version is not None
    score = exact_score(file) or Fraction(0)
    return (-score, version.received_at, str(file.application_id))


def _hash(pool_version: int, recommendations: list[Recommendation]) -> str:
    body = json.dumps(
        {"pool_version": pool_version,
         "recommendations": [x.model_dump(mode="json") for x in recommendations]},
        sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(body.encode()).hexdigest()


def plan_allocation(state: PoolRound, ledger: FundingLedger) -> AllocationPlan:
    pool = state.definition
    amounts = sub_pool_amounts(pool)
    once = pool.once_per_applicant_in_programme
    out: list[Recommendation] = []
    ranked: dict[str | None, list[ApplicationFile]] = {key: [] for key in amounts}

    def recommend(file: ApplicationFile, **fields: object) -> Recommendation:
        version = file.accepted
        assert version is not None
        region = decision_region(pool, region_of(version.applicant.municipality_code))
        return Recommendation(
            application_id=file.application_id, region_code=region,
            sub_pool_amount_oere=amounts.get(region), municipality_code=(
                version.applicant.municipality_code),
            applied_oere=version.applied_oere, score=shown(exact_score(file)), **fields)

    for file in state.files():
        version = file.accepted
        if version is None:
            continue  # never accepted by intake: not ours to decide
        key = decision_region(pool, region_of(version.applicant.municipality_code))
        if file.decision is not None:
            if file.decision.rank is not None and key in ranked:
                ranked[key].append(file)
            continue
        reasons = gate_reasons(pool, version, ledger, file.application_id)
        if reasons:
            out.append(recommend(file, outcome="reject", reasons=tuple(reasons)))
        elif exact_score(file) is None:
            out.append(recommend(file, outcome="reject", reasons=(r.NOT_SCORED,)))
        elif not minimum_requirements_met(pool, file):
            out.append(recommend(file, outcome="reject",
                                 reasons=(r.MINIMUM_REQUIREMENT_NOT_MET,)))
        else:
            ranked[key].append(file)

    awarded_municipalities = {
        f.accepted.applicant.municipality_code for f in state.files()
        if f.decision is not None and f.decision.outcome == "awarded" and f.accepted is not None
    }
    for key in sorted(ranked, key=lambda k: k or ""):
        already = sum(f.decision.amount_oere for f in state.files()
                      if f.decision is not None and f.decision.outcome == "awarded"
                      and f.decision.region_code == key)
        remaining = max(amounts[key] - already, 0)
        exhausted = False
        for place, file in enumerate(sorted(ranked[key], key=_rank_key), start=1):
            decided = file.decision
            if decided is not None:
                exhausted = exhausted or r.SUB_POOL_EXHAUSTED in decided.reasons
                continue
            version = file.accepted
            assert version is not None
            municipality = version.applicant.municipality_code
            if once and municipality in awarded_municipalities:
                out.append(recommend(file, outcome="reject", rank=place,
                                     reasons=(r.ALREADY_FUNDED_IN_PROGRAMME,)))
            elif version.applied_oere <= remaining and (
                    pool.fill_with_smaller_after_exhausted or not exhausted):
                remaining -= version.applied_oere
                awarded_municipalities.add(municipality)
                out.append(recommend(file, outcome="award", rank=place,
                                     amount_oere=version.applied_oere))
            else:
                exhausted = True
                out.append(recommend(file, outcome="reject", rank=place,
                                     reasons=(r.SUB_POOL_EXHAUSTED,)))

    out.sort(key=lambda x: (x.region_code or "", x.rank or 10**9, str(x.application_id)))
    return AllocationPlan(pool_id=state.pool_id, pool_version=state.version,
                          recommendations=tuple(out), plan_hash=_hash(state.version, out))
