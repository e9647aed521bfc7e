"""`grants outbox …`: the operators' view of outbox rows the relay holds (``grants.outbox``).

    held     per service: every held row (id, topic, key, event type, since, error, rows behind it)
    retry    clear the hold of rows (by id, or --all) after fixing the cause; the relay sends them

Against the running embedded stack's PostgreSQL, or a deployed platform's with --pg-url (the
server URL without a database; each service's database is named as the stack names it). Exit
codes: 0 done (held: none held), 1 rows are held / nothing to retry, 2 usage, 6 PostgreSQL
unreachable, 8 no stack.
"""

from __future__ import annotations

import asyncio
import json

import typer
from rich.console import Console

from contracts.topics import PLATFORM_SERVICES
from grants import outbox
from grants.cli_errors import CliError, ExitCode
from grants.tables import Column, fitted_table

app = typer.Typer(help="Outbox rows the relay holds (the broker refused them for good): list, "
                       "retry.", no_args_is_help=True)

PG_URL = typer.Option(None, "--pg-url", envvar="GRANTS_PG_URL",
                      help="a deployed platform's PostgreSQL server URL, without a database "
                           "(default: the running embedded stack's)")


def _pg_url(pg_url: str | None) -> str:
    if pg_url:
        return pg_url
    from grants.stack import EmbeddedStack

    state = EmbeddedStack().load_state()
    if state is None or not state.infra_alive():
        raise CliError("no running stack (start one with `grants stack up`, or give --pg-url "
                       "of a deployed platform)", ExitCode.STACK)
    return state.pg_url


def _services(service: list[str] | None) -> list[str]:
    unknown = sorted(set(service or ()) - set(PLATFORM_SERVICES))
    if unknown:
        raise CliError(f"unknown service {', '.join(unknown)}; one of "
                       f"{', '.join(PLATFORM_SERVICES)}", ExitCode.USAGE)
    return list(service) if service else list(PLATFORM_SERVICES)


@app.command("held")
def held_command(
    service: list[str] | None = typer.Option(None, "--service", help="only this service; "
                                             "repeatable"),
    pg_url: str | None = PG_URL,
    json_out: bool = typer.Option(False, "--json", help="JSON on stdout instead of a table"),
    wide: bool = typer.Option(False, "--wide", help="every column, whatever the width"),
) -> None:
    """Every held outbox row (never its payload). Exit 1 when any is held."""
    rows = asyncio.run(outbox.held_rows(_pg_url(pg_url), _services(service)))
    if json_out:
        typer.echo(json.dumps([r.as_json() for r in rows], indent=2))
    else:
        console = Console()
        if not rows:
            console.print("no outbox row is held")
        else:
            columns = [Column("service", 9, "left"), Column("id", 8), Column("topic", 5, "left"),
                       Column("key", 3, "left"), Column("event type", 4, "left"),
                       Column("held since", 6, "left"), Column("error", 7, "left"),
                       Column("behind", 2)]
            table = [[r.service, str(r.id), r.topic, r.key, r.event_type or "",
                      r.held_at.strftime("%Y-%m-%d %H:%M:%S"), r.error, str(r.behind)]
                     for r in rows]
            console.print(fitted_table("held outbox rows", columns, table,
                                       width=console.width, wide=wide))
    raise typer.Exit(ExitCode.NEGATIVE if rows else ExitCode.OK)


@app.command("retry")
def retry_command(
    ids: list[int] | None = typer.Argument(None, help="outbox row ids (from `grants outbox held`)"),
    service: str = typer.Option(..., "--service", help="the service whose outbox holds them"),
    all_rows: bool = typer.Option(False, "--all", help="every held row of the service"),
    pg_url: str | None = PG_URL,
) -> None:
    """Clear the hold of rows after fixing the cause (see docs/production.md "Outbox held rows");
    the relay publishes each on its next poll, then the rows of its key behind it, in order."""
    (name,) = _services([service])
    if bool(ids) == all_rows:
        raise CliError("give the ids of held rows, or --all (not both)", ExitCode.USAGE)
    cleared = asyncio.run(outbox.retry(_pg_url(pg_url), name, None if all_rows else ids))
    not_held = sorted(set(ids or ()) - set(cleared))
    for row_id in cleared:
        typer.echo(f"{name}: outbox row {row_id} released to the relay")
    for row_id in not_held:
        typer.echo(f"{name}: outbox row {row_id} is not held (sent, unknown, or already retried)")
    if not cleared:
        raise CliError(f"{name}: nothing held to retry", ExitCode.NEGATIVE)
    raise typer.Exit(ExitCode.NEGATIVE if not_held else ExitCode.OK)
