"""The built-in demo: the 2022 family-house round with all 98 municipalities.

``python -m grants.scenario.demo`` (re)writes ``grants/scenarios/familiehus-2022-demo.json``.
The scenario is generated, deterministic, and shows every rule of the lifecycle once at least:
on-time submissions (one at the deadline instant), a minute late, IT-problem exceptions before
and after the deadline (granted, refused, one 49 h late), an invalid budget, ineligible
applications, municipalities already funded in an earlier round, budgets that oversubscribe every
region, several assessors and a recusal, allocation per sub-pool, acceptance (one lapses),
revised monthly budgets (one a single øre over its award, one with a delayed start), quarterly
payments with a failed one, final reports with unspent money (one under 500 DKK), and the
auditors' replay.

The builder predicts which applications win (to script acceptance and payments only for them)
with the documented allocation rule — rank by score, then earlier receipt; award while the
sub-pool has money; smaller ones may still fit — which the run then checks.
"""

from __future__ import annotations

import json
import random
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from contracts.municipalities import municipalities

POOL_FILE = Path(__file__).resolve().parents[2] / "deploy" / "pools" / "familiehus-2022.json"
OUT = Path(__file__).resolve().parents[1] / "scenarios" / "familiehus-2022-demo.json"
CPH = ZoneInfo("Europe/Copenhagen")
TARGET = "vulnerable parents of children aged 0-6 and expectant parents"
PURPOSE = "establish a family house as one entry to early support"
RATE = 45_000  # øre per hour (450 DKK)
WEIGHTS = (2, 7, 6, 5, 4, 3, 2, 1)

LATE = {"330", "360", "370"}                      # a minute late, no exception
EXC_BEFORE_GRANTED = "316"                        # contact before the deadline, granted
EXC_BEFORE_NO_DOCS = "320"                        # contact before, no documentation: refused
EXC_AFTER_GRANTED = "326"                         # late, then contact with proof: granted
EXC_AFTER_SCREENSHOT_LATE = "329"                 # screenshot shows a time after the deadline
EXC_AFTER_48H = "336"                             # contact 49 h after the deadline: not considered
EXC_AFTER_REFUSED = "340"                         # complete proof, caseworker refuses
INELIGIBLE_TARGET = {"410", "420"}                # wrong target group
INELIGIBLE_KIND = "430"                           # a voluntary organisation, not a municipality
INVALID_BUDGET = "440"                            # total ≠ sum of lines
PRIOR_FUNDED = {"147", "461", "851"}              # funded in the 2020 round of the programme
MINIMUM_NOT_MET = "482"                           # criterion 1 scored 0 by its assessors
# Chosen among the predicted winners: one in 1081 never accepts (lapses), one in 1085 starts in
# March (delayed start), one in 1083 sends a budget one øre over its award.


def cvr_for(code: str) -> str:
    """A deterministic CVR that passes modulus 11, one per municipality."""
    base = 29_000_000 + int(code) * 1_000
    while True:
        digits = [int(d) for d in str(base)[:7]]
        check = -sum(w * d for w, d in zip(WEIGHTS, digits)) % 11
        if check < 10:
            return "".join(map(str, digits)) + str(check)
        base += 10


def local(text: str) -> str:
    return datetime.fromisoformat(text).replace(tzinfo=CPH).isoformat()


def _budget(applied_dkk: int) -> dict[str, Any]:
    total = applied_dkk * 100
    hours = (total * 7 // 10) // RATE
    salary = hours * RATE
    evaluation = total // 10
    return {"lines": [
        {"post": "project staff", "category": "salary", "rate_oere": RATE, "quantity": hours,
         "amount_oere": salary},
        {"post": "external evaluation", "category": "other", "amount_oere": evaluation},
        {"post": "materials and meetings", "category": "other",
         "amount_oere": total - salary - evaluation},
    ], "total_oere": total}


def _months(start: str, end: str) -> list[str]:
    y, m = map(int, start.split("-"))
    out = []
    while f"{y:04d}-{m:02d}" <= end:
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def monthly_budget(lines: list[dict[str, Any]], total: int, first: str = "2023-01"
                   ) -> dict[str, dict[str, int]]:
    """Spread each post evenly over the months; remainders land in the last month."""
    months = _months(first, "2026-12")
    plan: dict[str, dict[str, int]] = {m: {} for m in months}
    for line in lines:
        share, rest = divmod(line["amount_oere"], len(months))
        for i, m in enumerate(months):
            plan[m][line["post"]] = share + (rest if i == len(months) - 1 else 0)
    assert sum(sum(p.values()) for p in plan.values()) == total
    return plan


def _scores(rng: random.Random, quality: int) -> dict[str, int]:
    base = [min(5, max(1, quality + rng.choice((-1, 0, 0, 1)))) for _ in range(5)]
    return {str(i + 1): s for i, s in enumerate(base)}


def build() -> dict[str, Any]:
    rng = random.Random(20220928)
    pool = json.loads(POOL_FILE.read_text())
    deadline = datetime.fromisoformat(pool["deadline_local"]).replace(tzinfo=CPH)
    muni = sorted(municipalities().values(), key=lambda m: (m.region_code, m.code))
    actions: list[dict[str, Any]] = []
    apps: dict[str, dict[str, Any]] = {}

    # -- submissions (on time, spread over September; a few at the very end) ------------------
    start = datetime(2022, 9, 1, 9, 0, tzinfo=CPH)
    for i, m in enumerate(muni):
        applied_dkk = rng.randrange(1_800_000, 3_600_000, 1_000)
        at = start + timedelta(minutes=397 * i)
        if m.code in LATE or m.code in {EXC_BEFORE_GRANTED, EXC_BEFORE_NO_DOCS}:
            continue  # scripted below
        apps[m.code] = {"region": m.region_code, "applied": applied_dkk * 100, "at": at}
        submit: dict[str, Any] = {
            "at": at.isoformat(), "type": "submit", "ref": m.code,
            "applicant": {"cvr": cvr_for(m.code), "municipality_code": m.code,
                          "name": f"{m.name} Kommune"},
            "purpose": PURPOSE, "target_group": TARGET, "budget": _budget(applied_dkk),
        }
        if m.code in INELIGIBLE_TARGET:
            submit["target_group"] = "older citizens living alone"
        if m.code == INELIGIBLE_KIND:
            submit["applicant"] = {**submit["applicant"], "name": f"Familieforeningen {m.name}",
                                   "kind": "voluntary_organisation"}
        if m.code == INVALID_BUDGET:
            submit["budget"] = {**submit["budget"], "total_oere": submit["budget"]["total_oere"] + 100}
        actions.append(submit)
    # the last on-time submissions: 11:59:59 and exactly 12:00:00 (on time: at the deadline)
    actions[-2]["at"] = (deadline - timedelta(seconds=1)).isoformat()
    actions[-1]["at"] = deadline.isoformat()
    for a in actions[-2:]:
        apps[a["ref"]]["at"] = datetime.fromisoformat(a["at"])
    actions.sort(key=lambda a: a["at"])

    def submit_for(code: str, at: datetime) -> dict[str, Any]:
        m = municipalities()[code]
        applied_dkk = rng.randrange(1_800_000, 3_600_000, 1_000)
        apps[code] = {"region": m.region_code, "applied": applied_dkk * 100, "at": at}
        return {"at": at.isoformat(), "type": "submit", "ref": code,
                "applicant": {"cvr": cvr_for(code), "municipality_code": code,
                              "name": f"{m.name} Kommune"},
                "purpose": PURPOSE, "target_group": TARGET, "budget": _budget(applied_dkk)}

    def contact(code: str, at: datetime, *, docs: bool = True, attempted: bool = True,
                shot: datetime | None = None) -> dict[str, Any]:
        return {"at": at.isoformat(), "type": "it_problem_contact", "ref": code,
                "documentation": docs, "attempted_before_deadline": attempted,
                "screenshot_at": shot.isoformat() if shot else None}

    def decide(code: str, at: datetime, approve: bool) -> dict[str, Any]:
        return {"at": at.isoformat(), "type": "exception_decision", "ref": code,
                "approve": approve, "by": "caseworker-lise"}

    d = deadline
    late_actions = [
        contact(EXC_BEFORE_GRANTED, d - timedelta(hours=2)),
        contact(EXC_BEFORE_NO_DOCS, d - timedelta(hours=1), docs=False),
        *[submit_for(code, d + timedelta(minutes=1)) for code in sorted(LATE)],
        submit_for(EXC_BEFORE_GRANTED, d + timedelta(minutes=30)),
        submit_for(EXC_BEFORE_NO_DOCS, d + timedelta(minutes=35)),
        contact(EXC_AFTER_GRANTED, d + timedelta(hours=2), shot=d - timedelta(minutes=2)),
        contact(EXC_AFTER_SCREENSHOT_LATE, d + timedelta(hours=3), shot=d + timedelta(minutes=3)),
        contact(EXC_AFTER_REFUSED, d + timedelta(hours=4), shot=d - timedelta(minutes=5)),
        decide(EXC_BEFORE_GRANTED, d + timedelta(hours=20), True),
        decide(EXC_AFTER_GRANTED, d + timedelta(hours=21), True),
        decide(EXC_AFTER_REFUSED, d + timedelta(hours=22), False),
        contact(EXC_AFTER_48H, d + timedelta(hours=49), shot=d - timedelta(minutes=1)),
    ]
    # These applicants submit ten minutes late instead of on time, then report an IT problem.
    for code in (EXC_AFTER_GRANTED, EXC_AFTER_SCREENSHOT_LATE, EXC_AFTER_REFUSED, EXC_AFTER_48H):
        actions = [a for a in actions if a.get("ref") != code]
        apps.pop(code, None)
        late_actions.append(submit_for(code, d + timedelta(minutes=10)))
    actions += sorted(late_actions, key=lambda a: a["at"])
    actions.sort(key=lambda a: a["at"])

    # -- who proceeds to assessment -------------------------------------------------------------
    proceeds = {code for code in apps if code not in LATE | INELIGIBLE_TARGET | PRIOR_FUNDED
                | {INELIGIBLE_KIND, INVALID_BUDGET, EXC_BEFORE_NO_DOCS, EXC_AFTER_SCREENSHOT_LATE,
                   EXC_AFTER_48H, EXC_AFTER_REFUSED}}
    eligible_scored = sorted(proceeds, key=lambda c: apps[c]["at"])

    # -- scoring: two assessors each, a third on some; one recusal ----------------------------
    t = datetime(2022, 10, 3, 9, 0, tzinfo=CPH)
    assessors = ["assessor-anna", "assessor-bo", "assessor-carl"]
    for n, code in enumerate(eligible_scored):
        quality = rng.randint(2, 5)
        pair = [assessors[n % 3], assessors[(n + 1) % 3]]
        totals = []
        for who in pair:
            scores = _scores(rng, quality)
            if code == MINIMUM_NOT_MET:
                scores["1"] = 0
            totals.append(sum(scores.values()))
            actions.append({"at": t.isoformat(), "type": "score", "ref": code, "assessor": who,
                            "scores": scores,
                            "justification": "assessed against the pool's criteria table"})
            t += timedelta(minutes=7)
        if n == 5:
            third = next(a for a in assessors if a not in pair)
            actions.append({"at": t.isoformat(), "type": "score", "ref": code, "assessor": third,
                            "scores": {}, "justification": "former employee of the applicant",
                            "conflict_of_interest": True})
            t += timedelta(minutes=7)
        apps[code]["score"] = sum(totals) / len(totals)

    # -- predicted allocation (documented rule) ---------------------------------------------------
    amounts = {s["region_code"]: s["amount_dkk"] * 100 for s in pool["sub_pools"]}
    winners: list[str] = []
    for region, amount in amounts.items():
        ranked = sorted((c for c in eligible_scored if apps[c]["region"] == region
                         and c != MINIMUM_NOT_MET), key=lambda c: (-apps[c]["score"], apps[c]["at"]))
        left = amount
        for code in ranked:
            if apps[code]["applied"] <= left:
                winners.append(code)
                left -= apps[code]["applied"]
    actions.append({"at": local("2022-10-25T10:00:00"), "type": "allocate",
                    "approver": "approver-mette"})

    # -- acceptance, revised budgets ------------------------------------------------------------
    winners.sort(key=lambda c: (apps[c]["region"], c))
    not_accepting = next(c for c in winners if apps[c]["region"] == "1081")
    delayed = next(c for c in winners if apps[c]["region"] == "1085")
    over_by_one = next(c for c in winners if apps[c]["region"] == "1083")
    paying = [c for c in winners if c not in {not_accepting, over_by_one}]
    t = datetime(2022, 11, 1, 9, 0, tzinfo=CPH)
    for code in winners:
        if code != not_accepting:
            actions.append({"at": t.isoformat(), "type": "accept_award", "ref": code})
            t += timedelta(minutes=5)
    budgets: dict[str, dict[str, dict[str, int]]] = {}
    t = datetime(2022, 11, 15, 9, 0, tzinfo=CPH)
    for code in winners:
        if code == not_accepting:
            continue
        lines = next(a for a in actions if a["type"] == "submit" and a["ref"] == code)["budget"]["lines"]
        months = monthly_budget(lines, apps[code]["applied"], "2023-03" if code == delayed else "2023-01")
        if code == over_by_one:
            months["2026-12"]["materials and meetings"] += 1
        budgets[code] = months
        actions.append({"at": t.isoformat(), "type": "revised_budget", "ref": code, "months": months})
        t += timedelta(minutes=5)

    # -- quarterly payments and finance results -------------------------------------------------
    failing = paying[3]
    for q, (year, month) in enumerate((y, m) for y in range(2023, 2027) for m in (1, 4, 7, 10)):
        run_at = datetime(year, month, 2, 9, 0, tzinfo=CPH)
        actions.append({"at": run_at.isoformat(), "type": "run_payments",
                        "through": date(year, month, 2).isoformat()})
        t = run_at + timedelta(days=1)
        for code in paying:
            actions.append({"at": t.isoformat(), "type": "finance_result", "ref": code,
                            "executed": not (code == failing and q == 2)})
            t += timedelta(seconds=30)
        if (year, month) == (2024, 1):
            t = datetime(2024, 1, 20, 10, 0, tzinfo=CPH)
            for code in paying[:5]:
                actions.append({"at": t.isoformat(), "type": "status_report", "ref": code,
                                "text": "the family house opened; first families enrolled"})
                t += timedelta(minutes=10)

    # -- final reports with accounts ---------------------------------------------------------------
    t = datetime(2027, 2, 15, 9, 0, tzinfo=CPH)
    unspent = {paying[0]: 12_500_000, paying[1]: 4_000_000, paying[2]: 30_000}  # last: 300 DKK
    for code in paying:
        spent: dict[str, int] = {}
        for month in budgets[code].values():
            for post, amount in month.items():
                spent[post] = spent.get(post, 0) + amount
        if code == failing:
            q3 = sum(sum(budgets[code][m].values()) for m in ("2023-07", "2023-08", "2023-09"))
            spent["materials and meetings"] -= min(q3, spent["materials and meetings"])
        spent["materials and meetings"] -= unspent.get(code, 0)
        actions.append({"at": t.isoformat(), "type": "final_report", "ref": code,
                        "accounts": spent, "audit_statement": f"RS-2027-{code}"})
        t += timedelta(minutes=10)
    actions.append({"at": local("2027-04-01T09:00:00"), "type": "audit_replay"})
    actions.sort(key=lambda a: a["at"])

    return {
        "format": "grants-scenario/1",
        "name": "demo: the 2022 family-house round, all 98 municipalities",
        "pool": pool,
        "prior_awards": [{"programme": "familiehuse", "municipality_code": c,
                          "pool_id": "familiehus-2020"} for c in sorted(PRIOR_FUNDED)],
        "actions": actions,
    }


def main() -> None:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(build(), indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
