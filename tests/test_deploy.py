"""deploy/ describes a runnable production stack: every service, real Kafka with idempotence."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_compose_runs_every_service_against_real_kafka_with_idempotence() -> None:
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
    services = compose["services"]
    for name in ("intake", "assessment", "payments", "reporting"):
        assert services[name]["command"] == ["python", "-m", f"services.{name}"]
        env = services[name]["environment"]
        assert env["GRANTS_SERVICE_NAME"] == name
        assert env["GRANTS_KAFKA_IDEMPOTENCE"] == "true"
        assert env["GRANTS_SIMULATION"] == "false"
        assert (ROOT / "services" / name / "__main__.py").exists()
    assert services["kafka"]["image"].startswith("apache/kafka")
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    for folder in ("contracts", "servicekit", "services", "grants"):
        assert f"COPY {folder} {folder}" in dockerfile
