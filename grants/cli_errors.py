"""Every expected failure of a ``grants`` command becomes one readable line and an exit code.

A user never sees a traceback for something that can go wrong on an ordinary day (a file that is
missing, a directory, bad encoding, a broker or database that does not answer, a port in use, a
stack half up). ``grants.cli.main`` runs every command through ``run`` below; commands may also
raise ``CliError`` themselves. An unexpected exception (a bug) is still one line, exit 70, with
the traceback written to a file for the bug report.
"""

from __future__ import annotations

import logging
import os
import tempfile
import traceback
from enum import IntEnum
from typing import Any

import click


class ExitCode(IntEnum):
    OK = 0
    NEGATIVE = 1  # the command ran and the answer is no: violations, drift, a dead process
    USAGE = 2  # unknown option, bad value, missing argument
    FILE = 3  # a file missing, unreadable, a directory, not UTF-8
    MALFORMED = 4  # a scenario, bundle or proof that is not what it should be
    BROKER = 5  # Kafka unreachable or refusing us
    DATABASE = 6  # PostgreSQL unreachable or refusing us
    PORT_TAKEN = 7  # an address the stack needs is in use
    STACK = 8  # no stack, a stack half up, live vs simulation mismatch, a service not running
    INTERNAL = 70  # a bug: the traceback is in a file named on the line
    INTERRUPTED = 130  # Ctrl-C


EXIT_CODES_HELP = (
    "Exit codes: 0 done; 1 ran, answer is no (violations, drift, a dead process); 2 usage; "
    "3 a file missing, unreadable, a directory or not UTF-8; 4 a malformed scenario, bundle or "
    "proof; 5 Kafka unreachable; 6 PostgreSQL unreachable; 7 a port in use; 8 no stack, a stack "
    "half up or in the other mode; 70 internal error (traceback saved to a file); 130 "
    "interrupted."
)


class CliError(Exception):
    """An expected failure: ``message`` is the whole line shown (say what to do), ``code`` the
    exit code."""

    def __init__(self, message: str, code: ExitCode = ExitCode.NEGATIVE) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def file_error(path: object, exc: BaseException) -> CliError:
    """A file problem as one line: which file, what is wrong, what to do."""
    if isinstance(exc, IsADirectoryError):
        why = "is a directory; give a file"
    elif isinstance(exc, FileNotFoundError):
        why = "no such file"
    elif isinstance(exc, PermissionError):
        why = "not readable (permission denied)"
    elif isinstance(exc, UnicodeDecodeError):
        why = f"not UTF-8 text (byte {exc.start}); save it as UTF-8"
    elif isinstance(exc, NotADirectoryError):
        why = "a folder on its path is a file"
    elif isinstance(exc, OSError):
        why = exc.strerror or str(exc)
    else:
        why = str(exc)
    return CliError(f"{path}: {why}", ExitCode.FILE)


def quiet_client_logs() -> None:
    """aiokafka logs every failed connection attempt ("Unable connect to node ...") at ERROR,
    about eleven lines before our own one-line error; the CLI reports the outcome once instead.
    ``GRANTS_LOG_LEVEL=DEBUG`` keeps them."""
    if os.environ.get("GRANTS_LOG_LEVEL", "").upper() == "DEBUG":
        return
    for name in ("aiokafka", "kafka", "asyncio"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def classify(exc: BaseException) -> CliError | None:
    """The expected failure ``exc`` stands for, or None when it is a bug."""
    from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError

    from grants.scenario.model import ScenarioError
    from grants.stack import BrokerError, PostgresError, StackError

    if isinstance(exc, CliError):
        return exc
    if isinstance(exc, ScenarioError):
        return CliError("malformed scenario: " + "; ".join(exc.problems), ExitCode.MALFORMED)
    if isinstance(exc, (KafkaConnectionError, KafkaTimeoutError)):
        return CliError(f"Kafka broker unreachable ({exc}); check the bootstrap address and "
                        "that the broker runs (`grants stack status`)", ExitCode.BROKER)
    if isinstance(exc, BrokerError):
        return CliError(f"broker: {exc}", ExitCode.BROKER)
    if isinstance(exc, PostgresError):
        return CliError(f"PostgreSQL: {exc}", ExitCode.DATABASE)
    if isinstance(exc, StackError):
        return CliError(str(exc), ExitCode(getattr(exc, "code", ExitCode.STACK)))
    if isinstance(exc, UnicodeDecodeError):
        return CliError(f"input is not UTF-8 text (byte {exc.start}); save it as UTF-8",
                        ExitCode.FILE)
    if isinstance(exc, OSError) and exc.filename is not None:
        return file_error(exc.filename, exc)
    try:
        import asyncpg
    except ImportError:  # pragma: no cover - a dependency
        asyncpg = None
    if asyncpg is not None and isinstance(exc, (asyncpg.PostgresError,
                                                asyncpg.InterfaceError)):
        return CliError(f"PostgreSQL refused: {exc}", ExitCode.DATABASE)
    if isinstance(exc, ConnectionRefusedError):
        return CliError(f"connection refused ({exc}); is the stack up? (`grants stack status`)",
                        ExitCode.STACK)
    return None


def _save_traceback(exc: BaseException) -> str:
    fd, path = tempfile.mkstemp(prefix="grants-error-", suffix=".txt")
    with os.fdopen(fd, "w") as f:
        f.write("".join(traceback.format_exception(exc)))
    return path


def run(command: Any, args: list[str] | None = None) -> int:
    """Run a typer/click command; every outcome becomes an exit code, never a traceback.

    Usage errors, ``typer.Exit`` and Ctrl-C (130) are handled by typer itself (standalone mode);
    anything else that escapes a command is classified here."""
    quiet_client_logs()
    try:
        command.main(args=args, prog_name="grants", standalone_mode=True)
    except SystemExit as done:
        code = done.code
        if code is None:
            return ExitCode.OK
        if isinstance(code, int):
            return code
        click.echo(str(code), err=True)
        return ExitCode.NEGATIVE
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return ExitCode.INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - the last resort: a known cause or a saved traceback
        known = classify(exc)
        if known is not None:
            click.secho(f"error: {known.message}", err=True, fg="red")
            return known.code
        path = _save_traceback(exc)
        click.secho(f"internal error: {type(exc).__name__}: {exc} (a bug; the traceback is in "
                    f"{path}, please attach it to a report)", err=True, fg="red")
        return ExitCode.INTERNAL
    return ExitCode.OK
