"""Service settings from the environment (prefix ``GRANTS_``); nothing is read at import time."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts.topics import PORTAL_SUBMISSIONS, namespaced


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GRANTS_", extra="ignore")

    service_name: str = "service"
    kafka_bootstrap: str = "127.0.0.1:9092"
    pg_url: str = "postgresql://postgres@127.0.0.1:5432"
    database: str | None = None
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    # The broker's max.message.bytes: an event encoded larger is refused before it is written to
    # the outbox (servicekit.outbox.EventTooLarge), never left to stall the relay.
    kafka_max_message_bytes: int = 1_000_000
    # /health/ready turns red when the outbox's oldest unsent event is older than this.
    ready_outbox_max_age_s: float = 120.0
    # Largest request body a route takes unless it names its own limit (servicekit.http_guard).
    http_max_body_bytes: int = 1024 * 1024
    # Admission control (servicekit.admission): the latency budget of a route that sheds load
    # (0: never shed) and the requests in flight always admitted.
    http_admission_budget_ms: int = Field(default=1000, ge=0)
    http_admission_floor: int = Field(default=128, ge=1)
    # HTTP worker processes sharing the service's port (servicekit.service.serve): each one a
    # whole instance of the service (its own consumers in the service's groups, relay and
    # scheduler candidates), so a CPU-bound intake uses more than one core. Live mode only: the
    # simulated clock drives one process's scheduler.
    http_workers: int = Field(default=1, ge=1, le=64)
    # Partitions of the portal submissions topic when provisioning creates it (grants provision
    # topics, the stack): intake's consumers in one group share them, so this bounds how many
    # intake instances consume at once. Read at creation only: provisioning never changes an
    # existing topic's count (more partitions move keys, breaking an application's order).
    portal_partitions: int = Field(default=PORTAL_SUBMISSIONS.partitions, ge=1, le=256)
    simulation: bool = False
    log_level: str = "INFO"

    # Idempotent producers need InitProducerId v>0, which the embedded tansu broker lacks:
    # off by default here, switched on for Apache Kafka in deploy/.
    kafka_idempotence: bool = False
    # Kafka security (servicekit.kafka_security): TLS and SASL/SCRAM per service principal in
    # production; PLAINTEXT on the embedded broker. A password file (a mounted Secret) wins over
    # the password variable.
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = "SCRAM-SHA-512"
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_sasl_password_file: Path | None = None
    kafka_ssl_cafile: Path | None = None
    kafka_ssl_certfile: Path | None = None
    kafka_ssl_keyfile: Path | None = None
    # Short session + heartbeat make a new member join in ~1 s on the local broker (INFRA-NOTES).
    consumer_session_timeout_ms: int = 6000
    consumer_heartbeat_interval_ms: int = 300
    # How long an idle fetch waits on the broker. Apache Kafka answers a waiting fetch as soon
    # as a record arrives, so this costs no latency there; tansu wakes within ~15 ms at 100 ms
    # (measured; ~100 ms at 200 ms). 20 ms made every idle consumer fetch 50 times a second:
    # an idle stack burnt ~0.55 of a core (services 6-8% each, the broker 28%); 100 ms cuts the
    # services' idle CPU to a third and the broker's by 40%.
    consumer_fetch_max_wait_ms: int = 100
    consumer_max_records: int = 500
    # A consumer that dead-letters this many messages in a row stops instead of draining a topic.
    poison_storm_limit: int = 50
    transient_retry_max_delay_s: float = 5.0

    # Signed checkpoints (servicekit.checkpoints): the service's Ed25519 key (PEM); without one
    # the service publishes no checkpoints and its events do not verify from the log alone. A
    # rotation puts the new key in the first, the old one in the second setting.
    audit_signing_key_file: Path | None = None
    audit_previous_key_file: Path | None = None
    audit_checkpoint_interval_s: float = 60.0

    # The scheduler (servicekit.scheduler): seconds between ticks of the time-driven rules in
    # production (0: no ticks of its own; the manual endpoints still work). Simulation mode
    # never ticks on wall-clock time: the scenario's clock drives it.
    scheduler_interval_s: float = Field(60.0, ge=0)

    # OpenTelemetry tracing (servicekit.tracing), off by default. The OTLP exporter reads the
    # standard OTEL_EXPORTER_OTLP_ENDPOINT (and OTEL_EXPORTER_OTLP_*) variables; "memory" is for
    # tests, "none" propagates trace contexts without exporting spans.
    otel_enabled: bool = False
    otel_exporter: Literal["otlp", "memory", "none"] = "otlp"

    relay_batch_size: int = 2000
    relay_idle_poll_s: float = 0.25
    # Longer than a handler's p99 so in-flight work commits before the process exits.
    shutdown_grace_s: float = 10.0

    # Fault injection for the crash tests: SIGKILL the process after a batch's effect committed
    # but before its offsets are committed. Never set outside tests.
    fault_kill_before_commit: bool = False
    # The same after this process's n-th batch only (0: never): a test picks n at random per life.
    fault_kill_at_batch: int = 0

    # Identity: public keys (PEM files or a JWKS file) of the token issuer.
    auth_issuer: str = "grants-dev-issuer"
    auth_audience: str = "grants-platform"
    auth_public_key_file: Path | None = None
    auth_jwks_file: Path | None = None
    auth_leeway_s: int = 30

    # GRANTS_NAMESPACE (contracts.topics.namespace) prefixes topics, groups and the default
    # database, so several stacks can share one Kafka cluster and PostgreSQL server; an explicit
    # ``database`` is used as given.
    @property
    def database_name(self) -> str:
        return self.database or namespaced(self.service_name, "_")

    @property
    def dsn(self) -> str:
        return f"{self.pg_url.rstrip('/')}/{self.database_name}"

    @property
    def group_id(self) -> str:
        return namespaced(f"grants-{self.service_name}")


def settings_problems(error: ValidationError) -> str:
    """A settings error as one line naming each variable (``GRANTS_HTTP_PORT: …``), for a
    command to show instead of pydantic's multi-line report."""
    return "; ".join(f"GRANTS_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
                     for e in error.errors())
