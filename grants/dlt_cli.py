"""`grants dlt …`: the operators' dead-letter tools (``grants.dlt``).

    list       per original topic: how many, how many not yet redriven, the oldest, error codes
    show       one dead letter: origin, headers, error (the payload only with --payload)
    redrive    dead letters back to their original topic, each redrive recorded

Against the running embedded stack, or a deployed platform with --bootstrap (Kafka security from
GRANTS_KAFKA_*; the principal needs read on ``*.dlt``, write on the original topics and on
``*.dlt``). Exit codes: 0 done, 1 a redrive was refused, 2 usage, 5 broker unreachable, 8 no stack.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from grants import dlt
from grants.cli_errors import CliError, ExitCode
from servicekit.kafka_security import KafkaSecurityError, client_kwargs
from servicekit.settings import ServiceSettings

app = typer.Typer(help="Dead letters: list, show (payload only on request), redrive (audited).",
                  no_args_is_help=True)

BOOTSTRAP = typer.Option(None, "--bootstrap", envvar="GRANTS_KAFKA_BOOTSTRAP",
                         help="a deployed platform's Kafka (default: the running embedded stack)")
TOPICS = typer.Option(None, "--topic", help="only these original (or .dlt) topics; repeatable")
JSON_OUT = typer.Option(False, "--json", help="JSON on stdout instead of a table")


def _kafka(bootstrap: str | None) -> tuple[str, dict[str, Any]]:
    if bootstrap:
        try:
            return bootstrap, client_kwargs(ServiceSettings(service_name="dlt"))
        except KafkaSecurityError as exc:
            raise CliError(str(exc), ExitCode.USAGE) from None
    from grants.stack import EmbeddedStack

    state = EmbeddedStack().load_state()
    if state is None or not state.infra_alive():
        raise CliError("no running stack (start one with `grants stack up`, or give --bootstrap "
                       "of a deployed platform)", ExitCode.STACK)
    return state.kafka_bootstrap, {}


def _read(bootstrap: str | None, topics: list[str] | None) -> list[dlt.DeadLetter]:
    server, options = _kafka(bootstrap)
    names = ([dlt.dead_letter_topic(t) for t in topics] if topics
             else dlt.platform_dead_letter_topics())
    return asyncio.run(dlt.read_dead_letters(server, names, client_options=options))


@app.command("list")
def list_command(topic: list[str] | None = TOPICS, bootstrap: str | None = BOOTSTRAP,
                 json_out: bool = JSON_OUT) -> None:
    """Per original topic: dead letters, those not yet redriven, the oldest, the error codes."""
    summaries = dlt.summarise(_read(bootstrap, topic))
    if json_out:
        print(json.dumps([s.as_dict() for s in summaries], indent=2))
        return
    console = Console()
    if not summaries:
        console.print("no dead letters")
        return
    table = Table("topic", "count", "pending", "oldest", "error codes")
    for s in summaries:
        codes = ", ".join(f"{code} {n}" for code, n in sorted(s.error_codes.items()))
        table.add_row(s.topic, str(s.count), str(s.pending), dlt.iso_z(s.oldest) or "-", codes)
    console.print(table)


def _find(letters: list[dlt.DeadLetter], ref: str) -> dlt.DeadLetter:
    try:
        topic, partition, offset = dlt.parse_ref(ref)
    except ValueError as exc:
        raise CliError(str(exc), ExitCode.USAGE) from None
    for letter in letters:
        r = letter.record
        if (r.topic, r.partition, r.offset) == (topic, partition, offset):
            return letter
    raise CliError(f"no dead letter {ref} (see `grants dlt list` / `grants dlt refs`)",
                   ExitCode.NEGATIVE)


@app.command("refs")
def refs_command(topic: list[str] | None = TOPICS, bootstrap: str | None = BOOTSTRAP,
                 pending: bool = typer.Option(False, "--pending", help="not yet redriven only"),
                 ) -> None:
    """One line per dead letter: its reference, error code, redrives."""
    for letter in _read(bootstrap, topic):
        if pending and letter.redrives:
            continue
        print(f"{letter.ref}\t{letter.error_code}\t{'permanent' if letter.permanent else '-'}"
              f"\tredriven {len(letter.redrives)}x")


@app.command("show")
def show_command(ref: str = typer.Argument(..., help="<topic>.dlt/<partition>/<offset>"),
                 payload: bool = typer.Option(False, "--payload",
                                              help="include the message body (personal data)"),
                 bootstrap: str | None = BOOTSTRAP) -> None:
    """One dead letter as JSON: origin, headers, error, redrives; the payload only if asked."""
    topic, _, _ = _parse(ref)
    letter = _find(_read(bootstrap, [topic]), ref)
    print(json.dumps(letter.describe(payload=payload), indent=2, ensure_ascii=False))


def _parse(ref: str) -> tuple[str, int, int]:
    try:
        return dlt.parse_ref(ref)
    except ValueError as exc:
        raise CliError(str(exc), ExitCode.USAGE) from None


@app.command("redrive")
def redrive_command(
    refs: list[str] | None = typer.Argument(None, help="dead letters (<topic>.dlt/<p>/<offset>)"),
    topic: list[str] | None = TOPICS,
    error_code: list[str] | None = typer.Option(None, "--error-code",
                                                help="with --topic: only these codes"),
    actor: str = typer.Option(..., "--actor", envvar="GRANTS_OPERATOR",
                              help="your pseudonymous operator id (recorded)"),
    reason: str = typer.Option(..., "--reason", help="why (recorded), e.g. the fix deployed"),
    force: bool = typer.Option(False, "--force", help="also permanent errors and records "
                               "already redriven"),
    bootstrap: str | None = BOOTSTRAP, json_out: bool = JSON_OUT,
) -> None:
    """Send dead letters back to their original topic, each redrive recorded on the .dlt topic.

    Either references, or --topic (every dead letter of it not yet redriven, optionally of
    --error-code). Permanent errors and records already redriven are refused without --force.
    """
    if bool(refs) == bool(topic):
        raise CliError("give dead-letter references or --topic, not both and not neither",
                       ExitCode.USAGE)
    if not actor.strip() or not reason.strip():
        raise CliError("--actor and --reason must not be empty", ExitCode.USAGE)
    server, options = _kafka(bootstrap)
    wanted = sorted({_parse(r)[0] for r in refs}) if refs else [
        dlt.dead_letter_topic(t) for t in topic or ()]
    letters = asyncio.run(dlt.read_dead_letters(server, wanted, client_options=options))
    if refs:
        chosen = [_find(letters, r) for r in refs]
    else:
        chosen = [x for x in letters if (force or not x.redrives)
                  and (not error_code or x.error_code in error_code)]
    results = asyncio.run(dlt.redrive(server, chosen, actor=actor, reason=reason, force=force,
                                      client_options=options))
    if json_out:
        print(json.dumps([{"ref": r.ref, "outcome": r.outcome, **r.detail} for r in results],
                         indent=2))
    else:
        for r in results:
            copy = r.detail.get("copy")
            where = f" -> {copy['topic']}/{copy['partition']}/{copy['offset']}" if copy else ""
            print(f"{r.ref}\t{r.outcome}\t{r.detail.get('error_code', '')}{where}")
        print(f"{sum(r.outcome == 'redriven' for r in results)} redriven, "
              f"{sum(r.outcome != 'redriven' for r in results)} refused")
    if any(r.outcome != "redriven" for r in results):
        raise typer.Exit(ExitCode.NEGATIVE)
