"""Allocation read a chunk of files at a time (the service's path, issue 22) decides exactly what
the whole round does: candidates built per part of the round, in any order, give the same plan
and hash; ``check_approval`` + ``decide`` give ``approve``'s decisions; and a whole
allocation's awards fold into the ledger in one pass as they do one by one."""

from __future__ import annotations

import random

from contracts.assessment import GrantAwarded
from services.assessment.domain import PoolRound, approve, evolve_ledger, evolve_ledger_all
from services.assessment.domain.allocation import candidates_of, plan_allocation, plan_candidates
from services.assessment.domain.decisions import check_approval, decide

from .builders import DECIDED_AT, Harness
from .test_allocation import (
    AARHUS, HERNING, HORSENS, RANDERS, SILKEBORG, VIBORG, one_region_pool, scored,
)


def a_round(*, once: bool = True) -> Harness:
    h = Harness(one_region_pool(once_per_applicant_in_programme=once))
    for n, (municipality, applied, total) in enumerate([
            (AARHUS, 40_000_000, 24), (RANDERS, 30_000_000, 20), (HORSENS, 30_000_000, 20),
            (VIBORG, 25_000_000, 18), (SILKEBORG, 50_000_000, 15), (HERNING, 10_000_000, 12),
            (AARHUS, 20_000_000, 22), (RANDERS, 5_000_000, 3)]):
        scored(h, f"A{n}", municipality, applied, total)
    h.submit("UNSCORED", VIBORG, 1_000_000)
    return h


def parts(state: PoolRound, size: int, seed: int) -> list[PoolRound]:
    keys = sorted(state.applications)
    random.Random(seed).shuffle(keys)
    return [state.model_copy(update={"applications": {k: state.applications[k]
                                                      for k in keys[i:i + size]}})
            for i in range(0, len(keys), size)]


def test_candidates_read_in_parts_plan_like_the_whole_round() -> None:
    for once in (True, False):
        h = a_round(once=once)
        whole = plan_allocation(h.round, h.ledger)
        assert whole.recommendations and any(r.outcome == "award" for r in whole.recommendations)
        for size, seed in ((1, 1), (3, 2), (4, 3), (100, 4)):
            candidates = [c for part in parts(h.round, size, seed)
                          for c in candidates_of(part, h.ledger)]
            assert h.round.pool is not None
            assert plan_candidates(h.round.pool, candidates) == whole


def test_check_approval_then_decide_is_approve() -> None:
    h = a_round()
    assert h.round.pool is not None
    approval = check_approval(h.round.pool, candidates_of(h.round, h.ledger), "approver-x",
                              DECIDED_AT)
    made = [decide(approval, rec, h.round.file(rec.application_id).accepted)
            for rec in approval.plan.recommendations]
    assert made == approve(h.round, h.ledger, "approver-x", DECIDED_AT)


def test_awards_fold_into_the_ledger_in_one_pass_as_one_by_one() -> None:
    h = a_round(once=False)
    h.import_prior(AARHUS)
    awards = [d for d in approve(h.round, h.ledger, "approver-x", DECIDED_AT)
              if isinstance(d, GrantAwarded)]
    assert len(awards) >= 2
    events = [*awards, awards[0], *awards]  # the same award again is recorded once
    one_by_one = h.ledger
    for event in events:
        one_by_one = evolve_ledger(one_by_one, event)
    assert evolve_ledger_all(h.ledger, events) == one_by_one != h.ledger
    old = len(h.ledger.entries)  # the prior award; then each award once, in order
    assert [e.application_id for e in one_by_one.entries[old:]] == [
        a.application_id for a in awards]
    assert one_by_one.entries[:old] == h.ledger.entries
    assert evolve_ledger_all(one_by_one, awards) is one_by_one  # nothing new: the same ledger
