"""``grants``: the platform's command line. A thin root; each area adds its own sub-app here.

The areas are imported when a command of theirs runs (or help lists them), not at start: all of
them together cost ~1.3 s of imports (the audit replay, the scenario runner, FastStream), which
every ``grants stack status`` and every CLI call of the test suite paid."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator, MutableMapping
from typing import Any

import typer
from typer.core import TyperGroup

from grants.cli_errors import EXIT_CODES_HELP, run

# name -> (module, attribute): a Typer sub-app, or one command function. In help's order.
AREAS: dict[str, tuple[str, str]] = {
    "demo": ("grants.demo_cli", "demo"),
    "stack": ("grants.stack.cli", "stack_app"),
    "scenario": ("grants.scenario.cli", "app"),
    "audit": ("grants.audit_cli", "app"),
    "pool": ("grants.pool_cli", "app"),
    "provision": ("grants.provision_cli", "app"),
    "dlt": ("grants.dlt_cli", "app"),
    "outbox": ("grants.outbox_cli", "app"),
}


def _load(name: str) -> Any:
    module, attribute = AREAS[name]
    area = getattr(importlib.import_module(module), attribute)
    if isinstance(area, typer.Typer):  # a group even with one command, as add_typer makes it
        command: Any = typer.main.get_group(area)
    else:
        single = typer.Typer(rich_markup_mode="rich", add_completion=False)
        single.command(name)(area)
        command = typer.main.get_command(single)
    command.name = name
    return _reflow(command)


class _Areas(MutableMapping[str, Any]):
    """The root's commands: every name known at once, each area imported on first use."""

    def __init__(self) -> None:
        self._loaded: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self._loaded:
            if name not in AREAS:
                raise KeyError(name)
            self._loaded[name] = _load(name)
        return self._loaded[name]

    def __setitem__(self, name: str, command: Any) -> None:
        raise TypeError(f"grants {name}: areas are listed in grants.cli.AREAS")

    def __delitem__(self, name: str) -> None:
        raise TypeError(f"grants {name}: areas are listed in grants.cli.AREAS")

    def __iter__(self) -> Iterator[str]:
        return iter(AREAS)

    def __len__(self) -> int:
        return len(AREAS)


class _LazyRoot(TyperGroup):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.commands = _Areas()


app = typer.Typer(help=f"Grant lifecycle platform tools.\n\n{EXIT_CODES_HELP}", cls=_LazyRoot,
                  no_args_is_help=True, rich_markup_mode="rich")


@app.callback()
def _root() -> None:
    """No options of its own: a group, whose commands are the areas."""


def _reflow(command: Any) -> Any:
    """Docstrings wrap at 100 characters in the source; help wraps at the terminal. Join each
    paragraph's lines so group listings do not break mid-sentence where the source did."""
    if command.help:
        command.help = "\n\n".join(" ".join(p.split()) for p in command.help.split("\n\n"))
    if not isinstance(getattr(command, "commands", None), _Areas):  # each area on its load
        for sub in getattr(command, "commands", {}).values():
            _reflow(sub)
    return command


def main(argv: list[str] | None = None) -> None:
    """The ``grants`` entry point: every failure is one line and an exit code
    (``grants.cli_errors``), never a traceback."""
    sys.exit(run(_reflow(typer.main.get_command(app)), argv))


if __name__ == "__main__":
    main()
