"""`grants audit …`: the auditors' tools against the embedded stack, a deployed platform, or an
offline bundle.

    replay          rebuild and verify from the topics (+ the services' hash chains when a
                    database is given)
    export          write the offline bundle: events as published, checkpoints, keys, manifest
    verify          the whole verification of a bundle, with no broker and no database
    prove           one grant's events with inclusion proofs against signed checkpoints
    verify-proof    check such a file offline
    keys            make and rotate the services' checkpoint keys

Exit codes: 0 verified, 1 violations (or a proof that does not verify), 2 could not run.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import UUID

import typer
from aiokafka.errors import KafkaError
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from audit import proof as grant_proof
from audit import report as audit_report
from audit.bundle import Bundle, BundleError
from audit.keys import KeyFileError, Keyring
from grants import audit_keys
from grants.audit import AuditReport, audit_replay, export_bundle, prove_grant, verify_bundle
from grants.stack import EmbeddedStack, StackState
from servicekit.kafka_security import KafkaSecurityError, client_kwargs
from servicekit.settings import ServiceSettings

app = typer.Typer(help="Auditors' tools: replay and verify the whole history, from the log "
                       "or an offline bundle.", no_args_is_help=True)
keys_app = typer.Typer(help="The services' checkpoint signing keys and their JWKS.",
                       no_args_is_help=True)
app.add_typer(keys_app, name="keys")

KEYS_HELP = ("the services' public checkpoint keys (JWKS); default: the embedded stack's "
             "<home>/keys/audit/audit-jwks.json")


# -- output --------------------------------------------------------------------------------------

def checkpoint_table(checkpoints: dict[str, Any] | None) -> Table:
    table = Table(title="signed checkpoints (verified from the log alone)")
    for col in ("service", "checkpoints", "last verified", "tree size", "signed at",
                "events verified", "after it"):
        table.add_column(col, justify="left" if col in ("service", "signed at") else "right")
    if not checkpoints:
        table.add_row("[red]not verified: no keys", "", "", "", "", "", "")
        return table
    for name, s in checkpoints["services"].items():
        last = s["last_verified"]
        table.add_row(name, str(s["checkpoints"]),
                      f"#{last['sequence']}" if last else "[red]none",
                      str(last["tree_size"]) if last else "", last["issued_at"] if last else "",
                      str(s["events_verified"]), str(s["events_after_last_checkpoint"]))
    for topic, n in checkpoints.get("inbound_unsigned", {}).items():
        table.add_row(f"[dim]{topic}", "", "[dim]inbound, unsigned", "", "", f"[dim]{n}", "")
    return table


def print_report(report: AuditReport, console: Console) -> None:
    r = report.replayed
    counts = Table(title="events on the log")
    counts.add_column("event type")
    counts.add_column("count", justify="right")
    for event_type, n in sorted(r.counts.items()):
        counts.add_row(event_type, str(n))
    console.print(counts)
    totals = Table(title="totals (DKK)")
    totals.add_column("what")
    totals.add_column("amount", justify="right")
    for name, value in r.totals.model_dump().items():
        shown = f"{value / 100:,.2f}" if name.endswith("_oere") else str(value)
        totals.add_row(name.removesuffix("_oere"), shown)
    console.print(totals)
    summary = report.summary()
    console.print(checkpoint_table(summary["checkpoints"]))
    if report.chains:
        chains = Table(title="audit hash chains (the services' databases)")
        chains.add_column("service")
        chains.add_column("entries", justify="right")
        chains.add_column("verdict")
        for c in report.chains:
            chains.add_row(c.service, str(c.entries), "[green]intact[/green]" if not c.problem
                           else f"[red]{c.problem['message']}")
        console.print(chains)
    if report.verified:
        what = "every signed checkpoint verifies" if report.checkpoints else \
            "[yellow]checkpoints not verified (no keys)[/yellow]"
        chains_ok = ", every hash chain is intact" if report.chains else ""
        console.print(f"[bold green]VERIFIED[/bold green]: {r.events} events, every R23 "
                      f"invariant holds, {what}{chains_ok}")
    else:
        console.print(f"[bold red]VIOLATIONS ({len(report.violations)})[/bold red]")
        for v in report.violations:
            where = v.get("topic") or v.get("service") or ""
            if v.get("offset") is not None:
                where += f"@{v.get('partition')}:{v['offset']}"
            count = f" [{v['count']} in all]" if v.get("count", 1) > 1 else ""
            console.print(f"  {v.get('invariant')}: {v.get('message')} "
                          f"(event {v.get('event_id')}, {where}){count}")
    console.print(f"state digest: {summary['digest']}")


def filed_report(report: AuditReport, source: dict[str, Any], keys: Keyring | None,
                 jwks_sha256: str | None) -> dict[str, Any]:
    summary = report.summary()
    keys_info = None if keys is None else {"jwks_sha256": jwks_sha256,
                                           "key_ids": ", ".join(sorted(keys.keys))}
    return audit_report.build(
        result=report.replayed.model_dump(mode="json"), digest=summary["digest"],
        violations=report.violations, checkpoints=summary["checkpoints"], source=source,
        keys=keys_info, chains=summary["chains"] if report.chains else None)


def write_outputs(report: AuditReport, source: dict[str, Any], keys: Keyring | None,
                  jwks_sha256: str | None, json_out: Path | None, html_out: Path | None,
                  console: Console) -> None:
    if not (json_out or html_out):
        return
    filed = filed_report(report, source, keys, jwks_sha256)
    if json_out:
        json_out.write_text(audit_report.to_json(filed))
        console.print(f"report JSON written to {json_out}")
    if html_out:
        html_out.write_text(audit_report.render_html(filed))
        console.print(f"report HTML written to {html_out}")


# -- where the log and the keys are ---------------------------------------------------------------

def _stack(console: Console) -> StackState | None:
    state = EmbeddedStack().load_state()
    return state if state is not None and state.infra_alive() else None


def load_keys(path: Path | None, console: Console, fallback: Path | None = None
              ) -> tuple[Keyring, str]:
    chosen = path or fallback
    if chosen is None:
        console.print("[red]no public keys:[/red] give --keys JWKS (the services' checkpoint "
                      "keys, see docs/production.md)")
        raise typer.Exit(2)
    try:
        raw = chosen.read_bytes()
        return Keyring.from_jwks(raw), hashlib.sha256(raw).hexdigest()
    except OSError as exc:
        console.print(f"[red]cannot read the keys {chosen}:[/red] {exc.strerror or exc}")
    except KeyFileError as exc:
        console.print(f"[red]{chosen}:[/red] {exc}")
    raise typer.Exit(2)


def _stack_jwks(state: StackState | None) -> Path | None:
    if state is None:
        return None
    path = audit_keys.jwks_file(EmbeddedStack.audit_keys_dir(state))
    return path if path.exists() else None


def _kafka(bootstrap: str | None, console: Console) -> tuple[str, dict[str, Any],
                                                                 StackState | None]:
    """The broker to read and its client options: given (a deployed platform, Kafka security
    from GRANTS_KAFKA_*), or the running embedded stack's."""
    if bootstrap:
        try:
            return bootstrap, client_kwargs(ServiceSettings(service_name="audit")), None
        except KafkaSecurityError as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(2) from None
    state = _stack(console)
    if state is None:
        console.print("[red]no running stack[/red] (start one with `grants stack up`, or give "
                      "--bootstrap of a deployed platform)")
        raise typer.Exit(2)
    try:
        return state.kafka_bootstrap, state.kafka_client_options(), state
    except KafkaSecurityError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None


def _previous(path: Path | None, console: Console) -> list[dict[str, Any]]:
    """The last verified checkpoints of an earlier report (``--previous``)."""
    if path is None:
        return []
    try:
        earlier = json.loads(path.read_text())
        services = (earlier.get("checkpoints") or {}).get("services", {})
        return [s["last_verified"] for s in services.values() if s.get("last_verified")]
    except (OSError, ValueError, AttributeError, TypeError) as exc:
        console.print(f"[red]--previous {path}: not a report of `grants audit` ({exc})[/red]")
        raise typer.Exit(2) from None


def _progress(console: Console, label: str) -> Progress:
    return Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console)


# -- commands --------------------------------------------------------------------------------------

@app.command("replay")
def replay_command(
    json_out: Path | None = typer.Option(None, "--json", help="write the report as JSON"),
    html_out: Path | None = typer.Option(None, "--report", help="write the report as HTML"),
    keys: Path | None = typer.Option(None, "--keys", envvar="GRANTS_AUDIT_JWKS_FILE",
                                     help=KEYS_HELP),
    previous: Path | None = typer.Option(
        None, "--previous", help="an earlier report (--json): its checkpoints must still be on "
                                 "the log, unchanged"),
    bootstrap: str | None = typer.Option(
        None, envvar="GRANTS_KAFKA_BOOTSTRAP",
        help="Kafka of a deployed platform (default: the embedded stack's)"),
    pg_url: str | None = typer.Option(
        None, envvar="GRANTS_PG_URL",
        help="also check the services' hash chains in their databases (PostgreSQL server URL "
             "without a database; the embedded stack's is used unless --no-db)"),
    no_db: bool = typer.Option(False, "--no-db", help="the log alone, no database at all"),
) -> None:
    """Read every topic from offset 0 (own consumer group), verify every signed checkpoint
    against the public keys, rebuild all four services' state, verify R23. Exit 0 verified, 1
    violations, 2 could not run.

    A deployed platform: --bootstrap and --keys; Kafka security from GRANTS_KAFKA_* (a
    read-only principal; see docs/production.md); --pg-url adds the database chain checks."""
    console = Console()
    server, client_options, state = _kafka(bootstrap, console)
    ring, jwks_sha = load_keys(keys, console, _stack_jwks(state))
    database = None if no_db else (pg_url or (state.pg_url if state is not None else None))
    earlier = _previous(previous, console)
    with _progress(console, "reading the log") as progress:
        task = progress.add_task("read", total=None)

        def on_progress(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        try:
            report = asyncio.run(_replay(server, database, on_progress, client_options,
                                         keys=ring, previous=earlier))
        except (OSError, KafkaError) as exc:
            console.print(f"[red]could not read the log:[/red] {type(exc).__name__}: {exc}")
            raise typer.Exit(2) from None
    print_report(report, console)
    write_outputs(report, {"read_from": "broker"}, ring, jwks_sha, json_out, html_out, console)
    raise typer.Exit(0 if report.verified else 1)


async def _replay(bootstrap: str, pg_url: str | None, on_progress: Callable[[int, int], None],
                  client_options: dict[str, Any], *, keys: Keyring | None = None,
                  previous: list[dict[str, Any]] | None = None) -> AuditReport:
    """``audit_replay`` with the Kafka security options of a deployed platform."""
    return await audit_replay(bootstrap, pg_url, on_progress, keys=keys,
                              previous=previous or (), client_options=client_options)


@app.command("export")
def export_command(
    out: Path = typer.Option(..., "--out", help="a new (or empty) folder for the bundle"),
    keys: Path | None = typer.Option(None, "--keys", envvar="GRANTS_AUDIT_JWKS_FILE",
                                     help=KEYS_HELP + "; copied into the bundle"),
    bootstrap: str | None = typer.Option(None, envvar="GRANTS_KAFKA_BOOTSTRAP",
                                         help="Kafka of a deployed platform"),
) -> None:
    """Write the offline audit bundle: every event topic (NDJSON, exactly as published, with
    partition and offset), the checkpoints, the dead letters, the public keys and a manifest
    with the SHA-256 of every file. `grants audit verify DIR` checks it anywhere."""
    console = Console()
    server, client_options, state = _kafka(bootstrap, console)
    ring, _sha = load_keys(keys, console, _stack_jwks(state))
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        console.print(f"[red]{out} exists and is not an empty folder[/red]")
        raise typer.Exit(2)
    with _progress(console, "exporting the log") as progress:
        task = progress.add_task("export", total=None)
        try:
            manifest = asyncio.run(export_bundle(
                server, out, ring.to_jwks(), client_options=client_options,
                on_progress=lambda d, t: progress.update(task, completed=d, total=t)))
        except (OSError, KafkaError, BundleError) as exc:
            console.print(f"[red]could not export:[/red] {type(exc).__name__}: {exc}")
            raise typer.Exit(2) from None
    records = sum(f["records"] or 0 for f in manifest["files"])
    digest = hashlib.sha256((out / "manifest.json").read_bytes()).hexdigest()
    console.print(f"bundle written to {out}: {records} records in {len(manifest['files'])} "
                  f"files; manifest sha256 {digest}")


@app.command("verify")
def verify_command(
    bundle_dir: Path = typer.Argument(..., help="a folder written by `grants audit export`"),
    keys: Path | None = typer.Option(
        None, "--keys", help="the services' public keys as you received them (JWKS); default: "
                             "the copy inside the bundle"),
    json_out: Path | None = typer.Option(None, "--json", help="write the report as JSON"),
    html_out: Path | None = typer.Option(None, "--report", help="write the report as HTML"),
    previous: Path | None = typer.Option(None, "--previous",
                                         help="an earlier report whose checkpoints must hold"),
) -> None:
    """The whole verification of an offline bundle, with no broker and no database: the
    manifest's hashes, every checkpoint and signature, every event against its service's tree,
    R23. Prints the same verdict and state digest as `grants audit replay` of that log."""
    console = Console()
    try:
        bundle = Bundle(bundle_dir)
        if keys is None:
            console.print("[yellow]using the keys inside the bundle: compare their key ids with "
                          "the JWKS the platform publishes (--keys to give your own copy)")
            raw = bundle.jwks()
            ring, jwks_sha = Keyring.from_jwks(raw), hashlib.sha256(raw).hexdigest()
        else:
            ring, jwks_sha = load_keys(keys, console)
        earlier = _previous(previous, console)
        report = verify_bundle(bundle, ring, previous=earlier)
    except (BundleError, KeyFileError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    print_report(report, console)
    write_outputs(report, {"read_from": "bundle", "manifest_sha256": bundle.manifest_sha256},
                  ring, jwks_sha, json_out, html_out, console)
    raise typer.Exit(0 if report.verified else 1)


@app.command("prove")
def prove_command(
    application_id: str = typer.Argument(..., help="the grant's application id (UUID)"),
    out: Path | None = typer.Option(None, "--out", help="the proof file (default: "
                                                        "proof-<application id>.json)"),
    keys: Path | None = typer.Option(None, "--keys", envvar="GRANTS_AUDIT_JWKS_FILE",
                                     help=KEYS_HELP),
    bootstrap: str | None = typer.Option(None, envvar="GRANTS_KAFKA_BOOTSTRAP",
                                         help="Kafka of a deployed platform"),
) -> None:
    """The events of one grant with their inclusion proofs against each service's last
    verified signed checkpoint, as JSON: the grant's file, verifiable on its own."""
    console = Console()
    try:
        app_id = UUID(application_id)
    except ValueError:
        console.print(f"[red]not an application id (a UUID): {application_id!r}[/red]")
        raise typer.Exit(2) from None
    server, client_options, state = _kafka(bootstrap, console)
    ring, _sha = load_keys(keys, console, _stack_jwks(state))
    try:
        doc, report, unprovable = asyncio.run(prove_grant(server, app_id, ring,
                                                          client_options=client_options))
    except (OSError, KafkaError) as exc:
        console.print(f"[red]could not read the log:[/red] {type(exc).__name__}: {exc}")
        raise typer.Exit(2) from None
    if not report.verified:
        console.print("[yellow]the log has violations; proofs are made against the last "
                      "checkpoint of each service that still verifies[/yellow]")
    if doc is None:
        console.print(f"[red]no verified event of {app_id} on the log[/red]")
        raise typer.Exit(1)
    table = Table(title=f"grant {app_id}: events with inclusion proofs")
    for col in ("service", "event", "topic", "leaf", "proof"):
        table.add_column(col)
    for e in doc["events"]:
        value = json.loads(e["value"].get("text", "{}") or "{}")
        table.add_row(e["service"], str(value.get("event_type", "?")),
                      f"{e['topic']}@{e['partition']}:{e['offset']}",
                      f"{e['leaf_index']} of {e['tree_size']}",
                      f"{len(e['inclusion_proof'])} hashes")
    console.print(table)
    if unprovable:
        console.print(f"{unprovable} events of the grant have no proof (inbound from finance, "
                      "or newer than the last checkpoint)")
    path = out or Path(f"proof-{app_id}.json")
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    console.print(f"proof written to {path}; check it with `grants audit verify-proof {path}`")


@app.command("verify-proof")
def verify_proof_command(
    file: Path = typer.Argument(..., help="a file written by `grants audit prove`"),
    keys: Path | None = typer.Option(
        None, "--keys", help="the services' public keys (JWKS); default: the copy in the file"),
) -> None:
    """Check one grant's proof offline: every event's bytes lead through its inclusion proof to
    a root its service signed with a trusted key."""
    console = Console()
    try:
        doc = json.loads(file.read_text())
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        console.print(f"[red]cannot read {file}:[/red] {exc}")
        raise typer.Exit(2) from None
    if keys is None:
        console.print("[yellow]using the keys inside the file: compare their key ids with the "
                      "JWKS the platform publishes (--keys to give your own copy)")
        try:
            ring = Keyring.from_jwks(doc.get("keys", {}) if isinstance(doc, dict) else {})
        except KeyFileError as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(1) from None
    else:
        ring, _sha = load_keys(keys, console)
    verdict = grant_proof.verify(doc, ring)
    for service, cp in verdict.checkpoints.items():
        console.print(f"{service}: checkpoint #{cp['sequence']}, {cp['tree_size']} leaves, root "
                      f"{cp['root_hash'][:16]}…, signed {cp['issued_at']} by {cp['key_id']}")
    if verdict.ok:
        console.print(f"[bold green]PROOF VERIFIED[/bold green]: {verdict.verified} events of "
                      f"{doc.get('application_id')} are in their services' signed trees")
        raise typer.Exit(0)
    console.print(f"[bold red]PROOF FAILS[/bold red]: {verdict.verified} of {verdict.events} "
                  "events verified")
    for problem in verdict.problems:
        console.print(f"  {problem}")
    raise typer.Exit(1)


@keys_app.command("init")
def keys_init(directory: Path = typer.Argument(..., help="the folder for the keys (private!)")
              ) -> None:
    """Make a signing key for every service that has none, and write audit-jwks.json (the
    public keys: give that file to auditors, deploy it with the services)."""
    jwks = audit_keys.ensure_keys(directory)
    for kid in sorted(Keyring.from_jwks(jwks.read_bytes()).keys):
        typer.echo(f"key {kid}")
    typer.echo(f"public keys: {jwks}")


@keys_app.command("rotate")
def keys_rotate(directory: Path = typer.Argument(...),
                service: str = typer.Argument(..., help="intake, assessment, payments or "
                                                        "reporting")) -> None:
    """A new key for one service. Deploy the new <service>.pem as GRANTS_AUDIT_SIGNING_KEY_FILE
    and the old one (<service>.previous.pem) as GRANTS_AUDIT_PREVIOUS_KEY_FILE: the next
    checkpoint, signed by the old key, announces the new one."""
    try:
        old, new = audit_keys.rotate(directory, service)
    except FileNotFoundError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    typer.echo(f"{service}: {old} → {new}; public keys: {audit_keys.jwks_file(directory)}")
