"""``grants stack``: bring the embedded stack up and down, inspect it, read its logs."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

import httpx

from grants.cli_errors import CliError, ExitCode
from grants.stack._proc import tail
from grants.stack.supervisor import (
    ALL_SERVICES,
    EmbeddedStack,
    ServiceProcess,
    StackState,
    _redact,
)

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
        bool, typer.Option("--simulation", help="Run the services in simulation mode: the "
                           "simulated clock, moved by each request's X-Grants-Simulated-Time "
                           "(what `grants scenario run` and the demo need).")
    ] = False,
    services: Annotated[
        str | None,
        typer.Option(help=f"Comma-separated services to start (default: {','.join(ALL_SERVICES)}; '' for none)."),
    ] = None,
    kafka_bootstrap: Annotated[
        str | None, typer.Option("--kafka-bootstrap", envvar="GRANTS_STACK_KAFKA_BOOTSTRAP",
                                 help="Use this existing Kafka (HOST:PORT[,…]) instead of the "
                                 "embedded broker; topics are provisioned as `grants provision "
                                 "topics` does, with the GRANTS_KAFKA_* security settings.")
    ] = None,
    pg_url: Annotated[
        str | None, typer.Option("--pg-url", envvar="GRANTS_STACK_PG_URL",
                                 help="Use this existing PostgreSQL server "
                                 "(postgresql://USER@HOST:PORT, a user with CREATEDB) instead "
                                 "of the embedded one.")
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for each service's /health.")] = 60.0,
) -> None:
    """Start broker, PostgreSQL, topics, databases and the services. On a stack that is up:
    start again what died, exit 0; a stack in the other mode or on another broker is refused
    (exit 8)."""
    stack = _stack()
    existing = stack.load_state()
    was_up = existing is not None and existing.infra_alive()
    dead = existing.dead_services() if existing is not None and was_up else []
    started = time.perf_counter()
    state = stack.up(simulation=simulation, services=_parse_services(services),
                     health_timeout=timeout, kafka_bootstrap=kafka_bootstrap,
                     pg_url=pg_url)  # fmt: skip
    if was_up and not dead:
        console.print(f"stack already up in {state.mode} mode (state in {stack.state_path})")
    elif was_up:
        console.print(f"[green]started again[/green] {', '.join(dead)}")
    else:
        console.print(f"[green]stack up[/green] in {state.mode} mode in "
                      f"{time.perf_counter() - started:.1f}s")
    _print_status(state)


@stack_app.command()
def restart(
    service: Annotated[str, typer.Argument(help=f"one of {', '.join(ALL_SERVICES)}")],
    grace: Annotated[float, typer.Option(help="Seconds between SIGTERM and SIGKILL.")] = 10.0,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for its /health.")] = 60.0,
) -> None:
    """Stop one service (if it runs) and start it again on the same port; waits for /health."""
    stack = _stack()
    state = stack.load_state()
    if state is None or not state.infra_alive():
        raise CliError("no stack is up (`grants stack up` starts one)", ExitCode.STACK)
    if service not in state.services:
        raise CliError(f"{service!r} is not a service of this stack (it runs "
                       f"{', '.join(state.services) or 'none'})", ExitCode.USAGE)
    svc = stack.restart_service(service, grace=grace, health_timeout=timeout)
    console.print(f"[green]{service} restarted[/green] (pid {svc.pid}, {svc.http_url})")


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
    """Every process of the stack: up, starting, restarting or dead (with its last log lines),
    and the mode. Exit 0 all up, 1 no stack or a process not up."""
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


def component_states(state: StackState) -> list[tuple[str, str, str, str, str]]:
    """(component, state, pid, address, log) per process; state is ``up``, ``dead``,
    ``starting`` / ``restarting`` (alive, /health not answering yet), or for an existing
    broker or database ``external`` / ``unreachable``."""
    rows: list[tuple[str, str, str, str, str]] = []
    for name, proc, address in (("broker", state.broker, state.kafka_bootstrap),
                                ("postgres", state.postgres, _redact(state.pg_url))):
        if proc is None:
            alive = state.broker_alive() if name == "broker" else state.postgres_alive()
            rows.append((name, "external" if alive else "unreachable", "-", address, "-"))
        else:
            rows.append((name, "up" if proc.alive() else "dead", str(proc.pid), address,
                         _shown_log(state, proc.log_path)))
    with httpx.Client(timeout=1.0) as client:
        for name, svc in _processes(state):
            rows.append((name, _service_state(client, svc), str(svc.pid), svc.http_url,
                         _shown_log(state, svc.log_path)))
    return rows


def _processes(state: StackState) -> list[tuple[str, ServiceProcess]]:
    """The services and, when the stack runs it, the console."""
    extra = [("console", state.console)] if state.console is not None else []
    return [*state.services.items(), *extra]


def _service_state(client: httpx.Client, svc: ServiceProcess) -> str:
    if not svc.alive():
        return "dead"
    try:
        if client.get(f"{svc.http_url}/health").status_code == 200:
            return "up"
    except httpx.HTTPError:
        pass
    return "restarting" if svc.restarts else "starting"


def _shown_log(state: StackState, log: Path | None) -> str:
    if log is None:
        return ""
    return str(log.relative_to(state.home)) if log.is_relative_to(state.home) else str(log)


_STYLE = {"up": "green", "external": "green", "dead": "red", "unreachable": "red"}


def _print_status(state: StackState) -> bool:
    rows = component_states(state)
    where = ("embedded" if not state.external_kafka else "existing Kafka") + " broker, " + (
        "embedded" if not state.external_pg else "existing") + " PostgreSQL"
    table = Table(title=f"grants stack: {state.mode} mode, {where}; home {state.home}")
    for col in ("component", "state", "pid", "address", "log"):
        table.add_column(col, overflow="fold")
    for name, st, pid, address, log in rows:
        style = _STYLE.get(st, "yellow")
        table.add_row(name, f"[{style}]{st}[/{style}]", pid, address, log)
    console.print(table)
    if state.console is not None:  # the one address a person opens: on a line of its own
        console.print(f"console: {state.console.http_url}", soft_wrap=True, highlight=False)
    logs = _log_paths(state)
    for name, st, _pid, _address, _log in rows:
        if st == "dead":
            log = logs.get(name)
            console.print(f"[red]{name} is dead[/red]; last lines of {log}:")
            console.out(_indent(tail(log, 8)) if log else "  (no log)", highlight=False)
    if any(st == "dead" for _n, st, *_ in rows[2:]):
        console.print("`grants stack up` starts the dead services again "
                      "(or `grants stack restart SERVICE`)")
    return all(st in ("up", "external") for _n, st, *_ in rows)


def _log_paths(state: StackState) -> dict[str, Path | None]:
    logs: dict[str, Path | None] = {name: svc.log_path for name, svc in _processes(state)}
    logs["broker"] = state.broker.log_path if state.broker else None
    logs["postgres"] = state.postgres.log_path if state.postgres else None
    return logs


def _indent(text: str) -> str:
    return "\n".join(f"  {line}" for line in text.splitlines())
