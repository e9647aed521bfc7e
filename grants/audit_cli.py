"""`grants audit replay`: the auditors' replay against the embedded stack or a deployed platform."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from aiokafka.errors import KafkaError
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from grants.audit import AuditReport, audit_replay
from grants.stack import EmbeddedStack
from servicekit.kafka_security import KafkaSecurityError, client_kwargs
from servicekit.settings import ServiceSettings

app = typer.Typer(help="Auditors' tools: replay and verify the whole history.",
                  no_args_is_help=True)


def print_report(report: AuditReport, console: Console) -> None:
    r = report.replayed
    counts = Table(title="events on the log", show_header=True)
    counts.add_column("event type")
    counts.add_column("count", justify="right")
    for event_type, n in sorted(r.counts.items()):
        counts.add_row(event_type, str(n))
    console.print(counts)
    totals = Table(title="totals (DKK)")
    totals.add_column("what")
    totals.add_column("amount", justify="right")
    for name, value in r.totals.model_dump().items():
        shown = f"{value / 100:,.2f}" if name.endswith("_oere") else str(value)
        totals.add_row(name.removesuffix("_oere"), shown)
    console.print(totals)
    chains = Table(title="audit hash chains")
    chains.add_column("service")
    chains.add_column("entries", justify="right")
    chains.add_column("verdict")
    for c in report.chains:
        chains.add_row(c.service, str(c.entries),
                       "[green]intact[/green]" if not c.problem else f"[red]{c.problem['message']}")
    console.print(chains)
    if report.verified:
        console.print(f"[bold green]VERIFIED[/bold green]: {r.events} events, every R23 invariant "
                      "holds and every hash chain is intact")
    else:
        console.print(f"[bold red]VIOLATIONS ({len(report.violations)})[/bold red]")
        for v in report.violations:
            console.print(f"  {v.get('invariant')}: {v.get('message')} "
                          f"(event {v.get('event_id')}, {v.get('topic', v.get('service'))}"
                          f"{'@' + str(v['offset']) if v.get('offset') is not None else ''})")


@app.command("replay")
def replay_command(
    json_out: Path | None = typer.Option(None, "--json", help="write the report as JSON"),
    bootstrap: str | None = typer.Option(
        None, envvar="GRANTS_KAFKA_BOOTSTRAP",
        help="Kafka of a deployed platform (default: the embedded stack's); with --pg-url"),
    pg_url: str | None = typer.Option(
        None, envvar="GRANTS_PG_URL",
        help="PostgreSQL server URL without a database (each service's database is read)"),
) -> None:
    """Read every topic from offset 0 (own consumer group), rebuild all four services' state,
    verify R23 and the hash chains. Exit 0 verified, 1 violations, 2 could not run.

    A deployed platform: --bootstrap and --pg-url, Kafka security from GRANTS_KAFKA_* (a
    read-only principal; see docs/production.md)."""
    console = Console()
    client_options: dict[str, Any] = {}
    if bootstrap or pg_url:
        if not (bootstrap and pg_url):
            console.print("[red]--bootstrap and --pg-url go together[/red] (or neither: the "
                          "embedded stack)")
            raise typer.Exit(2)
        try:
            client_options = client_kwargs(ServiceSettings(service_name="audit"))
        except KafkaSecurityError as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(2) from None
    else:
        state = EmbeddedStack().load_state()
        if state is None or not state.infra_alive():
            console.print("[red]no running stack[/red] (start one with `grants stack up`, or "
                          "give --bootstrap and --pg-url of a deployed platform)")
            raise typer.Exit(2)
        bootstrap, pg_url = state.kafka_bootstrap, state.pg_url
    with Progress(TextColumn("reading the log"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console) as progress:
        task = progress.add_task("read", total=None)

        def on_progress(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        try:
            report = asyncio.run(_replay(bootstrap, pg_url, on_progress, client_options))
        except (OSError, KafkaError) as exc:
            console.print(f"[red]could not read the log:[/red] {type(exc).__name__}: {exc}")
            raise typer.Exit(2) from None
    print_report(report, console)
    if json_out:
        json_out.write_text(json.dumps(report.summary(), indent=2) + "\n")
    raise typer.Exit(0 if report.verified else 1)


async def _replay(bootstrap: str, pg_url: str, on_progress: Callable[[int, int], None],
                  client_options: dict[str, Any]) -> AuditReport:
    """``audit_replay`` with the Kafka security options of a deployed platform."""
    return await audit_replay(bootstrap, pg_url, on_progress, client_options=client_options)
