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
     b. tie-break: the pool's draw for the applicant, :func:`tie_draw` — sha256 of
        ``"<pool_id>:<cvr>"``, lowest first. It is fixed when the pool is published, the same
        for every application of one organisation, and blind to when and how an application
        came in: a version admitted through an approved IT-problem exception, or a corrected
        resubmission, keeps exactly the place an on-time first version would have. Nobody who
        applies can steer it (a CVR is not chosen), and an auditor can recompute it;
     c. then ``application_id`` ascending (only ever between applications of one organisation:
        a total order, so the result never depends on the order facts arrived in).
   ``rank`` is the place in that order, 1 = best, also for those that lose.
3. Walk, in rank order, with what remains of the sub-pool (its amount minus awards already
   decided in it). With once per applicant (``once_per_applicant_in_programme``) an applicant is
   one legal entity (:func:`contracts.register.applicant_keys`) and only its best-ranked
   application of the round can win: an applicant already awarded in this round (higher up, or
   decided earlier) gets ``already_funded_in_programme``; a lower-ranked application of an
   applicant whose best one did not win gets ``applicant_has_better_application``. Otherwise the
   *full* applied-for amount is awarded when it fits the remaining money, never part of it; one
   that does not fit is rejected ``sub_pool_exhausted``. After the first that does not fit, a
   lower-ranked smaller one may still be awarded if it fits, unless the pool sets
   ``fill_with_smaller_after_exhausted: false``; then every lower-ranked one is
   ``sub_pool_exhausted`` too. No sub-pool is over-committed: an award is made only when
   ``applied ≤ remaining``.
4. Released money (R12, issue 16). An award that lapsed or was withdrawn no longer commits its
   amount: ``remaining`` counts only awards in force. In a sub-pool with released money the walk
   takes the applications rejected *only* ``sub_pool_exhausted`` in their rank places again:
   one that now fits (and passes the gate and once per applicant again) is recommended for an
   award, in rank order, with the same fill rule; one that still does not fit keeps its
   rejection and gets no new recommendation. The released award itself stays decided (it is
   not awarded twice), and it still counts as its applicant's award in the programme (R2: the
   rules are silent on declined awards; the ledger keeps it).
"""

from __future__ import annotations

import hashlib
import json
from fractions import Fraction
from typing import Literal
from uuid import UUID

from contracts.pools import tie_draw
from contracts.reason_codes import assessment as r
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


def _rank_key(pool_id: str, file: ApplicationFile) -> tuple[Fraction, str, str]:
    version = file.accepted
    assert version is not None
    score = exact_score(file) or Fraction(0)
    return (-score, tie_draw(pool_id, version.applicant.cvr), str(file.application_id))


def _best_of_applicants(order: list[ApplicationFile]) -> dict[UUID, UUID]:
    """Application → the best-ranked application of the same applicant (itself when it is)."""
    owner_of_key: dict[str, UUID] = {}
    best: dict[UUID, UUID] = {}
    for file in order:
        assert file.accepted is not None
        keys = file.accepted.keys
        owner = next((owner_of_key[k] for k in sorted(keys) if k in owner_of_key),
                     file.application_id)
        best[file.application_id] = owner
        for key in keys:
            owner_of_key.setdefault(key, owner)
    return best


def _exhausted_only(reasons: tuple[str, ...]) -> bool:
    return tuple(reasons) == (r.SUB_POOL_EXHAUSTED,)


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
        region = decision_region(pool, version.region_code)
        return Recommendation(
            application_id=file.application_id, region_code=region,
            sub_pool_amount_oere=amounts.get(region), municipality_code=(
                version.applicant.municipality_code),
            applied_oere=version.applied_oere, score=shown(exact_score(file)), **fields)

    for file in state.files():
        version = file.accepted
        if version is None:
            continue  # never accepted by intake: not ours to decide
        key = decision_region(pool, version.region_code)
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

    def rank_key(file: ApplicationFile) -> tuple[Fraction, str, str]:
        return _rank_key(state.pool_id, file)

    best = _best_of_applicants(sorted((f for fs in ranked.values() for f in fs), key=rank_key))
    awarded_keys: set[str] = set()
    winners: set[UUID] = set()
    for f in state.files():
        if f.decision is not None and f.decision.outcome == "awarded" and f.accepted is not None:
            awarded_keys |= f.accepted.keys
            winners.add(f.application_id)
    second_best: list[tuple[ApplicationFile, int]] = []  # decided once every sub-pool is walked
    for key in sorted(ranked, key=lambda k: k or ""):
        in_key = [f.decision for f in state.files()
                  if f.decision is not None and f.decision.region_code == key]
        remaining = max(amounts[key] - sum(d.commits_oere for d in in_key), 0)
        rewalk = any(d.released is not None for d in in_key)
        exhausted = False
        for place, file in enumerate(sorted(ranked[key], key=rank_key), start=1):
            decided = file.decision
            version = file.accepted
            assert version is not None
            if decided is not None:
                if not (rewalk and _exhausted_only(decided.reasons)):
                    exhausted = exhausted or r.SUB_POOL_EXHAUSTED in decided.reasons
                    continue
                # Money was released in this sub-pool: an application rejected only for want
                # of money is walked again in its place, and awarded if it fits now; otherwise
                # its rejection stands (no new decision).
                fits = version.applied_oere <= remaining and (
                    pool.fill_with_smaller_after_exhausted or not exhausted)
                if not fits:
                    exhausted = True
                elif (not (once and not version.keys.isdisjoint(awarded_keys))
                        and best[file.application_id] == file.application_id
                        and not gate_reasons(pool, version, ledger, file.application_id)):
                    remaining -= version.applied_oere
                    awarded_keys |= version.keys
                    winners.add(file.application_id)
                    out.append(recommend(file, outcome="award", rank=place,
                                         amount_oere=version.applied_oere))
                continue
            if once and not version.keys.isdisjoint(awarded_keys):
                out.append(recommend(file, outcome="reject", rank=place,
                                     reasons=(r.ALREADY_FUNDED_IN_PROGRAMME,)))
            elif once and best[file.application_id] != file.application_id:
                second_best.append((file, place))
            elif version.applied_oere <= remaining and (
                    pool.fill_with_smaller_after_exhausted or not exhausted):
                remaining -= version.applied_oere
                awarded_keys |= version.keys
                winners.add(file.application_id)
                out.append(recommend(file, outcome="award", rank=place,
                                     amount_oere=version.applied_oere))
            else:
                exhausted = True
                out.append(recommend(file, outcome="reject", rank=place,
                                     reasons=(r.SUB_POOL_EXHAUSTED,)))
    for file, place in second_best:
        won = best[file.application_id] in winners
        out.append(recommend(file, outcome="reject", rank=place, reasons=(
            r.ALREADY_FUNDED_IN_PROGRAMME if won else r.APPLICANT_HAS_BETTER_APPLICATION,)))

    out.sort(key=lambda x: (x.region_code or "", x.rank or 10**9, str(x.application_id)))
    return AllocationPlan(pool_id=state.pool_id, pool_version=state.version,
                          recommendations=tuple(out), plan_hash=_hash(state.version, out))
