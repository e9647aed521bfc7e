"""The example-small scenario, played through the domain (intake's part stood in for by its
deadline rule): its expected decisions and sub-pool totals must come out."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from contracts.assessment import GrantAwarded
from contracts.base import Applicant, IndicativeBudget
from contracts.intake import ApplicationReceived
from services.assessment.domain import pool_overview

from .builders import Harness, app_id, shared_json, sub_id


def play() -> tuple[Harness, dict[str, Any], list[Any]]:
    scenario = shared_json("scenarios/example-small.json")
    h = Harness(scenario["pool"])
    for prior in scenario["prior_awards"]:
        h.import_prior(prior["municipality_code"], prior["programme"], prior["pool_id"])
    deadline = h.round.pool.deadline  # type: ignore[union-attr]
    assert deadline is not None
    decisions: list[Any] = []
    for action in scenario["actions"]:
        at = datetime.fromisoformat(action["at"])
        ref = action.get("ref")
        if action["type"] == "submit":
            event = ApplicationReceived(
                submission_id=sub_id(ref), application_id=app_id(ref), version=1,
                pool_id=h.round.pool_id, applicant=Applicant(**action["applicant"]),
                purpose=action["purpose"], target_group=action["target_group"],
                budget=IndicativeBudget(**action["budget"]), received_at=at,
                received_at_local=action["at"], deadline=deadline,
                timeliness="on_time" if at <= deadline else "late")
            h.apply(event)
            if at <= deadline:  # intake accepts on-time versions only (no exception here)
                h.accept(event)
        elif action["type"] == "score":
            h.score(ref, action["assessor"], action["scores"], action["justification"],
                    conflict=action.get("conflict_of_interest", False))
        elif action["type"] == "allocate":
            decisions += h.allocate(action["approver"], at)
    return h, scenario, decisions


@pytest.fixture(scope="module")
def played() -> tuple[Harness, dict[str, Any], list[Any]]:
    return play()


def test_decisions_match_the_expected_outcome(played) -> None:  # type: ignore[no-untyped-def]
    h, _, _ = played
    expected = shared_json("scenarios/example-small.expected.json")
    for ref, want in expected.items():
        if ref in ("sub_pools", "audit"):
            continue
        file = h.round.applications.get(str(app_id(ref)))
        decision = file.decision if file else None
        if want["decision"] == "none":
            assert decision is None, ref
            continue
        assert decision is not None, ref
        assert decision.outcome == want["decision"], ref
        if "award_oere" in want:
            assert decision.amount_oere == want["award_oere"], ref
        if "decision_reasons" in want:
            assert list(decision.reasons) == want["decision_reasons"], ref


def test_sub_pool_totals_match(played) -> None:  # type: ignore[no-untyped-def]
    h, _, _ = played
    expected = shared_json("scenarios/example-small.expected.json")["sub_pools"]
    overview = {s.region_code: s for s in pool_overview(h.round).sub_pools}
    for region, want in expected.items():
        assert overview[region].amount_oere == want["amount_oere"]
        assert overview[region].awarded_oere == want["awarded_oere"]
        assert overview[region].awards == want["awards"]


def test_scores_ranks_and_the_recused_assessor(played) -> None:  # type: ignore[no-untyped-def]
    h, _, decisions = played
    awards = {d.application_id: d for d in decisions if isinstance(d, GrantAwarded)}
    kbh = awards[app_id("KBH")]
    assert (kbh.score, kbh.rank, kbh.amount_oere) == (22.0, 1, 150_000_000)
    aarhus = awards[app_id("AARHUS")]
    # assessor-c recused: the score is the mean of a and b (21 each), not dragged down by a 0.
    assert (aarhus.score, aarhus.rank, aarhus.amount_oere) == (21.0, 1, 75_000_000)
    gentofte = h.round.file(app_id("GENTOFTE")).decision
    assert gentofte is not None and (gentofte.score, gentofte.rank) == (18.0, 2)
    assert "assessor-c" in {s.assessor for s in h.round.file(app_id("AARHUS")).scorings}
    # 2025-06-01 10:00 +02:00 + 30 days → 1 July 23:59:59 local.
    assert kbh.acceptance_deadline == datetime.fromisoformat("2025-07-01T23:59:59+02:00")
    assert kbh.decided_at == datetime.fromisoformat("2025-06-01T10:00:00+02:00")
    assert kbh.acceptance_deadline - kbh.decided_at > timedelta(days=30)


def test_the_late_submission_is_never_decided(played) -> None:  # type: ignore[no-untyped-def]
    h, _, decisions = played
    assert app_id("RANDERS") not in {d.application_id for d in decisions}
    assert h.round.file(app_id("RANDERS")).accepted is None
