"""Tables fit 80 columns by leaving out low-priority columns, never by truncating cells; the
demo's closing lines say what was refused (by action number), where the result is, and that
the stack was stopped (issue 23 point 4)."""

from __future__ import annotations

import io
from pathlib import Path
from types import SimpleNamespace

from rich.console import Console

from grants.demo_cli import closing_lines, refused_line
from grants.pool_cli import overview_table

FIGURES = {"applications": 12, "applied_oere": 1_234_567_89, "awards": 7,
           "awarded_oere": 987_654_32, "accepted_oere": 876_543_21, "paid_oere": 765_432_10,
           "spent_oere": 654_321_09, "repaid_oere": 12_345_67, "waived_oere": 1_234_56}
VIEW = {"pool_id": "familiehus-2022", "title": "Familiehuse", "total_amount_oere": 5_000_000_00,
        "sub_pool_amounts_oere": {"1084": 2_500_000_00, "1085": 2_500_000_00},
        "sub_pools": {"1084": FIGURES, "1085": FIGURES}, "total": FIGURES}


def _render(table: object, width: int) -> str:
    out = io.StringIO()
    Console(file=out, width=width, color_system=None).print(table)
    return out.getvalue()


def test_pool_overview_fits_80_columns_without_truncating_a_cell() -> None:
    text = _render(overview_table(VIEW, width=80), 80)
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "…" not in text
    for kept in ("sub-pool", "awarded", "paid", "987,654.32"):
        assert kept in text
    assert "--wide shows all" in text and "waived" in text.split("left out")[1]


def test_wide_shows_every_column() -> None:
    text = _render(overview_table(VIEW, width=80, wide=True), 200)
    for header in ("applications", "applied", "accepted", "spent", "repaid", "waived"):
        assert header in text
    assert "left out" not in text


def test_refused_actions_are_named_by_number_and_type() -> None:
    note = {"action": 440, "type": "submit", "ref": "X", "status": 422,
            "error": "budget_total_mismatch"}
    assert refused_line(note) == "action #440 (submit): budget_total_mismatch"
    assert refused_line({**note, "action": -1, "type": "organisations"}).startswith("register")


def test_closing_lines_say_where_the_result_is_and_that_the_stack_stopped() -> None:
    played = SimpleNamespace(result={"notes": []}, stack_started=True)
    lines = closing_lines(played, Path("demo-result.json"), keep_stack=False)  # type: ignore[arg-type]
    assert lines[-2] == f"result JSON: {Path('demo-result.json').resolve()}"
    assert "stopped" in lines[-1]
    kept = closing_lines(played, Path("r.json"), keep_stack=True)  # type: ignore[arg-type]
    assert "still running" in kept[-1]
