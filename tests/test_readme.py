"""The README is the product's front door: its commands and its reason codes must be true."""

from __future__ import annotations

import re
from pathlib import Path

from grants import reason_codes

ROOT = Path(__file__).resolve().parents[1]


def test_first_code_block_holds_exactly_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```(?:bash)?\n(.*?)```", text, re.S)
    assert block, "the README opens with no code block"
    commands = [line.split("#")[0].strip() for line in block.group(1).splitlines()
                if line.split("#")[0].strip()]
    assert commands == ["./scripts/demo.sh", "./scripts/test.sh"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "scripts/test.sh" in ci, ".ci/run must call the README's test command"


def test_every_reason_code_is_documented() -> None:
    text = (ROOT / "README.md").read_text()
    assert reason_codes.updated_readme(text) == text, "run: python -m grants.reason_codes"
    for _, codes in reason_codes.tables():
        for code in codes:
            assert f"`{code}`" in text


def test_every_code_the_code_emits_is_in_the_readme() -> None:
    """Collected from the source (refusals, reason(...) calls, ``"error": ...`` answers), not
    from the tables: a code emitted anywhere but documented nowhere fails here (issue 14)."""
    emitted = reason_codes.emitted_codes()
    assert {"token_missing", "json_invalid", "hold_released"} <= emitted, "pattern out of date"
    documented = {code for _, codes in reason_codes.tables() for code in codes}
    assert emitted <= documented, f"emitted but not in the README: {sorted(emitted - documented)}"
