"""One service process: settings, logging, database, broker, consumers, relay, HTTP.

    runtime = ServiceRuntime("intake", migrations=Path(__file__).parent / "migrations")
    runtime.consume(topics.INTAKE_APPLICATIONS.name, handler=on_event)
    app = runtime.http_app(api_router, title="Intake")
    runtime.run(app)      # uvicorn; graceful shutdown longer than a handler's p99

A service's ``__main__`` calls :func:`serve` with the import path of a function that builds its
app, so ``GRANTS_HTTP_WORKERS`` can run several processes of it on one port.

Start-up order: database (create if missing, migrate) → relay → broker and consumers → HTTP.
The broker is a plain FastStream ``KafkaBroker`` started in the FastAPI lifespan.
Shutdown order: consumers stop (in-flight batches finish and commit) → relay → pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import uvicorn
from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI

from contracts.asyncapi import document as asyncapi_document
from contracts.base import Contract
from contracts.topics import PLATFORM_SERVICES
from servicekit import db, openapi
from servicekit.admission import AdmissionControl, LatencyBudget, ShedRoute
from servicekit.clock import make_clock
from servicekit.consumer import (
    BatchHandler,
    Decoder,
    EventConsumer,
    Handler,
    Incoming,
    decode_event,
    per_record,
    record_scope,
    traced_batch,
)
from servicekit.http import (
    ErrorMiddleware, ExplainRefusal, SimulatedTimeMiddleware, authenticate, cause_of_request,
    install_error_handlers, refusal_reasons,
)
from servicekit.http_guard import BodyRule, RequestGuard
from servicekit.http_metrics import ObservedRequests
from servicekit.identity import Principal, TokenVerifier
from servicekit.kafka_security import faststream_security
from servicekit.logging import FASTSTREAM_LOGGER, configure_logging, get_logger
from servicekit.metrics import CONTENT_TYPE_LATEST, RuntimeMetrics, database_ready
from servicekit.outbox import Cause, Emitter, notify_channel
from servicekit.relay import OutboxRelay, pending_counts
from servicekit.scheduler import DueQuery, Rule, Scheduler
from servicekit.settings import ServiceSettings
from servicekit.tracing import Tracing

log = get_logger(__name__)
T = TypeVar("T")
C = TypeVar("C")


@dataclass
class UnitOfWork:
    """One transaction: state changes through ``conn``, events through ``emit``."""

    conn: asyncpg.Connection
    emitter: Emitter

    def emit(self, payload: Contract, *, aggregate_id: str, cause: Cause) -> None:
        self.emitter.emit(payload, aggregate_id=aggregate_id, cause=cause)


def runtime_of(request: Request) -> ServiceRuntime:
    """The runtime whose app (:meth:`ServiceRuntime.http_app`) answers ``request``: how a
    module-level router's dependencies reach it."""
    runtime = request.app.state.runtime
    assert isinstance(runtime, ServiceRuntime)
    return runtime


async def current_runtime(request: Request) -> ServiceRuntime:
    """:func:`runtime_of` as a FastAPI dependency (``Depends(current_runtime)``). ``async`` so
    FastAPI calls it on the event loop: a plain ``def`` dependency runs in the threadpool, a
    thread hop per dependency per request."""
    return runtime_of(request)


def requires(*roles: str) -> Callable[[Request], Awaitable[Principal]]:
    """:meth:`ServiceRuntime.require` for a module-level router: the caller verified by the
    runtime of the request's app."""
    return _role_dependency(lambda request: runtime_of(request).verifier, roles)


def _role_dependency(verifier: Callable[[Request], TokenVerifier], roles: tuple[str, ...]
                     ) -> Callable[[Request], Awaitable[Principal]]:
    # async (nothing in it awaits): FastAPI runs a sync dependency in the threadpool
    async def dependency(request: Request) -> Principal:
        # the request guard's principal, when it verified the token already
        return authenticate(request, verifier(request), *roles)

    setattr(dependency, openapi.ROLES_ATTR, roles)  # the OpenAPI's security (servicekit.openapi)
    return dependency


class ServiceRuntime:
    def __init__(self, name: str, *, migrations: Path | None = None,
                 settings: ServiceSettings | None = None) -> None:
        self.settings = settings or ServiceSettings(service_name=name)
        self.name = name
        self.migrations = migrations
        self.clock = make_clock(self.settings.simulation)
        # A plain broker started in the app's lifespan (FastStream's FastAPI router is
        # deprecated in 0.7 and hides the start/stop order this runtime relies on).
        self.broker = KafkaBroker(
            self.settings.kafka_bootstrap,
            acks="all",
            enable_idempotence=self.settings.kafka_idempotence,
            graceful_timeout=self.settings.shutdown_grace_s,
            security=faststream_security(self.settings),
            # Per-message "Received"/"Processed" lines at DEBUG, as JSON through the root handler
            # (servicekit.logging); each consumer logs one INFO line per batch instead.
            logger=logging.getLogger(FASTSTREAM_LOGGER),
            log_level=logging.DEBUG,
        )
        self.consumers: list[EventConsumer] = []
        self.tracing = Tracing(self.settings)
        self.relay = OutboxRelay(self.settings, self.tracing)
        self._pool: asyncpg.Pool | None = None
        self._verifier: TokenVerifier | None = None
        self._relay_task: asyncio.Task[None] | None = None
        self.scheduler = Scheduler(name, clock=self.clock, dsn=lambda: self.settings.dsn,
                                   interval_s=self.settings.scheduler_interval_s)
        self._scheduler_task: asyncio.Task[None] | None = None
        self.on_startup: list[Callable[[ServiceRuntime], Awaitable[None]]] = []
        # Routes with their own body limit (file uploads); read by the request guard.
        self.body_rules: list[BodyRule] = []
        # Routes that shed load under a burst (servicekit.admission), e.g. intake's submissions.
        self.shed_routes: list[ShedRoute] = []
        self.admission: LatencyBudget | None = None  # their shedding rule, once http_app ran
        self.metrics = RuntimeMetrics(name, consumers=self.consumers, relay=self.relay,
                                      pool=lambda: self._pool)
        # Events this process has written to its outbox (counted at flush, so a rolled-back
        # transaction may count too: an upper bound). A tick reports its difference.
        self.events_written = 0

    # -- resources -----------------------------------------------------------------------------
    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("the service has not started")
        return self._pool

    @property
    def verifier(self) -> TokenVerifier:
        if self._verifier is None:
            self._verifier = TokenVerifier.from_settings(self.settings)
        return self._verifier

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[UnitOfWork]:
        """A transaction whose emitted events are written to the outbox before commit."""
        async with self.pool.acquire() as conn, conn.transaction():
            uow = UnitOfWork(conn, Emitter(self.clock, notify_channel(self.settings.database_name),
                                          max_message_bytes=self.settings.kafka_max_message_bytes))
            yield uow
            await uow.emitter.flush(conn)
            self.events_written += uow.emitter.flushed

    # -- wiring --------------------------------------------------------------------------------
    async def in_transaction(
        self, work: Callable[[UnitOfWork], Awaitable[T]], *,
        retry_on: tuple[type[BaseException], ...] = (), attempts: int = 5,
        name: str | None = None,
    ) -> T:
        """Run ``work`` in one unit of work; a deadlock or serialisation failure (or one of
        ``retry_on``) rolls it back and runs it again, a few times with a short backoff. Traced
        as one span (``name``: the command handler's, else ``work``'s)."""
        with self.tracing.unit_of_work(name or str(getattr(work, "__qualname__", "work"))):
            return await self._in_transaction(work, retry_on, attempts)

    async def _in_transaction(self, work: Callable[[UnitOfWork], Awaitable[T]],
                              retry_on: tuple[type[BaseException], ...], attempts: int) -> T:
        retryable = (asyncpg.DeadlockDetectedError, asyncpg.SerializationError, *retry_on)
        for attempt in range(attempts):
            try:
                async with self.unit_of_work() as uow:
                    return await work(uow)
            except retryable:
                if attempt == attempts - 1:
                    raise
                await asyncio.sleep(0.02 * (attempt + 1))
        raise AssertionError("unreachable")

    async def handle(self, handler: Callable[[UnitOfWork, C], Awaitable[T]], command: C, *,
                     retry_on: tuple[type[BaseException], ...] = ()) -> T:
        """Run one command handler (``handler(uow, command)``) in one unit of work, retried as
        :meth:`in_transaction` retries (and on ``retry_on``): the one way a route or rule runs
        a command."""
        return await self.in_transaction(lambda uow: handler(uow, command), retry_on=retry_on,
                                         name=getattr(handler, "__qualname__", None))

    def require(self, *roles: str) -> Callable[[Request], Awaitable[Principal]]:
        """A FastAPI dependency: the verified caller holding one of ``roles`` (any role when
        none given). As a dependency it runs before the body is validated: 401/403 before 422."""
        return _role_dependency(lambda _: self.verifier, roles)

    def consume(self, *topics: str, handler: Handler, name: str | None = None,
                decoder: Decoder = decode_event) -> EventConsumer:
        """A consumer running ``handler`` on each new record (servicekit.consumer.per_record)."""
        group = name or self.settings.group_id
        return self._consumer(topics, per_record(handler, consumer=group, clock=self.clock,
                                                 tracing=self.tracing), group, decoder)

    def consume_batches(self, *topics: str, batch_handler: BatchHandler, name: str | None = None,
                        decoder: Decoder = decode_event) -> EventConsumer:
        """A consumer handing each batch's new records to ``batch_handler`` at once, in one
        span per batch; same inbox, retries, dead letters and commits as :meth:`consume`."""
        group = name or self.settings.group_id
        return self._consumer(topics, traced_batch(batch_handler, consumer=group,
                                                   tracing=self.tracing), group, decoder)

    def record_scope(self, item: Incoming, *, name: str | None = None
                     ) -> contextlib.AbstractContextManager[None]:
        """Inside a batch handler of :meth:`consume_batches` (consumer group ``name``, default
        the service's): one record's simulated time, log ids and CONSUMER span
        (servicekit.consumer.record_scope)."""
        return record_scope(item, consumer=name or self.settings.group_id, clock=self.clock,
                            tracing=self.tracing)

    def _consumer(self, topics: tuple[str, ...], batch_handler: BatchHandler, name: str,
                  decoder: Decoder) -> EventConsumer:
        consumer = EventConsumer(
            name=name, batch_handler=batch_handler, settings=self.settings,
            clock=self.clock, pool_provider=lambda: self.pool, broker_provider=lambda: self.broker,
            decoder=decoder, tracing=self.tracing,
        )
        consumer.subscribe(self.broker, *topics)
        self.consumers.append(consumer)
        return consumer

    def schedule(self, name: str, rule: Rule, due: DueQuery | None = None) -> None:
        """Register a time-driven rule with the service's scheduler (servicekit.scheduler);
        ``due`` answers, on a connection of the service's pool, when it is next due (without
        it: at every instant)."""
        async def next_due() -> datetime | None:
            assert due is not None
            async with self.pool.acquire() as conn:
                return await due(conn)

        self.scheduler.rule(name, rule, None if due is None else next_due)

    def http_app(self, *routers: APIRouter, title: str,
                 explain_refusal: ExplainRefusal = refusal_reasons) -> FastAPI:
        app = FastAPI(title=title, version="1", lifespan=self._lifespan)
        app.state.runtime = self  # what a module-level router's dependencies read (runtime_of)
        install_error_handlers(app, explain_refusal)
        app.add_middleware(SimulatedTimeMiddleware, clock=self.clock)
        app.add_middleware(RequestGuard, verifier=lambda: self.verifier,
                           max_body_bytes=self.settings.http_max_body_bytes,
                           rules=self.body_rules)
        app.add_middleware(ErrorMiddleware)
        if self.shed_routes and self.settings.http_admission_budget_ms > 0:
            # Outside the guard: shedding must cost less than verifying a token or reading a body.
            self.admission = LatencyBudget(budget_s=self.settings.http_admission_budget_ms / 1000,
                                           floor=self.settings.http_admission_floor)
            app.add_middleware(AdmissionControl, routes=self.shed_routes,
                               on_shed=self.metrics.http.shed_one, budget=self.admission)
        app.add_middleware(ObservedRequests, stats=self.metrics.http, tracing=self.tracing,
                           router=app.router)
        operator = Depends(self.require("caseworker"))

        @app.get("/health", tags=["operations"])
        async def health() -> dict[str, Any]:
            events_pending, checkpoints_pending = await pending_counts(self.pool)
            return {
                "status": "ok", "service": self.name, "simulation": self.settings.simulation,
                "outbox_pending": events_pending, "checkpoints_pending": checkpoints_pending,
                "relay_published": self.relay.published,
                "consumers": {c.name: {"processed": c.processed, "dead_lettered": c.dead_lettered,
                                       "topics": list(c.topics), "positions": c.positions,
                                       "duplicates": c.duplicates}
                              for c in self.consumers},
                **({"scheduler": self.scheduler.status()} if self.scheduler.rules else {}),
            }

        @app.post("/ops/scheduler/tick", tags=["operations"],
                  responses={404: {"description": "`scheduler_not_configured`"},
                             409: {"description": "`scheduler_not_leader`"},
                             503: {"description": "`scheduler_rule_failed`"}})
        async def scheduler_tick(request: Request, principal: Principal = operator
                                 ) -> JSONResponse:
            """Run the scheduler's rules once now (in simulation: at the request's simulated
            time), on the leader; answers when their effects are committed."""
            if not self.scheduler.rules:
                return JSONResponse({"error": "scheduler_not_configured",
                                     "message": f"{self.name} has no time-driven rules"}, 404)
            written = self.events_written
            result = await self.scheduler.tick(cause_of_request(request, principal, "caseworker"),
                                               with_next_due=True)
            # ``emitted`` 0: the tick changed nothing anyone consumes, so a driver that had
            # settled the services before it need not settle again (grants.scenario.runner).
            # Counted over the process, so work running alongside can only make it larger.
            body = result.as_json() | {"emitted": self.events_written - written}
            if not result.leader:
                body |= {"error": "scheduler_not_leader",
                         "message": "another replica holds the scheduler's leader lock"}
                return JSONResponse(body, 409)
            if result.failed:
                body |= {"error": "scheduler_rule_failed",
                         "message": f"rules failed: {', '.join(sorted(result.failed))}"}
                return JSONResponse(body, 503)
            return JSONResponse(body)

        @app.get("/ops/scheduler/next-due", tags=["operations"],
                 responses={404: {"description": "`scheduler_not_configured`"}})
        async def scheduler_next_due(_: Principal = operator) -> JSONResponse:
            """When the time-driven rules are next due, from the stored state: per rule an
            instant, null (nothing due as things stand) or "always" (a rule that cannot tell),
            and ``at``, the earliest. A tick before ``at`` (unless ``always``) finds nothing to
            do, as long as nothing changes the state meanwhile."""
            if not self.scheduler.rules:
                return JSONResponse({"error": "scheduler_not_configured",
                                     "message": f"{self.name} has no time-driven rules"}, 404)
            return JSONResponse((await self.scheduler.next_due()).as_json())

        @app.get("/health/live", tags=["operations"])
        async def live() -> dict[str, str]:
            """200 while the event loop answers; no I/O. ``pid`` tells the process that answered
            apart from the service's other HTTP workers (``GRANTS_HTTP_WORKERS``)."""
            return {"status": "ok", "service": self.name, "pid": str(os.getpid())}

        @app.get("/health/ready", tags=["operations"],
                 responses={503: {"description": "Not ready: `not_ready` names what and why"}})
        async def ready() -> JSONResponse:
            """200 when the database answers (within a second), the broker and every consumer
            are started and the outbox relay runs; else 503 naming what is not ready."""
            not_ready = await self.not_ready()
            body = {"status": "not_ready" if not_ready else "ok", "service": self.name,
                    "not_ready": not_ready}
            return JSONResponse(body, status_code=503 if not_ready else 200)

        @app.get("/metrics", tags=["operations"], response_class=Response,
                 responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}})
        async def metrics() -> Response:
            """Prometheus text exposition (see docs/service-adapters.md → Health and metrics)."""
            return Response(await self.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

        @app.get("/asyncapi", tags=["operations"])
        @app.get("/asyncapi.json", tags=["operations"], include_in_schema=False)
        async def asyncapi() -> Any:
            """AsyncAPI 3.0 of what this service publishes and consumes (contracts.asyncapi);
            a service that is not one of the platform's gets FastStream's view of its broker."""
            if self.name in PLATFORM_SERVICES:
                return asyncapi_document(self.name)
            spec = AsyncAPI(self.broker, title=f"{title} events", schema_version="3.0.0")
            return spec.to_specification().to_jsonable()

        for r in routers:
            app.include_router(r)
        openapi.install(app, shed=self.shed_routes)  # security, error answers, raw bodies' models
        return app

    async def not_ready(self) -> dict[str, str]:
        """What keeps this service from being ready (component → reason); empty when ready."""
        problems: dict[str, str] = {}
        db_problem = await database_ready(self._pool)
        if db_problem is not None:
            problems["database"] = db_problem
        if not self.broker.running:
            problems["broker"] = "not started"
        for c in self.consumers:
            if not c.started:
                problems[f"consumer:{c.name}"] = "not started"
        stalled = await _oldest_unsent_age_s(self._pool)
        if stalled is not None and stalled > self.settings.ready_outbox_max_age_s:
            problems["outbox"] = (f"the oldest unsent event is {stalled:.0f} s old (limit "
                                  f"{self.settings.ready_outbox_max_age_s:.0f} s)")
        task = self._relay_task
        if task is None:
            problems["relay"] = "not started"
        elif task.done():
            failed = None if task.cancelled() else task.exception()
            problems["relay"] = "stopped" if failed is None else f"failed: {failed!r}"[:200]
        return problems

    @asynccontextmanager
    async def _lifespan(self, app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        s = self.settings
        configure_logging(self.name, s.log_level)
        await db.ensure_database(s.pg_url, s.database_name)
        self._pool = await db.create_pool(s.dsn)
        await db.migrate(self._pool, self.migrations)
        for hook in self.on_startup:
            await hook(self)
        self._relay_task = asyncio.create_task(self.relay.run(), name=f"{self.name}-relay")
        await self.broker.start()
        if self.scheduler.runs_on_its_own:
            self._scheduler_task = asyncio.create_task(self.scheduler.run(),
                                                       name=f"{self.name}-scheduler")
        log.info("service_started", simulation=s.simulation, http_port=s.http_port)
        try:
            yield {}
        finally:
            # The scheduler first (its tick in progress commits), then consumers, so in-flight
            # batches commit while the pool still exists.
            self.scheduler.stop()
            if self._scheduler_task is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self._scheduler_task, s.shutdown_grace_s)
            with contextlib.suppress(Exception):
                await self.scheduler.close()
            with contextlib.suppress(Exception):
                await self.broker.stop()
            self.relay.stop()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._relay_task, s.shutdown_grace_s)
            await self._pool.close()
            self.tracing.shutdown()
            log.info("service_stopped")

    def run(self, app: FastAPI) -> None:
        """Serve ``app`` in this process (one worker)."""
        uvicorn.run(app, **_uvicorn_options(self.settings))


class WorkersRefused(SystemExit):
    """``GRANTS_HTTP_WORKERS`` > 1 where one process must hold the service (simulation)."""


def serve(factory: str, settings: ServiceSettings | None = None) -> None:
    """Run the service whose app ``factory`` (``"package.module:function"``) builds.

    One worker (the default): the factory's app in this process, as :meth:`ServiceRuntime.run`.
    ``GRANTS_HTTP_WORKERS=N``: uvicorn's supervisor binds the port once and starts N fresh
    interpreters (spawned, not forked) that each build the app and accept on the shared socket,
    so the kernel spreads connections over N cores; a worker that dies is started again. Each
    worker is a whole instance of the service, which is safe because instances already share a
    service's database and consumer groups: the relay and the scheduler each run in one of them
    at a time (advisory locks), migrations run under a lock, caches check stored versions.
    What a worker answers on ``/metrics`` and ``/ops/*`` is that worker's own (see
    docs/production.md). Refused in simulation mode, where the scenario's clock ticks one
    process's scheduler and a tick could reach a worker that is not its leader.
    """
    s = settings or ServiceSettings()
    options = _uvicorn_options(s)
    if s.http_workers == 1:
        uvicorn.run(factory, factory=True, **options)
        return
    if s.simulation:
        raise WorkersRefused(
            f"GRANTS_HTTP_WORKERS={s.http_workers} with GRANTS_SIMULATION=1: the simulated clock "
            "drives one process's scheduler; run one worker in simulation mode")
    uvicorn.run(factory, factory=True, workers=s.http_workers, **options)


def _uvicorn_options(s: ServiceSettings) -> dict[str, Any]:
    # log_config=None: uvicorn keeps its hands off logging (no coloured formatter of its own);
    # its records reach the JSON root handler of servicekit.logging.
    return {"host": s.http_host, "port": s.http_port, "log_level": "warning", "log_config": None,
            "timeout_graceful_shutdown": int(s.shutdown_grace_s), "lifespan": "on"}


async def _oldest_unsent_age_s(pool: asyncpg.Pool | None) -> float | None:
    """Seconds since the oldest unsent outbox row was written (None: none, or no database)."""
    if pool is None:
        return None
    try:
        age = await asyncio.wait_for(pool.fetchval(
            "SELECT extract(epoch FROM now() - min(created_at)) FROM outbox"
            " WHERE sent_at IS NULL"), 1.0)
    except Exception:  # noqa: BLE001 - the database check reports an unreachable database
        return None
    return None if age is None else float(age)
