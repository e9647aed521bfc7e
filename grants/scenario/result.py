"""The scenario result (``grants-scenario-result/1``), rebuilt from the event log."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from audit.replay import replay

if TYPE_CHECKING:
    from grants.scenario.runner import ScenarioRunner

_RECEIPT_INTAKE = {"unauthorized": "invalid"}


def _empty() -> dict[str, Any]:
    return {
        "intake": None, "intake_reasons": [], "eligible": None, "eligibility_reasons": [],
        "score": None, "rank": None, "decision": "none", "decision_reasons": [], "award_oere": 0,
        "revised_budget": "none", "revised_budget_reasons": [], "paid_oere": 0,
        "repayment_oere": 0, "lapsed": False, "final_report": "none", "final_report_reasons": [],
    }


def build_result(runner: ScenarioRunner) -> dict[str, Any]:
    rebuilt = replay(runner.tail.events)
    runner.rebuilt = rebuilt
    view = rebuilt.scenario_view()["applications"]
    applications: dict[str, Any] = {}
    for ref in runner.scenario.refs():
        entry = _empty()
        state = runner.refs.get(ref)
        if state is not None:
            keys = [str(state.application_id), *state.submission_ids]
            found = next((view[k] for k in keys if k in view), None)
            if found:
                entry.update(found)
            receipt = state.receipt or {}
            if entry["intake"] is None and receipt.get("status"):
                entry["intake"] = _RECEIPT_INTAKE.get(receipt["status"], receipt["status"])
                entry["intake_reasons"] = [r.get("code") for r in receipt.get("reasons", [])]
        applications[ref] = entry
    pool = rebuilt.pools.get(runner.pool_id)
    sub_pools = {code: sub.model_dump() for code, sub in (pool.sub_pools if pool else {}).items()}
    if runner.audit_result is not None:
        audit = runner.audit_result.summary()
    else:
        audit = {"verified": rebuilt.verified, "events": rebuilt.events,
                 "violations": [v.model_dump(mode="json") for v in rebuilt.violations],
                 "source": "runner event tail (no audit_replay action)"}
    return {
        "format": "grants-scenario-result/1",
        "name": runner.scenario.name,
        "applications": applications,
        "sub_pools": sub_pools,
        "audit": audit,
        "notes": [n.as_json() for n in runner.notes],
        "run": {"run_id": runner.run_id, "pool_id": runner.pool_id,
                "application_ids": {r: str(s.application_id) for r, s in runner.refs.items()},
                "events_seen": len(runner.tail.events), "settle_passes": runner.settler.passes,
                "settle_rounds": runner.settler.rounds,
                "settle_s": round(runner.settler.seconds, 2),
                "clock": {k: round(v, 2) for k, v in runner.clock.items()},
                "seconds_by_action_type": {k: round(v, 2) for k, v in
                                           sorted(runner.seconds_by_type.items())}},
    }
