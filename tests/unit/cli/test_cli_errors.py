"""grants.cli_errors: every expected failure is one line with its own exit code, never a
traceback; a bug is one line too, with the traceback saved to a file."""

from __future__ import annotations

import logging
from pathlib import Path

import click
import pytest
import typer
from aiokafka.errors import KafkaConnectionError

from grants.cli_errors import (
    EXIT_CODES_HELP,
    CliError,
    ExitCode,
    classify,
    file_error,
    quiet_client_logs,
    run,
)
from grants.scenario.model import ScenarioError
from grants.stack import BrokerError, PostgresError, StackError


def _command(exc: BaseException) -> click.Command:
    app = typer.Typer()

    @app.command()
    def fails(flag: bool = False) -> None:
        raise exc

    return typer.main.get_command(app)


def test_every_exit_code_is_distinct_and_documented_in_help() -> None:
    values = [c.value for c in ExitCode]
    assert len(values) == len(set(values))
    for code in ExitCode:
        if code is not ExitCode.OK:
            assert f" {code.value} " in f" {EXIT_CODES_HELP} ", code


@pytest.mark.parametrize(("exc", "code", "words"), [
    (FileNotFoundError(2, "No such file or directory", "s.json"), ExitCode.FILE, "no such file"),
    (IsADirectoryError(21, "Is a directory", "dir"), ExitCode.FILE, "is a directory"),
    (PermissionError(13, "Permission denied", "s.json"), ExitCode.FILE, "not readable"),
    (UnicodeDecodeError("utf-8", b"\xf8", 0, 1, "invalid"), ExitCode.FILE, "not UTF-8"),
    (ScenarioError(["actions.1.ref: x"]), ExitCode.MALFORMED, "actions.1.ref"),
    (KafkaConnectionError("Unable to bootstrap"), ExitCode.BROKER, "unreachable"),
    (BrokerError("tansu exited"), ExitCode.BROKER, "tansu exited"),
    (PostgresError("initdb failed"), ExitCode.DATABASE, "initdb failed"),
    (StackError("no stack is up"), ExitCode.STACK, "no stack is up"),
    (CliError("port 9092 is in use", ExitCode.PORT_TAKEN), ExitCode.PORT_TAKEN, "in use"),
])
def test_expected_failures_are_one_line_and_their_code(
    exc: BaseException, code: ExitCode, words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    known = classify(exc)
    assert known is not None and known.code is code and words in known.message
    assert run(_command(exc), []) == code
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1 and words in err


def test_a_bug_is_one_line_naming_the_file_with_the_traceback(
    capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(_command(ZeroDivisionError("boom")), []) == ExitCode.INTERNAL
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1
    saved = Path(err.split("traceback is in ")[1].split(",")[0])
    try:
        assert "ZeroDivisionError: boom" in saved.read_text()
        assert "Traceback" in saved.read_text()
    finally:
        saved.unlink()


def test_interrupt_and_usage_and_explicit_exit_keep_their_codes() -> None:
    assert run(_command(KeyboardInterrupt()), []) == ExitCode.INTERRUPTED
    assert run(_command(typer.Exit(1)), []) == 1
    assert run(_command(ValueError()), ["--no-such-option"]) == ExitCode.USAGE


def test_file_error_says_what_is_wrong_with_which_file() -> None:
    line = file_error(Path("x.json"), IsADirectoryError(21, "Is a directory")).message
    assert line == "x.json: is a directory; give a file"


def test_aiokafka_connection_noise_is_silenced(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GRANTS_LOG_LEVEL", raising=False)
    logger = logging.getLogger("aiokafka")
    before = logger.level
    try:
        quiet_client_logs()
        assert not logger.isEnabledFor(logging.ERROR)
    finally:
        logger.setLevel(before)


def test_help_paragraphs_are_reflowed_and_every_group_is_in_the_readme() -> None:
    from grants.cli import _reflow, app

    root = _reflow(typer.main.get_command(app))
    for group in root.commands.values():
        for command in [group, *getattr(group, "commands", {}).values()]:
            for paragraph in (command.help or "").split("\n\n"):
                assert "\n" not in paragraph, command.name
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    cli_row = next(line for line in readme.splitlines() if line.startswith("| `grants` (CLI)"))
    for name, group in root.commands.items():
        assert f"grants {name}" in cli_row, name
        for sub in getattr(group, "commands", {}):
            assert sub in cli_row, f"grants {name} {sub}"
