"""Production provisioning of Kafka: every topic with explicit settings, and the ACLs per principal.

Both plans are pure functions of the code, never a hand-copied list:

- :func:`topic_plan` — every topic of ``contracts.topics.ALL_TOPICS`` and its ``.dlt`` dead-letter
  topic, with explicit partitions, replication factor and ``min.insync.replicas``. Domain topics
  keep their events forever (``retention.ms=-1``: the log is the auditors' record, replayed from
  offset 0); dead letters keep theirs for a bounded time (default 90 days).
- :func:`acl_plan` — who may do what. Each service (principal ``User:grants-<service>``) writes
  only the topics it owns (``grants.<service>.<family>.v<n>``, published by its outbox relay) and
  the dead letters of the topics it consumes, and reads only the topics its consumers subscribe
  to, under their own consumer groups. Both come from the services' own wiring
  (:func:`service_subscriptions` builds each service's runtime without starting it). External
  principals: portal back ends write submissions and read their outcomes, finance systems read
  payment instructions and write payment results, auditors read every event topic, every audit
  topic (the signed checkpoints) and every dead letter (``grants audit replay``), and the provisioner creates and configures topics.

:func:`ensure_topics` applies the topic plan through the Kafka admin API (idempotent; the security
settings are the services' ``GRANTS_KAFKA_*``). ACLs are not applied from here: aiokafka's admin
client has no ACL operations, so :func:`kafka_acls_script` renders the plan as commands for Kafka's
own ``kafka-acls.sh`` (idempotent: adding an ACL that exists changes nothing), run by a cluster
administrator.
"""

from __future__ import annotations

import asyncio
import importlib
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from contracts.topics import (
    ALL_TOPICS,
    AUDIT_TOPICS,
    EVENT_TOPICS,
    FINANCE_RESULTS,
    base_name,
    INTAKE_APPLICATIONS,
    namespaced,
    PAYMENTS_INSTRUCTIONS,
    PORTAL_SUBMISSIONS,
)
from grants.stack import ALL_SERVICES
from grants.stack.broker import start_admin
from servicekit.settings import ServiceSettings

SERVICES: tuple[str, ...] = tuple(ALL_SERVICES)

# Dead letters are rare and read in order: one partition (as the embedded stack creates them).
DLT_PARTITIONS = 1
DLT_RETENTION_MS = 90 * 24 * 3600 * 1000
USER_PREFIX = "grants-"

# Who publishes the inbound topics (no service owns them) and reads what, outside the platform.
PORTAL = "portal"
FINANCE = "finance"
AUDITOR = "auditor"
PROVISIONER = "provisioner"
EXTERNAL_PRINCIPALS: tuple[str, ...] = (PORTAL, FINANCE, AUDITOR, PROVISIONER)
# Consumer-group prefixes that external readers must use (the audit replay's is fixed in code:
# grants.audit reads under ``grants-audit-<random>``). Under GRANTS_NAMESPACE every group, like
# every topic, carries the namespace (``<ns>.grants-audit-<random>``): acl_plan prefixes them.
AUDIT_GROUP_PREFIX = "grants-audit"
PORTAL_GROUP_PREFIX = "grants-portal"
FINANCE_GROUP_PREFIX = "grants-finance"


# -- topics ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    replication_factor: int
    configs: Mapping[str, str]
    kind: Literal["domain", "dead_letter"]


def partition_overrides(settings: ServiceSettings) -> dict[str, int]:
    """Topic → partitions where a setting replaces the contract's count: the portal topic's
    (``GRANTS_PORTAL_PARTITIONS``), which bounds how many intake consumers share the intake."""
    return {PORTAL_SUBMISSIONS.name: settings.portal_partitions}


def topic_plan(*, replication_factor: int = 3, min_insync_replicas: int = 2,
               dlt_retention_ms: int = DLT_RETENTION_MS,
               partitions: Mapping[str, int] | None = None) -> list[TopicSpec]:
    """Every platform topic and its dead-letter topic, in ``ALL_TOPICS`` order; ``partitions``
    replaces the contract's count for the topics it names (:func:`partition_overrides`)."""
    if replication_factor < 1 or not 1 <= min_insync_replicas <= replication_factor:
        raise ValueError("need 1 <= min_insync_replicas <= replication_factor, "
                         f"got {min_insync_replicas} and {replication_factor}")
    common = {"cleanup.policy": "delete", "min.insync.replicas": str(min_insync_replicas),
              "unclean.leader.election.enable": "false"}
    plan: list[TopicSpec] = []
    counts = {**{t.name: t.partitions for t in ALL_TOPICS}, **(partitions or {})}
    if any(n < 1 for n in counts.values()):
        raise ValueError(f"every topic needs at least one partition, got {counts}")
    for topic in ALL_TOPICS:
        plan.append(TopicSpec(topic.name, counts[topic.name], replication_factor,
                              {**common, "retention.ms": "-1", "retention.bytes": "-1"},
                              "domain"))
    for topic in ALL_TOPICS:
        plan.append(TopicSpec(topic.dead_letter, DLT_PARTITIONS, replication_factor,
                              {**common, "retention.ms": str(dlt_retention_ms)}, "dead_letter"))
    return plan


@dataclass
class TopicReport:
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    # topic -> what differs from the plan (partitions or a config); not changed by default
    drift: dict[str, list[str]] = field(default_factory=dict)
    altered: list[str] = field(default_factory=list)
    unverified: list[str] = field(default_factory=list)  # the broker did not describe configs

    @property
    def ok(self) -> bool:
        return not self.drift


class ProvisionError(RuntimeError):
    pass


def admin_client(settings: ServiceSettings, bootstrap: str | None = None) -> Any:
    """An aiokafka admin client with the ``GRANTS_KAFKA_*`` security settings."""
    from aiokafka.admin import AIOKafkaAdminClient

    from servicekit.kafka_security import client_kwargs

    return AIOKafkaAdminClient(bootstrap_servers=bootstrap or settings.kafka_bootstrap,
                               request_timeout_ms=15_000, client_id="grants-provision",
                               **client_kwargs(settings))


async def _describe_topic_configs(admin: Any, names: list[str]) -> dict[str, dict[str, str]]:
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    found: dict[str, dict[str, str]] = {}
    responses = await admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, name) for name in names])
    for response in responses:
        for resource in response.to_object().get("resources", []):
            if resource.get("error_code", 0) != 0:
                continue
            found[resource["resource_name"]] = {
                c["config_names"]: c["config_value"] for c in resource.get("config_entries", [])
                if c.get("config_value") is not None}
    return found


async def _existing_topics(admin: Any) -> dict[str, dict[str, Any]]:
    """Topics the broker describes without an error (a topic this principal may not describe
    is left out: creating it then fails with the broker's reason)."""
    return {t["topic"]: t for t in await admin.describe_topics() if t.get("error_code", 0) == 0}


async def ensure_topics(settings: ServiceSettings, plan: list[TopicSpec], *,
                        bootstrap: str | None = None, alter_configs: bool = False,
                        timeout: float = 60.0) -> TopicReport:
    """Create every planned topic that is missing; check the existing ones against the plan.

    Idempotent. A topic with other partitions than planned is reported, never changed (adding
    partitions moves keys to other partitions and breaks per-application order). A config that
    differs is reported, and set to the plan with ``alter_configs``.
    """
    from aiokafka.admin import NewTopic
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
    from aiokafka.errors import TopicAlreadyExistsError

    report = TopicReport()
    admin = admin_client(settings, bootstrap)
    await start_admin(admin, timeout, interval=0.5)
    try:
        described = await _existing_topics(admin)
        missing = [s for s in plan if s.name not in described]
        report.existing = [s.name for s in plan if s.name in described]
        if missing:
            try:
                response = await admin.create_topics(
                    [NewTopic(s.name, s.partitions, s.replication_factor,
                              topic_configs=dict(s.configs)) for s in missing])
                errors = getattr(response, "topic_errors", [])
            except TopicAlreadyExistsError:
                errors = []  # a concurrent run created them; the check below confirms
            for name, code, *rest in errors:
                if code == 0:
                    report.created.append(name)
                elif code != TopicAlreadyExistsError.errno:
                    raise ProvisionError(f"creating topic {name} failed: error {code} "
                                         f"{rest[0] if rest else ''}".rstrip())
        deadline = time.monotonic() + timeout
        while True:  # wait until metadata shows every topic, so services find them at start
            described = await _existing_topics(admin)
            absent = [s.name for s in plan if s.name not in described]
            if not absent:
                break
            if time.monotonic() > deadline:
                raise ProvisionError(f"topics not visible after {timeout}s: {absent}")
            await asyncio.sleep(0.2)
        for spec in plan:
            partitions = len(described[spec.name].get("partitions", []))
            if partitions != spec.partitions:
                report.drift.setdefault(spec.name, []).append(
                    f"partitions {partitions}, planned {spec.partitions}")
        try:
            configs = await _describe_topic_configs(admin, [s.name for s in plan])
        except Exception:  # noqa: BLE001 - configs unreadable: each topic is reported unverified
            configs = {}
        to_alter: list[TopicSpec] = []
        for spec in plan:
            have = configs.get(spec.name)
            if not have:
                report.unverified.append(spec.name)
                continue
            wrong = [f"{k}={have.get(k)!s}, planned {v}" for k, v in spec.configs.items()
                     if have.get(k) != v]
            if wrong and spec.name not in report.created:
                report.drift.setdefault(spec.name, []).extend(wrong)
                to_alter.append(spec)
        if alter_configs and to_alter:
            try:
                responses = await admin.alter_configs(
                    [ConfigResource(ConfigResourceType.TOPIC, s.name, dict(s.configs))
                     for s in to_alter])
            except Exception as exc:
                raise ProvisionError(f"altering topic configs failed: {exc}") from exc
            for response in responses:
                for resource in response.to_object().get("resources", []):
                    if resource.get("error_code", 0) != 0:
                        raise ProvisionError(
                            f"altering the configs of {resource.get('resource_name')} failed: "
                            f"error {resource['error_code']} {resource.get('error_message')}")
            report.altered = [s.name for s in to_alter]
            for s in to_alter:
                report.drift[s.name] = [d for d in report.drift[s.name]
                                        if d.startswith("partitions")]
                if not report.drift[s.name]:
                    del report.drift[s.name]
    finally:
        await admin.close()
    return report


# -- who consumes what -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Subscription:
    group: str
    topics: tuple[str, ...]


def service_subscriptions(services: Iterable[str] = SERVICES) -> dict[str, list[Subscription]]:
    """Each service's consumer groups and their topics, read from its own wiring: the service is
    built (``services.<name>.app.build``) but not started, so nothing connects anywhere."""
    found: dict[str, list[Subscription]] = {}
    for name in services:
        build = importlib.import_module(f"services.{name}.app").build
        runtime, _ = build(ServiceSettings(service_name=name))
        found[name] = [Subscription(c.name, tuple(c.topics)) for c in runtime.consumers]
    return found


def owner_of(topic: str) -> str | None:
    """The service that publishes ``topic`` by the naming rule ``grants.<service>.<family>.v<n>``
    (None for inbound topics that outside systems publish)."""
    parts = base_name(topic).split(".")
    return parts[1] if len(parts) >= 4 and parts[0] == "grants" and parts[1] in SERVICES else None


# -- ACLs ------------------------------------------------------------------------------------------

Operation = Literal["Read", "Write", "Describe", "Create", "DescribeConfigs", "AlterConfigs"]


@dataclass(frozen=True, order=True)
class Acl:
    principal: str                       # the user name, e.g. grants-intake
    resource_type: Literal["Topic", "Group"]
    name: str
    operation: Operation
    pattern: Literal["literal", "prefixed"] = "literal"

    @property
    def kafka_principal(self) -> str:
        return f"User:{self.principal}"


def _read_topic(principal: str, topic: str) -> Acl:
    return Acl(principal, "Topic", topic, "Read")


def acl_plan(subscriptions: Mapping[str, list[Subscription]] | None = None, *,
             user_prefix: str = USER_PREFIX) -> list[Acl]:
    """Every ACL the platform needs, sorted by principal. ``subscriptions`` defaults to the
    services' own (:func:`service_subscriptions`). Read implies Describe and Write implies
    Describe in Kafka's authorizer, so neither is listed separately. Idempotent producers need
    no cluster ACL on Kafka >= 3.0 (Write on a topic is enough)."""
    subs = service_subscriptions() if subscriptions is None else subscriptions
    acls: set[Acl] = set()
    for service in SERVICES:
        user = f"{user_prefix}{service}"
        for topic in ALL_TOPICS:
            if owner_of(topic.name) == service:
                acls.add(Acl(user, "Topic", topic.name, "Write"))
        for sub in subs.get(service, []):
            acls.add(Acl(user, "Group", sub.group, "Read"))
            for name in sub.topics:
                acls.add(_read_topic(user, name))
                # a message that cannot be handled goes to <topic>.dlt (servicekit.consumer)
                acls.add(Acl(user, "Topic", f"{name}.dlt", "Write"))
    portal = f"{user_prefix}{PORTAL}"
    acls |= {Acl(portal, "Topic", PORTAL_SUBMISSIONS.name, "Write"),
             _read_topic(portal, INTAKE_APPLICATIONS.name),  # the outcome of each submission
             Acl(portal, "Group", namespaced(PORTAL_GROUP_PREFIX), "Read", "prefixed")}
    finance = f"{user_prefix}{FINANCE}"
    acls |= {_read_topic(finance, PAYMENTS_INSTRUCTIONS.name),
             Acl(finance, "Topic", FINANCE_RESULTS.name, "Write"),
             Acl(finance, "Group", namespaced(FINANCE_GROUP_PREFIX), "Read", "prefixed")}
    # Auditors: read-only. Every event topic (what the replay reads) and every dead letter (what
    # the platform could not process is part of the record); not the portal's commands, which
    # carry the submitters' bearer tokens.
    auditor = f"{user_prefix}{AUDITOR}"
    acls |= {_read_topic(auditor, name) for name in EVENT_TOPICS}
    acls |= {_read_topic(auditor, t.name) for t in AUDIT_TOPICS}  # the signed checkpoints
    acls |= {_read_topic(auditor, t.dead_letter) for t in ALL_TOPICS}
    acls.add(Acl(auditor, "Group", namespaced(AUDIT_GROUP_PREFIX), "Read", "prefixed"))
    # The provisioner (`grants provision topics`) creates and configures the platform's topics.
    provisioner = f"{user_prefix}{PROVISIONER}"
    for op in ("Create", "Describe", "DescribeConfigs", "AlterConfigs"):
        acls.add(Acl(provisioner, "Topic", namespaced("grants."), op,
                     "prefixed"))
    return sorted(acls)


def principals(user_prefix: str = USER_PREFIX) -> list[str]:
    return [f"{user_prefix}{p}" for p in (*SERVICES, *EXTERNAL_PRINCIPALS)]


def acls_by_principal(acls: Iterable[Acl]) -> dict[str, list[Acl]]:
    grouped: dict[str, list[Acl]] = {}
    for acl in acls:
        grouped.setdefault(acl.principal, []).append(acl)
    return grouped


def allows(acls: Iterable[Acl], principal: str, resource_type: str, name: str,
           operation: str) -> bool:
    """Whether the plan grants ``operation`` on a resource (literal or by prefix)."""
    for a in acls:
        if a.principal != principal or a.resource_type != resource_type:
            continue
        if a.operation != operation and not (operation == "Describe"
                                             and a.operation in ("Read", "Write")):
            continue
        if a.name == name or (a.pattern == "prefixed" and name.startswith(a.name)):
            return True
    return False


SCRIPT_HEADER = """\
#!/bin/sh
# Kafka ACLs of the grants platform, one principal (SASL/SCRAM user) per service and per outside
# party. Generated by `grants provision acls --format kafka-acls`; do not edit by hand: a test
# compares this file with the code's plan (grants/provision.py).
# Run by a cluster administrator; adding an ACL that exists changes nothing.
#   KAFKA_BOOTSTRAP=broker:9093 KAFKA_ADMIN_CONFIG=admin.properties sh acls.sh
set -eu
: "${KAFKA_BOOTSTRAP:?set KAFKA_BOOTSTRAP}"
: "${KAFKA_ADMIN_CONFIG:?set KAFKA_ADMIN_CONFIG (client properties of an admin principal)}"
KAFKA_ACLS="${KAFKA_ACLS:-/opt/kafka/bin/kafka-acls.sh}"
acl() {
  "$KAFKA_ACLS" --bootstrap-server "$KAFKA_BOOTSTRAP" --command-config "$KAFKA_ADMIN_CONFIG" \\
    --add --allow-principal "$@"
}
"""


def kafka_acls_script(acls: Iterable[Acl]) -> str:
    """The plan as a shell script of ``kafka-acls.sh --add`` commands: one command per principal,
    operation, resource type and pattern type, naming all its resources (each command starts a
    JVM, so fewer is faster)."""
    lines = [SCRIPT_HEADER]
    for principal, group in acls_by_principal(acls).items():
        lines.append(f"\n# {principal}\n")
        commands: dict[tuple[str, str, str], list[str]] = {}
        for a in group:
            commands.setdefault((a.resource_type, a.operation, a.pattern), []).append(a.name)
        for (resource_type, operation, pattern), names in commands.items():
            flag = "--topic" if resource_type == "Topic" else "--group"
            lines.append(f"acl User:{principal} --operation {operation} "
                         f"--resource-pattern-type {pattern}")
            lines.extend(f" \\\n  {flag} {name}" for name in names)
            lines.append("\n")
    return "".join(lines)


def parse_kafka_acls_script(text: str) -> list[Acl]:
    """The ACLs a script of :func:`kafka_acls_script` adds (for the deploy checks)."""
    found: list[Acl] = []
    for line in text.replace("\\\n", " ").splitlines():
        if not line.startswith("acl User:"):
            continue
        words = line.split()
        principal = words[1].removeprefix("User:")
        pairs = list(zip(words[2::2], words[3::2]))
        options = dict(pairs)
        for flag, name in pairs:
            if flag in ("--topic", "--group"):
                found.append(Acl(principal, "Topic" if flag == "--topic" else "Group",
                                 name, options["--operation"],  # type: ignore[arg-type]  # parsed from kafka-acls flags
                                 options["--resource-pattern-type"]))  # type: ignore[arg-type]  # same
    return found
