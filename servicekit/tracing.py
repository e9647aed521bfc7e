"""OpenTelemetry tracing of one service runtime, off by default (issue 19, item 6).

One trace follows a submission from the portal's request (or the ``traceparent`` header of its
portal-topic record) through the handler's unit of work, the outbox, Kafka and the next service's
consumer to what that service decides:

- HTTP requests: a SERVER span per request (``servicekit.http.ObservedRequests``), the child of
  the caller's ``traceparent`` header when it sends one;
- units of work: an INTERNAL span around each command handler (``ServiceRuntime.handle``);
- the outbox: :class:`~servicekit.outbox.Emitter` stores the ``traceparent`` of the span that
  emitted an event in the outbox row's headers; the relay publishes each such row under a
  PRODUCER span, the stored context's child, whose ``traceparent`` replaces the stored one;
- consumers: a CONSUMER span per record, the child of the record's ``traceparent``; a batch
  handler (intake's) gets one span per batch, the child of its one traced record, or linked to
  each traced record of a larger batch (OpenTelemetry's messaging conventions for batches).

Settings (``servicekit.settings``): ``GRANTS_OTEL_ENABLED`` (default false) and
``GRANTS_OTEL_EXPORTER``: ``otlp`` (OTLP over HTTP; ``OTEL_EXPORTER_OTLP_ENDPOINT`` and the other
standard ``OTEL_EXPORTER_OTLP_*`` variables apply), ``memory`` (:func:`memory_exporter`, for
tests) or ``none`` (contexts propagate, nothing is exported).

Off, the hot paths pay next to nothing (issue 22 measures them): the relay tests ``enabled``,
the consumer gets one shared ``nullcontext`` per record, the emitter tests a module flag; no
span, context, header or per-message object is made, and the SDK is not even imported.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.trace import Link, NoOpTracer, Span, SpanKind, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from servicekit.settings import ServiceSettings

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

TRACEPARENT = "traceparent"
_PROPAGATOR = TraceContextTextMapPropagator()
_NOTHING = contextlib.nullcontext()  # reusable: entering it allocates nothing
_tracing_somewhere = False  # any runtime of this process traces: only then emitters look
_memory: InMemorySpanExporter | None = None


def memory_exporter() -> InMemorySpanExporter:
    """The process's in-memory exporter (``GRANTS_OTEL_EXPORTER=memory``), shared by every
    runtime of the process so a test sees the spans of several services together."""
    global _memory
    if _memory is None:
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        _memory = InMemorySpanExporter()
    return _memory


def traceparent() -> str | None:
    """The W3C ``traceparent`` of the current span (what an emitted event carries), if any."""
    if not _tracing_somewhere:
        return None
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"


def _text(value: Any) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else str(value)


def _parent(headers: Mapping[str, Any]) -> Any:
    """The OpenTelemetry context a ``traceparent`` header names (an empty one without)."""
    value = headers.get(TRACEPARENT)
    if value is None:
        return None
    return _PROPAGATOR.extract({TRACEPARENT: _text(value)[:128]})


class Tracing:
    """The tracer of one runtime (its own provider, ``service.name`` = the service)."""

    def __init__(self, settings: ServiceSettings) -> None:
        self.enabled = settings.otel_enabled
        self.service = settings.service_name
        self._provider: TracerProvider | None = None
        self.tracer: Tracer = NoOpTracer()
        if self.enabled:
            self._provider = _provider(settings)
            self.tracer = self._provider.get_tracer("servicekit")
            global _tracing_somewhere
            _tracing_somewhere = True

    def shutdown(self) -> None:
        """Export what is buffered (the OTLP batch processor) and stop."""
        if self._provider is not None:
            self._provider.shutdown()

    @contextlib.contextmanager
    def _span(self, name: str, kind: SpanKind, parent: Any = None,
              links: Sequence[Link] = (), /, **attributes: Any) -> Iterator[Span]:
        with self.tracer.start_as_current_span(name, context=parent, kind=kind, links=links,
                                               attributes=attributes) as span:
            yield span

    def unit_of_work(self, name: str) -> contextlib.AbstractContextManager[Any]:
        if not self.enabled:
            return _NOTHING
        return self._span(f"handle {name}", SpanKind.INTERNAL, **{"grants.handler": name})

    def http_request(self, method: str, path: str, headers: Mapping[str, Any]
                     ) -> contextlib.AbstractContextManager[Any]:
        """The request's SERVER span (renamed to its route template by the caller)."""
        if not self.enabled:
            return _NOTHING
        return self._span(f"{method} {path}", SpanKind.SERVER, _parent(headers),
                          **{"http.request.method": method, "url.path": path})

    def consumed(self, consumer: str, topic: str, headers: Mapping[str, Any]
                 ) -> contextlib.AbstractContextManager[Any]:
        """One record's CONSUMER span, the child of its ``traceparent``."""
        if not self.enabled:
            return _NOTHING
        return self._span(f"process {topic}", SpanKind.CONSUMER, _parent(headers), **{
            "messaging.system": "kafka", "messaging.destination.name": topic,
            "messaging.consumer.group.name": consumer})

    def consumed_batch(self, consumer: str, items: Sequence[Any]
                       ) -> contextlib.AbstractContextManager[Any]:
        """A batch's CONSUMER span (``items``: the batch's ``servicekit.consumer.Incoming``):
        the child of its one traced record, else linked to each traced record."""
        if not self.enabled:
            return _NOTHING
        topic, headers = items[0].topic, [i.headers for i in items]
        parents = [p for p in (_parent(h) for h in headers) if p is not None]
        if len(parents) == 1:
            return self._span(f"process {topic}", SpanKind.CONSUMER, parents[0], **{
                "messaging.system": "kafka", "messaging.destination.name": topic,
                "messaging.consumer.group.name": consumer, "messaging.batch.message_count": 1})
        links = [Link(trace.get_current_span(p).get_span_context()) for p in parents]
        return self._span(f"process {topic}", SpanKind.CONSUMER, None, links, **{
            "messaging.system": "kafka", "messaging.destination.name": topic,
            "messaging.consumer.group.name": consumer,
            "messaging.batch.message_count": len(headers)})

    def relayed(self, topic: str, headers: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
        """The Kafka headers of an outbox row: when the row carries a ``traceparent``, a
        PRODUCER span (its child) is recorded and its ``traceparent`` replaces the stored one."""
        stored = next((v for k, v in headers if k == TRACEPARENT), None)
        if stored is None:
            return headers
        parent = _PROPAGATOR.extract({TRACEPARENT: _text(stored)})
        with self._span(f"send {topic}", SpanKind.PRODUCER, parent, **{
                "messaging.system": "kafka", "messaging.destination.name": topic}):
            carrier: dict[str, str] = {}
            _PROPAGATOR.inject(carrier)
        return [(k, v) for k, v in headers if k != TRACEPARENT] + [
            (TRACEPARENT, carrier[TRACEPARENT].encode())]


DISABLED = Tracing(ServiceSettings(otel_enabled=False))
"""What a consumer or relay built without a runtime uses: nothing traced."""


def _provider(settings: ServiceSettings) -> TracerProvider:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": settings.service_name}))
    if settings.otel_exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    elif settings.otel_exporter == "memory":
        provider.add_span_processor(SimpleSpanProcessor(memory_exporter()))
    return provider
