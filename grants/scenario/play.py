"""Play a scenario against the embedded stack: use a running one, or start (and stop) one."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from grants.audit import audit_replay, stack_keyring
from grants.scenario.model import Scenario
from grants.scenario.stages import StageNames
from grants.scenario.runner import SERVICES, Endpoints, ScenarioRunner
from grants.stack import EmbeddedStack, StackState
from servicekit.identity import DevTokenIssuer


class PlayError(Exception):
    """The scenario could not be run (not: the scenario ran and things were refused)."""


@dataclass
class Played:
    result: dict[str, Any]
    runner: ScenarioRunner
    wall_s: float
    stack_started: bool


def _endpoints(state: StackState) -> Endpoints:
    missing = [s for s in SERVICES if s not in state.services or not state.services[s].alive()]
    if missing:
        raise PlayError(f"services not running: {', '.join(missing)} (see `grants stack status`)")
    return Endpoints(state.kafka_bootstrap, state.pg_url,
                     {name: state.services[name].http_url for name in SERVICES},
                     state.kafka_client_options())


async def play(scenario: Scenario, *, console: Console, show_progress: bool = True,
               keep_stack: bool = False, kafka_bootstrap: str | None = None,
               pg_url: str | None = None) -> Played:
    """``kafka_bootstrap`` / ``pg_url``: the existing Kafka / PostgreSQL a stack started here
    runs on (``EmbeddedStack.up``); a running stack on others is refused (``StackMismatch``)."""
    # A stack left up for people to look at the round comes with the staff's console.
    stack = EmbeddedStack(with_console=keep_stack)
    state = stack.load_state()
    started = False
    if state is None or not state.infra_alive():
        where = "on the given infrastructure" if kafka_bootstrap or pg_url else "embedded"
        console.print(f"[dim]starting the stack ({where}) in simulation mode…[/dim]")
        # up/down drive their own event loop: run them off this one.
        state = await asyncio.to_thread(stack.up, simulation=True,
                                        kafka_bootstrap=kafka_bootstrap, pg_url=pg_url)
        started = True
    elif not state.simulation:
        raise PlayError("the stack that is up runs in live mode, and a scenario needs "
                        "simulation mode (its times are simulated); stop it with `grants stack "
                        "down`, then `grants stack up --simulation` or let this command start one")
    elif kafka_bootstrap or pg_url:  # refused (StackMismatch) when it runs on others
        state = await asyncio.to_thread(stack.up, simulation=True,
                                        kafka_bootstrap=kafka_bootstrap, pg_url=pg_url)
    try:
        endpoints = _endpoints(state)
        issuer = DevTokenIssuer(state.home / "keys")
        # On a stack that was already running, earlier runs' pools and awards are there too:
        # give this run's pool and programme their own names so runs do not meet (R2).
        # An existing broker or database keeps earlier runs even on a stack started now.
        fresh = started and not state.external_kafka and not state.external_pg
        namespace = None if fresh else f"r{uuid.uuid4().hex[:6]}"
        total = len(scenario.actions)
        stage = StageNames(scenario)
        with Progress(TextColumn("[bold]{task.description:<26}"), BarColumn(),
                      MofNCompleteColumn(), TimeElapsedColumn(), console=console,
                      disable=not show_progress, transient=False) as progress:
            task = progress.add_task("setting up the pool", total=total)

            def on_progress(index: int, action: Any) -> None:
                progress.update(task, completed=index + 1, description=stage(action))

            async def audit() -> Any:
                progress.update(task, description="auditors' replay")
                return await audit_replay(endpoints.kafka_bootstrap, endpoints.pg_url,
                                          keys=stack_keyring(state),
                                          client_options=endpoints.kafka_options)

            runner = ScenarioRunner(scenario, endpoints, issuer, namespace=namespace,
                                    on_progress=on_progress, audit=audit)
            t0 = time.perf_counter()
            result = await runner.run()
            wall = time.perf_counter() - t0
        result["run"]["wall_s"] = round(wall, 2)
        return Played(result, runner, wall, started)
    finally:
        if started and not keep_stack:
            await asyncio.to_thread(stack.down)
