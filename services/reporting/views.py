"""What reporting's HTTP answers look like: a grant file with its timeline, a pool's figures."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from contracts.assessment import PoolPublished
from contracts.envelope import Envelope
from services.reporting.domain import (
    GrantFile, PoolFigures, PoolSummary, audit_level, pool_overview,
)


def json_of(model: BaseModel) -> Any:
    return model.model_dump(mode="json")


def grant_view(state: GrantFile, timeline: Sequence[BaseModel]) -> dict[str, Any]:
    award = state.award
    assert award is not None
    status = ("lapsed" if state.lapsed else "closed" if state.final_accepted
              else "accepted" if state.accepted_at is not None else "awaiting_acceptance")
    reports = [{"report_id": key, **json_of(record)}
               for key, record in sorted(state.reports.items(),
                                         key=lambda kv: (kv[1].submitted_at, kv[0]))]
    for r in reports:
        r.pop("fingerprint", None)
    return {
        "application_id": str(state.application_id),
        "status": status,
        "pool_id": award.pool_id,
        "programme": award.programme,
        "region_code": award.region_code,
        "cvr": award.cvr,
        "recipient_name": award.recipient_name,
        "applied_oere": award.applied_oere,
        "awarded_oere": award.amount_oere,
        "project_period": json_of(award.project_period),
        "reporting_deadlines": [json_of(d) for d in award.reporting_deadlines],
        "audit_level": audit_level(award.amount_oere),
        "accepted_at": json_instant(state.accepted_at),
        "budget": json_of(state.budget) if state.budget is not None else None,
        "paid_oere": state.paid_oere,
        "spent_oere": state.final_spent_oere,
        "repayment": {"claimed_oere": state.claimed_oere, "waived_oere": state.waived_oere},
        "reports": reports,
        "overdue_notified": list(state.overdue_notified),
        "timeline": [json_of(entry) for entry in timeline],
    }


def json_instant(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def pool_view(pool_id: str, events: Sequence[Envelope[Any]]) -> dict[str, Any]:
    """The overview's figures for one pool, with every published sub-pool (zeros included)."""
    summary = pool_overview(events).pools.get(pool_id) or PoolSummary(
        pool_id=pool_id, total=PoolFigures(), sub_pools={})
    published = [e.payload for e in events if isinstance(e.payload, PoolPublished)
                 and e.payload.pool_id == pool_id]
    view: dict[str, Any] = {"pool_id": pool_id, "title": None, "version": None,
                            "total_amount_oere": None, "sub_pool_amounts_oere": {}}
    sub_pools = dict(summary.sub_pools)
    if published:
        latest = max(published, key=lambda p: p.version)
        view |= {"title": latest.definition.title, "version": latest.version,
                 "total_amount_oere": latest.definition.total_oere,
                 "sub_pool_amounts_oere": {s.region_code: s.amount_oere
                                           for s in latest.definition.sub_pools}}
        for s in latest.definition.sub_pools:
            sub_pools.setdefault(s.region_code, PoolFigures())
    view["total"] = json_of(summary.total)
    view["sub_pools"] = {code: json_of(f) for code, f in sorted(sub_pools.items())}
    return view
