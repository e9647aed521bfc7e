"""Issue 23, point 2: from the real ``grants`` entry point, every expected failure is one
readable line with what to do and its documented exit code, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from grants.cli_errors import ExitCode
from grants.stack import free_port

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "grants" / "scenarios" / "example-small.json"


def grants(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GRANTS_HOME": str(home), "COLUMNS": "100"}
    env.pop("GRANTS_LOG_LEVEL", None)
    return subprocess.run([sys.executable, "-m", "grants.cli", *args], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=120)


def _one_clear_line(done: subprocess.CompletedProcess[str]) -> str:
    output = done.stdout + done.stderr
    assert "Traceback" not in output and "Unable connect" not in output, output
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, output
    return lines[0]


@pytest.mark.parametrize("case", ["missing", "directory", "latin-1"])
def test_a_scenario_file_that_cannot_be_read(case: str, tmp_path: Path) -> None:
    target = {"missing": tmp_path / "nope.json", "directory": tmp_path}.get(case)
    if target is None:
        target = tmp_path / "latin1.json"
        target.write_bytes(EXAMPLE.read_text().replace("Assens", "Kø ge").encode("latin-1"))
    done = grants("scenario", "run", str(target), home=tmp_path / "home")
    assert done.returncode == ExitCode.FILE
    line = _one_clear_line(done)
    assert str(target) in line
    assert {"missing": "no such file", "directory": "is a directory",
            "latin-1": "not UTF-8"}[case] in line
    assert not (tmp_path / "home" / "stack.json").exists()  # refused before any stack starts


def test_a_ref_that_is_never_submitted_refuses_the_scenario(tmp_path: Path) -> None:
    data = json.loads(EXAMPLE.read_text())
    index = next(i for i, a in enumerate(data["actions"]) if a["type"] == "score")
    data["actions"][index]["ref"] = "TYPO"
    bad = tmp_path / "typo.json"
    bad.write_text(json.dumps(data))
    done = grants("scenario", "run", str(bad), home=tmp_path / "home")
    assert done.returncode == ExitCode.MALFORMED
    assert f"actions.{index}.ref: 'TYPO' is never submitted" in done.stderr
    assert "Traceback" not in done.stderr


def test_no_broker_is_one_line_not_eleven(tmp_path: Path) -> None:
    port = free_port()
    done = grants("provision", "topics", "--bootstrap", f"127.0.0.1:{port}", "--timeout", "2",
                  home=tmp_path)
    assert done.returncode == ExitCode.BROKER
    assert f"127.0.0.1:{port}" in _one_clear_line(done)


def test_an_unknown_command_is_a_usage_error(tmp_path: Path) -> None:
    done = grants("stack", "sideways", home=tmp_path)
    assert done.returncode == ExitCode.USAGE
    assert "Traceback" not in done.stderr


def test_help_documents_the_exit_codes(tmp_path: Path) -> None:
    done = grants("--help", home=tmp_path)
    assert done.returncode == 0
    text = " ".join(done.stdout.split())
    for code in ("3 a file missing", "5 Kafka unreachable", "7 a port in use", "130 interrupted"):
        assert code in text


def test_stack_up_on_a_broker_that_does_not_answer(tmp_path: Path) -> None:
    port = free_port()
    done = grants("stack", "up", "--services", "", "--kafka-bootstrap", f"127.0.0.1:{port}",
                  home=tmp_path)
    assert done.returncode == ExitCode.BROKER
    assert f"127.0.0.1:{port} does not answer" in _one_clear_line(done)
    assert not (tmp_path / "stack.json").exists()


def test_stack_up_on_a_database_that_does_not_answer(tmp_path: Path) -> None:
    port = free_port()
    done = grants("stack", "up", "--services", "", "--pg-url",
                  f"postgresql://postgres:secret@127.0.0.1:{port}", home=tmp_path)
    assert done.returncode == ExitCode.DATABASE
    line = done.stderr.strip().splitlines()[-1]
    assert f"127.0.0.1:{port} does" in line and "secret" not in done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert not (tmp_path / "stack.json").exists()  # the broker it had started is stopped again
