"""``grants``: the platform's command line. A thin root; each area adds its own sub-app here."""

from __future__ import annotations

import typer

from grants.stack.cli import stack_app

app = typer.Typer(help="Grant lifecycle platform tools.", no_args_is_help=True)
app.add_typer(stack_app, name="stack")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
