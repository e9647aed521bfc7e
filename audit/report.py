"""The replay report an auditor files: a JSON document and the HTML page made from it (Jinja2).

:func:`build` turns what a replay produced (the rebuilt state as JSON, the checkpoint
verification, the violations, the state digest, dead letters when known) into the report; it
holds nothing that depends on when or where the replay ran, so two replays of the same log give
the same report byte for byte (the source line says whether it came from a broker or a bundle).
:func:`render_html` renders it; every value is escaped.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

REPORT_FORMAT = "grants-audit-report/1"
_SUMS = ("awarded_oere", "instructed_oere", "paid_oere", "spent_oere", "repayment_oere",
         "waived_oere")


def _blank() -> dict[str, int]:
    return {"applications": 0, "awards": 0, **{k: 0 for k in _SUMS}}


def _add(into: dict[str, int], app: Mapping[str, Any]) -> None:
    into["applications"] += 1
    # An award that lapsed or was withdrawn no longer commits its money (as the overview counts).
    if app.get("decision") == "awarded" and not app.get("lapsed"):
        into["awards"] += 1
        into["awarded_oere"] += int(app.get("award_oere") or 0)
    for k in _SUMS[1:]:
        into[k] += int(app.get(k) or 0)


def pools(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Counts and totals per pool and per regional sub-pool, from the rebuilt applications."""
    by_pool: dict[str, dict[str, Any]] = {}
    for pool_id, pool in sorted(result.get("pools", {}).items()):
        by_pool[pool_id] = {
            "pool_id": pool_id, "programme": pool.get("programme"),
            "version": pool.get("version"), "amount_oere": pool.get("total_oere"),
            **_blank(),
            "sub_pools": {code: {"region_code": code, "amount_oere": sub.get("amount_oere"),
                                 **_blank()}
                          for code, sub in sorted(pool.get("sub_pools", {}).items())},
        }
    for app in result.get("applications", {}).values():
        pool_id = app.get("pool_id")
        if not pool_id:
            continue
        pool = by_pool.setdefault(pool_id, {"pool_id": pool_id, "programme": None,
                                            "version": None, "amount_oere": None, **_blank(),
                                            "sub_pools": {}})
        _add(pool, app)
        code = app.get("region_code")
        if code and pool["sub_pools"]:
            sub = pool["sub_pools"].setdefault(code, {"region_code": code, "amount_oere": None,
                                                      **_blank()})
            _add(sub, app)
    out = []
    for pool in by_pool.values():
        out.append({**pool, "sub_pools": list(pool["sub_pools"].values())})
    return out


def build(*, result: Mapping[str, Any], digest: str, violations: list[dict[str, Any]],
          checkpoints: Mapping[str, Any] | None, source: Mapping[str, Any],
          keys: Mapping[str, Any] | None = None, chains: Mapping[str, Any] | None = None,
          dead_letters: Mapping[str, Any] | None = None) -> dict[str, Any]:
    refused = sum(1 for a in result.get("applications", {}).values() if not a.get("pool_id"))
    return {
        "format": REPORT_FORMAT,
        "verdict": "verified" if not violations else "violations",
        "state_digest": digest,
        "source": dict(source),
        "keys": dict(keys or {}),
        "checkpoints": dict(checkpoints) if checkpoints is not None else None,
        "events": {"replayed": result.get("events"), "duplicates": result.get("duplicates"),
                   "by_type": result.get("counts", {})},
        "totals": {**result.get("totals", {}), "refused_without_pool": refused},
        "pools": pools(result),
        "violations": violations,
        "dead_letters": dict(dead_letters) if dead_letters is not None else None,
        "database_chains": dict(chains) if chains is not None else None,
    }


def to_json(report: Mapping[str, Any]) -> str:
    return json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _dkk(oere: Any) -> str:
    if oere is None:
        return "–"
    return f"{int(oere) / 100:,.2f}"


def render_html(report: Mapping[str, Any]) -> str:
    env = Environment(loader=PackageLoader("audit", "templates"),
                      autoescape=select_autoescape(["html", "j2"], default=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["dkk"] = _dkk
    return env.get_template("report.html.j2").render(r=report)
