"""HTTP request metrics next to the consumer metrics (issue 19, item 6): ``/metrics`` counts
requests per route template (never the raw path) and status, with a duration histogram; a
request the guard refuses before routing counts under the route it would have matched. Tracing
is off by default: no span is made (the no-op tracer) and the emitter reads no context."""

from __future__ import annotations

import uuid

import httpx
from prometheus_client.parser import text_string_to_metric_families

from servicekit import tracing
from servicekit.settings import ServiceSettings
from services.intake.app import build


async def _metrics(client: httpx.AsyncClient) -> dict[tuple[str, ...], float]:
    text = (await client.get("/metrics")).text
    return {(s.name, *(f"{k}={v}" for k, v in sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples
            if s.name.startswith("grants_http_")}


async def test_requests_are_counted_per_route_template_and_status() -> None:
    runtime, app = build(ServiceSettings(service_name="intake-http-metrics"))
    assert not runtime.tracing.enabled  # off by default
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://svc") as client:
        for _ in range(3):
            assert (await client.get("/health/live")).status_code == 200
        for _ in range(2):  # two different ids, one route template; refused without a token
            r = await client.get(f"/applications/{uuid.uuid4()}")
            assert r.status_code == 401
        assert (await client.get("/no/such/route")).status_code == 404
        seen = await _metrics(client)
    service = "service=intake"
    count = "grants_http_requests_total"
    assert seen[(count, "method=GET", "route=/health/live", service, "status=200")] == 3
    assert seen[(count, "method=GET", "route=/applications/{application_id}", service,
                 "status=401")] == 2
    assert seen[(count, "method=GET", "route=(unmatched)", service, "status=404")] == 1
    assert not any("route=/applications/" in label and "{" not in label
                   for key in seen for label in key), "a raw path became a label"
    buckets = "grants_http_request_duration_seconds_count"
    assert seen[(buckets, "method=GET", "route=/health/live", service)] == 3


def test_tracing_off_hands_out_one_shared_no_op_context() -> None:
    """Off, the per-record and per-request calls allocate nothing: one shared nullcontext."""
    off = tracing.DISABLED
    assert not off.enabled
    shared = off.unit_of_work("x")
    assert off.consumed("c", "t", {"traceparent": b"00-" + b"1" * 32 + b"-" + b"2" * 16 + b"-01"}
                        ) is shared
    assert off.consumed_batch("c", []) is shared
    assert off.http_request("GET", "/", {}) is shared


async def test_a_shed_submission_is_answered_before_the_guard_and_counted() -> None:
    """Intake's POST /submissions sheds through the runtime's admission control: with its floor
    in flight the next request gets 503 ``overloaded`` (not the guard's 401: shedding comes
    first and costs nothing), counted in ``grants_http_shed_total`` and the requests total."""
    runtime, app = build(ServiceSettings(service_name="intake-http-metrics",
                                         http_admission_floor=1))
    assert runtime.admission is not None
    runtime.admission.in_flight = 1  # one submission is being answered
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://svc") as client:
        refused = await client.post("/submissions", content=b"{}")
        assert (refused.status_code, refused.json()["error"]) == (503, "overloaded")
        assert int(refused.headers["retry-after"]) >= 1
        runtime.admission.in_flight = 0
        assert (await client.post("/submissions", content=b"{}")).status_code == 401
        seen = await _metrics(client)
    route = ("method=POST", "route=/submissions", "service=intake")
    assert seen[("grants_http_shed_total", *route)] == 1
    assert seen[("grants_http_requests_total", *route[:2], "service=intake", "status=503")] == 1
    # the guard's 401 before routing counts under the route too (an included router's route)
    assert seen[("grants_http_requests_total", *route[:2], "service=intake", "status=401")] == 1


def test_admission_control_can_be_turned_off() -> None:
    runtime, _ = build(ServiceSettings(service_name="intake", http_admission_budget_ms=0))
    assert runtime.admission is None
