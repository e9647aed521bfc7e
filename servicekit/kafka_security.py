"""Kafka client security from settings: TLS and SASL (SCRAM) for production brokers.

Every Kafka client of the platform (the services' FastStream broker, the outbox relay's producer,
log readers, topic administration) takes its security from here, so one set of ``GRANTS_KAFKA_*``
variables configures them all. ``PLAINTEXT`` (the default, the embedded broker) adds nothing.
"""

from __future__ import annotations

import ssl
from typing import Any

from aiokafka.helpers import create_ssl_context
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from servicekit.settings import ServiceSettings

_SASL = {"SCRAM-SHA-512": SASLScram512, "SCRAM-SHA-256": SASLScram256, "PLAIN": SASLPlaintext}


class KafkaSecurityError(ValueError):
    """The Kafka security settings are incomplete or contradictory; the message says which."""


def _password(settings: ServiceSettings) -> str | None:
    if settings.kafka_sasl_password_file is not None:
        try:
            return settings.kafka_sasl_password_file.read_text().strip()
        except OSError as exc:
            raise KafkaSecurityError(
                f"GRANTS_KAFKA_SASL_PASSWORD_FILE {settings.kafka_sasl_password_file}: {exc}"
            ) from exc
    if settings.kafka_sasl_password is not None:
        return settings.kafka_sasl_password.get_secret_value()
    return None


def _ssl_context(settings: ServiceSettings) -> ssl.SSLContext | None:
    if not settings.kafka_security_protocol.endswith("SSL"):
        return None
    return create_ssl_context(
        cafile=str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None,
        certfile=str(settings.kafka_ssl_certfile) if settings.kafka_ssl_certfile else None,
        keyfile=str(settings.kafka_ssl_keyfile) if settings.kafka_ssl_keyfile else None,
    )


def client_kwargs(settings: ServiceSettings) -> dict[str, Any]:
    """Keyword arguments for an aiokafka client (producer, consumer, admin)."""
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return {}
    kwargs: dict[str, Any] = {"security_protocol": protocol}
    context = _ssl_context(settings)
    if context is not None:
        kwargs["ssl_context"] = context
    if protocol.startswith("SASL"):
        password = _password(settings)
        if not settings.kafka_sasl_username or not password:
            raise KafkaSecurityError(
                f"GRANTS_KAFKA_SECURITY_PROTOCOL={protocol} needs GRANTS_KAFKA_SASL_USERNAME and "
                "GRANTS_KAFKA_SASL_PASSWORD (or GRANTS_KAFKA_SASL_PASSWORD_FILE)"
            )
        kwargs.update(sasl_mechanism=settings.kafka_sasl_mechanism,
                      sasl_plain_username=settings.kafka_sasl_username,
                      sasl_plain_password=password)
    return kwargs


def faststream_security(settings: ServiceSettings) -> BaseSecurity | None:
    """The same settings as FastStream's ``security=`` object for ``KafkaBroker``."""
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    kwargs = client_kwargs(settings)
    context = kwargs.get("ssl_context")
    if protocol == "SSL":
        return BaseSecurity(ssl_context=context, use_ssl=True)
    security_class = _SASL[settings.kafka_sasl_mechanism]
    return security_class(kwargs["sasl_plain_username"], kwargs["sasl_plain_password"],
                          ssl_context=context, use_ssl=protocol == "SASL_SSL")
