"""Read side: per sub-pool, its amount, what is awarded and remains, and applications by status.

Statuses, in the order an application moves through them:
``received`` (not yet accepted by intake) → ``awaiting_eligibility`` → ``ineligible`` |
``awaiting_scores`` → ``scored`` → ``awarded`` | ``rejected``; an award that lapsed or was
withdrawn is ``released`` and no longer counts in ``awarded_oere`` (its money remains).
An application counts in the sub-pool of its municipality's region; one whose region is not a
sub-pool of the pool is listed under ``outside_sub_pools``.
"""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from services.assessment.domain.pools import decision_region, sub_pool_amounts, sub_pool_names
from services.assessment.domain.scoring import exact_score
from services.assessment.domain.state import ApplicationFile, PoolRound, State

Status = Literal[
    "received", "awaiting_eligibility", "ineligible", "awaiting_scores", "scored", "awarded",
    "rejected", "released",
]


class SubPoolOverview(State):
    region_code: str | None  # None: the pool has no sub-pools and this is the whole pool
    region: str
    amount_oere: int
    awarded_oere: int
    remaining_oere: int
    awards: int
    applications: dict[str, tuple[UUID, ...]]  # status → application ids, in id order


class PoolOverview(State):
    pool_id: str
    pool_version: int
    total_oere: int
    sub_pools: tuple[SubPoolOverview, ...]
    outside_sub_pools: tuple[UUID, ...] = ()


def status_of(file: ApplicationFile) -> Status:
    if file.decision is not None:
        return "released" if file.decision.released is not None else file.decision.outcome
    if file.accepted is None:
        return "received"
    eligibility = file.eligibility
    if eligibility is None or eligibility.submission_id != file.accepted_submission_id:
        return "awaiting_eligibility"
    if not eligibility.eligible:
        return "ineligible"
    return "scored" if exact_score(file) is not None else "awaiting_scores"


def pool_overview(state: PoolRound) -> PoolOverview:
    pool = state.definition
    amounts = sub_pool_amounts(pool)
    names = sub_pool_names(pool)
    by_key: dict[str | None, dict[str, list[UUID]]] = {key: {} for key in amounts}
    awarded = {key: 0 for key in amounts}
    awards = {key: 0 for key in amounts}
    outside: list[UUID] = []
    for file in state.files():
        version = file.accepted or (file.versions[-1] if file.versions else None)
        if version is None:
            continue
        key = decision_region(pool, version.region_code)
        if key not in amounts:
            outside.append(file.application_id)
            continue
        by_key[key].setdefault(status_of(file), []).append(file.application_id)
        if file.decision is not None and file.decision.commits_oere:
            awarded[key] += file.decision.commits_oere
            awards[key] += 1
    return PoolOverview(
        pool_id=state.pool_id, pool_version=state.version, total_oere=pool.total_oere,
        sub_pools=tuple(
            SubPoolOverview(
                region_code=key, region=names[key], amount_oere=amounts[key],
                awarded_oere=awarded[key], remaining_oere=amounts[key] - awarded[key],
                awards=awards[key],
                applications={status: tuple(ids) for status, ids in sorted(by_key[key].items())})
            for key in amounts),
        outside_sub_pools=tuple(outside),
    )
