"""`grants scenario run FILE [--out RESULT.json]`."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import typer
from rich.console import Console

from grants.cli_errors import CliError, ExitCode, file_error
from grants.scenario.model import ScenarioError, load_scenario
from grants.scenario.play import PlayError, play

app = typer.Typer(help="Play pool-round scenarios (format grants-scenario/1).", no_args_is_help=True)


@app.command("run")
def run(
    file: Path = typer.Argument(..., help="scenario JSON (shared/SCENARIOS.md format v1)"),
    out: Path | None = typer.Option(None, "--out", "-o", help="write the result JSON here"),
    progress: bool = typer.Option(True, help="show a progress bar"),
    keep_stack: bool = typer.Option(False, help="leave a stack this command started running"),
    kafka_bootstrap: str | None = typer.Option(
        None, "--kafka-bootstrap", envvar="GRANTS_STACK_KAFKA_BOOTSTRAP",
        help="when this command starts the stack: on this existing Kafka (HOST:PORT[,…]), as "
             "`grants stack up --kafka-bootstrap` does"),
    pg_url: str | None = typer.Option(
        None, "--pg-url", envvar="GRANTS_STACK_PG_URL",
        help="when this command starts the stack: on this existing PostgreSQL server"),
) -> None:
    """Play FILE through the running services (starting a stack in simulation mode if none
    runs: the embedded broker and PostgreSQL, or the existing ones --kafka-bootstrap / --pg-url
    name, which stopping the stack leaves running). Exit 0 when it ran; 3 FILE cannot be read;
    4 the scenario is malformed (every bad key named, e.g. a ref no `submit` has); 8 the stack
    is not usable, or is up on another broker or database (see `grants --help`)."""
    console = Console(stderr=True)
    try:
        scenario = load_scenario(file)
    except (OSError, UnicodeDecodeError) as exc:
        raise file_error(file, exc) from None
    except ScenarioError as exc:
        console.print(f"[red]malformed scenario {file}[/red]")
        for problem in exc.problems:
            console.print(f"  {problem}", highlight=False)
        raise typer.Exit(ExitCode.MALFORMED) from None
    try:
        played = asyncio.run(play(scenario, console=console, show_progress=progress,
                                  keep_stack=keep_stack, kafka_bootstrap=kafka_bootstrap,
                                  pg_url=pg_url))
    except PlayError as exc:
        raise CliError(f"could not run the scenario: {exc}", ExitCode.STACK) from None
    text = json.dumps(played.result, indent=2, ensure_ascii=False)
    if out:
        out.write_text(text + "\n")
        console.print(f"result written to {out} ({played.wall_s:.1f} s)")
    else:
        print(text)
