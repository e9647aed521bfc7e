"""``grants provision``: create the platform's topics on a production Kafka, print its ACL plan.

    grants provision topics --bootstrap kafka:9092 --replication-factor 3 --min-insync-replicas 2
    grants provision acls --format kafka-acls > acls.sh

Security for the admin connection comes from the services' settings (``GRANTS_KAFKA_SECURITY_
PROTOCOL``, ``GRANTS_KAFKA_SASL_*``, ``GRANTS_KAFKA_SSL_*``), the bootstrap from
``GRANTS_KAFKA_BOOTSTRAP`` unless ``--bootstrap`` is given.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict
from enum import Enum
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError
from pydantic import ValidationError

from contracts import topics
from grants import provision
from grants.cli_errors import CliError, ExitCode
from servicekit.kafka_security import KafkaSecurityError
from servicekit.settings import ServiceSettings, settings_problems

app = typer.Typer(help="Provision a production Kafka: topics and ACLs.", no_args_is_help=True)


@app.command("topics")
def topics_command(
    bootstrap: str | None = typer.Option(
        None, help="Kafka bootstrap servers (default: GRANTS_KAFKA_BOOTSTRAP)"),
    replication_factor: int = typer.Option(3, min=1, help="replicas of every topic"),
    min_insync_replicas: int = typer.Option(
        2, min=1, help="min.insync.replicas (producers use acks=all)"),
    dlt_retention_ms: int = typer.Option(
        provision.DLT_RETENTION_MS, help="retention.ms of the .dlt topics (-1: forever)"),
    alter_configs: bool = typer.Option(
        False, "--alter-configs", help="set the planned configs on existing topics that differ"),
    dry_run: bool = typer.Option(False, "--dry-run", help="print the plan, connect to nothing"),
    timeout: float = typer.Option(60.0, help="seconds to wait for the broker"),
    portal_partitions: int | None = typer.Option(
        None, min=1, max=256,
        help="partitions of the portal submissions topic, how many intake consumers share it "
             "(default: GRANTS_PORTAL_PARTITIONS, else the contract's)"),
) -> None:
    """Create every topic of contracts/ and its .dlt (idempotent); domain topics keep their events
    forever (retention.ms=-1). Exit 0 as planned, 1 an existing topic differs, 2 could not run,
    5 the broker is unreachable."""
    console = Console()
    try:
        settings = ServiceSettings(service_name=provision.PROVISIONER)
    except ValidationError as exc:
        raise CliError(f"bad settings: {settings_problems(exc)}", ExitCode.USAGE) from None
    partitions = provision.partition_overrides(settings)
    if portal_partitions is not None:
        partitions[topics.PORTAL_SUBMISSIONS.name] = portal_partitions
    try:
        plan = provision.topic_plan(replication_factor=replication_factor,
                                    min_insync_replicas=min_insync_replicas,
                                    dlt_retention_ms=dlt_retention_ms, partitions=partitions)
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    if dry_run:
        console.print(_plan_table(plan))
        raise typer.Exit(0)
    target = bootstrap or settings.kafka_bootstrap
    try:
        report = asyncio.run(provision.ensure_topics(settings, plan, bootstrap=target,
                                                     alter_configs=alter_configs,
                                                     timeout=timeout))
    except (KafkaConnectionError, KafkaTimeoutError) as exc:
        raise CliError(f"Kafka broker unreachable at {target} ({exc}); check --bootstrap "
                       "(or GRANTS_KAFKA_BOOTSTRAP) and that the broker runs",
                       ExitCode.BROKER) from None
    except (KafkaSecurityError, provision.ProvisionError, OSError) as exc:
        console.print(f"[red]could not provision topics on {target}:[/red] {exc}")
        raise typer.Exit(2) from None
    except Exception as exc:  # noqa: BLE001 - any other failure, said by its type
        console.print(f"[red]could not provision topics on {target}:[/red] "
                      f"{type(exc).__name__}: {exc}")
        raise typer.Exit(2) from None
    console.print(f"{len(plan)} topics on {target}: {len(report.created)} created, "
                  f"{len(report.existing)} existed"
                  + (f", configs set on {len(report.altered)}" if report.altered else ""))
    for name in report.created:
        console.print(f"  created {name}")
    if report.unverified:
        console.print(f"[yellow]the broker did not describe the configs of "
                      f"{len(report.unverified)} topics; not verified[/yellow]")
    for name, problems in report.drift.items():
        console.print(f"[red]differs[/red] {name}: {'; '.join(problems)}")
    raise typer.Exit(0 if report.ok else 1)


def _plan_table(plan: list[provision.TopicSpec]) -> Table:
    common = {k: v for k, v in plan[0].configs.items()
              if all(s.configs.get(k) == v for s in plan)}
    table = Table(title="topic plan", caption="every topic: " + " ".join(
        f"{k}={v}" for k, v in common.items()))
    for column in ("topic", "partitions", "replicas", "configs"):
        table.add_column(column, no_wrap=column == "topic")
    for s in plan:
        table.add_row(s.name, str(s.partitions), str(s.replication_factor),
                      " ".join(f"{k}={v}" for k, v in s.configs.items() if k not in common))
    return table


class AclFormat(str, Enum):
    table = "table"
    json = "json"
    kafka_acls = "kafka-acls"


@app.command("acls")
def acls_command(
    fmt: AclFormat = typer.Option(AclFormat.table, "--format",
                                  help="table, json, or a kafka-acls.sh script"),
    user_prefix: str = typer.Option(provision.USER_PREFIX,
                                    help="SASL user name prefix of every principal"),
    out: Path | None = typer.Option(None, "--out", help="write to this file instead of stdout"),
) -> None:
    """The ACLs per principal, derived from contracts/ and the services' own subscriptions:
    each service writes only its own topics (and the dead letters of what it consumes) and reads
    only what it consumes; portal, finance, auditors (read-only) and the provisioner."""
    acls = provision.acl_plan(user_prefix=user_prefix)
    if fmt is AclFormat.kafka_acls:
        text = provision.kafka_acls_script(acls)
    elif fmt is AclFormat.json:
        grouped = provision.acls_by_principal(acls)
        text = json.dumps({p: [asdict(a) for a in group] for p, group in grouped.items()},
                          indent=2) + "\n"
    else:
        table = Table(title="Kafka ACLs (allow)")
        for column in ("principal", "operation", "resource", "name", "pattern"):
            table.add_column(column)
        for a in acls:
            table.add_row(a.kafka_principal, a.operation, a.resource_type, a.name, a.pattern)
        if out is None:
            Console().print(table)
            return
        console = Console(record=True, width=160)
        with console.capture():
            console.print(table)
        text = console.export_text()
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text)
