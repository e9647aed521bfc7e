"""``grants``: the platform's command line. A thin root; each area adds its own sub-app here."""

from __future__ import annotations

import typer

from grants.audit_cli import app as audit_app
from grants.demo_cli import demo
from grants.pool_cli import app as pool_app
from grants.provision_cli import app as provision_app
from grants.scenario.cli import app as scenario_app
from grants.stack.cli import stack_app

app = typer.Typer(help="Grant lifecycle platform tools.", no_args_is_help=True)
app.add_typer(stack_app, name="stack")
app.add_typer(scenario_app, name="scenario")
app.add_typer(audit_app, name="audit")
app.add_typer(pool_app, name="pool")
app.add_typer(provision_app, name="provision")
app.command("demo")(demo)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
