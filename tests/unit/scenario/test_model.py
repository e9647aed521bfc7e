"""The scenario format v1: structure is checked before anything runs; values are not."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from grants.scenario import demo, rule_scenarios
from grants.scenario.model import ScenarioError, Submit, load_scenario, parse_scenario

SCENARIOS = Path(__file__).resolve().parents[3] / "grants" / "scenarios"


def _example() -> dict[str, Any]:
    return json.loads((SCENARIOS / "example-small.json").read_text())


def _problems(data: Any) -> list[str]:
    with pytest.raises(ScenarioError) as exc:
        parse_scenario(data)
    return exc.value.problems


def test_example_loads_with_its_refs_in_order() -> None:
    s = load_scenario(SCENARIOS / "example-small.json")
    assert s.refs() == ["KBH", "GENTOFTE", "AARHUS", "RANDERS"]
    assert isinstance(s.first_submit("AARHUS"), Submit)


def test_unknown_key_is_refused_with_its_path() -> None:
    data = _example()
    data["actions"][2]["budget"]["lines"][0]["amount"] = 1
    assert any(p.startswith("actions.2.budget.lines.0.amount:") for p in _problems(data))


def test_wrong_type_and_unknown_action_type() -> None:
    data = _example()
    data["actions"][4]["scores"]["1"] = "five"
    data["actions"][5]["type"] = "dance"
    problems = _problems(data)
    assert any(p.startswith("actions.4.scores.1:") for p in problems)
    assert any(p.startswith("actions.5") for p in problems)


def test_time_going_backwards_is_refused() -> None:
    data = _example()
    data["actions"][3]["at"] = "2020-01-01T00:00:00+00:00"
    assert any("actions.3.at goes backwards" in p for p in _problems(data))


def test_instants_need_an_offset() -> None:
    data = _example()
    data["actions"][0]["at"] = "2025-05-10T09:00:00"
    assert any(p.startswith("actions.0.at:") for p in _problems(data))


def test_invalid_values_are_left_for_the_services_to_judge() -> None:
    data = _example()
    data["actions"][0]["applicant"]["cvr"] = "not a cvr"
    data["actions"][0]["budget"]["lines"][0]["amount_oere"] = -5
    parse_scenario(data)


def test_bad_pool_is_refused_naming_the_field() -> None:
    data = _example()
    data["pool"]["total_dkk"] = 1
    assert any("sub_pools" in p for p in _problems(data))


def test_a_file_that_cannot_be_read_is_not_called_malformed(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_scenario(Path("/nonexistent/scenario.json"))
    with pytest.raises(IsADirectoryError):
        load_scenario(tmp_path)
    latin1 = tmp_path / "latin1.json"
    latin1.write_bytes('{"name": "K\xf8ge"}'.encode("latin-1"))
    with pytest.raises(UnicodeDecodeError):
        load_scenario(latin1)
    not_json = tmp_path / "x.json"
    not_json.write_text("{")
    with pytest.raises(ScenarioError, match="not JSON"):
        load_scenario(not_json)


def test_a_ref_that_is_never_submitted_is_refused_naming_the_action() -> None:
    data = _example()
    index = next(i for i, a in enumerate(data["actions"]) if a["type"] == "score")
    data["actions"][index]["ref"] = "TYPO"
    problems = _problems(data)
    assert any(p.startswith(f"actions.{index}.ref:") and "never submitted" in p
               for p in problems), problems


def test_an_it_problem_contact_may_name_an_applicant_who_never_submitted() -> None:
    data = _example()
    first = data["actions"][0]
    data["actions"].insert(1, {"at": first["at"], "type": "it_problem_contact", "ref": "NEVER",
                               "documentation": True, "attempted_before_deadline": True,
                               "screenshot_at": None})
    parse_scenario(data)


def test_repo_scenarios_are_generated_and_well_formed() -> None:
    for path, text in rule_scenarios.rendered().items():
        assert path.read_text() == text, f"{path.name} is stale: python -m grants.scenario.rule_scenarios"
        if not path.name.endswith(".expected.json"):
            parse_scenario(json.loads(text))
    for path, text in demo.rendered().items():
        assert path.read_text(encoding="utf-8") == text, f"{path} is stale: python -m grants.scenario.demo"


def test_demo_has_all_98_municipalities_with_valid_cvrs_and_runs_with_the_shipped_register() -> None:
    s = parse_scenario(demo.build())
    assert len(s.refs()) == 98 + 1  # and one applicant the register does not know
    for ref in s.refs():
        if ref != demo.UNKNOWN_CVR:
            cvr = demo.cvr_for(ref)
            assert sum(w * int(d) for w, d in zip(demo.WEIGHTS, cvr)) % 11 == 0
    shipped = {row["cvr"]: row for row in demo.municipality_rows() + demo.organisation_rows()}
    assert s.organisations is not None
    assert {o.cvr: (o.kind, o.municipality_code) for o in s.organisations} == {
        cvr: (row["kind"], row["municipality_code"]) for cvr, row in shipped.items()}
    unknown = s.first_submit(demo.UNKNOWN_CVR)
    assert unknown is not None and unknown.applicant.cvr not in shipped
    assert all(p.cvr == demo.cvr_for(p.municipality_code) for p in s.prior_awards)


def test_without_organisations_each_applicant_is_registered_as_it_first_appears() -> None:
    data = _example()
    data["actions"].insert(1, {**data["actions"][0], "ref": "KBH2",
                               "applicant": {**data["actions"][0]["applicant"],
                                             "municipality_code": "147"}})
    data["actions"].insert(1, {**data["actions"][0], "ref": "BAD",
                               "applicant": {"cvr": "12345678", "municipality_code": "101",
                                             "name": "x"}})
    s = parse_scenario(data)
    register = {o.cvr: o for o in s.register()}
    assert register["27998194"].municipality_code == "101"  # the first appearance
    assert register["27998194"].kind == "municipality" and "12345678" not in register
    data["prior_awards"] = [{"programme": "p", "municipality_code": "101", "pool_id": "old"},
                            {"programme": "p", "municipality_code": "147", "pool_id": "old"},
                            {"programme": "p", "municipality_code": "147", "pool_id": "old",
                             "cvr": "29147000"}]
    s = parse_scenario(data)
    assert [s.grantee_of(p) for p in s.prior_awards] == ["27998194", None, "29147000"]


def test_organisations_the_register_would_refuse_are_left_out_and_duplicates_refused() -> None:
    data = _example()
    data["organisations"] = [
        {"cvr": "27998194", "name": "København Kommune", "kind": "municipality",
         "municipality_code": "101"},
        {"cvr": "12345678", "name": "x", "kind": "club", "municipality_code": "999"}]
    s = parse_scenario(data)
    assert [o.cvr for o in s.register()] == ["27998194"]
    assert s.organisations is not None
    problems = s.organisations[1].problems()
    assert problems[0] == "cvr: fails the CVR modulus-11 check"
    assert any(p.startswith("kind:") for p in problems)
    data["organisations"].append({**data["organisations"][0], "name": "again"})
    assert any("organisations.2.cvr: 27998194 is also organisations.0" in p
               for p in _problems(data))
    data["organisations"][0]["municipality"] = "101"
    assert any(p.startswith("organisations.0.municipality:") for p in _problems(data))
