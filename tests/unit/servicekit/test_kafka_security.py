"""Kafka security settings become the right client arguments, or a clear error."""

from __future__ import annotations

from pathlib import Path

import pytest
from faststream.kafka.security import parse_security
from faststream.security import SASLScram512

from servicekit.kafka_security import KafkaSecurityError, client_kwargs, faststream_security
from servicekit.settings import ServiceSettings


def test_plaintext_adds_nothing() -> None:
    settings = ServiceSettings()
    assert client_kwargs(settings) == {}
    assert faststream_security(settings) is None


def test_sasl_ssl_scram_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRANTS_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("GRANTS_KAFKA_SASL_USERNAME", "svc-intake")
    monkeypatch.setenv("GRANTS_KAFKA_SASL_PASSWORD", "s3cret")
    settings = ServiceSettings()
    kwargs = client_kwargs(settings)
    assert kwargs["security_protocol"] == "SASL_SSL"
    assert kwargs["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (kwargs["sasl_plain_username"], kwargs["sasl_plain_password"]) == ("svc-intake", "s3cret")
    assert kwargs["ssl_context"] is not None
    security = faststream_security(settings)
    assert isinstance(security, SASLScram512)
    # FastStream turns it into the same client arguments.
    parsed = parse_security(security)
    assert parsed["security_protocol"] == "SASL_SSL"
    assert parsed["sasl_plain_username"] == "svc-intake"
    assert "s3cret" not in repr(settings)  # the password never shows in a log of the settings


def test_password_file_wins(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("from-file\n")
    settings = ServiceSettings(kafka_security_protocol="SASL_PLAINTEXT",
                               kafka_sasl_username="svc", kafka_sasl_password="from-env",
                               kafka_sasl_password_file=secret)
    kwargs = client_kwargs(settings)
    assert kwargs["sasl_plain_password"] == "from-file"
    assert "ssl_context" not in kwargs


@pytest.mark.parametrize("extra", [{}, {"kafka_sasl_username": "svc"},
                                   {"kafka_sasl_password": "pw"}])
def test_sasl_without_credentials_is_refused_by_name(extra: dict[str, str]) -> None:
    settings = ServiceSettings(kafka_security_protocol="SASL_SSL", **extra)
    with pytest.raises(KafkaSecurityError, match="GRANTS_KAFKA_SASL_USERNAME"):
        client_kwargs(settings)


def test_missing_password_file_is_named(tmp_path: Path) -> None:
    settings = ServiceSettings(kafka_security_protocol="SASL_SSL", kafka_sasl_username="svc",
                               kafka_sasl_password_file=tmp_path / "absent")
    with pytest.raises(KafkaSecurityError, match="GRANTS_KAFKA_SASL_PASSWORD_FILE"):
        client_kwargs(settings)


def test_ssl_only_is_tls_without_sasl() -> None:
    settings = ServiceSettings(kafka_security_protocol="SSL")
    kwargs = client_kwargs(settings)
    assert kwargs["security_protocol"] == "SSL" and "sasl_mechanism" not in kwargs
    assert parse_security(faststream_security(settings))["security_protocol"] == "SSL"
