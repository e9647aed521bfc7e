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

The walk reads each application through a :class:`Candidate`: what :func:`candidate` takes of
its file under the pool in force and the ledger (sub-pool, applied amount, applicant keys, score,
gate, decision, who scored). :func:`plan_candidates` plans from candidates alone, so a whole
pool's files need not be held at once: the service builds the candidates a chunk of files at a
time (:func:`plan_allocation` is the same plan from a whole round).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal
from uuid import UUID

from contracts.assessment import PoolPublished
from contracts.pools import PoolDefinition, tie_draw
from contracts.reason_codes import assessment as r
from services.assessment.domain.eligibility import gate_reasons
from services.assessment.domain.pools import decision_region, sub_pool_amounts
from services.assessment.domain.scoring import (
    exact_score, minimum_requirements_met, participants, shown,
)
from services.assessment.domain.state import (
    ApplicationFile, Decision, FundingLedger, PoolRound, State,
)


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


@dataclass(frozen=True, slots=True)
class Candidate:
    """What allocation reads of one accepted application's file, under the pool in force and
    the funding ledger (:func:`candidate`)."""

    application_id: UUID
    region_code: str | None  # its sub-pool's key (:func:`~.pools.decision_region`)
    municipality_code: str
    applied_oere: int
    cvr: str  # the applicant's, for the pool's draw (:func:`tie_draw`)
    keys: frozenset[str]  # the applicant's identity for once per applicant (R2)
    score: Fraction | None  # exact_score: None when nobody (non-recused) scored
    # The gate's reasons (R10, R2), for what the walk may consult: an undecided application,
    # or one rejected only ``sub_pool_exhausted`` (walked again when money is released).
    gate: tuple[str, ...]
    minimum_met: bool  # minimum requirements met; for an undecided, eligible, scored one only
    decision: Decision | None
    participants: frozenset[str]  # who scored or recused (R13: they may not approve it)


def _exhausted_only(reasons: tuple[str, ...]) -> bool:
    return tuple(reasons) == (r.SUB_POOL_EXHAUSTED,)


def candidate(pool: PoolDefinition, ledger: FundingLedger,
              file: ApplicationFile) -> Candidate | None:
    """The file as allocation reads it; ``None`` for one never accepted by intake (not ours to
    decide). A decided file always has an accepted version: only accepted ones are decided."""
    version = file.accepted
    if version is None:
        return None
    decided = file.decision
    gate = (tuple(gate_reasons(pool, version, ledger, file.application_id))
            if decided is None or _exhausted_only(decided.reasons) else ())
    score = exact_score(file)
    return Candidate(
        application_id=file.application_id,
        region_code=decision_region(pool, version.region_code),
        municipality_code=version.applicant.municipality_code,
        applied_oere=version.applied_oere, cvr=version.applicant.cvr, keys=version.keys,
        score=score, gate=gate,
        minimum_met=(decided is None and not gate and score is not None
                     and minimum_requirements_met(pool, file)),
        decision=decided, participants=frozenset(participants(file)))


def candidates_of(state: PoolRound, ledger: FundingLedger) -> list[Candidate]:
    """Every accepted application of a round (or of a part of one), as allocation reads it."""
    pool = state.definition
    return [c for f in state.files() if (c := candidate(pool, ledger, f)) is not None]


def _best_of_applicants(order: list[Candidate]) -> dict[UUID, UUID]:
    """Application → the best-ranked application of the same applicant (itself when it is)."""
    owner_of_key: dict[str, UUID] = {}
    best: dict[UUID, UUID] = {}
    for c in order:
        owner = next((owner_of_key[k] for k in sorted(c.keys) if k in owner_of_key),
                     c.application_id)
        best[c.application_id] = owner
        for key in c.keys:
            owner_of_key.setdefault(key, owner)
    return best


def _hash(pool_version: int, recommendations: list[Recommendation]) -> str:
    body = json.dumps(
        {"pool_version": pool_version,
         "recommendations": [x.model_dump(mode="json") for x in recommendations]},
        sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(body.encode()).hexdigest()


def plan_allocation(state: PoolRound, ledger: FundingLedger) -> AllocationPlan:
    candidates = candidates_of(state, ledger)
    assert state.pool is not None  # candidates_of refused an unpublished pool
    return plan_candidates(state.pool, candidates)


def plan_candidates(published: PoolPublished, candidates: Iterable[Candidate]) -> AllocationPlan:
    """The plan for a pool from every accepted application of it (in any order)."""
    pool = published.definition
    pool_id = published.pool_id
    amounts = sub_pool_amounts(pool)
    once = pool.once_per_applicant_in_programme
    out: list[Recommendation] = []
    ranked: dict[str | None, list[Candidate]] = {key: [] for key in amounts}
    decided_in: dict[str | None, list[Decision]] = {}
    awarded_keys: set[str] = set()
    winners: set[UUID] = set()

    def recommend(c: Candidate, **fields: object) -> Recommendation:
        return Recommendation(
            application_id=c.application_id, region_code=c.region_code,
            sub_pool_amount_oere=amounts.get(c.region_code),
            municipality_code=c.municipality_code, applied_oere=c.applied_oere,
            score=shown(c.score), **fields)

    for c in candidates:
        key = c.region_code
        if c.decision is not None:
            decided_in.setdefault(c.decision.region_code, []).append(c.decision)
            if c.decision.outcome == "awarded":
                awarded_keys |= c.keys
                winners.add(c.application_id)
            if c.decision.rank is not None and key in ranked:
                ranked[key].append(c)
            continue
        if c.gate:
            out.append(recommend(c, outcome="reject", reasons=c.gate))
        elif c.score is None:
            out.append(recommend(c, outcome="reject", reasons=(r.NOT_SCORED,)))
        elif not c.minimum_met:
            out.append(recommend(c, outcome="reject", reasons=(r.MINIMUM_REQUIREMENT_NOT_MET,)))
        else:
            ranked[key].append(c)

    rank_keys = {c.application_id: (-(c.score or Fraction(0)), tie_draw(pool_id, c.cvr),
                                    str(c.application_id))
                 for cs in ranked.values() for c in cs}

    def rank_key(c: Candidate) -> tuple[Fraction, str, str]:
        return rank_keys[c.application_id]

    best = _best_of_applicants(sorted((c for cs in ranked.values() for c in cs), key=rank_key))
    second_best: list[tuple[Candidate, int]] = []  # decided once every sub-pool is walked
    for key in sorted(ranked, key=lambda k: k or ""):
        in_key = decided_in.get(key, [])
        remaining = max(amounts[key] - sum(d.commits_oere for d in in_key), 0)
        rewalk = any(d.released is not None for d in in_key)
        exhausted = False
        for place, c in enumerate(sorted(ranked[key], key=rank_key), start=1):
            decided = c.decision
            if decided is not None:
                if not (rewalk and _exhausted_only(decided.reasons)):
                    exhausted = exhausted or r.SUB_POOL_EXHAUSTED in decided.reasons
                    continue
                # Money was released in this sub-pool: an application rejected only for want
                # of money is walked again in its place, and awarded if it fits now; otherwise
                # its rejection stands (no new decision).
                fits = c.applied_oere <= remaining and (
                    pool.fill_with_smaller_after_exhausted or not exhausted)
                if not fits:
                    exhausted = True
                elif (not (once and not c.keys.isdisjoint(awarded_keys))
                        and best[c.application_id] == c.application_id
                        and not c.gate):
                    remaining -= c.applied_oere
                    awarded_keys |= c.keys
                    winners.add(c.application_id)
                    out.append(recommend(c, outcome="award", rank=place,
                                         amount_oere=c.applied_oere))
                continue
            if once and not c.keys.isdisjoint(awarded_keys):
                out.append(recommend(c, outcome="reject", rank=place,
                                     reasons=(r.ALREADY_FUNDED_IN_PROGRAMME,)))
            elif once and best[c.application_id] != c.application_id:
                second_best.append((c, place))
            elif c.applied_oere <= remaining and (
                    pool.fill_with_smaller_after_exhausted or not exhausted):
                remaining -= c.applied_oere
                awarded_keys |= c.keys
                winners.add(c.application_id)
                out.append(recommend(c, outcome="award", rank=place,
                                     amount_oere=c.applied_oere))
            else:
                exhausted = True
                out.append(recommend(c, outcome="reject", rank=place,
                                     reasons=(r.SUB_POOL_EXHAUSTED,)))
    for c, place in second_best:
        won = best[c.application_id] in winners
        out.append(recommend(c, outcome="reject", rank=place, reasons=(
            r.ALREADY_FUNDED_IN_PROGRAMME if won else r.APPLICANT_HAS_BETTER_APPLICATION,)))

    out.sort(key=lambda x: (x.region_code or "", x.rank or 10**9, str(x.application_id)))
    return AllocationPlan(pool_id=pool_id, pool_version=published.version,
                          recommendations=tuple(out), plan_hash=_hash(published.version, out))
