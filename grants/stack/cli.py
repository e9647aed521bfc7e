"""``grants stack``: bring the embedded stack up and down, inspect it, read its logs."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from grants.stack._proc import tail
from grants.stack.supervisor import ALL_SERVICES, EmbeddedStack, StackError, StackState

stack_app = typer.Typer(help="The local embedded stack: broker, PostgreSQL and the services.",
                        no_args_is_help=True)  # fmt: skip
console = Console()
err = Console(stderr=True)


def _stack() -> EmbeddedStack:
    return EmbeddedStack(echo=lambda msg: console.print(f"[dim]·[/dim] {msg}"), with_console=True)


def _parse_services(raw: str | None) -> list[str] | None:
    if raw is None:
        return None
    return [s.strip() for s in raw.split(",") if s.strip()]


@stack_app.command()
def up(
    simulation: Annotated[
        bool, typer.Option("--simulation", help="Run services in simulation mode (simulated clock/finance).")
    ] = False,
    services: Annotated[
        str | None,
        typer.Option(help=f"Comma-separated services to start (default: {','.join(ALL_SERVICES)}; '' for none)."),
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for each service's /health.")] = 60.0,
) -> None:
    """Start broker, PostgreSQL, topics, databases and the services; exits 0 if already up."""
    stack = _stack()
    existing = stack.load_state()
    if existing is not None and existing.infra_alive():
        console.print(f"stack already up (state in {stack.state_path})")
        _print_status(existing)
        return
    started = time.perf_counter()
    try:
        state = stack.up(simulation=simulation, services=_parse_services(services),
                         health_timeout=timeout)  # fmt: skip
    except StackError as exc:
        err.print(f"[red]stack up failed:[/red] {exc}")
        raise typer.Exit(1) from None
    console.print(f"[green]stack up[/green] in {time.perf_counter() - started:.1f}s")
    _print_status(state)


@stack_app.command()
def down(
    grace: Annotated[float, typer.Option(help="Seconds between SIGTERM and SIGKILL.")] = 10.0,
) -> None:
    """Stop the services, the broker and PostgreSQL, and remove the stack state."""
    stack = _stack()
    if not stack.down(grace=grace):
        console.print("no stack is up")
        return
    console.print("[green]stack down[/green]")


@stack_app.command()
def status() -> None:
    """Show every process of the stack; exits 1 if there is no stack or a process is dead."""
    state = EmbeddedStack().load_state()
    if state is None:
        console.print("no stack is up")
        raise typer.Exit(1)
    if not _print_status(state):
        raise typer.Exit(1)


@stack_app.command()
def logs(
    service: Annotated[
        str | None, typer.Argument(help="Service name, 'broker' or 'postgres'; all when omitted.")
    ] = None,
    lines: Annotated[int, typer.Option("-n", "--lines", help="Lines from the end.")] = 50,
    follow: Annotated[bool, typer.Option("-f", "--follow", help="Keep printing new lines.")] = False,
) -> None:
    """Print the last lines of a log (or of every log)."""
    stack = EmbeddedStack()
    if service is None:
        paths = sorted(stack.logs_dir.glob("*.log")) if stack.logs_dir.exists() else []
        if not paths:
            console.print(f"no logs in {stack.logs_dir}")
            raise typer.Exit(1)
        for path in paths:
            console.rule(path.stem)
            console.out(tail(path, lines), highlight=False)
        return
    path = stack.log_path(service)
    if not path.exists():
        err.print(f"no log for {service!r} at {path}")
        raise typer.Exit(1)
    console.out(tail(path, lines), highlight=False)
    if follow:
        with path.open("rb") as f:
            f.seek(0, 2)
            try:
                while True:
                    chunk = f.read()
                    if chunk:
                        console.out(chunk.decode("utf-8", "replace"), end="", highlight=False)
                    else:
                        time.sleep(0.25)
            except KeyboardInterrupt:
                pass


def _print_status(state: StackState) -> bool:
    mode = "simulation" if state.simulation else "live"
    table = Table(title=f"grants stack ({mode} mode), home {state.home}")
    for col in ("component", "state", "pid", "address", "log"):
        table.add_column(col, overflow="fold")
    rows = [
        ("broker", state.broker.alive(), state.broker.pid, state.kafka_bootstrap,
         state.broker.log_path),
        ("postgres", state.postgres.alive(), state.postgres.pid, state.pg_url,
         state.postgres.log_path),
    ] + [
        (name, svc.alive(), svc.pid, svc.http_url, svc.log_path)
        for name, svc in [*state.services.items(), *(
            [("console", state.console)] if state.console is not None else [])]
    ]  # fmt: skip
    for name, alive, pid, address, log in rows:
        mark = "[green]alive[/green]" if alive else "[red]dead[/red]"
        shown = "" if log is None else str(log)
        if log is not None and Path(log).is_relative_to(state.home):
            shown = str(Path(log).relative_to(state.home))
        table.add_row(name, mark, str(pid), address, shown)
    console.print(table)
    if state.console is not None:  # the one address a person opens: on a line of its own
        console.print(f"console: {state.console.http_url}", soft_wrap=True, highlight=False)
    return all(row[1] for row in rows)
