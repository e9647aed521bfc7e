"""`grants demo`: the full 2022 family-house round on the embedded stack, with readable tables."""

from __future__ import annotations

import asyncio
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from grants.scenario.demo import build
from grants.scenario.model import parse_scenario
from grants.scenario.play import PlayError, Played, play


def _dkk(oere: int) -> str:
    return f"{oere / 100:,.2f}"


def sub_pool_table(played: Played) -> Table:
    rebuilt = played.runner.rebuilt
    pool = rebuilt.pools[played.runner.pool_id]
    paid: Counter[str] = Counter()
    repaid: Counter[str] = Counter()
    ids = {str(s.application_id) for s in played.runner.refs.values()}
    for app_id, view in rebuilt.applications.items():
        if app_id in ids and view.region_code:
            paid[view.region_code] += view.paid_oere
            repaid[view.region_code] += view.repayment_oere
    names = {s.region_code: s.region for s in played.runner.scenario.pool.sub_pools}
    table = Table(title=f"sub-pools of {played.runner.scenario.pool.pool_id} (DKK)")
    for col in ("region", "amount", "awarded", "awards", "remaining", "paid", "repaid"):
        table.add_column(col, justify="left" if col == "region" else "right")
    for code, sub in sorted(pool.sub_pools.items()):
        table.add_row(f"{code} {names.get(code, '')}", _dkk(sub.amount_oere),
                      _dkk(sub.awarded_oere), str(sub.awards),
                      _dkk(sub.amount_oere - sub.awarded_oere), _dkk(paid[code]),
                      _dkk(repaid[code]))
    return table


def reasons_table(result: dict[str, Any]) -> Table:
    counts: Counter[tuple[str, str]] = Counter()
    for app in result["applications"].values():
        counts[("intake", app["intake"] or "none")] += 1
        for r in app["intake_reasons"]:
            counts[("intake reason", r)] += 1
        for r in app["eligibility_reasons"]:
            counts[("eligibility", r)] += 1
        counts[("decision", app["decision"])] += 1
        for r in app["decision_reasons"]:
            counts[("decision reason", r)] += 1
        if app["revised_budget"] != "none":
            counts[("revised budget", app["revised_budget"])] += 1
        for r in app["revised_budget_reasons"]:
            counts[("budget reason", r)] += 1
    table = Table(title="outcomes and reason codes")
    table.add_column("stage")
    table.add_column("outcome / reason code")
    table.add_column("applications", justify="right")
    for (stage, code), n in sorted(counts.items()):
        table.add_row(stage, code, str(n))
    return table


def verdict_table(played: Played) -> Table:
    audit = played.result["audit"]
    table = Table(title="auditors' replay (R23)")
    table.add_column("check")
    table.add_column("result")
    table.add_row("verdict", "[bold green]VERIFIED" if audit["verified"] else "[bold red]VIOLATIONS")
    table.add_row("events replayed", str(audit["events"]))
    checkpoints = audit.get("checkpoints") or {}
    for service, s in checkpoints.get("services", {}).items():
        last = s["last_verified"]
        table.add_row(f"checkpoints {service}",
                      f"{s['checkpoints']} signed, last verified #{last['sequence']} "
                      f"({last['tree_size']} events, {last['issued_at']})" if last
                      else "[red]none verified")
    if not checkpoints:
        table.add_row("checkpoints", "[red]not verified (no keys)")
    for service, entries in audit.get("chains", {}).items():
        table.add_row(f"hash chain {service}", f"{entries} entries")
    for v in audit["violations"]:
        table.add_row(f"[red]{v.get('invariant')}", str(v.get("message")))
    table.add_row("state digest", str(audit.get("digest", "")))
    table.add_row("wall time", f"{played.wall_s:.1f} s (submission to replay)")
    return table


def refused_line(note: dict[str, Any]) -> str:
    """``action #440 (submit): budget_total_mismatch`` — the number is the action's index in
    the scenario; register entries left out before the first action have no number."""
    where = "register" if note["action"] < 0 else f"action #{note['action']}"
    return f"{where} ({note['type']}): {note['error']}"


def closing_lines(played: Played, out: Path, keep_stack: bool) -> list[str]:
    notes = played.result["notes"]
    lines: list[str] = []
    if notes:
        lines.append(f"{len(notes)} action(s) were refused by the services, as the round "
                     "expects of some:")
        lines += [f"  {refused_line(n)}" for n in notes[:5]]
        if len(notes) > 5:
            lines.append(f"  … and {len(notes) - 5} more, all in `notes` of {out}")
    lines.append(f"result JSON: {out.resolve()}")
    if played.stack_started and not keep_stack:
        lines.append("the embedded stack this demo started has been stopped")
    else:
        lines.append("the stack is still running (`grants stack status`; `grants stack down` "
                     "stops it)")
    return lines


def demo(
    out: Path = typer.Option(Path("demo-result.json"), "--out", "-o", help="result JSON"),
    keep_stack: bool = typer.Option(False, help="leave the stack running afterwards"),
) -> None:
    """Run the full 2022 family-house round (98 municipalities) on the embedded stack."""
    # Wide enough for the tables when the output is a file or a CI log, not a terminal.
    console = Console(width=None if sys.stdout.isatty() else 120)
    scenario = parse_scenario(build())
    console.print(f"[bold]{scenario.name}[/bold]: {len(scenario.actions)} actions")
    try:
        played = asyncio.run(play(scenario, console=console, keep_stack=keep_stack))
    except PlayError as exc:
        console.print(f"[red]could not run the demo:[/red] {exc}")
        raise typer.Exit(1) from None
    out.write_text(json.dumps(played.result, indent=2, ensure_ascii=False) + "\n")
    console.print(sub_pool_table(played))
    console.print(reasons_table(played.result))
    console.print(verdict_table(played))
    for line in closing_lines(played, out, keep_stack):
        console.print(line, highlight=False)
    if keep_stack:
        _print_console_address(console)
    raise typer.Exit(0 if played.result["audit"]["verified"] else 1)


def _print_console_address(console: Console) -> None:
    from grants.stack import EmbeddedStack

    state = EmbeddedStack().load_state()
    if state is not None and state.console is not None:
        console.print(f"the stack is still up; look at the round in the console: "
                      f"{state.console.http_url} (dev sign-in: any id, e.g. sagsbehandler-1, "
                      f"and its roles) — stop it with `grants stack down`", soft_wrap=True)
