"""R2 with issue 15: once per applicant is once per legal entity (its CVR; a municipality also
by its municipality), and the sub-pool is the register's region of the applicant.

Checked to fail without the change: keyed on the municipality code as before, the same CVR under
two municipality codes won twice, the second organisation of a municipality was rejected
``already_funded_in_programme``, and a prior award by CVR blocked nobody; with the region taken
from the municipality code instead of the register's region, the region test fails.
"""

from __future__ import annotations

from contracts.register import applicant_keys

from .builders import Harness, pool_raw, scores_summing

ORG_POOL = {"applicant_group": ["voluntary_organisation"]}
ORG_A, ORG_B = "31101018", "31101107"  # two organisations located in Copenhagen (101)
KBH = "29101000"


def scored(h: Harness, ref: str, municipality: str, applied: int, total: int, **kw) -> None:  # type: ignore[no-untyped-def]
    h.submit(ref, municipality, applied, **kw)
    h.score(ref, "assessor-a", scores_summing(total, first=5))


def decision(h: Harness, ref: str) -> tuple[str, tuple[str, ...]]:
    d = h.decision(ref)
    assert d is not None
    return d.outcome, d.reasons


def test_the_keys_of_an_applicant() -> None:
    assert applicant_keys(KBH, "municipality", "101") == {f"cvr:{KBH}", "municipality:101"}
    assert applicant_keys(ORG_A, "voluntary_organisation", "101") == {f"cvr:{ORG_A}"}
    assert applicant_keys(None, None, "101") == {"municipality:101"}  # a municipality's prior
    assert applicant_keys(ORG_A, None, "101") == {f"cvr:{ORG_A}"}  # an unregistered CVR


def test_the_same_cvr_under_two_municipality_codes_wins_at_most_once() -> None:
    # Two versions of one entity's identity (e.g. admitted unregistered, or a register change
    # between its submissions): the CVR is the applicant.
    h = Harness(pool_raw(applicant_group=["municipality", "voluntary_organisation"]))
    scored(h, "AS_101", "101", 10_000_000, 24, cvr=ORG_A, kind="voluntary_organisation")
    scored(h, "AS_147", "147", 10_000_000, 20, cvr=ORG_A, kind="voluntary_organisation")
    h.allocate()
    assert decision(h, "AS_101") == ("awarded", ())
    assert decision(h, "AS_147") == ("rejected", ("already_funded_in_programme",))


def test_two_organisations_of_one_municipality_both_win_where_money_allows() -> None:
    h = Harness(pool_raw(**ORG_POOL))
    scored(h, "A", "101", 10_000_000, 24, cvr=ORG_A, kind="voluntary_organisation")
    scored(h, "B", "101", 10_000_000, 20, cvr=ORG_B, kind="voluntary_organisation")
    h.allocate()
    assert decision(h, "A") == ("awarded", ()) and decision(h, "B") == ("awarded", ())


def test_a_municipalitys_prior_award_does_not_block_an_organisation_located_there() -> None:
    h = Harness(pool_raw(**ORG_POOL))
    h.import_prior("101")  # the municipality's own award, named by its code
    scored(h, "A", "101", 10_000_000, 24, cvr=ORG_A, kind="voluntary_organisation")
    h.allocate()
    assert decision(h, "A") == ("awarded", ())


def test_a_prior_award_by_cvr_blocks_that_entity_only() -> None:
    h = Harness(pool_raw(**ORG_POOL))
    h.import_prior("101", cvr=ORG_A, kind="voluntary_organisation")
    scored(h, "A", "101", 10_000_000, 24, cvr=ORG_A, kind="voluntary_organisation")
    scored(h, "B", "101", 10_000_000, 20, cvr=ORG_B, kind="voluntary_organisation")
    h.allocate()
    assert decision(h, "A") == ("rejected", ("already_funded_in_programme",))
    assert decision(h, "B") == ("awarded", ())


def test_a_municipality_is_one_applicant_whatever_cvr_a_record_names_it_by() -> None:
    h = Harness()
    h.import_prior("101")  # by municipality: the award of Copenhagen municipality
    scored(h, "KBH", "101", 10_000_000, 24, cvr="27998194")  # another record of it
    h.allocate()
    assert decision(h, "KBH") == ("rejected", ("already_funded_in_programme",))


def test_the_sub_pool_is_the_registers_region() -> None:
    # The register places the applicant in Midtjylland (1082), whatever its code's region says.
    h = Harness()
    scored(h, "MOVED", "101", 10_000_000, 24, region_code="1082")
    plan = h.plan()
    assert [r.region_code for r in plan.recommendations] == ["1082"]


def test_the_gate_names_the_region_when_it_is_in_no_sub_pool() -> None:
    h = Harness()
    h.submit("SYD", "461", 10_000_000)  # Odense: Syddanmark, not in the example pool
    assert h.round.file(h.round.files()[0].application_id).eligibility.reasons == [  # type: ignore[union-attr]
        "region_not_in_pool"]
