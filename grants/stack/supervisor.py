"""The local embedded stack: broker, PostgreSQL, topics, databases and one OS process per service.

State lives in ``<home>/stack.json`` where home is ``$GRANTS_HOME`` or ``<repo>/.grants``; logs in
``<home>/logs/<name>.log``. Any process can load the state and stop, kill or restart what another
process started: every pid is stored with its start time, so a recycled pid is never signalled.

The broker keeps everything in memory, so every ``up`` starts from nothing: a fresh broker, a fresh
PostgreSQL cluster and empty databases. Keeping old databases across a broker restart would leave
their outboxes, inboxes and projections describing events the new broker never held.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
from pydantic import BaseModel

from contracts.topics import PLATFORM_SERVICES, namespaced
from servicekit.identity import DevTokenIssuer

from grants.stack._proc import (
    LOOPBACK,
    die_with_parent_preexec,
    free_port,
    is_alive,
    port_open,
    process_start_time,
    stop_pid,
    tail,
)
from grants.stack.broker import BrokerProcess, ensure_topics, start_broker
from grants.stack.console import start_console
from grants.stack.postgres import (
    PostgresProcess,
    create_databases,
    drop_database,
    restart_postgres,
    start_postgres,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
ALL_SERVICES: tuple[str, ...] = ("intake", "assessment", "payments", "reporting")
DATABASES: tuple[str, ...] = ALL_SERVICES
HEALTH_TIMEOUT_S = 60.0


class StackError(RuntimeError):
    """The stack could not be brought up or operated; the message says why (with log tails).
    ``code`` is the CLI exit code (``grants.cli_errors.ExitCode``)."""

    code = 8


class PortTaken(StackError):
    code = 7


_CLUSTER_ONLY_KAFKA_SETTINGS = ("GRANTS_KAFKA_SECURITY_PROTOCOL", "GRANTS_KAFKA_SASL_",
                                "GRANTS_KAFKA_SSL_")

SHIPPED_REGISTER = Path(__file__).resolve().parents[2] / "deploy" / "register"


def default_home() -> Path:
    env = os.environ.get("GRANTS_HOME")
    return Path(env).expanduser().resolve() if env else REPO_ROOT / ".grants"


DEFAULT_SERVICE_MODULE = "services.{name}"


def base_service(name: str) -> str:
    """The service an instance name runs: ``assessment@2`` is a second ``assessment`` process
    (same consumer groups, same database), ``assessment`` the first."""
    return name.split("@", 1)[0]


def service_available(name: str, module_template: str = DEFAULT_SERVICE_MODULE) -> bool:
    """A service can be started once its ``__main__.py`` exists (``services/<name>/__main__.py``
    for the platform's services)."""
    module = module_template.format(name=name)
    return (REPO_ROOT.joinpath(*module.split(".")) / "__main__.py").is_file()


class ServiceProcess(BaseModel):
    name: str
    pid: int
    started_at: float | None = None
    http_port: int
    http_url: str
    log_path: Path
    restarts: int = 0  # how often the stack started it again (after a death or on request)

    def alive(self) -> bool:
        return is_alive(self.pid, self.started_at)


class BrokerState(BaseModel):
    pid: int
    started_at: float | None = None
    bootstrap: str
    log_path: Path | None = None

    def alive(self) -> bool:
        return is_alive(self.pid, self.started_at)


class PostgresState(BaseModel):
    pid: int
    started_at: float | None = None
    url: str
    datadir: Path
    log_path: Path | None = None

    def alive(self) -> bool:
        return is_alive(self.pid, self.started_at)


class StackState(BaseModel):
    """What ``up`` started. ``pg_url`` has no database: services append their own name.

    ``broker`` / ``postgres`` are None when the stack runs against an existing Kafka or
    PostgreSQL (``--kafka-bootstrap`` / ``--pg-url``): the stack did not start it and never
    stops it; it counts as alive while its address answers."""

    home: Path
    created_at: datetime
    simulation: bool
    kafka_bootstrap: str
    pg_url: str
    broker: BrokerState | None
    postgres: PostgresState | None
    services: dict[str, ServiceProcess] = {}
    # The staff's web console (``python -m console``), when the stack was asked for it.
    console: ServiceProcess | None = None

    @property
    def mode(self) -> str:
        return "simulation" if self.simulation else "live"

    @property
    def external_kafka(self) -> bool:
        return self.broker is None

    @property
    def external_pg(self) -> bool:
        return self.postgres is None

    def broker_alive(self) -> bool:
        return self.broker.alive() if self.broker else address_answers(self.kafka_bootstrap)

    def postgres_alive(self) -> bool:
        return self.postgres.alive() if self.postgres else address_answers(self.pg_url)

    def infra_alive(self) -> bool:
        return self.broker_alive() and self.postgres_alive()

    def dead_services(self) -> list[str]:
        return [name for name, svc in self.services.items() if not svc.alive()]

    def kafka_client_options(self) -> dict[str, Any]:
        """TLS/SASL arguments for clients of this stack's broker: the ``GRANTS_KAFKA_*``
        security settings on an existing cluster, none on the embedded broker."""
        if not self.external_kafka:
            return {}
        from servicekit.kafka_security import client_kwargs
        from servicekit.settings import ServiceSettings

        return client_kwargs(ServiceSettings(service_name="cli"))


def address_answers(address: str) -> bool:
    """Whether the first ``host:port`` of a bootstrap list or PostgreSQL URL accepts TCP."""
    host, port = split_address(address)
    return port_open(host, port, timeout=1.0)


def split_address(address: str) -> tuple[str, int]:
    """``host:port`` of a Kafka bootstrap list (its first entry) or a PostgreSQL URL."""
    if "://" in address:
        parsed = urlsplit(address)
        return parsed.hostname or LOOPBACK, parsed.port or 5432
    first = address.split(",")[0].strip()
    host, _, port = first.rpartition(":")
    return host.strip("[]") or LOOPBACK, int(port) if port.isdigit() else 9092


class BrokerUnreachable(StackError):
    code = 5


class DatabaseUnreachable(StackError):
    code = 6


class StackMismatch(StackError):
    """The stack that is up is not the one asked for (mode or broker/database)."""

    code = 8


class EmbeddedStack:
    """Start, inspect and stop the local stack; usable from the CLI, the demo and tests.

    ``durable=False`` (tests only) runs PostgreSQL without fsync. ``die_with_parent=True`` asks the
    kernel to stop every process when the calling process dies (effective only when called from
    the main thread); the CLI leaves it off so the stack outlives ``grants stack up``.
    ``service_module`` is the module run as ``python -m`` per service (tests point it at a stub).
    """

    def __init__(
        self,
        home: Path | str | None = None,
        *,
        durable: bool = True,
        die_with_parent: bool = False,
        echo: Callable[[str], None] | None = None,
        service_module: str = DEFAULT_SERVICE_MODULE,
        with_console: bool = False,
    ) -> None:
        self.service_module = service_module
        self.with_console = with_console
        self.home = Path(home).resolve() if home else default_home()
        self.durable = durable
        self.die_with_parent = die_with_parent
        self._echo = echo or (lambda _msg: None)
        self._popens: dict[int, subprocess.Popen[bytes]] = {}

    # -- paths and state ------------------------------------------------------------------------

    @property
    def state_path(self) -> Path:
        return self.home / "stack.json"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    def log_path(self, name: str) -> Path:
        return self.logs_dir / f"{name}.log"

    def load_state(self) -> StackState | None:
        try:
            return StackState.model_validate_json(self.state_path.read_text())
        except FileNotFoundError:
            return None
        except ValueError as exc:
            raise StackError(f"unreadable stack state {self.state_path}: {exc}") from exc

    def _save_state(self, state: StackState) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_suffix(".json.tmp")
        tmp.write_text(state.model_dump_json(indent=2))
        tmp.replace(self.state_path)

    def _require_state(self) -> StackState:
        state = self.load_state()
        if state is None:
            raise StackError(f"no stack is up (no {self.state_path})")
        return state

    def is_up(self) -> bool:
        state = self.load_state()
        return state is not None and state.infra_alive()

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        """One ``up``/``down``/restart at a time per home."""
        self.home.mkdir(parents=True, exist_ok=True)
        with (self.home / "stack.lock").open("w") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    # -- up / down ------------------------------------------------------------------------------

    def up(
        self,
        simulation: bool | None = None,
        services: list[str] | None = None,
        *,
        health_timeout: float = HEALTH_TIMEOUT_S,
        kafka_bootstrap: str | None = None,
        pg_url: str | None = None,
    ) -> StackState:
        """Bring the stack up and return its state.

        ``services=None`` means all of ``ALL_SERVICES``; services without a ``__main__`` module
        yet are skipped with a warning. On any failure everything started here is stopped again.
        ``kafka_bootstrap`` / ``pg_url`` (default ``GRANTS_STACK_KAFKA_BOOTSTRAP`` /
        ``GRANTS_STACK_PG_URL``): run against an existing Kafka / PostgreSQL instead of starting
        the embedded ones. ``simulation=None``: whatever is up, else live.

        A stack that is already up is returned as it is, after starting again every service of
        it that died; one in the other mode, or on another broker or database, is refused
        (``StackMismatch``). A stack whose embedded broker or PostgreSQL died is torn down and
        started afresh (the broker's log was in its memory).
        """
        wanted = list(ALL_SERVICES if services is None else services)
        unknown = [s for s in wanted if s not in ALL_SERVICES]
        if unknown and self.service_module == DEFAULT_SERVICE_MODULE:
            raise StackError(f"unknown services {unknown}; known: {', '.join(ALL_SERVICES)}")
        kafka_bootstrap = kafka_bootstrap or os.environ.get("GRANTS_STACK_KAFKA_BOOTSTRAP") or None
        pg_url = pg_url or os.environ.get("GRANTS_STACK_PG_URL") or None
        with self._lock():
            existing = self.load_state()
            if existing is not None:
                if existing.infra_alive():
                    self._refuse_mismatch(existing, simulation, kafka_bootstrap, pg_url)
                    self._restart_dead(existing, health_timeout)
                    return existing
                self._echo("found a stale stack (broker or PostgreSQL dead); cleaning it up")
                self._teardown(existing)
            return self._up(bool(simulation), wanted, health_timeout, kafka_bootstrap, pg_url)

    @staticmethod
    def _refuse_mismatch(state: StackState, simulation: bool | None, kafka_bootstrap: str | None,
                         pg_url: str | None) -> None:
        if simulation is not None and simulation != state.simulation:
            wanted = "simulation" if simulation else "live"
            raise StackMismatch(
                f"a stack in {state.mode} mode is up (since {state.created_at:%Y-%m-%d %H:%M} "
                f"UTC), not {wanted}; stop it with `grants stack down` first"
                + ("" if simulation else ", or use it with `grants stack up --simulation`"))
        if kafka_bootstrap is not None and kafka_bootstrap != state.kafka_bootstrap:
            raise StackMismatch(f"the stack that is up uses the broker {state.kafka_bootstrap}, "
                                f"not {kafka_bootstrap}; `grants stack down` first")
        if pg_url is not None and pg_url.rstrip("/") != state.pg_url:
            raise StackMismatch(f"the stack that is up uses the database server "
                                f"{_redact(state.pg_url)}, not {_redact(pg_url)}; "
                                "`grants stack down` first")

    def _restart_dead(self, state: StackState, health_timeout: float) -> None:
        dead = state.dead_services()
        for name in dead:
            self._echo(f"{name} was dead; starting it again (last lines of its log in "
                       f"`grants stack logs {name}`)")
            state.services[name] = self._spawn(state, name, state.services[name].http_port,
                                               truncate=False,
                                               restarts=state.services[name].restarts + 1)
            self._save_state(state)
        if dead:
            self._wait_healthy(state, dead, health_timeout)

    def _up(self, simulation: bool, wanted: list[str], health_timeout: float,
            kafka_bootstrap: str | None, pg_url: str | None) -> StackState:
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        broker: BrokerProcess | None = None
        pg: PostgresProcess | None = None
        state: StackState | None = None
        try:
            t0 = time.perf_counter()
            if kafka_bootstrap is not None:
                if not address_answers(kafka_bootstrap):
                    raise BrokerUnreachable(f"the Kafka broker at {kafka_bootstrap} does not "
                                            "answer; check the address and that it runs")
                self._echo(f"using the Kafka broker at {kafka_bootstrap} (not started here)")
            else:
                broker_log = self._fresh_log("broker")
                broker = start_broker(log_path=broker_log, die_with_parent=self.die_with_parent)
                self._popens[broker.pid] = broker.popen  # type: ignore[assignment]  # a Popen while we started it
                self._echo(f"broker up at {broker.bootstrap} ({time.perf_counter() - t0:.2f}s)")

            t0 = time.perf_counter()
            if pg_url is not None:
                pg_url = pg_url.rstrip("/")
                if not address_answers(pg_url):
                    raise DatabaseUnreachable(f"the PostgreSQL server at {_redact(pg_url)} does "
                                              "not answer; check the URL and that it runs")
                self._echo(f"using the PostgreSQL server at {_redact(pg_url)} (not started here)")
            else:
                pg = self._start_postgres(kafka_bootstrap)
                self._popens[pg.pid] = pg.popen  # type: ignore[assignment]  # a Popen while we started it
                self._echo(f"PostgreSQL up at {pg.url} ({time.perf_counter() - t0:.2f}s, "
                           f"{pg.datadir})")

            state = StackState(
                home=self.home,
                created_at=datetime.now(UTC),
                simulation=simulation,
                kafka_bootstrap=broker.bootstrap if broker else kafka_bootstrap,
                pg_url=pg.url if pg else pg_url,
                broker=BrokerState(pid=broker.pid, started_at=broker.started_at,
                                   bootstrap=broker.bootstrap, log_path=broker.log_path)
                if broker else None,
                postgres=PostgresState(pid=pg.pid, started_at=pg.started_at, url=pg.url,
                                       datadir=pg.datadir, log_path=pg.log_path)
                if pg else None,
            )  # fmt: skip
            self._save_state(state)  # from here on `down` can clean up even if we are killed

            asyncio.run(self._provision(state))
            self._echo(f"topics and databases ({', '.join(DATABASES)}) ready")

            for name in wanted:
                if not service_available(name, self.service_module):
                    module = self.service_module.format(name=name)
                    self._echo(f"warning: {module} has no __main__ module yet; skipping {name}")
                    continue
                state.services[name] = self._spawn(state, name, free_port(), truncate=True)
                self._save_state(state)
            self._wait_healthy(state, list(state.services), health_timeout)
            if self.with_console:
                state.console = start_console(state, self._fresh_log("console"),
                                              self._popens, self._echo, health_timeout)
                self._save_state(state)
            return state
        except BaseException:
            if state is not None:
                self._teardown(state)
            else:
                for proc in (pg, broker):
                    if proc is not None:
                        proc.stop()
            raise

    def _start_postgres(self, external_kafka: str | None) -> PostgresProcess:
        """The embedded PostgreSQL. On an existing broker, whose log outlives the stack, the
        cluster outlives it too (kept by ``down``, started again here): fresh databases next to
        a log that still holds their events would contradict it. On the embedded broker, which
        starts empty, the cluster starts empty too."""
        kept = self._kept_cluster()
        if external_kafka is not None and kept is not None and kept[1] == external_kafka:
            self._echo(f"starting the kept PostgreSQL cluster of {external_kafka} again")
            return restart_postgres(kept[0], free_port(), durable=self.durable,
                                    die_with_parent=self.die_with_parent,
                                    log_path=self._fresh_log("postgres"))
        if kept is not None:
            _remove_tree(kept[0])
        self._kept_path.unlink(missing_ok=True)
        return start_postgres(self.home / "pg", durable=self.durable,
                              die_with_parent=self.die_with_parent,
                              log_path=self._fresh_log("postgres"))

    @property
    def _kept_path(self) -> Path:
        return self.home / "pg-kept.json"

    def _kept_cluster(self) -> tuple[Path, str] | None:
        try:
            kept = json.loads(self._kept_path.read_text())
            datadir = Path(kept["datadir"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return (datadir, str(kept["kafka_bootstrap"])) if (datadir / "PG_VERSION").is_file() \
            else None

    async def _provision(self, state: StackState) -> None:
        # Imported here: the audit key tools pull in the checkpoint and consumer code (~0.7 s),
        # which `grants stack status` and the other read-only commands never need.
        from grants.audit_keys import ensure_keys

        ensure_keys(self.audit_keys_dir(state))
        if state.external_kafka:
            await self._provision_existing_kafka(state.kafka_bootstrap)
        else:
            await ensure_topics(state.kafka_bootstrap, extra=_partition_overrides())
        try:
            if state.external_pg and not state.external_kafka:
                # The embedded broker starts empty: so must the services' databases.
                self._echo(f"dropping and creating {', '.join(DATABASES)} on "
                           f"{_redact(state.pg_url)} (the embedded broker starts empty)")
                for name in DATABASES:
                    await drop_database(state.pg_url, namespaced(name, "_"))
            # GRANTS_NAMESPACE: the databases of this stack's namespace (as services name them)
            await create_databases(state.pg_url, [namespaced(d, "_") for d in DATABASES])
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise DatabaseUnreachable(
                f"could not create the databases on {_redact(state.pg_url)}: {exc} (the URL's "
                "user needs CREATEDB)") from None

    async def _provision_existing_kafka(self, bootstrap: str) -> None:
        """The topics exactly as ``grants provision topics`` makes them, with the ``GRANTS_KAFKA_*``
        security settings; the replication factor is the cluster's size up to 3."""
        from aiokafka.errors import KafkaConnectionError, KafkaError

        from grants import provision
        from servicekit.kafka_security import KafkaSecurityError
        from servicekit.settings import ServiceSettings

        try:
            settings = ServiceSettings(service_name=provision.PROVISIONER)
            replicas = min(3, await _cluster_size(settings, bootstrap))
            plan = provision.topic_plan(replication_factor=replicas,
                                        min_insync_replicas=min(2, replicas),
                                        partitions=provision.partition_overrides(settings))
            report = await provision.ensure_topics(settings, plan, bootstrap=bootstrap)
        except KafkaSecurityError as exc:
            raise StackError(f"Kafka security settings: {exc}") from None
        except (KafkaConnectionError, KafkaError, OSError, provision.ProvisionError) as exc:
            raise BrokerUnreachable(f"could not provision topics on {bootstrap}: "
                                    f"{type(exc).__name__}: {exc}") from None
        self._echo(f"topics on {bootstrap}: {len(report.created)} created, "
                   f"{len(report.existing)} existed (replication factor {replicas})")
        for name, problems in report.drift.items():
            self._echo(f"warning: topic {name} differs from the plan: {'; '.join(problems)}")

    def down(self, grace: float = 10.0) -> bool:
        """Stop services (SIGTERM, SIGKILL after ``grace``), broker and PostgreSQL; remove state.
        Returns False if there was no stack."""
        with self._lock():
            state = self.load_state()
            if state is None:
                return False
            self._teardown(state, grace)
            return True

    def _teardown(self, state: StackState, grace: float = 10.0) -> None:
        """Stop what this stack started, nothing else: an existing broker or database server
        keeps running (and keeps its topics and databases)."""
        if state.console is not None:
            if stop_pid(state.console.pid, started_at=state.console.started_at, grace=grace,
                        group=True):
                self._echo(f"stopped console (pid {state.console.pid})")
            self._reap(state.console.pid)
        for name, svc in state.services.items():
            if stop_pid(svc.pid, started_at=svc.started_at, grace=grace, group=True):
                self._echo(f"stopped {name} (pid {svc.pid})")
            self._reap(svc.pid)
        if state.broker is not None:
            if stop_pid(state.broker.pid, started_at=state.broker.started_at, grace=5.0):
                self._echo(f"stopped broker (pid {state.broker.pid})")
            self._reap(state.broker.pid)
        if state.postgres is not None:
            if stop_pid(state.postgres.pid, started_at=state.postgres.started_at,
                        sig=signal.SIGINT, grace=grace):  # fmt: skip
                self._echo(f"stopped PostgreSQL (pid {state.postgres.pid})")
            self._reap(state.postgres.pid)
            if state.external_kafka:
                self._kept_path.write_text(json.dumps({
                    "datadir": str(state.postgres.datadir),
                    "kafka_bootstrap": state.kafka_bootstrap}))
                self._echo(f"kept the PostgreSQL cluster {state.postgres.datadir} for the next "
                           f"`stack up` on {state.kafka_bootstrap}")
            else:
                _remove_tree(state.postgres.datadir)
        self.state_path.unlink(missing_ok=True)

    # -- services -------------------------------------------------------------------------------

    def _fresh_log(self, name: str) -> Path:
        path = self.log_path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
        return path

    def service_env(self, state: StackState, name: str, port: int) -> dict[str, str]:
        env = dict(os.environ)
        if not state.external_kafka:
            # Settings for a Kafka cluster (TLS, SASL, idempotent producers) do not apply to the
            # embedded broker, which speaks PLAINTEXT and lacks InitProducerId v>0: a shell
            # exported for the production cluster must not break the local stack.
            for key in list(env):
                if key.startswith(_CLUSTER_ONLY_KAFKA_SETTINGS):
                    del env[key]
            env["GRANTS_KAFKA_IDEMPOTENCE"] = "false"
        env.update(
            GRANTS_KAFKA_BOOTSTRAP=state.kafka_bootstrap,
            GRANTS_PG_URL=state.pg_url,
            GRANTS_HTTP_PORT=str(port),
            GRANTS_SIMULATION="1" if state.simulation else "0",
            GRANTS_SERVICE_NAME=base_service(name),
            # Services verify tokens from the dev issuer whose keys live in the stack's home.
            GRANTS_AUTH_PUBLIC_KEY_FILE=str(DevTokenIssuer(state.home / "keys").public_key_file),
            PYTHONUNBUFFERED="1",
        )
        # The organisation register the embedded stack ships (assessment loads it at start-up,
        # unchanged files change nothing); GRANTS_REGISTER_FILES in the environment wins.
        env.setdefault("GRANTS_REGISTER_FILES", ",".join(
            str(p) for p in sorted(SHIPPED_REGISTER.glob("*.csv"))))
        service = base_service(name)
        if service in PLATFORM_SERVICES:
            # Each service signs its checkpoints with its own key (made on first use, like the
            # dev issuer's); auditors verify with <home>/keys/audit/audit-jwks.json.
            from grants.audit_keys import ensure_keys, key_file  # see _provision

            keys = self.audit_keys_dir(state)
            ensure_keys(keys, (service,))
            env["GRANTS_AUDIT_SIGNING_KEY_FILE"] = str(key_file(keys, service))
        return env

    @staticmethod
    def audit_keys_dir(state: StackState) -> Path:
        return state.home / "keys" / "audit"

    def _spawn(self, state: StackState, name: str, port: int, *, truncate: bool,
               restarts: int = 0) -> ServiceProcess:
        log_path = self._fresh_log(name) if truncate else self.log_path(name)
        with log_path.open("ab") as log:
            popen = subprocess.Popen(
                [sys.executable, "-m", self.service_module.format(name=base_service(name))],
                cwd=REPO_ROOT,
                env=self.service_env(state, name, port),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group: stopped as a group, immune to Ctrl-C
                preexec_fn=_die_with_parent() if self.die_with_parent else None,
            )
        self._popens[popen.pid] = popen
        self._echo(f"started {name} (pid {popen.pid}, http://{LOOPBACK}:{port})")
        return ServiceProcess(
            name=name,
            pid=popen.pid,
            started_at=process_start_time(popen.pid),
            http_port=port,
            http_url=f"http://{LOOPBACK}:{port}",
            log_path=log_path,
            restarts=restarts,
        )

    def _wait_healthy(self, state: StackState, names: list[str], timeout: float) -> None:
        pending = set(names)
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=1.0) as client:
            while pending:
                for name in sorted(pending):
                    svc = state.services[name]
                    if not self._service_alive(svc):
                        last = tail(svc.log_path)
                        error = PortTaken if "address already in use" in last.lower() \
                            else StackError
                        raise error(
                            f"service {name} exited during start-up; last lines of "
                            f"{svc.log_path}:\n{last}"
                        )
                    try:
                        if client.get(f"{svc.http_url}/health").status_code == 200:
                            pending.discard(name)
                            self._echo(f"{name} healthy")
                    except httpx.HTTPError:
                        pass
                if pending and time.monotonic() > deadline:
                    name = sorted(pending)[0]
                    log = state.services[name].log_path
                    raise StackError(
                        f"services {sorted(pending)} not healthy after {timeout:.0f}s; "
                        f"last lines of {log}:\n{tail(log)}"
                    )
                if pending:
                    time.sleep(0.1)

    def _service_alive(self, svc: ServiceProcess) -> bool:
        popen = self._popens.get(svc.pid)
        if popen is not None and popen.poll() is not None:
            return False
        return svc.alive()

    def _reap(self, pid: int) -> None:
        popen = self._popens.pop(pid, None)
        if popen is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                popen.wait(timeout=1)

    def start_service(self, name: str, *, health_timeout: float = HEALTH_TIMEOUT_S) -> ServiceProcess:
        """Start (or start again) one service on its recorded port, appending to its log.
        ``<service>@<n>`` starts a further instance of ``<service>`` on a port of its own."""
        with self._lock():
            state = self._require_state()
            if not service_available(base_service(name), self.service_module):
                module = self.service_module.format(name=base_service(name))
                raise StackError(f"{module} has no __main__ module")
            old = state.services.get(name)
            if old is not None and old.alive():
                return old
            port = old.http_port if old is not None else free_port()
            state.services[name] = self._spawn(state, name, port, truncate=old is None,
                                               restarts=0 if old is None else old.restarts + 1)
            self._save_state(state)
            self._wait_healthy(state, [name], health_timeout)
            return state.services[name]

    def stop_service(self, name: str, grace: float = 10.0) -> bool:
        """SIGTERM the service's process group, SIGKILL after ``grace``. False if not running."""
        svc = self._require_state().services.get(name)
        if svc is None:
            raise StackError(f"service {name} is not part of this stack")
        stopped = stop_pid(svc.pid, started_at=svc.started_at, grace=grace, group=True)
        self._reap(svc.pid)
        return stopped

    def restart_service(
        self, name: str, *, grace: float = 10.0, health_timeout: float = HEALTH_TIMEOUT_S
    ) -> ServiceProcess:
        """Graceful stop, then start on the same port with the same environment; waits for
        ``/health``."""
        if name in self._require_state().services:
            self.stop_service(name, grace)
        return self.start_service(name, health_timeout=health_timeout)

    def kill_service(self, name: str, sig: int = signal.SIGKILL, *, wait: float = 10.0) -> None:
        """Fault injection: send ``sig`` to the service's process group. For SIGKILL/SIGTERM/SIGINT
        waits up to ``wait`` seconds until the process is gone."""
        svc = self._require_state().services.get(name)
        if svc is None:
            raise StackError(f"service {name} is not part of this stack")
        if not svc.alive():
            return
        try:
            os.killpg(svc.pid, sig)
        except ProcessLookupError:
            return
        if sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGINT):
            deadline = time.monotonic() + wait
            while self._service_alive(svc) and time.monotonic() < deadline:
                time.sleep(0.02)
            self._reap(svc.pid)

    def service_url(self, name: str) -> str:
        return self._require_state().services[name].http_url

    # -- infrastructure outages (fault-injection tests) ---------------------------------------

    def stop_broker(self, grace: float = 5.0) -> None:
        """Stop the broker; services keep running and must ride out the outage."""
        state = self._require_state()
        if state.broker is None:
            raise StackError("the stack runs on an existing broker; it does not stop it")
        stop_pid(state.broker.pid, started_at=state.broker.started_at, grace=grace)
        self._reap(state.broker.pid)

    def start_broker_again(self) -> None:
        """Start the broker on its old address. The embedded broker keeps its log in memory, so
        it comes back empty: the topics are created again, as an operator would after losing a
        cluster. Clients reconnect on their own."""
        with self._lock():
            state = self._require_state()
            if state.broker is None:
                raise StackError("the stack runs on an existing broker; it does not start it")
            port = int(state.kafka_bootstrap.rpartition(":")[2])
            broker = start_broker(port, log_path=state.broker.log_path,
                                  die_with_parent=self.die_with_parent)
            self._popens[broker.pid] = broker.popen  # type: ignore[assignment]  # a Popen while we started it
            state.broker = BrokerState(pid=broker.pid, started_at=broker.started_at,
                                       bootstrap=broker.bootstrap, log_path=state.broker.log_path)
            self._save_state(state)
            asyncio.run(ensure_topics(state.kafka_bootstrap, extra=_partition_overrides()))

    def stop_postgres(self, grace: float = 10.0) -> None:
        """Fast shutdown of PostgreSQL, keeping its data directory for ``start_postgres_again``."""
        state = self._require_state()
        if state.postgres is None:
            raise StackError("the stack runs on an existing PostgreSQL; it does not stop it")
        stop_pid(state.postgres.pid, started_at=state.postgres.started_at, sig=signal.SIGINT,
                 grace=grace)
        self._reap(state.postgres.pid)

    def start_postgres_again(self) -> None:
        """Start the same cluster on the same port: every database and row as before."""
        with self._lock():
            state = self._require_state()
            if state.postgres is None:
                raise StackError("the stack runs on an existing PostgreSQL; it does not start it")
            port = int(state.pg_url.rpartition(":")[2])
            pg = restart_postgres(state.postgres.datadir, port, durable=self.durable,
                                  die_with_parent=self.die_with_parent,
                                  log_path=state.postgres.log_path)
            self._popens[pg.pid] = pg.popen  # type: ignore[assignment]  # a Popen while we started it
            state.postgres = PostgresState(pid=pg.pid, started_at=pg.started_at, url=pg.url,
                                           datadir=pg.datadir, log_path=pg.log_path)
            self._save_state(state)


def _die_with_parent() -> Callable[[], None] | None:
    return die_with_parent_preexec(signal.SIGTERM)


def _redact(url: str) -> str:
    """A PostgreSQL URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return parts._replace(netloc=netloc).geturl()


def _partition_overrides() -> dict[str, int]:
    """The embedded broker's topics get the same settable counts as a provisioned cluster's
    (``GRANTS_PORTAL_PARTITIONS``)."""
    from pydantic import ValidationError

    from grants import provision
    from servicekit.settings import ServiceSettings, settings_problems

    try:
        settings = ServiceSettings(service_name=provision.PROVISIONER)
    except ValidationError as exc:
        raise StackError(f"bad settings: {settings_problems(exc)}") from None
    return provision.partition_overrides(settings)


async def _cluster_size(settings: Any, bootstrap: str) -> int:
    from grants import provision

    admin = provision.admin_client(settings, bootstrap)
    await admin.start()
    try:
        cluster = await admin.describe_cluster()
        return max(1, len(cluster.get("brokers", [])))
    finally:
        await admin.close()


def _remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
