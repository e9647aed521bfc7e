"""`grants provision`: the topic plan and the ACL plan, checked against the services' own wiring,
and the topic job run against the real (embedded) broker."""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from typing import Any

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from contracts.topics import ALL_TOPICS, EVENT_TOPICS, PORTAL_SUBMISSIONS, all_topic_names
from grants import provision
from grants.cli import app
from grants.stack import ALL_SERVICES
from servicekit.settings import ServiceSettings


@pytest.fixture(scope="module")
def runtimes() -> dict[str, Any]:
    """Each service built (not started) from its own app module: the independent witness of
    what it consumes and under which groups."""
    import importlib

    return {name: importlib.import_module(f"services.{name}.app").build(
        ServiceSettings(service_name=name))[0] for name in ALL_SERVICES}


@pytest.fixture(scope="module")
def acls() -> list[provision.Acl]:
    return provision.acl_plan()


def user(name: str) -> str:
    return f"{provision.USER_PREFIX}{name}"


def test_topic_plan_has_every_topic_with_explicit_settings() -> None:
    plan = provision.topic_plan(replication_factor=3, min_insync_replicas=2)
    assert [s.name for s in plan] == all_topic_names()
    for spec in plan:
        assert spec.replication_factor == 3
        assert spec.configs["min.insync.replicas"] == "2"
        assert spec.configs["cleanup.policy"] == "delete"
        if spec.kind == "domain":
            assert spec.configs["retention.ms"] == "-1"
        else:
            assert spec.name.endswith(".dlt")
            assert int(spec.configs["retention.ms"]) > 0


def test_topic_plan_refuses_impossible_replication() -> None:
    with pytest.raises(ValueError):
        provision.topic_plan(replication_factor=1, min_insync_replicas=2)


def test_each_service_reads_exactly_what_its_consumers_subscribe_to(
        runtimes: dict[str, Any], acls: list[provision.Acl]) -> None:
    for name, runtime in runtimes.items():
        consumed = {t for c in runtime.consumers for t in c.topics}
        groups = {c.name for c in runtime.consumers}
        assert consumed and groups
        readable = {a.name for a in acls if a.principal == user(name)
                    and a.resource_type == "Topic" and a.operation == "Read"}
        assert readable == consumed, name
        group_acls = {a.name for a in acls if a.principal == user(name)
                      and a.resource_type == "Group"}
        assert group_acls == groups, name
        for group in groups:
            assert provision.allows(acls, user(name), "Group", group, "Read")


def test_each_service_writes_only_its_own_topics_and_its_dead_letters(
        runtimes: dict[str, Any], acls: list[provision.Acl]) -> None:
    for name, runtime in runtimes.items():
        own = {t.name for t in ALL_TOPICS if t.name.split(".")[1] == name}
        dead_letters = {f"{t}.dlt" for c in runtime.consumers for t in c.topics}
        writable = {a.name for a in acls if a.principal == user(name)
                    and a.operation == "Write"}
        assert writable == own | dead_letters, name
        for other in ALL_SERVICES:
            if other != name:
                for topic in ALL_TOPICS:
                    if topic.name.split(".")[1] == other:
                        assert not provision.allows(acls, user(name), "Topic", topic.name,
                                                    "Write")


def test_every_topic_has_a_writer_and_every_event_topic_a_reader(
        acls: list[provision.Acl]) -> None:
    for topic in ALL_TOPICS:
        writers = {a.principal for a in acls if a.name == topic.name and a.operation == "Write"}
        assert len(writers) == 1, (topic.name, writers)  # one publisher per topic
    for name in all_topic_names():
        assert any(a.name == name for a in acls), name


def test_outside_parties_get_only_what_they_need(acls: list[provision.Acl]) -> None:
    auditor = [a for a in acls if a.principal == user(provision.AUDITOR)]
    assert {a.operation for a in auditor} == {"Read"}  # read-only
    readable = {a.name for a in auditor if a.resource_type == "Topic"}
    assert set(EVENT_TOPICS) <= readable  # what `grants audit replay` reads
    assert provision.allows(acls, user(provision.AUDITOR), "Group", "grants-audit-3f2a9c", "Read")
    finance = {(a.operation, a.name) for a in acls if a.principal == user(provision.FINANCE)
               and a.resource_type == "Topic"}
    assert finance == {("Read", "grants.payments.instructions.v1"),
                       ("Write", "grants.finance.results.v1")}
    portal = {(a.operation, a.name) for a in acls if a.principal == user(provision.PORTAL)
              and a.resource_type == "Topic"}
    assert ("Write", "grants.portal.submissions.v1") in portal
    assert {op for op, _ in portal} <= {"Read", "Write"}
    writes = {a.name for a in acls if a.principal == user(provision.PORTAL)
              and a.operation == "Write"}
    assert writes == {"grants.portal.submissions.v1"}


def test_under_a_namespace_every_principal_may_do_what_it_does(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """GRANTS_NAMESPACE prefixes topics and every consumer group alike: the plan must name them
    as the code forms them (an auditor reading under the un-namespaced prefix would be denied)."""
    from servicekit.log_reader import LogReader

    monkeypatch.setenv("GRANTS_NAMESPACE", "blue")
    acls = provision.acl_plan()
    audit_group = LogReader("unused:9092", EVENT_TOPICS, group_prefix="grants-audit").group_id
    assert audit_group.startswith("blue.grants-audit-")
    assert provision.allows(acls, user(provision.AUDITOR), "Group", audit_group, "Read")
    assert not provision.allows(acls, user(provision.AUDITOR), "Group", "grants-audit-3f2a9c",
                                "Read")
    assert provision.allows(acls, user(provision.AUDITOR), "Topic", EVENT_TOPICS[0], "Read")
    assert EVENT_TOPICS[0].startswith("blue.grants.")
    assert provision.allows(acls, user(provision.PORTAL), "Group", "blue.grants-portal-a", "Read")
    assert provision.allows(acls, user(provision.FINANCE), "Group", "blue.grants-finance-a",
                            "Read")
    for op in ("Create", "Describe", "DescribeConfigs", "AlterConfigs"):
        assert provision.allows(acls, user(provision.PROVISIONER), "Topic",
                                "blue.grants.intake.applications.v1", op)
    assert not provision.allows(acls, user(provision.PROVISIONER), "Topic",
                                "grants.intake.applications.v1", "Create")
    service_groups = {a.name for a in acls if a.resource_type == "Group"
                      and a.principal == user("intake")}
    assert service_groups and all(g.startswith("blue.grants-intake") for g in service_groups)


def test_the_script_round_trips_the_plan(acls: list[provision.Acl]) -> None:
    script = provision.kafka_acls_script(acls)
    assert sorted(provision.parse_kafka_acls_script(script)) == acls
    assert script.count("\n  --topic ") + script.count("\n  --group ") == len(acls)


def test_acls_command_prints_the_plan() -> None:
    result = CliRunner().invoke(app, ["provision", "acls", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert '"grants-auditor"' in result.output
    result = CliRunner().invoke(app, ["provision", "topics", "--dry-run"])
    assert result.exit_code == 0, result.output


def test_the_portal_topics_partitions_are_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    """GRANTS_PORTAL_PARTITIONS (bounds 1-256) sets how many intake consumers can share the
    portal topic; every other topic keeps its contract's count."""
    portal = PORTAL_SUBMISSIONS.name
    default = {s.name: s.partitions for s in provision.topic_plan()}
    assert default[portal] == PORTAL_SUBMISSIONS.partitions
    monkeypatch.setenv("GRANTS_PORTAL_PARTITIONS", "12")
    overrides = provision.partition_overrides(ServiceSettings())
    assert overrides == {portal: 12}
    planned = {s.name: s.partitions for s in provision.topic_plan(partitions=overrides)}
    assert planned == {**default, portal: 12}
    with pytest.raises(ValueError, match="at least one partition"):
        provision.topic_plan(partitions={portal: 0})
    for bad in ("0", "257", "many"):
        monkeypatch.setenv("GRANTS_PORTAL_PARTITIONS", bad)
        with pytest.raises(ValidationError):
            ServiceSettings()


def test_topics_command_takes_the_portal_partitions(monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    monkeypatch.setenv("GRANTS_PORTAL_PARTITIONS", "7")
    shown = runner.invoke(app, ["provision", "topics", "--dry-run"], terminal_width=200)
    assert shown.exit_code == 0, shown.output
    assert re.search(rf"{re.escape(PORTAL_SUBMISSIONS.name)}\s*│\s*7\s*│", shown.output)
    given = runner.invoke(app, ["provision", "topics", "--dry-run", "--portal-partitions", "9"],
                          terminal_width=200)
    assert re.search(rf"{re.escape(PORTAL_SUBMISSIONS.name)}\s*│\s*9\s*│", given.output)
    assert runner.invoke(app, ["provision", "topics", "--dry-run",
                               "--portal-partitions", "0"]).exit_code == 2
    monkeypatch.setenv("GRANTS_PORTAL_PARTITIONS", "0")
    bad = subprocess.run([sys.executable, "-m", "grants.cli", "provision", "topics", "--dry-run"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2, bad.stderr
    assert "GRANTS_PORTAL_PARTITIONS: Input should be greater than or equal to 1" in bad.stderr
    assert "Traceback" not in bad.stderr


@pytest.mark.integration
async def test_topic_provisioning_creates_once_and_reports_drift(kafka_bootstrap: str) -> None:
    prefix = f"provision-test-{uuid.uuid4().hex[:8]}"
    plan = [provision.TopicSpec(f"{prefix}.domain", 3, 1,
                                {"retention.ms": "-1", "cleanup.policy": "delete"}, "domain"),
            provision.TopicSpec(f"{prefix}.domain.dlt", 1, 1,
                                {"retention.ms": "86400000", "cleanup.policy": "delete"},
                                "dead_letter")]
    settings = ServiceSettings(kafka_bootstrap=kafka_bootstrap)
    first = await provision.ensure_topics(settings, plan, timeout=20)
    assert sorted(first.created) == sorted(s.name for s in plan)
    assert first.ok
    again = await provision.ensure_topics(settings, plan, timeout=20)
    assert again.created == [] and sorted(again.existing) == sorted(s.name for s in plan)
    assert again.ok
    changed = [provision.TopicSpec(plan[0].name, 6, 1, plan[0].configs, "domain")]
    drifted = await provision.ensure_topics(settings, changed, timeout=20)
    assert not drifted.ok
    assert "partitions 3, planned 6" in drifted.drift[plan[0].name]


@pytest.mark.integration
def test_the_topic_job_command_creates_everything_once_and_exits_1_on_drift() -> None:
    """The compose/Kubernetes job's command on a broker of its own (a fresh embedded one, so
    the whole plan is created here rather than by the test session's fixtures)."""
    from grants.stack import start_broker

    broker = start_broker(die_with_parent=True)
    job = ["provision", "topics", "--bootstrap", broker.bootstrap, "--replication-factor", "1",
           "--min-insync-replicas", "1"]
    try:
        first = CliRunner().invoke(app, job)
        assert first.exit_code == 0, first.output
        assert f"{len(all_topic_names())} topics" in first.output
        assert f"{len(all_topic_names())} created" in first.output
        again = CliRunner().invoke(app, job)
        assert again.exit_code == 0, again.output
        assert "0 created" in again.output
        drift = CliRunner().invoke(app, [*job, "--dlt-retention-ms", "-1"])
        assert drift.exit_code == 1, drift.output
        assert "differs" in drift.output
    finally:
        broker.stop()
