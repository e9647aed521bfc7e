"""The demo's progress names stages in words (issue 23 point 4)."""

from __future__ import annotations

from grants.scenario.demo import build
from grants.scenario.model import parse_scenario
from grants.scenario.stages import StageNames


def test_every_stage_of_the_demo_is_named_in_words() -> None:
    scenario = parse_scenario(build())
    name = StageNames(scenario)
    labels = [name(a) for a in scenario.actions]
    assert all("_" not in label for label in labels), {label for label in labels if "_" in label}
    assessors = {a.assessor for a in scenario.actions if a.type == "score"}
    assert f"scoring 1/{len(assessors)} assessors" in labels
    assert any(label.startswith("payments Q") and label[-4:].isdigit() for label in labels)
    assert labels[-1] == "auditors' replay" or "audit_replay" not in {a.type for a in
                                                                      scenario.actions}
