"""One log stream, on the embedded stack after a round (issue 19, item 5).

Every line a service writes is one JSON object (structlog; FastStream, uvicorn and aiokafka
through the same renderer), with no ANSI colour codes and no per-message FastStream lines at
INFO, but one ``batch_processed`` line per consumer batch. PostgreSQL's log never quotes a
statement or a key value: a unique violation and a failing statement that carry applicant text
(as parameter and as literal) leave only their primary error messages.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from grants.stack import EmbeddedStack

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "grants" / "scenarios" / "example-small.json"
SERVICES = ("intake", "assessment", "payments", "reporting")
SECRET = "Applicant Secret Jensen"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("logstack")
    stack = EmbeddedStack(home, durable=False, die_with_parent=True)
    state = stack.up(simulation=True)
    try:
        env = {**os.environ, "GRANTS_HOME": str(home)}
        done = subprocess.run(
            [sys.executable, "-m", "grants.cli", "scenario", "run", str(SCENARIO), "--out",
             str(home / "result.json"), "--no-progress"], cwd=ROOT, env=env,
            capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        asyncio.run(_errors_with_applicant_data(state.pg_url))
        yield home
    finally:
        stack.down()


async def _errors_with_applicant_data(pg_url: str) -> None:
    conn = await asyncpg.connect(f"{pg_url}/postgres")
    try:
        await conn.execute("CREATE TEMP TABLE applicants (name text PRIMARY KEY)")
        await conn.execute("INSERT INTO applicants VALUES ($1)", SECRET)
        with pytest.raises(asyncpg.UniqueViolationError):
            await conn.execute("INSERT INTO applicants VALUES ($1)", SECRET)
        with pytest.raises(asyncpg.DivisionByZeroError):
            await conn.fetchval(f"SELECT 1 / 0 FROM (SELECT '{SECRET} literal' AS n) s")
    finally:
        await conn.close()


def test_every_service_line_is_json_without_colour_or_per_message_lines(home: Path) -> None:
    batches = 0
    for name in SERVICES:
        text = (home / "logs" / f"{name}.log").read_text()
        assert "\x1b" not in text, f"{name}.log holds ANSI escape codes"
        lines = [line for line in text.splitlines() if line.strip()]
        assert lines, f"{name}.log is empty"
        for number, line in enumerate(lines, 1):
            try:
                entry = json.loads(line)
            except ValueError:
                pytest.fail(f"{name}.log line {number} is not JSON: {line[:200]}")
            assert isinstance(entry, dict) and "event" in entry and "level" in entry, line[:200]
            assert entry["event"] not in ("Received", "Processed"), f"{name}: {line[:200]}"
            batches += entry["event"] == "batch_processed"
    assert batches > 0, "no consumer wrote a batch_processed line"


def test_postgres_log_quotes_no_statement_and_no_applicant_data(home: Path) -> None:
    text = (home / "logs" / "postgres.log").read_text()
    assert "duplicate key value violates unique constraint" in text  # the errors were logged
    assert "division by zero" in text
    assert SECRET not in text and "STATEMENT:" not in text and "DETAIL:" not in text
    names = {a["applicant"]["name"] for a in json.loads(SCENARIO.read_text())["actions"]
             if "applicant" in a}
    assert names and not any(n in text for n in names)
