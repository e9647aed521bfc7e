"""deploy/ checked offline against the code: the compose file against the Compose Specification
(and ``docker compose config`` where the plugin exists), the Kubernetes manifests against the API
schemas, and every topic, setting, command and principal they name against what the code has.

Helpers: tests/deploy/support.py. The ACL plan itself: tests/deploy/test_provision.py.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from contracts.topics import ALL_TOPICS, all_topic_names
from grants import provision
from grants.stack import ALL_SERVICES
from tests.deploy import support
from tests.deploy.support import COMPOSE_FILE, DEPLOY, K8S, ROOT

SERVICES = tuple(ALL_SERVICES)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return support.load_compose()


@pytest.fixture(scope="module")
def subscriptions() -> dict[str, list[provision.Subscription]]:
    return provision.service_subscriptions()


# -- the compose file ----------------------------------------------------------------------------

def test_compose_file_is_valid_against_the_compose_specification(compose: dict[str, Any]) -> None:
    assert support.compose_errors(compose) == []


def test_the_compose_check_rejects_a_broken_file(compose: dict[str, Any]) -> None:
    broken = yaml.safe_load(yaml.safe_dump(compose))
    broken["services"]["intake"]["depends_on"] = {"kafka": {"condition": "when_it_feels_like_it"}}
    broken["services"]["payments"]["healthcheck"]["intervall"] = "5s"
    errors = support.compose_errors(broken)
    assert any("services/intake/depends_on" in e for e in errors), errors
    assert any("intervall" in e for e in errors), errors


def test_compose_interpolation_follows_compose_rules() -> None:
    env = {"SET": "x", "EMPTY": ""}
    assert support.interpolate("${SET:-d} ${UNSET:-d} ${EMPTY:-d} ${EMPTY-d} $$SET", env) == \
        "x d d  $SET"
    with pytest.raises(support.InterpolationError):
        support.interpolate("${UNSET:?must be set}", env)


def test_compose_config_passes_when_the_docker_compose_plugin_exists() -> None:
    if not support.docker_compose_available():
        pytest.skip("no `docker compose` here; the schema check above always runs")
    result = subprocess.run(["docker", "compose", "-f", str(COMPOSE_FILE), "config", "-q"],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr


def test_compose_builds_the_image_from_this_repository(compose: dict[str, Any]) -> None:
    built = [s for s in compose["services"].values() if "build" in s]
    assert built
    for service in built:
        context = (COMPOSE_FILE.parent / service["build"]["context"]).resolve()
        assert context == ROOT
        assert (context / service["build"]["dockerfile"]).is_file()


def test_compose_runs_every_service_on_apache_kafka_with_idempotence_and_health_checks(
        compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["kafka"]["image"].startswith("apache/kafka:")
    kafka_env = services["kafka"]["environment"]
    assert kafka_env["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft, no ZooKeeper
    assert str(kafka_env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"]) == "false"
    for name in SERVICES:
        service = services[name]
        assert service["command"] == ["python", "-m", f"services.{name}"]
        env = service["environment"]
        assert env["GRANTS_SERVICE_NAME"] == name
        assert env["GRANTS_KAFKA_IDEMPOTENCE"] == "true"
        assert env["GRANTS_SIMULATION"] == "false"
        assert "/health/ready" in " ".join(service["healthcheck"]["test"])
        assert service["depends_on"]["topics"] == {"condition": "service_completed_successfully"}
        assert service.get("user") in (None, "10001", "10001:10001")


def test_each_service_connects_with_its_own_least_privilege_role(compose: dict[str, Any]) -> None:
    init = (DEPLOY / "postgres" / "init-databases.sh").read_text()
    grant = (DEPLOY / "postgres" / "grant-auditor.sh").read_text()
    for script in (init, grant):
        listed = re.search(r'^SERVICES="([^"]*)"', script, re.M)
        assert listed and tuple(listed.group(1).split()) == SERVICES
    for name in SERVICES:
        url = compose["services"][name]["environment"]["GRANTS_PG_URL"]
        assert re.fullmatch(rf"postgresql://{name}:[^@]+@postgres:5432", url), url
        # GRANTS_DATABASE is not set: the database is named after the service, as the roles are
        assert "GRANTS_DATABASE" not in compose["services"][name]["environment"]
    mounted = " ".join(compose["services"]["postgres"]["volumes"])
    assert "init-databases.sh:/docker-entrypoint-initdb.d/" in mounted


def test_the_topic_job_creates_every_contract_topic(compose: dict[str, Any]) -> None:
    job = compose["services"]["topics"]
    assert job["command"][:3] == ["grants", "provision", "topics"]
    assert support.command_error(job["command"]) is None
    plan = {s.name: s for s in provision.topic_plan(replication_factor=1, min_insync_replicas=1)}
    assert set(plan) == set(all_topic_names())
    for topic in ALL_TOPICS:
        assert plan[topic.name].partitions == topic.partitions
        assert plan[topic.name].configs["retention.ms"] == "-1"
        assert plan[topic.dead_letter].partitions == provision.DLT_PARTITIONS


# -- the image -----------------------------------------------------------------------------------

def test_dockerfile_is_multi_stage_slim_and_runs_as_a_non_root_user() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    stages = re.findall(r"^FROM\s+(\S+)(?:\s+AS\s+(\S+))?", text, re.M)
    assert len(stages) >= 2
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim$", text, re.M)
    final = text[text.rindex("\nFROM "):]
    users = re.findall(r"^USER\s+(\S+)", final, re.M)
    assert users and users[-1].split(":")[0] not in ("0", "root")
    assert users[-1].split(":")[0].isdigit()  # numeric, so runAsNonRoot can check it
    for source in re.findall(r"^COPY\s+(?!--from)(\S+)", text, re.M):
        assert (ROOT / source).exists(), source


def test_dockerfile_removes_only_packages_the_project_depends_on() -> None:
    import tomllib

    text = (DEPLOY / "Dockerfile").read_text()
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {re.split(r"[<>=!~;\[ ]", d, maxsplit=1)[0].lower() for d in deps}
    removed = re.search(r"pip uninstall -y ([^\\\n&]+)", text)
    assert removed
    for package in removed.group(1).split():
        assert package.lower() in names, package


# -- the Kubernetes manifests --------------------------------------------------------------------

@pytest.mark.parametrize("version", support.K8S_VERSIONS)
def test_manifests_are_valid_kubernetes(version: str) -> None:
    errors = [f"{path.relative_to(ROOT)} {doc['kind']}/{doc['metadata']['name']}: {e}"
              for path, doc in support.all_resources() for e in support.k8s_errors(doc, version)]
    assert errors == []


def test_the_manifest_check_rejects_a_broken_manifest() -> None:
    _, deployment = next((p, d) for p, d in support.all_resources() if d["kind"] == "Deployment")
    broken = yaml.safe_load(yaml.safe_dump(deployment))
    container = broken["spec"]["template"]["spec"]["containers"][0]
    container["readinessProbe"]["httpGett"] = container["readinessProbe"].pop("httpGet")
    assert support.k8s_errors(broken, "1.29.0")


def test_kustomizations_list_files_that_exist() -> None:
    for kustomization in K8S.rglob("kustomization.yaml"):
        doc = yaml.safe_load(kustomization.read_text())
        listed = list(doc.get("resources", []))
        listed += [f for g in doc.get("configMapGenerator", []) for f in g.get("files", [])]
        for name in listed:
            assert (kustomization.parent / name).is_file(), f"{kustomization}: {name}"
    main = yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"]
    for name in SERVICES:
        assert f"{name}.yaml" in main


def _deployment(name: str) -> dict[str, Any]:
    docs = list(support.manifests(K8S / f"{name}.yaml"))
    return next(d for d in docs if d["kind"] == "Deployment")


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


@pytest.mark.parametrize("name", SERVICES)
def test_each_deployment_has_probes_requests_metrics_and_its_own_principal(name: str) -> None:
    deployment = _deployment(name)
    pod = deployment["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    assert container["command"] == ["python", "-m", f"services.{name}"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
    assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    requests = container["resources"]["requests"]
    assert requests.get("cpu") and requests.get("memory")
    assert pod["metadata"]["annotations"]["prometheus.io/path"] == "/metrics"
    env = _env(container)
    assert env["GRANTS_SERVICE_NAME"] == name
    principal = env["GRANTS_KAFKA_SASL_USERNAME"]
    assert principal == f"{provision.USER_PREFIX}{name}"
    assert principal in provision.principals()
    assert env["GRANTS_PG_URL"]["secretKeyRef"]["name"] == f"grants-{name}-postgres"


def test_settings_configmap_turns_on_tls_scram_and_idempotence() -> None:
    (settings,) = [d for _, d in support.all_resources()
                   if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "grants-settings"]
    data = settings["data"]
    assert data["GRANTS_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert data["GRANTS_KAFKA_SASL_MECHANISM"].startswith("SCRAM-")
    assert data["GRANTS_KAFKA_IDEMPOTENCE"] == "true"
    assert data["GRANTS_SIMULATION"] == "false"


@pytest.mark.parametrize("name", SERVICES)
def test_autoscaling_stops_at_the_partition_count_of_what_the_service_consumes(
        name: str, subscriptions: dict[str, list[provision.Subscription]]) -> None:
    partitions = {t.name: t.partitions for t in ALL_TOPICS}
    most = max(partitions[t] for sub in subscriptions[name] for t in sub.topics)
    (hpa,) = [d for d in support.manifests(K8S / f"{name}.yaml")
              if d["kind"] == "HorizontalPodAutoscaler"]
    assert hpa["spec"]["scaleTargetRef"]["name"] == name
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"] <= most
    assert "replicas" not in _deployment(name)["spec"]  # the autoscaler owns the count


def test_every_pod_runs_as_non_root_with_a_command_this_code_has() -> None:
    for path, doc, spec in support.pod_specs():
        where = f"{path.relative_to(ROOT)} {doc['metadata']['name']}"
        assert spec["securityContext"]["runAsNonRoot"] is True, where
        assert spec["securityContext"].get("runAsUser", 1) != 0, where
        for container in spec["containers"]:
            assert container["securityContext"]["allowPrivilegeEscalation"] is False, where
            assert container["resources"]["requests"], where
            command = container["command"]
            if command[0] == "sh":  # a script shipped next to the manifest (configMapGenerator)
                assert (path.parent / Path(command[1]).name).is_file(), where
            else:
                assert support.command_error(command) is None, (where, command)


def test_every_secret_a_pod_needs_is_in_the_example() -> None:
    example = {d["metadata"]["name"]: d for d in support.manifests(K8S / "secrets.example.yaml")}
    for path, _doc, spec in support.pod_specs():
        needed = {v["secret"]["secretName"] for v in spec.get("volumes", []) if "secret" in v}
        for container in spec["containers"]:
            needed |= {e["valueFrom"]["secretKeyRef"]["name"] for e in container.get("env", [])
                       if "secretKeyRef" in e.get("valueFrom", {})}
        missing = needed - set(example)
        assert not missing, f"{path.relative_to(ROOT)}: {missing}"


def test_the_acl_job_runs_the_plan_the_code_derives() -> None:
    script = (K8S / "kafka" / "acls.sh").read_text()
    expected = provision.kafka_acls_script(provision.acl_plan())
    assert script == expected, ("deploy/k8s/kafka/acls.sh is stale: regenerate it with "
                                "`grants provision acls --format kafka-acls --out "
                                "deploy/k8s/kafka/acls.sh`")


def test_every_topic_is_created_by_the_deploy_job_and_covered_by_an_acl() -> None:
    created = {s.name for s in provision.topic_plan()}
    covered = {a.name for a in provision.parse_kafka_acls_script(
        (K8S / "kafka" / "acls.sh").read_text()) if a.resource_type == "Topic"}
    for name in all_topic_names():
        assert name in created, name
        assert name in covered, name


# -- names in deploy/ and the production doc exist in the code ----------------------------------

def test_every_setting_named_in_deploy_and_the_production_doc_is_read_by_the_code() -> None:
    unknown = {f"{path.relative_to(ROOT)}: {name}"
               for path, text in support.deploy_texts().items()
               for name in support.settings_named(text) if not support.setting_exists(name)}
    assert not unknown


def test_every_topic_named_in_deploy_and_the_production_doc_exists() -> None:
    known = set(all_topic_names())
    unknown = {f"{path.relative_to(ROOT)}: {name}"
               for path, text in support.deploy_texts().items()
               for name in support.topics_named(text) if name not in known}
    assert not unknown


def test_every_grants_command_in_deploy_and_the_production_doc_exists() -> None:
    # `grants <group> <command> [--option [value]]...` as written in files, comments and docs
    pattern = re.compile(r"\bgrants ((?:provision|audit|stack|pool|scenario)(?: [a-z][a-z-]*)?"
                         r"(?: --[a-z][a-z-]*(?:[ =](?!--)[^\s`\\|>;)]+)?)*)")
    bad = {}
    for path, text in support.deploy_texts().items():
        for match in pattern.finditer(text):
            error = support.grants_command_error(match.group(1).split())
            # prose names a command without its arguments ("`grants audit verify` checks ...");
            # the pattern takes no positional arguments: a missing one is no unknown name
            if error and "needs a subcommand" not in error and ": Missing " not in error:
                bad[f"{path.relative_to(ROOT)}: grants {match.group(1)}"] = error
    assert not bad


def test_the_checks_above_catch_names_the_code_does_not_have() -> None:
    assert not support.setting_exists("GRANTS_KAFKA_PASSWORD")
    assert support.setting_exists("GRANTS_KAFKA_SASL_*")
    assert support.command_error(["python", "-m", "services.billing"])
    assert support.command_error(["grants", "provision", "topics", "--partitions", "3"])
    assert support.topics_named("grants.billing.invoices.v1") - set(all_topic_names())


def test_readme_has_a_production_section_that_points_at_the_production_doc() -> None:
    section = support.readme_production_section()
    assert "docs/production.md" in section
    for path in ("deploy/Dockerfile", "deploy/compose.yaml", "deploy/k8s"):
        assert path in section and (ROOT / path).exists()


def test_the_production_doc_lists_every_principal_group_and_topic_as_the_code_has_them(
        subscriptions: dict[str, list[provision.Subscription]]) -> None:
    doc = support.PRODUCTION_DOC.read_text()
    for principal in provision.principals():
        assert f"`{principal}`" in doc, principal
    for subs in subscriptions.values():
        for sub in subs:
            assert f"`{sub.group}`" in doc, sub.group
    rows = dict(re.findall(r"^\s*\| `(grants\.[a-z.]+\.v\d+)` \| (\d+) \|", doc, re.M))
    assert {name: int(n) for name, n in rows.items()} == {t.name: t.partitions
                                                          for t in ALL_TOPICS}
