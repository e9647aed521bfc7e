"""Test builders: pool definitions, intake events, and a small harness that drives the domain the
way the service's handlers will (decide, then evolve with every returned event)."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from contracts.assessment import (
    ApplicationRejected, ApplicationScored, GrantAwarded, PoolPublished, PriorAwardImported,
)
from contracts.base import Applicant, BudgetLine, IndicativeBudget
from contracts.intake import ApplicationAccepted, ApplicationReceived
from contracts.municipalities import region_of
from grants.scenario.demo import cvr_for
from services.assessment.domain import (
    FundingLedger, PoolRound, ScoreApplication, approve, assess_eligibility, evolve_ledger,
    evolve_round, new_round, plan_allocation, publish_pool, score_application,
)
from services.assessment.domain.state import Decision

_ROOT = Path(__file__).resolve().parents[3]
# The repository keeps its own copies of shared/'s reference files, so these tests read the same
# data in every checkout: pools in deploy/pools, scenarios in grants/scenarios.
_COPIES = {"pools": _ROOT / "deploy" / "pools", "scenarios": _ROOT / "grants" / "scenarios"}


def shared_json(relative: str) -> dict[str, Any]:
    """A file of shared/ (``data/pools/x.json``, ``scenarios/x.json``) from the repo's copy."""
    folder = "pools" if "pools/" in relative else "scenarios"
    path = _COPIES[folder] / Path(relative).name
    return json.loads(path.read_text(encoding="utf-8"))


TARGET = "vulnerable parents of children aged 0-6 and expectant parents"
PURPOSE = "establish a family house as one entry to early support"
T0 = datetime.fromisoformat("2025-05-10T09:00:00+02:00")
DECIDED_AT = datetime.fromisoformat("2025-06-01T10:00:00+02:00")


def app_id(ref: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"grants:test:application:{ref}")


def sub_id(ref: str, version: int = 1) -> UUID:
    return uuid5(NAMESPACE_URL, f"grants:test:submission:{ref}:{version}")


def pool_raw(**overrides: Any) -> dict[str, Any]:
    """A two-region pool like the example scenario's (DKK amounts); keys can be overridden."""
    raw: dict[str, Any] = {
        "pool_id": "example-2025", "title": "Example pool", "programme": "example",
        "total_dkk": 3000000, "applicant_group": ["municipality"],
        "deadline_local": "2025-05-15T12:00:00", "timezone": "Europe/Copenhagen",
        "project_period": {"start": "2025-07-01", "end": "2025-12-31",
                           "delayed_start_allowed": True},
        "target_group": TARGET,
        "sub_pools": [
            {"region_code": "1084", "region": "Hovedstaden", "amount_dkk": 2000000},
            {"region_code": "1082", "region": "Midtjylland", "amount_dkk": 1000000},
        ],
        "criteria": [{"id": i, "name": f"criterion {i}", "minimum_requirement": i == 1}
                     for i in range(1, 6)],
    }
    raw.update(copy.deepcopy(overrides))
    return raw


def budget(total_oere: int, categories: tuple[str, ...] = ("salary", "other")) -> IndicativeBudget:
    """Lines that sum exactly to ``total_oere`` (the first line takes the remainder)."""
    share = total_oere // len(categories)
    amounts = [total_oere - share * (len(categories) - 1)] + [share] * (len(categories) - 1)
    lines = [BudgetLine(post=f"post {i}", category=c, amount_oere=a)  # type: ignore[arg-type]
             for i, (c, a) in enumerate(zip(categories, amounts, strict=True))]
    return IndicativeBudget(lines=lines, total_oere=total_oere)


def received(ref: str, municipality: str, applied_oere: int, *, version: int = 1,
             at: datetime = T0, pool_id: str = "example-2025", kind: str = "municipality",
             purpose: str = PURPOSE, target_group: str = TARGET,
             categories: tuple[str, ...] = ("salary", "other"), cvr: str | None = None,
             region_code: str | None = None,
             register_revision: int | None = 1) -> ApplicationReceived:
    """As intake publishes it: the applicant is the register's entry (by default the
    municipality's own, CVR :func:`grants.scenario.demo.cvr_for`, in its region)."""
    return ApplicationReceived(
        submission_id=sub_id(ref, version), application_id=app_id(ref), version=version,
        pool_id=pool_id,
        applicant=Applicant(cvr=cvr or cvr_for(municipality), municipality_code=municipality,
                            name=f"Kommune {municipality}", kind=kind,  # type: ignore[arg-type]
                            region_code=region_code or region_of(municipality)),
        register_revision=register_revision,
        purpose=purpose, target_group=target_group, budget=budget(applied_oere, categories),
        received_at=at, received_at_local=at.isoformat(),
        deadline=at + timedelta(days=5), timeliness="on_time")


def accepted(event: ApplicationReceived) -> ApplicationAccepted:
    return ApplicationAccepted(application_id=event.application_id,
                               submission_id=event.submission_id, version=event.version,
                               pool_id=event.pool_id, basis="on_time")


FULL = {"1": 5, "2": 5, "3": 4, "4": 4, "5": 4}  # 22


def scores_summing(total: int, n: int = 5, first: int | None = None) -> dict[str, int]:
    """Criterion scores 0–5 that sum to ``total`` (criterion 1 fixed to ``first`` if given)."""
    values = [0] * n
    remaining = total
    if first is not None:
        values[0] = first
        remaining -= first
    for i in range(1 if first is not None else 0, n):
        values[i] = min(5, remaining)
        remaining -= values[i]
    assert remaining == 0, "total not reachable"
    return {str(i + 1): v for i, v in enumerate(values)}


class Harness:
    """Drives one pool round plus the funding ledger, applying every event it decides."""

    def __init__(self, raw: dict[str, Any] | None = None, ledger: FundingLedger | None = None):
        raw = raw if raw is not None else pool_raw()
        self.ledger = ledger or FundingLedger()
        self.round: PoolRound = new_round(raw["pool_id"])
        self.events: list[object] = []
        self.publish(raw)

    def publish(self, raw: dict[str, Any]) -> PoolPublished | None:
        event = publish_pool(self.round, raw)
        if event is not None:
            self.apply(event)
        return event

    def apply(self, event: Any) -> None:
        self.events.append(event)
        if isinstance(event, PriorAwardImported):
            self.ledger = evolve_ledger(self.ledger, event)
            return
        self.round = evolve_round(self.round, event)
        if isinstance(event, GrantAwarded):
            self.ledger = evolve_ledger(self.ledger, event)

    def import_prior(self, municipality: str, programme: str = "example",
                     pool_id: str = "example-2019", cvr: str | None = None,
                     kind: str | None = None) -> None:
        self.apply(PriorAwardImported(programme=programme, municipality_code=municipality,
                                      pool_id=pool_id, cvr=cvr, kind=kind))  # type: ignore[arg-type]

    def submit(self, ref: str, municipality: str, applied_oere: int, **kw: Any) -> UUID:
        kw.setdefault("pool_id", self.round.pool_id)
        event = received(ref, municipality, applied_oere, **kw)
        self.apply(event)
        self.accept(event)
        return event.application_id

    def accept(self, event: ApplicationReceived):  # type: ignore[no-untyped-def]
        self.apply(accepted(event))
        result = assess_eligibility(self.round, self.ledger, event.application_id)
        if result is not None:
            self.apply(result)
        return result

    def score(self, ref: str, assessor: str, scores: dict[Any, int] | None = None,
              justification: str = "meets the criteria as described",
              conflict: bool = False) -> ApplicationScored:
        event = score_application(self.round, ScoreApplication(
            application_id=app_id(ref), assessor=assessor,
            scores=FULL if scores is None and not conflict else (scores or {}),
            justification=justification, conflict_of_interest=conflict))
        self.apply(event)
        return event

    def plan(self):  # type: ignore[no-untyped-def]
        return plan_allocation(self.round, self.ledger)

    def allocate(self, approver: str = "approver-x",
                 at: datetime = DECIDED_AT) -> list[GrantAwarded | ApplicationRejected]:
        decisions = approve(self.round, self.ledger, approver, at)
        for event in decisions:
            self.apply(event)
        return decisions

    def decision(self, ref: str) -> Decision | None:
        return self.round.file(app_id(ref)).decision
