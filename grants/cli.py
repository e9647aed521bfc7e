"""``grants``: the platform's command line. A thin root; each area adds its own sub-app here."""

from __future__ import annotations

import sys
from typing import Any

import typer

from grants.audit_cli import app as audit_app
from grants.cli_errors import EXIT_CODES_HELP, run
from grants.demo_cli import demo
from grants.dlt_cli import app as dlt_app
from grants.outbox_cli import app as outbox_app
from grants.pool_cli import app as pool_app
from grants.provision_cli import app as provision_app
from grants.scenario.cli import app as scenario_app
from grants.stack.cli import stack_app

app = typer.Typer(help=f"Grant lifecycle platform tools.\n\n{EXIT_CODES_HELP}",
                  no_args_is_help=True, rich_markup_mode="rich")
app.add_typer(stack_app, name="stack")
app.add_typer(scenario_app, name="scenario")
app.add_typer(audit_app, name="audit")
app.add_typer(pool_app, name="pool")
app.add_typer(provision_app, name="provision")
app.add_typer(dlt_app, name="dlt")
app.add_typer(outbox_app, name="outbox")
app.command("demo")(demo)


def _reflow(command: Any) -> Any:
    """Docstrings wrap at 100 characters in the source; help wraps at the terminal. Join each
    paragraph's lines so group listings do not break mid-sentence where the source did."""
    if command.help:
        command.help = "\n\n".join(" ".join(p.split()) for p in command.help.split("\n\n"))
    for sub in getattr(command, "commands", {}).values():
        _reflow(sub)
    return command


def main(argv: list[str] | None = None) -> None:
    """The ``grants`` entry point: every failure is one line and an exit code
    (``grants.cli_errors``), never a traceback."""
    sys.exit(run(_reflow(typer.main.get_command(app)), argv))


if __name__ == "__main__":
    main()
