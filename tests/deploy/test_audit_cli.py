"""`grants audit replay` against a deployed platform: addresses and Kafka security from options
and the GRANTS_* environment, handed to the log reader."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from typer.testing import CliRunner

import grants.audit
from grants import audit_cli
from grants.cli import app


def test_a_deployed_platform_needs_the_public_keys() -> None:
    """The log alone (no --pg-url) is enough, but not without the services' public keys."""
    result = CliRunner().invoke(app, ["audit", "replay", "--bootstrap", "kafka:9093"],
                                env={"GRANTS_PG_URL": "", "GRANTS_AUDIT_JWKS_FILE": ""})
    assert result.exit_code == 2
    assert "--keys" in result.output


def test_incomplete_kafka_security_is_refused_by_name() -> None:
    result = CliRunner().invoke(
        app, ["audit", "replay", "--bootstrap", "kafka:9093", "--pg-url", "postgresql://a@pg"],
        env={"GRANTS_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
             "GRANTS_KAFKA_SASL_USERNAME": "grants-auditor"})
    assert result.exit_code == 2
    assert "GRANTS_KAFKA_SASL_PASSWORD" in result.output


def test_the_log_reader_gets_the_security_options(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    class Reached(Exception):
        pass

    class RecordingReader:
        def __init__(self, bootstrap: str, topics: Any, **kwargs: Any) -> None:
            seen.update(bootstrap=bootstrap, **kwargs)

        async def start(self) -> None:
            raise Reached

    monkeypatch.setattr(grants.audit, "LogReader", RecordingReader)
    options = {"security_protocol": "SASL_SSL", "sasl_plain_username": "grants-auditor"}
    with pytest.raises(Reached):
        asyncio.run(audit_cli._replay("kafka:9093", "postgresql://a@pg", lambda d, t: None,
                                      options))
    assert seen["bootstrap"] == "kafka:9093"
    assert seen["client_options"] == options
    assert seen["group_prefix"] == "grants-audit"
