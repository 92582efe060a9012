"""OpenTelemetry traces: a server span per request, a client span per upstream attempt.

Only built when an OTLP endpoint is configured; the OpenTelemetry packages are imported
here and nowhere else, so a gateway without tracing never loads them. Attributes follow
the GenAI semantic conventions (gen_ai.*); W3C trace context comes in from the client's
`traceparent` and goes out to the upstream on each attempt.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

TRACES_PATH = "/v1/traces"


def traces_url(endpoint: str) -> str:
    """OTEL_EXPORTER_OTLP_ENDPOINT is a base URL; the HTTP exporter wants the traces path."""
    endpoint = endpoint.rstrip("/")
    return endpoint if endpoint.endswith(TRACES_PATH) else endpoint + TRACES_PATH


class Tracing:
    def __init__(self, endpoint: str, service_name: str = "switchboard",
                 exporter: Any = None) -> None:
        from opentelemetry import trace
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        self._trace = trace
        self.provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
        exporter = exporter or OTLPSpanExporter(endpoint=traces_url(endpoint))
        # spans leave in batches on the SDK's thread, never on the request's path
        self.provider.add_span_processor(BatchSpanProcessor(exporter))
        self.tracer = self.provider.get_tracer("switchboard")
        self.propagator = TraceContextTextMapPropagator()
        self._server = trace.SpanKind.SERVER
        self._client = trace.SpanKind.CLIENT

    def start_request(self, method: str, route: str, headers: dict[str, str]) -> Any:
        parent = self.propagator.extract(headers) if "traceparent" in headers else None
        return self.tracer.start_span(
            f"{method} {route}", context=parent, kind=self._server,  # type: ignore[arg-type]
            attributes={"http.request.method": method, "http.route": route})

    def end_request(self, span: Any, status: int) -> None:
        span.set_attribute("http.response.status_code", status)
        if status >= 500:
            span.set_status(self._trace.Status(self._trace.StatusCode.ERROR))
        span.end()

    def start_attempt(self, parent: Any, provider: str, upstream_model: str,
                      base_url: str) -> Any:
        ctx = self._trace.set_span_in_context(parent) if parent is not None else None
        attrs: dict[str, Any] = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": provider,
                                 "gen_ai.system": provider, "gen_ai.request.model": upstream_model}
        host = urlsplit(base_url).hostname if base_url else None
        if host:
            attrs["server.address"] = host
        return self.tracer.start_span(f"chat {upstream_model}", context=ctx, kind=self._client,
                                      attributes=attrs)

    def end_attempt(self, span: Any, error_type: str | None, status: int | None) -> None:
        if status is not None:
            span.set_attribute("http.response.status_code", status)
        if error_type:
            span.set_attribute("error.type", error_type)
            span.set_status(self._trace.Status(self._trace.StatusCode.ERROR, error_type))
        span.end()

    def inject(self, span: Any, headers: dict[str, str]) -> None:
        self.propagator.inject(headers, context=self._trace.set_span_in_context(span))

    def flush(self, timeout_ms: int = 5000) -> None:
        self.provider.force_flush(timeout_ms)

    def shutdown(self) -> None:
        self.provider.shutdown()
