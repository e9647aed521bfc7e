"""The report an auditor files: counts and totals per pool and sub-pool from the rebuilt
applications, nothing that depends on when it ran, every value escaped in the HTML.

Checked to fail: ``pools`` adding awards of rejected applications (the ``decision`` check
removed) miscounts the sub-pool; the template rendered with autoescape off lets the event
type's markup through.
"""

from __future__ import annotations

from audit import report

RESULT = {
    "events": 12, "duplicates": 1, "counts": {"GrantAwarded": 2, "ApplicationRejected": 1},
    "totals": {"applications": 4, "awards": 2, "awarded_oere": 300},
    "pools": {"p1": {"programme": "fam", "version": 1, "total_oere": 1000,
                     "sub_pools": {"1084": {"amount_oere": 600}, "1085": {"amount_oere": 400}}}},
    "applications": {
        "a": {"pool_id": "p1", "region_code": "1084", "decision": "awarded", "award_oere": 100,
              "instructed_oere": 100, "paid_oere": 50, "spent_oere": 40, "repayment_oere": 10},
        "b": {"pool_id": "p1", "region_code": "1084", "decision": "rejected", "award_oere": 0},
        "c": {"pool_id": "p1", "region_code": "1085", "decision": "awarded", "award_oere": 200},
        "s": {"pool_id": None, "decision": "none"},  # refused before it had a pool
    },
}


def build(**changes: object) -> dict:
    args = {"result": RESULT, "digest": "sha256:abc", "violations": [],
            "checkpoints": {"services": {}, "inbound_unsigned": {}, "violations": []},
            "source": {"read_from": "bundle"}, **changes}
    return report.build(**args)  # type: ignore[arg-type]


def test_counts_and_totals_per_pool_and_sub_pool() -> None:
    filed = build()
    (pool,) = filed["pools"]
    assert (pool["applications"], pool["awards"], pool["awarded_oere"], pool["paid_oere"]) == (
        3, 2, 300, 50)
    subs = {s["region_code"]: s for s in pool["sub_pools"]}
    assert (subs["1084"]["applications"], subs["1084"]["awards"],
            subs["1084"]["awarded_oere"], subs["1084"]["amount_oere"]) == (2, 1, 100, 600)
    assert subs["1085"]["awarded_oere"] == 200
    assert filed["totals"]["refused_without_pool"] == 1
    assert filed["verdict"] == "verified"
    assert report.to_json(filed) == report.to_json(build())  # the same log, the same report


def test_the_html_names_violations_and_escapes_everything() -> None:
    violation = {"invariant": "event_altered", "rule": "R23", "service": "intake",
                 "topic": "grants.intake.applications.v1", "partition": 1, "offset": 7,
                 "leaf_index": 3, "event_id": "e-1", "event_type": "<script>x</script>",
                 "message": "leaf 3 differs", "count": 2}
    html = report.render_html(build(violations=[violation]))
    assert "VIOLATIONS (1)" in html and "leaf 3 differs (2 in all)" in html
    assert "<script>x</script>" not in html and "&lt;script&gt;" in html
    assert "offset 7" in html and "leaf 3" in html
    assert "1.00" in html  # øre shown as DKK: 100 øre = 1.00
    assert "Not verified: no public keys" in report.render_html(build(checkpoints=None))
