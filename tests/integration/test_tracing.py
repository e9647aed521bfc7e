"""One trace from a request to its effect in the next service (issue 19, item 6), on the real
broker and PostgreSQL: intake and assessment run in-process on a broker of the test's own with
``GRANTS_OTEL_ENABLED`` and the in-memory exporter.

- HTTP: assessment's ``POST /pools`` (SERVER span) → its unit of work → the relay's send of
  ``PoolPublished`` (PRODUCER, the child of the context stored in the outbox row) → intake's
  consumer of the pools topic (CONSUMER);
- Kafka: a portal record whose ``traceparent`` header names the portal's span → intake's portal
  consumer → intake's relay sending ``ApplicationReceived`` → assessment's consumer → assessment's
  relay sending its ``EligibilityAssessed`` (the decision);
- a burst of portal records, consumed in batches by intake's and assessment's set-based
  consumers: each record's events still carry its own trace to its decision.

Every link is checked by parent span id, every span of a chain by trace id and service name.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.trace import SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from contracts import topics
from contracts.registry import EVENTS
from servicekit import tracing
from servicekit.identity import DevTokenIssuer
from services.assessment.app import build as build_assessment
from services.intake.app import build as build_intake
from tests.infra.services import Feed, Tokens, eventually, outbox_events, running_service
from tests.integration.intake.conftest import CVR, publish_register, valid_submission
from tests.unit.assessment.builders import pool_raw

pytestmark = pytest.mark.integration
TRACED = {"otel_enabled": True, "otel_exporter": "memory", "simulation": True}
BEFORE_DEADLINE = "2025-05-01T10:00:00+00:00"


def _service(span: ReadableSpan) -> str:
    return str(span.resource.attributes["service.name"]).split("-it-")[0]


def _children(spans: list[ReadableSpan], name: str, service: str,
              parents: list[Any]) -> list[ReadableSpan]:
    """The spans called ``name`` of ``service`` whose parent is one of ``parents``; fails when
    there is none. All of one trace (the parents')."""
    ids = {p.context.span_id for p in parents}
    found = [s for s in spans if s.name == name and _service(s) == service
             and s.parent is not None and s.parent.span_id in ids]
    assert found, (f"no {service} span {name!r} under {[p.name for p in parents]}; have: "
                   f"{sorted({(_service(s), s.name) for s in spans})}")
    assert {s.context.trace_id for s in found} == {p.context.trace_id for p in parents}
    return found


def _trace(trace_id: int) -> list[ReadableSpan]:
    return [s for s in tracing.memory_exporter().get_finished_spans()
            if s.context.trace_id == trace_id]


async def test_one_trace_runs_from_the_request_through_the_outbox_and_kafka_to_the_decision(
    private_kafka: str, two_databases: tuple[str, str], tmp_path: Path,
) -> None:
    run = uuid.uuid4().hex[:8]
    pool_id = f"it-trace-{run}"
    issuer = DevTokenIssuer(tmp_path)
    caseworker = {**Tokens(issuer)("case-1", "caseworker"),
                  "X-Grants-Simulated-Time": "2025-04-01T10:00:00+00:00"}
    intake_db, assessment_db = two_databases
    portal = TracerProvider().get_tracer("portal")  # the portal's own tracer, not exported
    producer = AIOKafkaProducer(bootstrap_servers=private_kafka, acks="all")
    await producer.start()
    try:
        async with running_service(build_intake, private_kafka, intake_db, issuer,
                                   name="intake", **TRACED) as (intake, _), \
                running_service(build_assessment, private_kafka, assessment_db, issuer,
                                name="assessment", **TRACED) as (assessment, http):
            feed = Feed(producer)
            await publish_register(feed)
            # -- HTTP: assessment publishes a pool; intake consumes it ------------------------
            created = await http.post("/pools", json=pool_raw(pool_id=pool_id,
                                                             programme=f"it-trace-{run}"),
                                      headers=caseworker)
            assert created.status_code == 201, created.text
            [request] = [s for s in tracing.memory_exporter().get_finished_spans()
                         if s.name == "POST /pools" and _service(s) == "assessment"
                         and s.kind is SpanKind.SERVER and s.parent is None
                         and s.attributes["http.response.status_code"] == 201]
            unit = next(s for s in _trace(request.context.trace_id)
                        if s.name.startswith("handle ") and s.parent is not None
                        and s.parent.span_id == request.context.span_id)

            async def pool_known() -> bool:
                return bool(await intake.pool.fetchval(
                    "SELECT 1 FROM pools WHERE pool_id = $1", pool_id))
            await eventually(pool_known, timeout=60)
            pools = topics.ASSESSMENT_POOLS.name

            async def pool_traced() -> bool:
                spans = _trace(request.context.trace_id)
                return any(s.name == f"process {pools}" and _service(s) == "intake"
                           for s in spans)
            await eventually(pool_traced, timeout=30)
            spans = _trace(request.context.trace_id)
            sent = _children(spans, f"send {pools}", "assessment", [unit])
            assert {s.kind for s in sent} == {SpanKind.PRODUCER}
            consumed = _children(spans, f"process {pools}", "intake", sent)
            assert {s.kind for s in consumed} == {SpanKind.CONSUMER}

            # -- Kafka: a portal record with a traceparent, to assessment's decision ----------
            submission = valid_submission(pool_id)
            message = {"token": issuer.issue("employee-1", ["applicant"], cvr=CVR),
                       "submission": submission}
            with portal.start_as_current_span("portal submit") as root:
                carrier: dict[str, str] = {}
                TraceContextTextMapPropagator().inject(carrier)
            await feed.produce(topics.PORTAL_SUBMISSIONS.name, submission["submission_id"],
                               json.dumps(message).encode(), headers=[
                                   ("traceparent", carrier["traceparent"].encode()),
                                   ("x-grants-simulated-time", BEFORE_DEADLINE.encode())])
            application = submission["application_id"]

            async def decided() -> bool:
                return any(e["payload"]["application_id"] == application
                           for e in await outbox_events(assessment, "EligibilityAssessed"))
            await eventually(decided, timeout=60)
            decisions = next(spec.topic.name for spec in EVENTS.values()
                             if spec.event_type == "EligibilityAssessed")
            trace_id = root.get_span_context().trace_id

            def decision_sent() -> bool:
                return any(s.name == f"send {decisions}" and _service(s) == "assessment"
                           for s in _trace(trace_id))
            await eventually(decision_sent, timeout=30)
            spans = _trace(trace_id)
            portal_span: Any = type("Root", (), {"context": root.get_span_context(),
                                                 "name": "portal submit"})
            received = _children(spans, f"process {topics.PORTAL_SUBMISSIONS.name}", "intake",
                                 [portal_span])
            applications = topics.INTAKE_APPLICATIONS.name
            # ApplicationReceived and ApplicationAccepted: two sends, two records consumed
            relayed = _children(spans, f"send {applications}", "intake", received)
            assert len(relayed) == 2
            assessed = _children(spans, f"process {applications}", "assessment", relayed)
            _children(spans, f"send {decisions}", "assessment", assessed)
            assert {_service(s) for s in spans} == {"intake", "assessment"}

            # -- a burst: records consumed in one batch keep each its own trace --------------
            burst = [valid_submission(pool_id) for _ in range(4)]
            roots = []
            for _ in burst:
                with portal.start_as_current_span("portal submit") as span:
                    carrier = {}
                    TraceContextTextMapPropagator().inject(carrier)
                roots.append((span.get_span_context().trace_id, carrier["traceparent"]))
            await asyncio.gather(*(
                feed.produce(topics.PORTAL_SUBMISSIONS.name, sub["submission_id"], json.dumps(
                    {"token": issuer.issue("employee-1", ["applicant"], cvr=CVR),
                     "submission": sub}).encode(), headers=[
                        ("traceparent", parent.encode()),
                        ("x-grants-simulated-time", BEFORE_DEADLINE.encode())])
                for sub, (_, parent) in zip(burst, roots, strict=True)))

            def each_decision_in_its_own_trace() -> bool:
                return all(
                    {("intake", f"send {applications}"), ("assessment", f"send {decisions}")}
                    <= {(_service(s), s.name) for s in _trace(trace)} for trace, _ in roots)
            await eventually(each_decision_in_its_own_trace, timeout=60)
    finally:
        await producer.stop()
