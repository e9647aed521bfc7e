"""The family-house pool 2022 (R1's example) with every one of the 98 municipalities applying,
so every regional sub-pool is over-subscribed: awards stay within each sub-pool's amount and no
municipality gets two."""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from datetime import datetime, timedelta

import pytest

from contracts.assessment import ApplicationRejected, GrantAwarded
from contracts.municipalities import municipalities
from services.assessment.domain import pool_overview
from services.assessment.domain.pools import sub_pool_amounts

from .builders import TARGET, Harness, shared_json

RECEIVED = datetime.fromisoformat("2022-09-20T09:00:00+02:00")
DECIDED = datetime.fromisoformat("2022-12-01T10:00:00+01:00")


def spread(code: str, salt: str, low: int, high: int) -> int:
    """A deterministic, well-spread value in [low, high] per municipality."""
    digest = int(hashlib.sha256(f"{salt}:{code}".encode()).hexdigest(), 16)
    return low + digest % (high - low + 1)


def play(applied_for) -> tuple[Harness, list[GrantAwarded | ApplicationRejected]]:  # type: ignore[no-untyped-def]
    pool = shared_json("data/pools/familiehus-2022.json")
    h = Harness(pool)
    h.import_prior("169", programme="familiehuse", pool_id="familiehus-2020")  # Høje-Taastrup
    for code in sorted(municipalities()):
        h.submit(code, code, applied_for(code), pool_id="familiehus-2022", target_group=TARGET,
                 purpose=pool["purpose"], at=RECEIVED + timedelta(seconds=spread(code, "t", 0, 3600)))
        for assessor in ("assessor-a", "assessor-b"):
            total = spread(code, assessor, 8, 25)
            h.score(code, assessor, {"1": min(5, total - 3), **{
                str(i): v for i, v in enumerate(_rest(total - min(5, total - 3)), start=2)}})
    # Copenhagen and Aarhus also send a second application; at most one may win.
    for code in ("101", "751"):
        h.submit(f"{code}-second", code, 50_000_000, pool_id="familiehus-2022",
                 purpose=pool["purpose"])
        h.score(f"{code}-second", "assessor-a", {"1": 5, "2": 5, "3": 5, "4": 5, "5": 5})
    decided = h.allocate("approver-x", DECIDED)
    return h, decided


def _rest(total: int) -> list[int]:
    values = []
    for _ in range(4):
        values.append(min(5, total))
        total -= values[-1]
    assert total == 0
    return values


def check(h: Harness, decided: list[GrantAwarded | ApplicationRejected]) -> list[GrantAwarded]:
    amounts = sub_pool_amounts(h.round.definition)
    assert len(decided) == 98 + 2
    awards = [d for d in decided if isinstance(d, GrantAwarded)]
    per_region: dict[str | None, int] = defaultdict(int)
    for award in awards:
        per_region[award.region_code] += award.amount_oere
        assert award.amount_oere == award.applied_oere
    for region, total in per_region.items():
        assert total <= amounts[region]
    assert max(Counter(a.municipality_code for a in awards).values(), default=0) <= 1
    assert "169" not in {a.municipality_code for a in awards}
    for overview in pool_overview(h.round).sub_pools:
        assert overview.awarded_oere == per_region[overview.region_code]
        assert 0 <= overview.remaining_oere == overview.amount_oere - overview.awarded_oere
    return awards


def test_demand_beyond_every_region_about_45_awards() -> None:
    # ~2.8 M DKK each (126 M / 45), so each region is asked for about twice what it holds.
    h, decided = play(lambda code: spread(code, "amount", 2_000_000_00, 3_600_000_00))
    amounts = sub_pool_amounts(h.round.definition)
    demand: dict[str, int] = defaultdict(int)
    for m in municipalities().values():
        demand[m.region_code] += h.round.applications[
            next(k for k, f in h.round.applications.items()
                 if f.accepted and f.accepted.applicant.municipality_code == m.code)
        ].accepted.applied_oere  # type: ignore[union-attr]
    assert all(demand[r] > amounts[r] for r in amounts)
    awards = check(h, decided)
    assert 30 <= len(awards) <= 60
    rejections = [d for d in decided if isinstance(d, ApplicationRejected)]
    reasons = Counter(r for d in rejections for r in d.reasons)
    assert reasons["sub_pool_exhausted"] > 0
    assert reasons["already_funded_in_programme"] >= 1  # Høje-Taastrup's prior award
    # Nothing that was rejected for money would still have fitted (fill-with-smaller is on).
    left = {o.region_code: o.remaining_oere for o in pool_overview(h.round).sub_pools}
    for d in rejections:
        if "sub_pool_exhausted" in d.reasons:
            assert d.applied_oere > left[d.region_code]


def test_every_municipality_asking_more_than_its_whole_region() -> None:
    amounts = sub_pool_amounts(shared_json_pool())
    region = {c: m.region_code for c, m in municipalities().items()}
    h, decided = play(lambda code: amounts[region[code]] + 1)
    awards = [d for d in decided if isinstance(d, GrantAwarded)]
    # only the two 500,000 DKK second applications can fit
    assert {a.municipality_code for a in awards} <= {"101", "751"}
    check(h, decided)
    ranks: dict[str | None, list[int]] = defaultdict(list)
    for d in decided:
        if d.rank is not None:
            ranks[d.region_code].append(d.rank)
    for places in ranks.values():
        assert sorted(places) == list(range(1, len(places) + 1))


def shared_json_pool():  # type: ignore[no-untyped-def]
    from contracts.pools import PoolDefinition
    return PoolDefinition.model_validate(shared_json("data/pools/familiehus-2022.json"))


@pytest.mark.parametrize("region,count", [("1084", 29), ("1085", 17), ("1083", 22), ("1082", 19),
                                          ("1081", 11)])
def test_sub_pools_match_the_municipality_register(region: str, count: int) -> None:
    pool = shared_json_pool()
    sub = next(s for s in pool.sub_pools if s.region_code == region)
    assert sub.municipalities == count
    assert sum(1 for m in municipalities().values() if m.region_code == region) == count
