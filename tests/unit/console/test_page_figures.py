"""The figures pages compute from the services' answers: budget changes against the baseline,
the programme's tables and CSV, sub-pool rows, allocation groups."""

from __future__ import annotations

from console.allocation_pages import by_sub_pool
from console.grant_pages import budget_rows
from console.pool_pages import programme_csv, programme_rows, sub_pool_rows, totals


def test_each_budget_version_is_compared_with_the_latest_approved_before_it() -> None:
    grant = {"budget_lines": [{"post": "staff", "amount_oere": 800}, {"post": "other",
                                                                       "amount_oere": 200}],
             "budgets": [
                 {"version": 1, "status": "approved",
                  "months": {"2027-01": {"staff": 400, "other": 100},
                             "2027-02": {"staff": 400, "other": 100}}},
                 {"version": 2, "status": "rejected",
                  "months": {"2027-01": {"staff": 300, "travel": 300}}},
                 {"version": 3, "status": "pending_approval",
                  "months": {"2027-01": {"staff": 650, "other": 350}}}]}
    rows = budget_rows(grant)
    first = {c["post"]: c for c in rows[0]["changes"]}
    assert first["staff"]["change_oere"] == 0 and first["other"]["change_oere"] == 0
    second = {c["post"]: c for c in rows[1]["changes"]}
    assert second["travel"]["new"] and second["travel"]["change_oere"] == 300
    assert second["other"]["amount_oere"] == 0 and second["other"]["change_oere"] == -200
    third = {c["post"]: c for c in rows[2]["changes"]}  # the rejected one is no baseline
    assert third["staff"]["baseline_oere"] == 800 and third["staff"]["change_oere"] == -150
    assert third["other"]["change_oere"] == 150 and "travel" not in third


def test_programme_rows_count_per_pool_and_applicant_kind_and_export_as_csv() -> None:
    def app(kind: str, status: str, applied: int, awarded: int = 0) -> dict[str, object]:
        return {"applicant": {"kind": kind}, "status": status, "applied_oere": applied,
                "awarded_oere": awarded}

    pools = [{"pool_id": "r1", "title": "Runde 1"}, {"pool_id": "r2", "title": "Runde 2"}]
    rows = programme_rows(pools, {
        "r1": [app("municipality", "awarded", 100_00, 100_00),
               app("municipality", "rejected", 50_00),
               app("voluntary_organisation", "awarded", 30_00, 30_00)],
        "r2": [app("municipality", "scored", 70_00)]})
    assert [(r["pool_id"], r["kind"], r["applications"], r["awards"]) for r in rows] == [
        ("r1", "municipality", 2, 1), ("r1", "voluntary_organisation", 1, 1),
        ("r2", "municipality", 1, 0)]
    assert programme_csv(rows).splitlines() == [
        "pool_id,title,applicant_kind,applications,awards,applied_dkk,awarded_dkk",
        "r1,Runde 1,municipality,2,1,150.00,100.00",
        "r1,Runde 1,voluntary_organisation,1,1,30.00,30.00",
        "r2,Runde 2,municipality,1,0,70.00,0.00"]


def test_a_pool_without_sub_pools_takes_reportings_pool_total() -> None:
    rows = sub_pool_rows(
        {"sub_pools": [{"region_code": None, "region": "Hele puljen", "amount_oere": 1000,
                        "awarded_oere": 600, "remaining_oere": 400, "awards": 2,
                        "applications": {"awarded": ["a", "b"], "rejected": ["c"]}}]},
        {"total": {"accepted_oere": 600, "paid_oere": 300, "repaid_oere": 10},
         "sub_pools": {}})
    assert rows[0]["paid_oere"] == 300 and rows[0]["applications"] == 3
    assert totals(rows)["remaining_oere"] == 400


def test_allocation_groups_keep_every_sub_pool_in_the_pools_order() -> None:
    plan = {"regions": {"1084": "Hovedstaden", "1081": "Nordjylland"}, "recommendations": [
        {"region_code": "1084", "sub_pool_amount_oere": 500, "amount_oere": 300,
         "application_id": "a"},
        {"region_code": "1084", "sub_pool_amount_oere": 500, "amount_oere": 0,
         "application_id": "b"}]}
    groups = by_sub_pool(plan)
    assert [g["region"] for g in groups] == ["Hovedstaden", "Nordjylland"]
    assert groups[0]["awarded_oere"] == 300 and groups[0]["amount_oere"] == 500
    assert groups[1]["recommendations"] == [] and groups[1]["amount_oere"] is None
