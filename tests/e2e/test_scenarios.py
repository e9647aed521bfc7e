"""End-to-end: every service its own process, the real broker and PostgreSQL, a simulated clock.

Each ``grants/scenarios/<name>.json`` with a ``<name>.expected.json`` beside it is played through
``grants scenario run`` (the CLI, as a user runs it) against one embedded stack started in
simulation mode for this module; the result must hold every expected value, field by field.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from grants.stack import EmbeddedStack
from grants.stack.supervisor import address_answers
from tests.infra.stacks import session_infra_namespace, stack_for_test

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "grants" / "scenarios"
CASES = sorted(p for p in SCENARIOS.glob("*.json")
               if not p.name.endswith(".expected.json") and p.with_name(
                   p.name.replace(".json", ".expected.json")).exists())


@pytest.fixture(scope="module")
def stack_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("stack")
    with stack_for_test(home, simulation=True, env={"GRANTS_HOME": str(home)}):
        yield home


def _play(home: Path, scenario: Path, out: Path, *args: str,
          env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **(env or {}), "GRANTS_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "grants.cli", "scenario", "run", str(scenario), "--out", str(out),
         "--no-progress", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def assert_subset(expected: Any, actual: Any, path: str = "") -> None:
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{path}: expected an object, got {actual!r}"
        for key, value in expected.items():
            assert key in actual, f"{path}.{key}: missing from the result"
            assert_subset(value, actual[key], f"{path}.{key}")
    else:
        assert actual == expected, f"{path}: expected {expected!r}, got {actual!r}"


@pytest.mark.parametrize("scenario", CASES, ids=lambda p: p.stem)
def test_scenario(stack_home: Path, scenario: Path, tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    done = _play(stack_home, scenario, out)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    expected = json.loads(scenario.with_name(scenario.name.replace(".json", ".expected.json"))
                          .read_text())
    assert result["format"] == "grants-scenario-result/1"
    refs = {k: v for k, v in expected.items() if k not in ("sub_pools", "audit")}
    assert_subset(refs, result["applications"], "applications")
    assert_subset({k: v for k, v in expected.items() if k in ("sub_pools", "audit")}, result)


def test_malformed_scenario_is_refused_with_the_bad_key(stack_home: Path, tmp_path: Path) -> None:
    data = json.loads((SCENARIOS / "example-small.json").read_text())
    data["actions"][1]["applicant"]["cvrr"] = data["actions"][1]["applicant"].pop("cvr")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    done = _play(stack_home, bad, tmp_path / "r.json")
    assert done.returncode == 4  # grants.cli_errors.ExitCode.MALFORMED
    assert "actions.1.applicant.cvr" in done.stderr
    assert not (tmp_path / "r.json").exists()


async def test_replay_is_deterministic_and_agrees_with_the_live_read_side(
    stack_home: Path, tmp_path: Path
) -> None:
    """R23: rebuilding twice gives the same state; the log gives the live overview's totals."""
    import httpx

    from grants.audit import audit_replay, stack_keyring
    from audit.replay import state_digest
    from servicekit.identity import DevTokenIssuer

    out = tmp_path / "result.json"
    done = _play(stack_home, SCENARIOS / "example-small.json", out)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    pool_id = result["run"]["pool_id"]
    state = EmbeddedStack(stack_home).load_state()
    assert state is not None
    keys = stack_keyring(state)
    assert keys is not None, "the stack made no checkpoint keys"
    first = await audit_replay(state.kafka_bootstrap, state.pg_url, keys=keys)
    second = await audit_replay(state.kafka_bootstrap, state.pg_url, keys=keys)
    assert first.verified, first.violations
    assert first.checkpoints is not None and all(
        s.last_verified is not None for s in first.checkpoints.services.values())
    assert state_digest(first.replayed) == state_digest(second.replayed)

    ids = set(result["run"]["application_ids"].values())
    apps = [v for k, v in first.replayed.applications.items() if k in ids]
    token = DevTokenIssuer(stack_home / "keys").issue("auditor-e2e", ["auditor"])
    async with httpx.AsyncClient() as http:
        response = await http.get(
            f"{state.services['reporting'].http_url}/pools/{pool_id}/overview",
            headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    live = response.json()["total"]
    assert live["awarded_oere"] == first.replayed.pools[pool_id].awarded_oere
    assert live["paid_oere"] == sum(a.paid_oere for a in apps)
    assert live["repaid_oere"] == sum(a.repayment_oere for a in apps)
    assert live["awarded_oere"] == 225_000_000 and live["repaid_oere"] == 1_000_000


def test_scenario_run_starts_and_stops_its_own_stack(tmp_path: Path) -> None:
    """With no stack running, `grants scenario run` starts one in simulation mode and stops it:
    on the embedded broker and PostgreSQL, or on the session's external ones
    (``GRANTS_TEST_KAFKA_BOOTSTRAP`` / ``GRANTS_TEST_PG_URL``) named by ``--kafka-bootstrap`` /
    ``--pg-url``, in a namespace of its own, and those it leaves running."""
    home = tmp_path / "own-stack"
    out = tmp_path / "result.json"
    with session_infra_namespace() as (kafka, pg, namespace):
        given = [*(["--kafka-bootstrap", kafka] if kafka else []),
                 *(["--pg-url", pg] if pg else [])]
        done = _play(home, SCENARIOS / "rule-deadline-edges.json", out, *given, env=namespace)
        assert done.returncode == 0, done.stderr[-3000:]
        result = json.loads(out.read_text())
        assert result["applications"]["MS_AFTER"]["intake"] == "late_rejected"
        assert EmbeddedStack(home).load_state() is None, "the stack it started is still recorded"
        for address in (kafka, pg):
            if address:
                assert address_answers(address), f"stopping the stack stopped {address}"
