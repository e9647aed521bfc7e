"""Small scenarios, each showing one group of rules, with the outcomes the rules demand.

``python -m grants.scenario.rule_scenarios`` (re)writes ``grants/scenarios/rule-*.json`` and their
``.expected.json`` files; the end-to-end tests play them. Expected values come from the rules in
DESIGN.md §3, not from what the services happened to do.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from grants.scenario.demo import _valid_cvr, cvr_for

OUT = Path(__file__).resolve().parents[1] / "scenarios"
TARGET = "vulnerable parents of children aged 0-6 and expectant parents"
PURPOSE = "establish a family house as one entry to early support"


def pool(pool_id: str, deadline: str = "2025-05-15T12:00:00", **extra: Any) -> dict[str, Any]:
    return {
        "pool_id": pool_id, "title": f"Rule scenario {pool_id}", "programme": pool_id,
        "total_dkk": 3000000, "applicant_group": ["municipality"],
        "once_per_applicant_in_programme": True, "deadline_local": deadline,
        "timezone": "Europe/Copenhagen", "late_contact_window_hours": 48,
        "project_period": {"start": "2025-07-01", "end": "2025-12-31",
                           "delayed_start_allowed": True},
        "target_group": TARGET,
        "sub_pools": [
            {"region_code": "1084", "region": "Hovedstaden", "municipalities": 29,
             "amount_dkk": 2000000},
            {"region_code": "1082", "region": "Midtjylland", "municipalities": 19,
             "amount_dkk": 1000000},
        ],
        "criteria": [{"id": i, "name": f"criterion {i}", "minimum_requirement": i == 1}
                     for i in range(1, 6)],
        **extra,
    }


def budget(total_dkk: int) -> dict[str, Any]:
    total = total_dkk * 100
    hours = (total * 8 // 10) // 50_000
    salary = hours * 50_000
    return {"lines": [
        {"post": "project staff", "category": "salary", "rate_oere": 50_000, "quantity": hours,
         "amount_oere": salary},
        {"post": "materials and meetings", "category": "other", "amount_oere": total - salary},
    ], "total_oere": total}


def submit(at: str, ref: str, code: str, name: str, total_dkk: int, **extra: Any
           ) -> dict[str, Any]:
    return {"at": at, "type": "submit", "ref": ref,
            "applicant": {"cvr": cvr_for(code), "municipality_code": code, "name": name},
            "purpose": PURPOSE, "target_group": TARGET, "budget": budget(total_dkk), **extra}


def score(at: str, ref: str, assessor: str, points: int, **extra: Any) -> dict[str, Any]:
    return {"at": at, "type": "score", "ref": ref, "assessor": assessor,
            "scores": {str(i): points for i in range(1, 6)},
            "justification": "assessed against the criteria table", **extra}


def months(per_month: dict[str, int], first: str = "2025-07", last: str = "2025-12"
           ) -> dict[str, dict[str, int]]:
    y, m = map(int, first.split("-"))
    out = {}
    while f"{y:04d}-{m:02d}" <= last:
        out[f"{y:04d}-{m:02d}"] = dict(per_month)
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def scenario(name: str, the_pool: dict[str, Any], actions: list[dict[str, Any]],
             prior: list[dict[str, str]] | None = None,
             organisations: list[dict[str, str]] | None = None) -> dict[str, Any]:
    out = {"format": "grants-scenario/1", "name": name, "pool": the_pool,
           "prior_awards": prior or [], "actions": actions}
    if organisations is not None:
        out["organisations"] = organisations
    return out


def municipality(code: str, name: str) -> dict[str, str]:
    return {"cvr": cvr_for(code), "name": name, "kind": "municipality", "municipality_code": code}


def organisation(cvr: str, name: str, code: str) -> dict[str, str]:
    return {"cvr": cvr, "name": name, "kind": "voluntary_organisation", "municipality_code": code}


def claiming(action: dict[str, Any], **applicant: str) -> dict[str, Any]:
    """``action`` with its ``applicant`` keys claiming other values."""
    return {**action, "applicant": {**action["applicant"], **applicant}}


def deadline_edges() -> tuple[dict[str, Any], dict[str, Any]]:
    """R5 at a deadline in the week DST starts (30 March 2025): 12:00 CEST is 10:00 UTC."""
    actions = [
        submit("2025-03-31T11:59:59.999+02:00", "MS_BEFORE", "101", "København Kommune", 500000),
        submit("2025-03-31T12:00:00+02:00", "AT_DEADLINE", "147", "Frederiksberg Kommune", 500000),
        submit("2025-03-31T10:00:00.001+00:00", "MS_AFTER", "151", "Ballerup Kommune", 500000),
        # an old (winter-time) offset: 11:00:30+01:00 is 12:00:30 local summer time: late
        submit("2025-03-31T11:00:30+01:00", "WINTER_OFFSET", "153", "Brøndby Kommune", 500000),
    ]
    expected = {
        "MS_BEFORE": {"intake": "on_time"}, "AT_DEADLINE": {"intake": "on_time"},
        "MS_AFTER": {"intake": "late_rejected", "intake_reasons": ["deadline_passed"],
                     "decision": "none"},
        "WINTER_OFFSET": {"intake": "late_rejected", "intake_reasons": ["deadline_passed"]},
    }
    return scenario("rule R5: deadline edges in the DST-change week",
                    pool("rule-deadline", "2025-03-31T12:00:00"), actions), expected


def it_exceptions() -> tuple[dict[str, Any], dict[str, Any]]:
    """R6–R8: contacts before and after the deadline, the 48 h limit, the caseworker decides."""
    d = "2025-05-15"
    actions = [
        {"at": f"{d}T11:00:00+02:00", "type": "it_problem_contact", "ref": "BEFORE_OK",
         "documentation": True, "attempted_before_deadline": True, "screenshot_at": None},
        {"at": f"{d}T11:30:00+02:00", "type": "it_problem_contact", "ref": "BEFORE_NO_DOCS",
         "documentation": False, "attempted_before_deadline": False, "screenshot_at": None},
        submit(f"{d}T12:05:00+02:00", "AFTER_OK", "751", "Aarhus Kommune", 500000),
        submit(f"{d}T12:10:00+02:00", "NO_SCREENSHOT", "730", "Randers Kommune", 500000),
        submit(f"{d}T12:15:00+02:00", "CW_REFUSES", "740", "Silkeborg Kommune", 500000),
        submit(f"{d}T12:20:00+02:00", "AT_48H", "746", "Skanderborg Kommune", 500000),
        submit(f"{d}T12:30:00+02:00", "BEFORE_OK", "157", "Gentofte Kommune", 500000),
        {"at": f"{d}T13:00:00+02:00", "type": "it_problem_contact", "ref": "AFTER_OK",
         "documentation": True, "attempted_before_deadline": True,
         "screenshot_at": f"{d}T11:58:00+02:00"},
        {"at": f"{d}T13:30:00+02:00", "type": "it_problem_contact", "ref": "NO_SCREENSHOT",
         "documentation": True, "attempted_before_deadline": True, "screenshot_at": None},
        {"at": f"{d}T14:00:00+02:00", "type": "it_problem_contact", "ref": "CW_REFUSES",
         "documentation": True, "attempted_before_deadline": True,
         "screenshot_at": f"{d}T11:50:00+02:00"},
        {"at": "2025-05-16T09:00:00+02:00", "type": "exception_decision", "ref": "BEFORE_OK",
         "approve": True, "by": "caseworker-a"},
        {"at": "2025-05-16T09:05:00+02:00", "type": "exception_decision", "ref": "AFTER_OK",
         "approve": True, "by": "caseworker-a"},
        {"at": "2025-05-16T09:10:00+02:00", "type": "exception_decision", "ref": "CW_REFUSES",
         "approve": False, "by": "caseworker-a"},
        {"at": "2025-05-17T12:00:00+02:00", "type": "it_problem_contact", "ref": "AT_48H",
         "documentation": True, "attempted_before_deadline": True,
         "screenshot_at": f"{d}T11:59:00+02:00"},
        {"at": "2025-05-17T12:00:01+02:00", "type": "it_problem_contact", "ref": "OVER_48H",
         "documentation": True, "attempted_before_deadline": True,
         "screenshot_at": f"{d}T11:59:00+02:00"},
        {"at": "2025-05-17T13:00:00+02:00", "type": "exception_decision", "ref": "AT_48H",
         "approve": True, "by": "caseworker-b"},
    ]
    expected = {
        "BEFORE_OK": {"intake": "exception_granted"},
        "BEFORE_NO_DOCS": {"intake": "exception_refused",
                           "intake_reasons": ["documentation_missing"]},
        "AFTER_OK": {"intake": "exception_granted"},
        "NO_SCREENSHOT": {"intake": "exception_refused"},
        "CW_REFUSES": {"intake": "exception_refused"},
        "AT_48H": {"intake": "exception_granted"},
        "OVER_48H": {"intake": "exception_refused", "intake_reasons": ["contact_after_48h"]},
    }
    return scenario("rules R6–R8: IT-problem exceptions", pool("rule-exceptions"), actions), expected


def invalid_submissions() -> tuple[dict[str, Any], dict[str, Any]]:
    """R3/R4: invalid budgets and CVRs, and a submitter from another organisation."""
    d = "2025-05-10"
    mismatch = submit(f"{d}T09:00:00+02:00", "TOTAL_MISMATCH", "101", "København Kommune", 500000)
    mismatch["budget"]["total_oere"] += 1
    bad_cvr = submit(f"{d}T09:10:00+02:00", "BAD_CVR", "147", "Frederiksberg Kommune", 500000)
    bad_cvr["applicant"]["cvr"] = "12345678"
    salary = submit(f"{d}T09:20:00+02:00", "SALARY_MISMATCH", "151", "Ballerup Kommune", 500000)
    salary["budget"]["lines"][0]["quantity"] += 1
    other_org = submit(f"{d}T09:30:00+02:00", "OTHER_ORG", "153", "Brøndby Kommune", 500000,
                       submitter={"cvr": cvr_for("155")})
    ok = submit(f"{d}T09:40:00+02:00", "VALID", "155", "Dragør Kommune", 500000)
    expected = {
        "TOTAL_MISMATCH": {"intake": "invalid", "intake_reasons": ["budget_total_mismatch"]},
        "BAD_CVR": {"intake": "invalid", "intake_reasons": ["cvr_invalid"]},
        "SALARY_MISMATCH": {"intake": "invalid", "intake_reasons": ["salary_amount_mismatch"]},
        "OTHER_ORG": {"intake": "invalid", "intake_reasons": ["cvr_mismatch"]},
        "VALID": {"intake": "on_time"},
    }
    return scenario("rules R3–R4: invalid submissions", pool("rule-invalid"),
                    [mismatch, bad_cvr, salary, other_org, ok]), expected


def eligibility_and_once() -> tuple[dict[str, Any], dict[str, Any]]:
    """R2, R10, R12: prior funding, two applications from one municipality, a wrong target
    group, ranking inside sub-pools with smaller ones still fitting."""
    d = "2025-05-12"
    wrong_target = submit(f"{d}T09:30:00+02:00", "WRONG_TARGET", "161", "Glostrup Kommune", 400000)
    wrong_target["target_group"] = "older citizens living alone"
    actions = [
        submit(f"{d}T09:00:00+02:00", "KBH_A", "101", "København Kommune", 1200000),
        submit(f"{d}T09:05:00+02:00", "KBH_B", "101", "København Kommune", 300000),
        submit(f"{d}T09:10:00+02:00", "GENTOFTE", "157", "Gentofte Kommune", 400000),
        submit(f"{d}T09:15:00+02:00", "BALLERUP", "151", "Ballerup Kommune", 900000),
        submit(f"{d}T09:20:00+02:00", "DRAGOER", "155", "Dragør Kommune", 600000),
        wrong_target,
        submit(f"{d}T09:40:00+02:00", "AARHUS", "751", "Aarhus Kommune", 1000000),
        submit(f"{d}T09:45:00+02:00", "RANDERS", "730", "Randers Kommune", 100000),
        score("2025-05-20T10:00:00+02:00", "KBH_A", "assessor-a", 5),
        score("2025-05-20T10:01:00+02:00", "KBH_B", "assessor-a", 4),
        score("2025-05-20T10:02:00+02:00", "GENTOFTE", "assessor-a", 5),
        score("2025-05-20T10:03:00+02:00", "BALLERUP", "assessor-a", 3),
        score("2025-05-20T10:04:00+02:00", "DRAGOER", "assessor-a", 2),
        score("2025-05-20T10:05:00+02:00", "WRONG_TARGET", "assessor-a", 5),
        score("2025-05-20T10:06:00+02:00", "AARHUS", "assessor-a", 4),
        score("2025-05-20T10:07:00+02:00", "RANDERS", "assessor-a", 3),
        {"at": "2025-06-01T10:00:00+02:00", "type": "allocate", "approver": "approver-x"},
    ]
    # Hovedstaden 2,000,000: GENTOFTE is already funded; KBH_A (25) 1.2M fits, 0.8M left;
    # KBH_B (20) is the same municipality; BALLERUP (15) 0.9M does not fit; DRAGOER (10) 0.6M fits.
    # Midtjylland 1,000,000: AARHUS (20) 1.0M fits exactly; RANDERS (15) 0.1M no longer fits.
    expected = {
        "GENTOFTE": {"decision": "rejected", "decision_reasons": ["already_funded_in_programme"]},
        "KBH_A": {"decision": "awarded", "award_oere": 120000000, "rank": 1, "score": 25},
        "KBH_B": {"decision": "rejected", "decision_reasons": ["already_funded_in_programme"]},
        "BALLERUP": {"decision": "rejected", "decision_reasons": ["sub_pool_exhausted"]},
        "DRAGOER": {"decision": "awarded", "award_oere": 60000000},
        "WRONG_TARGET": {"eligible": False, "eligibility_reasons": ["target_group_not_eligible"],
                         "decision": "rejected", "decision_reasons": ["target_group_not_eligible"]},
        "AARHUS": {"decision": "awarded", "award_oere": 100000000, "rank": 1},
        "RANDERS": {"decision": "rejected", "decision_reasons": ["sub_pool_exhausted"]},
        "sub_pools": {"1084": {"amount_oere": 200000000, "awarded_oere": 180000000, "awards": 2},
                      "1082": {"amount_oere": 100000000, "awarded_oere": 100000000, "awards": 1}},
    }
    prior = [{"programme": "rule-eligibility", "municipality_code": "157",
              "pool_id": "rule-eligibility-2023"}]
    return scenario("rules R2, R10, R12: eligibility, once per applicant, sub-pools",
                    pool("rule-eligibility"), actions, prior), expected


def budgets_payments_repayment() -> tuple[dict[str, Any], dict[str, Any]]:
    """R14–R17, R20–R22: the revised budget one øre over, quarterly payments in advance, a failed
    payment, repayment claimed at 500 DKK and waived just under it."""
    d = "2025-05-12"
    names = {"EXACT": ("101", "København Kommune"), "OVER": ("147", "Frederiksberg Kommune"),
             "WAIVED": ("151", "Ballerup Kommune"), "FAILED": ("751", "Aarhus Kommune"),
             "LATE_ACCEPT": ("153", "Brøndby Kommune")}
    actions: list[dict[str, Any]] = []
    for i, (ref, (code, name)) in enumerate(names.items()):
        actions.append(submit(f"{d}T09:0{i}:00+02:00", ref, code, name, 300000))
    for i, ref in enumerate(names):
        actions.append(score(f"2025-05-20T10:0{i}:00+02:00", ref, "assessor-a", 4))
    actions.append({"at": "2025-06-01T10:00:00+02:00", "type": "allocate",
                    "approver": "approver-x"})
    for i, ref in enumerate(["EXACT", "OVER", "WAIVED", "FAILED"]):
        actions.append({"at": f"2025-06-02T10:0{i}:00+02:00", "type": "accept_award", "ref": ref})
    # 300,000 DKK = 30,000,000 øre over 6 months: 4,000,000 staff + 1,000,000 other per month
    per_month = {"project staff": 4000000, "materials and meetings": 1000000}
    for i, ref in enumerate(["EXACT", "OVER", "WAIVED", "FAILED"]):
        plan = months(per_month)
        if ref == "OVER":
            plan["2025-12"]["materials and meetings"] += 1
        actions.append({"at": f"2025-06-10T10:0{i}:00+02:00", "type": "revised_budget",
                        "ref": ref, "months": plan})
    # accepting after the 30-day acceptance deadline (decision 1 June → 1 July 23:59:59)
    actions.append({"at": "2025-07-02T09:00:00+02:00", "type": "accept_award",
                    "ref": "LATE_ACCEPT"})
    # the Q3 instruction (due 1 July) is made by the run on 3 July, after the late acceptance
    for q, run in enumerate(["2025-07-03", "2025-10-01"]):
        actions.append({"at": f"{run}T09:00:00+02:00", "type": "run_payments", "through": run})
        for i, ref in enumerate(["EXACT", "WAIVED", "FAILED"]):
            actions.append({"at": f"{run}T1{i}:00:00+02:00", "type": "finance_result",
                            "ref": ref, "executed": not (ref == "FAILED" and q == 1)})
    actions += [
        {"at": "2026-02-20T10:00:00+01:00", "type": "final_report", "ref": "EXACT",
         "accounts": {"project staff": 24000000, "materials and meetings": 5950000},
         "audit_statement": "RS-EXACT"},
        {"at": "2026-02-20T10:05:00+01:00", "type": "final_report", "ref": "WAIVED",
         "accounts": {"project staff": 24000000, "materials and meetings": 5950001},
         "audit_statement": "RS-WAIVED"},
        {"at": "2026-02-20T10:10:00+01:00", "type": "final_report", "ref": "FAILED",
         "accounts": {"project staff": 12000000, "materials and meetings": 3000000},
         "audit_statement": "RS-FAILED"},
        {"at": "2026-03-01T10:00:00+01:00", "type": "audit_replay"},
    ]
    expected = {
        "EXACT": {"decision": "awarded", "award_oere": 30000000, "revised_budget": "approved",
                  "paid_oere": 30000000, "repayment_oere": 50000},
        "OVER": {"decision": "awarded", "revised_budget": "rejected",
                 "revised_budget_reasons": ["exceeds_award"], "paid_oere": 0},
        "WAIVED": {"revised_budget": "approved", "paid_oere": 30000000, "repayment_oere": 0},
        "FAILED": {"revised_budget": "approved", "paid_oere": 15000000, "repayment_oere": 0},
        "LATE_ACCEPT": {"decision": "awarded", "paid_oere": 0},
        "audit": {"verified": True},
    }
    return scenario("rules R14–R22: budgets, payments, repayment", pool("rule-payments"),
                    actions), expected


def register_municipalities() -> tuple[dict[str, Any], dict[str, Any]]:
    """R2, R4 (issue 15): the register the round runs with decides who applies; typed claims that
    contradict it are refused, an unknown CVR too; one CVR wins at most once."""
    d = "2025-05-12"
    register = [municipality("101", "København Kommune"), municipality("147",
                "Frederiksberg Kommune"), municipality("157", "Gentofte Kommune"),
                municipality("751", "Aarhus Kommune"), municipality("730", "Randers Kommune")]
    kbh = submit(f"{d}T09:00:00+02:00", "KBH", "101", "København Kommune", 1000000)
    actions = [
        kbh,
        # the same CVR under another municipality code: refused (it would be a second award)
        claiming(submit(f"{d}T09:05:00+02:00", "KBH_AS_147", "101", "København Kommune",
                        300000), municipality_code="147"),
        # a typed region that is not the register's
        claiming(submit(f"{d}T09:10:00+02:00", "FRB_WRONG_REGION", "147",
                        "Frederiksberg Kommune", 300000), region_code="1082"),
        claiming(submit(f"{d}T09:15:00+02:00", "UNREGISTERED", "157", "Ukendt Kommune", 300000),
                 cvr=_valid_cvr(39_999_000)),
        # the same CVR again, with its own code: competes, but one entity wins once
        submit(f"{d}T09:20:00+02:00", "KBH_SECOND", "101", "København Kommune", 300000),
        claiming(submit(f"{d}T09:25:00+02:00", "GENTOFTE", "157", "Gentofte Kommune", 400000),
                 kind="municipality", region_code="1084"),
        submit(f"{d}T09:30:00+02:00", "AARHUS", "751", "Aarhus Kommune", 500000),
        submit(f"{d}T09:35:00+02:00", "RANDERS", "730", "Randers Kommune", 500000),
        score("2025-05-20T10:00:00+02:00", "KBH", "assessor-a", 5),
        score("2025-05-20T10:01:00+02:00", "KBH_SECOND", "assessor-a", 4),
        score("2025-05-20T10:02:00+02:00", "GENTOFTE", "assessor-a", 3),
        score("2025-05-20T10:03:00+02:00", "AARHUS", "assessor-a", 5),
        score("2025-05-20T10:04:00+02:00", "RANDERS", "assessor-a", 4),
        {"at": "2025-06-01T10:00:00+02:00", "type": "allocate", "approver": "approver-x"},
        {"at": "2025-06-02T10:00:00+02:00", "type": "audit_replay"},
    ]
    # Hovedstaden 2,000,000: KBH (25) 1.0M; KBH_SECOND (20) is KBH again; GENTOFTE (15) 0.4M.
    # Midtjylland 1,000,000: AARHUS is funded by its prior award (by CVR); RANDERS 0.5M fits.
    mismatch = {"intake": "invalid", "intake_reasons": ["applicant_register_mismatch"],
                "decision": "none"}
    expected = {
        "KBH": {"intake": "on_time", "decision": "awarded", "award_oere": 100000000, "rank": 1},
        "KBH_AS_147": mismatch, "FRB_WRONG_REGION": mismatch,
        "UNREGISTERED": {"intake": "invalid", "intake_reasons": ["applicant_unknown"]},
        "KBH_SECOND": {"decision": "rejected", "decision_reasons": [
            "already_funded_in_programme"], "rank": 2},
        "GENTOFTE": {"intake": "on_time", "decision": "awarded", "award_oere": 40000000},
        "AARHUS": {"eligible": False, "eligibility_reasons": ["already_funded_in_programme"],
                   "decision": "rejected"},
        "RANDERS": {"decision": "awarded", "award_oere": 50000000},
        "sub_pools": {"1084": {"amount_oere": 200000000, "awarded_oere": 140000000, "awards": 2},
                      "1082": {"amount_oere": 100000000, "awarded_oere": 50000000, "awards": 1}},
        "audit": {"verified": True},
    }
    prior = [{"programme": "rule-register", "municipality_code": "751", "cvr": cvr_for("751"),
              "pool_id": "rule-register-2023"}]
    return scenario("issue 15: the organisation register decides who applies",
                    pool("rule-register"), actions, prior, register), expected


ORG_A, ORG_B = _valid_cvr(31_101_000), _valid_cvr(31_101_100)  # both in København (101)
ORG_C, ORG_D, ORG_E = _valid_cvr(31_751_000), _valid_cvr(31_147_000), _valid_cvr(31_730_000)


def register_organisations() -> tuple[dict[str, Any], dict[str, Any]]:
    """R2 (issue 15) in a pool for voluntary organisations: two organisations of one
    municipality are two applicants; one organisation's applications: only the better-ranked can
    win; prior awards by CVR, and the municipality's own prior award blocks no organisation."""
    d = "2025-05-12"
    register = [municipality("101", "København Kommune"),
                organisation(ORG_A, "Foreningen Familiehuset København", "101"),
                organisation(ORG_B, "Forældrenetværket Nørrebro", "101"),
                organisation(ORG_C, "Frivilligcenter Aarhus", "751"),
                organisation(ORG_D, "Familiecafeen Frederiksberg", "147"),
                organisation(ORG_E, "Randers Familieforening", "730")]

    def org(at: str, ref: str, cvr: str, code: str, name: str, total: int) -> dict[str, Any]:
        return claiming(submit(at, ref, code, name, total), cvr=cvr,
                        kind="voluntary_organisation")

    actions = [
        org(f"{d}T09:00:00+02:00", "ORG_A", ORG_A, "101", "Foreningen Familiehuset", 800000),
        org(f"{d}T09:05:00+02:00", "ORG_B", ORG_B, "101", "Forældrenetværket", 700000),
        submit(f"{d}T09:10:00+02:00", "KBH_MUNICIPALITY", "101", "København Kommune", 100000),
        org(f"{d}T09:15:00+02:00", "ORG_D", ORG_D, "147", "Familiecafeen", 100000),
        org(f"{d}T09:20:00+02:00", "ORG_C_BIG", ORG_C, "751", "Frivilligcenter Aarhus", 1200000),
        org(f"{d}T09:25:00+02:00", "ORG_C_SMALL", ORG_C, "751", "Frivilligcenter Aarhus", 200000),
        org(f"{d}T09:30:00+02:00", "ORG_E", ORG_E, "730", "Randers Familieforening", 300000),
    ]
    for i, (ref, points) in enumerate((("ORG_A", 5), ("ORG_B", 4), ("KBH_MUNICIPALITY", 5),
                                       ("ORG_D", 5), ("ORG_C_BIG", 5), ("ORG_C_SMALL", 4),
                                       ("ORG_E", 2))):
        actions.append(score(f"2025-05-20T10:0{i}:00+02:00", ref, "assessor-a", points))
    actions += [{"at": "2025-06-01T10:00:00+02:00", "type": "allocate", "approver": "approver-x"},
                {"at": "2025-06-02T10:00:00+02:00", "type": "audit_replay"}]
    # Hovedstaden 2,000,000: ORG_A 0.8M and ORG_B 0.7M, both located in 101, both win.
    # Midtjylland 1,000,000: ORG_C_BIG 1.2M does not fit; ORG_C_SMALL is ORG_C again, and only
    # its better-ranked application can win; the money goes on to ORG_E.
    expected = {
        "ORG_A": {"decision": "awarded", "award_oere": 80000000},
        "ORG_B": {"decision": "awarded", "award_oere": 70000000},
        # not an organisation, and the municipality's own prior award counts for it
        "KBH_MUNICIPALITY": {"decision": "rejected", "decision_reasons": [
            "applicant_group_not_eligible", "already_funded_in_programme"]},
        "ORG_D": {"decision": "rejected", "decision_reasons": ["already_funded_in_programme"]},
        "ORG_C_BIG": {"decision": "rejected", "decision_reasons": ["sub_pool_exhausted"],
                      "rank": 1},
        "ORG_C_SMALL": {"decision": "rejected",
                        "decision_reasons": ["applicant_has_better_application"], "rank": 2},
        "ORG_E": {"decision": "awarded", "award_oere": 30000000, "rank": 3},
        "sub_pools": {"1084": {"amount_oere": 200000000, "awarded_oere": 150000000, "awards": 2},
                      "1082": {"amount_oere": 100000000, "awarded_oere": 30000000, "awards": 1}},
        "audit": {"verified": True},
    }
    prior = [{"programme": "rule-register-orgs", "municipality_code": "101",
              "pool_id": "rule-register-orgs-2023"},
             {"programme": "rule-register-orgs", "municipality_code": "147", "cvr": ORG_D,
              "pool_id": "rule-register-orgs-2023"}]
    the_pool = pool("rule-register-orgs", applicant_group=["voluntary_organisation"])
    return scenario("issue 15: organisations, once per legal entity", the_pool, actions, prior,
                    register), expected


def register_once_off() -> tuple[dict[str, Any], dict[str, Any]]:
    """R2, R23 (issue 15): a pool without once per applicant lets one CVR win twice, and the
    auditors' replay accepts it."""
    d = "2025-05-12"
    actions = [
        submit(f"{d}T09:00:00+02:00", "KBH_A", "101", "København Kommune", 800000),
        submit(f"{d}T09:05:00+02:00", "KBH_B", "101", "København Kommune", 600000),
        score("2025-05-20T10:00:00+02:00", "KBH_A", "assessor-a", 5),
        score("2025-05-20T10:01:00+02:00", "KBH_B", "assessor-a", 4),
        {"at": "2025-06-01T10:00:00+02:00", "type": "allocate", "approver": "approver-x"},
        {"at": "2025-06-02T10:00:00+02:00", "type": "audit_replay"},
    ]
    expected = {
        "KBH_A": {"decision": "awarded", "award_oere": 80000000, "rank": 1},
        "KBH_B": {"decision": "awarded", "award_oere": 60000000, "rank": 2},
        "sub_pools": {"1084": {"amount_oere": 200000000, "awarded_oere": 140000000, "awards": 2}},
        "audit": {"verified": True},
    }
    the_pool = pool("rule-register-once-off", once_per_applicant_in_programme=False)
    return scenario("issue 15: a pool without once per applicant", the_pool, actions,
                    organisations=[municipality("101", "København Kommune")]), expected


def spread(posts: dict[str, int], first: str = "2025-07", last: str = "2025-12"
           ) -> dict[str, dict[str, int]]:
    """Each post's total over the months, evenly, the remainder in the last month."""
    plan = months({post: 0 for post in posts}, first, last)
    keys = sorted(plan)
    for post, total in posts.items():
        share = total // len(keys)
        for month in keys:
            plan[month][post] = share
        plan[keys[-1]][post] += total - share * len(keys)
    return plan


def release_and_accounts() -> tuple[dict[str, Any], dict[str, Any]]:
    """Issue 16: a withdrawn and a lapsed award fund the next in rank (R12, R14); accounts as
    R20–R22 say: a final report only after the period, an overspent post claimed back, the audit
    statement typed by size (exactly 100,000 DKK: a reviewer's statement suffices)."""
    d = "2025-05-12"
    names = {"FIRST": ("751", "Aarhus Kommune", 600000, 5),
             "SECOND": ("730", "Randers Kommune", 500000, 4),
             "THIRD": ("615", "Horsens Kommune", 600000, 3),
             "BIG": ("101", "København Kommune", 1500000, 5),
             "NEXT": ("147", "Frederiksberg Kommune", 800000, 4),
             "SMALL": ("151", "Ballerup Kommune", 100000, 3),
             "MIDSIZE": ("153", "Brøndby Kommune", 400000, 2)}
    actions: list[dict[str, Any]] = []
    for i, (ref, (code, name, dkk, _)) in enumerate(names.items()):
        actions.append(submit(f"{d}T09:0{i}:00+02:00", ref, code, name, dkk))
    for i, (ref, (_, _, _, points)) in enumerate(names.items()):
        actions.append(score(f"2025-05-20T10:0{i}:00+02:00", ref, "assessor-a", points))

    def at(day: str, ref: str, kind: str, **keys: Any) -> dict[str, Any]:
        return {"at": day, "type": kind, **({"ref": ref} if ref else {}), **keys}

    def plan(dkk: int) -> dict[str, dict[str, int]]:
        lines = budget(dkk)["lines"]
        return spread({line["post"]: line["amount_oere"] for line in lines})

    actions += [
        at("2025-06-01T10:00:00+02:00", "", "allocate", approver="approver-x"),
        at("2025-06-02T10:00:00+02:00", "SMALL", "accept_award"),
        at("2025-06-02T10:01:00+02:00", "MIDSIZE", "accept_award"),
        # FIRST declines: a caseworker withdraws it; the re-run awards SECOND in its place
        at("2025-06-03T10:00:00+02:00", "FIRST", "withdraw_award", by="caseworker-c"),
        at("2025-06-04T10:00:00+02:00", "", "allocate", approver="approver-y"),
        at("2025-06-05T10:00:00+02:00", "SECOND", "accept_award"),
        at("2025-06-10T10:00:00+02:00", "SMALL", "revised_budget", months=plan(100000)),
        at("2025-06-10T10:01:00+02:00", "MIDSIZE", "revised_budget", months=plan(400000)),
        # BIG never accepts (deadline 1 July 23:59:59): the scheduler lapses it; NEXT follows
        at("2025-07-02T10:00:00+02:00", "", "allocate", approver="approver-y"),
        at("2025-07-03T09:00:00+02:00", "", "run_payments", through="2025-07-03"),
        at("2025-07-03T10:00:00+02:00", "SMALL", "finance_result", executed=True),
        at("2025-07-04T10:00:00+02:00", "NEXT", "accept_award"),
        at("2025-07-05T10:00:00+02:00", "NEXT", "revised_budget", months=plan(800000)),
        at("2025-10-01T09:00:00+02:00", "", "run_payments", through="2025-10-01"),
        at("2025-10-01T10:00:00+02:00", "SMALL", "finance_result", executed=True),
        # before the period's end: refused; after it, 1,000 DKK over the staff post: claimed
        at("2025-12-20T10:00:00+01:00", "SMALL", "final_report", accounts={
            "project staff": 8000000, "materials and meetings": 2000000},
           audit_statement="RS-SMALL"),
        at("2026-02-10T10:00:00+01:00", "SMALL", "final_report", accounts={
            "project staff": 8100000, "materials and meetings": 1900000},
           audit_statement={"type": "reviewer_statement", "reference": "RS-SMALL"}),
        at("2026-02-10T10:01:00+01:00", "MIDSIZE", "final_report", accounts={
            "project staff": 32000000, "materials and meetings": 8000000},
           audit_statement={"type": "reviewer_statement", "reference": "RS-MIDSIZE"}),
        at("2026-02-10T10:02:00+01:00", "NEXT", "final_report", accounts={
            "project staff": 64000000, "materials and meetings": 16000000},
           audit_statement={"type": "auditor_statement", "reference": "AS-NEXT"}),
        at("2026-03-01T10:00:00+01:00", "", "audit_replay"),
    ]
    expected = {
        "FIRST": {"decision": "awarded", "award_oere": 60000000, "lapsed": True},
        "SECOND": {"decision": "awarded", "award_oere": 50000000, "rank": 2, "lapsed": False},
        "THIRD": {"decision": "rejected", "decision_reasons": ["sub_pool_exhausted"], "rank": 3},
        "BIG": {"decision": "awarded", "lapsed": True},
        "NEXT": {"decision": "awarded", "award_oere": 80000000, "rank": 2,
                 "final_report": "rejected",
                 "final_report_reasons": ["performance_audit_missing"]},
        "SMALL": {"award_oere": 10000000, "paid_oere": 10000000, "final_report": "accepted",
                  "final_report_reasons": [], "repayment_oere": 100000},
        "MIDSIZE": {"decision": "awarded", "final_report": "rejected",
                    "final_report_reasons": ["audit_statement_wrong_type"]},
        "sub_pools": {"1082": {"amount_oere": 100000000, "awarded_oere": 50000000, "awards": 1},
                      "1084": {"amount_oere": 200000000, "awarded_oere": 130000000,
                               "awards": 3}},
        "audit": {"verified": True},
    }
    return scenario("issue 16: freed money and accounts (R12, R14, R20–R22)",
                    pool("rule-release"), actions), expected



def ledger_top_ups() -> tuple[dict[str, Any], dict[str, Any]]:
    """R16, R17, R19 (issue 16): the payment ledger. Q3 is paid at 19,999,998 øre; a later budget
    that a caseworker approves raises Q3 to 30,000,000, so the next run pays the 10,000,002
    difference as its own instruction; finance then reports one øre less than the Q4 instruction
    (only what it paid counts); a failed payment is re-issued by two people."""
    d = "2025-05-12"
    actions: list[dict[str, Any]] = [
        submit(f"{d}T09:00:00+02:00", "TOPUP", "101", "København Kommune", 1000000),
        submit(f"{d}T09:01:00+02:00", "REISSUE", "751", "Aarhus Kommune", 300000),
        score("2025-05-20T10:00:00+02:00", "TOPUP", "assessor-a", 4),
        score("2025-05-20T10:01:00+02:00", "REISSUE", "assessor-a", 4),
        {"at": "2025-06-01T10:00:00+02:00", "type": "allocate", "approver": "approver-x"},
        {"at": "2025-06-02T10:00:00+02:00", "type": "accept_award", "ref": "TOPUP"},
        {"at": "2025-06-02T10:01:00+02:00", "type": "accept_award", "ref": "REISSUE"},
        # 100,000,000 øre: Q3 19,999,998 in July, Q4 the rest in October
        {"at": "2025-06-10T10:00:00+02:00", "type": "revised_budget", "ref": "TOPUP", "months": {
            "2025-07": {"project staff": 19999998},
            "2025-10": {"project staff": 60000002, "materials and meetings": 20000000}}},
        {"at": "2025-06-10T10:01:00+02:00", "type": "revised_budget", "ref": "REISSUE",
         "months": months({"project staff": 4000000, "materials and meetings": 1000000})},
        {"at": "2025-07-01T09:00:00+02:00", "type": "run_payments", "through": "2025-07-01"},
        {"at": "2025-07-01T10:00:00+02:00", "type": "finance_result", "ref": "TOPUP",
         "executed": True},
        {"at": "2025-07-01T10:01:00+02:00", "type": "finance_result", "ref": "REISSUE",
         "executed": False},
        {"at": "2025-07-02T09:00:00+02:00", "type": "reissue_payment", "ref": "REISSUE",
         "by": "caseworker-a"},
        {"at": "2025-07-02T10:00:00+02:00", "type": "finance_result", "ref": "REISSUE",
         "executed": True},
        # a new post: waits for a caseworker (the earlier version keeps governing) …
        {"at": "2025-07-10T10:00:00+02:00", "type": "revised_budget", "ref": "TOPUP", "months": {
            "2025-07": {"project staff": 30000000},
            "2025-10": {"project staff": 49000000, "materials and meetings": 20000000,
                        "travel": 1000000}}},
        {"at": "2025-07-11T09:00:00+02:00", "type": "run_payments", "through": "2025-07-11"},
        # … and once approved, the next run pays Q3's difference as a top-up
        {"at": "2025-07-14T09:00:00+02:00", "type": "approve_budget", "ref": "TOPUP",
         "by": "caseworker-a", "approve": True},
        {"at": "2025-07-15T09:00:00+02:00", "type": "run_payments", "through": "2025-07-15"},
        {"at": "2025-07-15T10:00:00+02:00", "type": "finance_result", "ref": "TOPUP",
         "executed": True},
        # Q4: finance pays one øre less than instructed
        {"at": "2025-10-01T09:00:00+02:00", "type": "run_payments", "through": "2025-10-01"},
        {"at": "2025-10-01T10:00:00+02:00", "type": "finance_result", "ref": "TOPUP",
         "executed": True, "amount_oere": 69999999},
        {"at": "2025-10-01T10:01:00+02:00", "type": "finance_result", "ref": "REISSUE",
         "executed": True},
        {"at": "2026-03-01T10:00:00+01:00", "type": "audit_replay"},
    ]
    expected = {
        "TOPUP": {"decision": "awarded", "award_oere": 100000000, "revised_budget": "approved",
                  "paid_oere": 99999999},
        "REISSUE": {"decision": "awarded", "revised_budget": "approved", "paid_oere": 30000000},
        "audit": {"verified": True},
    }
    return scenario("rules R16, R17, R19: ledger top-ups, reconciliation, two-person re-issue",
                    pool("rule-ledger"), actions), expected

BUILDERS = {
    "rule-deadline-edges": deadline_edges,
    "rule-it-exceptions": it_exceptions,
    "rule-invalid-submissions": invalid_submissions,
    "rule-eligibility-once": eligibility_and_once,
    "rule-budgets-payments": budgets_payments_repayment,
    "rule-register-municipalities": register_municipalities,
    "rule-register-organisations": register_organisations,
    "rule-register-once-off": register_once_off,
    "rule-release-accounts": release_and_accounts,
    "rule-ledger-top-ups": ledger_top_ups,
}


def rendered() -> dict[Path, str]:
    files = {}
    for name, build in BUILDERS.items():
        the_scenario, expected = build()
        files[OUT / f"{name}.json"] = json.dumps(the_scenario, indent=1, ensure_ascii=False) + "\n"
        files[OUT / f"{name}.expected.json"] = json.dumps(expected, indent=1,
                                                          ensure_ascii=False) + "\n"
    return files


def main() -> None:
    for path, text in rendered().items():
        path.write_text(text)
    print(f"wrote {len(rendered())} files to {OUT}")


if __name__ == "__main__":
    main()
