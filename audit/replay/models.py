"""What the auditors' replay (R23) takes in and gives back.

Input: :class:`LoggedEvent` — a decoded envelope (``contracts.registry.decode`` output) with the
topic, partition and offset it was read at. Output: :class:`ReplayResult` — the rebuilt state of
the four services per application and per pool, counts, totals and the first violation of each
invariant, with a canonical digest (:func:`state_digest`) that two replays of the same log share.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from contracts.envelope import Envelope


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    """One decoded event and where it was read. ``partition``/``offset`` are -1 when unknown."""

    envelope: Envelope[Any]
    topic: str
    partition: int = -1
    offset: int = -1


class _View(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


IntakeStatus = Literal[
    "on_time", "late_rejected", "exception_pending", "exception_granted", "exception_refused",
    "invalid",
]


class Violation(_View):
    """The first event (in log time) that breaks an invariant, and why."""

    invariant: str
    rule: str
    event_id: str
    event_type: str
    topic: str
    partition: int
    offset: int
    occurred_at: datetime
    message: str


class ApplicationView(_View):
    """One application across the four services; the fields of the scenario result and more.

    ``intake`` is ``None`` when the log holds a received version but no intake decision yet.
    """

    pool_id: str | None = None
    municipality_code: str | None = None
    region_code: str | None = None
    intake: IntakeStatus | None = None
    intake_reasons: list[str] = []
    eligible: bool | None = None
    eligibility_reasons: list[str] = []
    score: float | None = None
    rank: int | None = None
    decision: Literal["awarded", "rejected", "none"] = "none"
    decision_reasons: list[str] = []
    applied_oere: int = 0
    award_oere: int = 0
    award_accepted: bool = False
    lapsed: bool = False
    revised_budget: Literal["approved", "rejected", "pending", "none"] = "none"
    revised_budget_reasons: list[str] = []
    instructed_oere: int = 0
    paid_oere: int = 0
    final_report: Literal["accepted", "rejected", "submitted", "none"] = "none"
    final_report_reasons: list[str] = []  # of the latest rejected one, until one is accepted
    spent_oere: int | None = None
    repayment_oere: int = 0
    waived_oere: int = 0
    overdue_notices: int = 0


class SubPoolView(_View):
    amount_oere: int
    awarded_oere: int = 0
    awards: int = 0


class PoolView(_View):
    pool_id: str
    programme: str | None = None
    version: int | None = None
    total_oere: int | None = None
    awarded_oere: int = 0
    awards: int = 0
    sub_pools: dict[str, SubPoolView] = {}


class ReplayTotals(_View):
    applications: int = 0  # applications received (each application id once)
    refused_submissions: int = 0  # submissions refused before they were an application
    awards: int = 0
    awarded_oere: int = 0
    instructed_oere: int = 0
    paid_oere: int = 0
    spent_oere: int = 0
    repayment_claimed_oere: int = 0
    repayment_waived_oere: int = 0


class ReplayResult(_View):
    """The rebuilt state. ``applications`` is keyed by application id; a submission refused
    before it had one (``SubmissionUnauthorized``, ``SubmissionInvalid`` without an application
    id) is keyed by its submission id, or by its event id when it has neither."""

    verified: bool
    events: int
    duplicates: int
    counts: dict[str, int]
    totals: ReplayTotals
    applications: dict[str, ApplicationView]
    pools: dict[str, PoolView]
    violations: list[Violation]

    def violation(self, invariant: str) -> Violation | None:
        return next((v for v in self.violations if v.invariant == invariant), None)

    def scenario_view(self) -> dict[str, Any]:
        """The ``applications`` / ``sub_pools`` / ``audit`` parts of a scenario result
        (SCENARIOS.md); sub-pools of every pool are keyed by region code."""
        keys = ("intake", "intake_reasons", "eligible", "eligibility_reasons", "score", "rank",
                "decision", "decision_reasons", "award_oere", "revised_budget",
                "revised_budget_reasons", "paid_oere", "repayment_oere", "lapsed",
                "final_report", "final_report_reasons")
        applications = {
            app_id: {k: getattr(view, k) for k in keys}
            for app_id, view in self.applications.items()
        }
        sub_pools = {
            code: sub.model_dump() for pool in self.pools.values()
            for code, sub in pool.sub_pools.items()
        }
        violations = [v.model_dump(mode="json") for v in self.violations]
        audit = {"verified": self.verified, "events": self.events, "violations": violations}
        return {"applications": applications, "sub_pools": sub_pools, "audit": audit}


def canonical_json(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def state_digest(result: ReplayResult) -> str:
    """sha256 over the canonical JSON of the whole result: equal digests, equal rebuilt state."""
    return "sha256:" + hashlib.sha256(canonical_json(result.model_dump(mode="json"))).hexdigest()
