"""Issue 23 point 4: the state digest is a function of the log, so the same round played twice,
each time on a fresh stack that ``grants scenario run`` starts and stops itself, gives the same
digest (the runner's ids are derived from the scenario, not drawn at random)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "grants" / "scenarios" / "example-small.json"


def _digest(home: Path, out: Path) -> str:
    env = {**os.environ, "GRANTS_HOME": str(home)}
    done = subprocess.run(
        [sys.executable, "-m", "grants.cli", "scenario", "run", str(SCENARIO), "--out", str(out),
         "--no-progress"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert not (home / "stack.json").exists()  # the stack it started was stopped
    result = json.loads(out.read_text())
    assert result["audit"]["verified"], result["audit"]
    return str(result["audit"]["digest"])


def test_the_same_round_on_fresh_stacks_gives_the_same_digest(tmp_path: Path) -> None:
    first = _digest(tmp_path / "a", tmp_path / "a.json")
    second = _digest(tmp_path / "b", tmp_path / "b.json")
    assert first.startswith("sha256:") and first == second
