"""The hooks the gateway calls as a request moves along: each writes the log line, counts
the metric and records the span for one event, so call sites stay one line long.

Log lines never carry a key (only a prefix of its hash), prompt or completion text, or an
upstream's error message (which may quote the prompt): only ids, names, numbers and
error classes.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from switchboard.observability import context
from switchboard.observability.context import RequestContext

if TYPE_CHECKING:
    from switchboard.observability.metrics import Metrics
    from switchboard.observability.tracing import Tracing

requests_log = logging.getLogger("switchboard.request")
upstream_log = logging.getLogger("switchboard.upstream")
circuit_log = logging.getLogger("switchboard.circuit")
background_log = logging.getLogger("switchboard.background")

# dialects whose providers accept (and log) a client-chosen X-Request-Id
_REQUEST_ID_DIALECTS = frozenset({"openai", "azure"})
# quiet endpoints: probes and scrapes log at debug, not once every few seconds at info
_QUIET = frozenset({"/health", "/api/v1/health", "/ready", "/metrics"})


def outcome_class(kind: str, status: int | None) -> str:
    """A failed attempt's class for metrics: how it failed, not the provider's words."""
    if kind in ("timeout", "connect", "reset", "unparseable"):
        return kind
    if status == 429:
        return "rate_limited"
    if status is not None and 400 <= status < 500:
        return "client_error"
    return "server_error"


class Observer:
    def __init__(self, metrics: Metrics | None = None, tracing: Tracing | None = None,
                 known_models: frozenset[str] = frozenset()) -> None:
        self.metrics = metrics
        self.tracing = tracing
        self.known_models = known_models  # catalog ids: a label never takes a caller's string
        self._open_circuits: set[str] = set()

    # -- the HTTP exchange -----------------------------------------------------------

    def begin(self, request_id_header: str | None) -> RequestContext:
        return RequestContext(context.request_id_from(request_id_header), "", time.monotonic())

    def routed(self, ctx: RequestContext, method: str, endpoint: str,
               headers: dict[str, str]) -> None:
        """The route is known: from here the request counts as in flight and has a span
        (health probes and scrapes do neither)."""
        ctx.endpoint = endpoint
        if endpoint in _QUIET:
            return
        if self.metrics is not None:
            self.metrics.in_flight.inc()
            ctx.counted = True
        if self.tracing is not None:
            ctx.span = self.tracing.start_request(method, endpoint, headers)
            ctx.span.set_attribute("switchboard.request_id", ctx.request_id)

    def end(self, ctx: RequestContext, method: str, status: int) -> None:
        elapsed = time.monotonic() - ctx.started
        m = self.metrics
        if m is not None:
            if ctx.counted:
                m.in_flight.dec()
            m.requests.labels(ctx.endpoint, ctx.model, ctx.provider, str(status)).inc()
            m.duration.labels(ctx.endpoint).observe(elapsed)
        if ctx.span is not None and self.tracing is not None:
            self.tracing.end_request(ctx.span, status)
        if not ctx.logged:
            level = logging.DEBUG if ctx.endpoint in _QUIET else logging.INFO
            if requests_log.isEnabledFor(level):
                requests_log.log(level, "request", extra={"fields": {
                    "method": method, "endpoint": ctx.endpoint, "status": status,
                    "latency_ms": round(elapsed * 1000, 2)}})

    def stream_started(self) -> None:
        if self.metrics is not None:
            self.metrics.streams.inc()

    def stream_ended(self) -> None:
        if self.metrics is not None:
            self.metrics.streams.dec()

    def rejected(self, ctx: RequestContext | None, status: int, error_type: str,
                 message: str) -> None:
        """A request refused with a 4xx/5xx before any answer (auth, limits, credits, input)."""
        if ctx is not None:
            if ctx.logged:
                return  # its request line (with the attempts) already says why
            ctx.logged = True
        if self.metrics is not None:
            self.metrics.rejections.labels(error_type, str(status)).inc()
        requests_log.log(logging.WARNING if status >= 500 else logging.INFO, "rejected",
                         extra={"fields": {
                             "endpoint": ctx.endpoint if ctx else None, "status": status,
                             "reason": error_type, "detail": message[:300],
                             "latency_ms": round((time.monotonic() - ctx.started) * 1000, 2)
                             if ctx else None}})

    # -- the chat path ---------------------------------------------------------------

    def request_finished(self, outcome: Any, meta: Any) -> None:
        """At settlement: the request's one line, its tokens, cost and time to first token."""
        ctx = context.current.get()
        if ctx is not None and ctx.logged:
            return  # settled twice (a no-op in the ledger too)
        served = outcome.served
        model = served.model.id if served else getattr(meta.creq, "model", "")
        provider = served.provider.name if served else ""
        model_label = model if model in self.known_models else "other"
        err = outcome.error
        status = 200 if served else (err.status if err is not None else 499)
        usage = outcome.usage or {}
        prompt = int(usage.get("prompt_tokens") or 0)
        completion = int(usage.get("completion_tokens") or 0)
        cost = outcome.cost.pico / 1e12 if outcome.cost else 0.0
        latency_ms = round((time.monotonic() - outcome.started) * 1000, 2)
        if ctx is not None:
            ctx.logged = True
            ctx.model, ctx.provider = model_label, provider
        m = self.metrics
        if m is not None and served is not None:
            if prompt:
                m.tokens.labels(model_label, provider, "prompt").inc(prompt)
            if completion:
                m.tokens.labels(model_label, provider, "completion").inc(completion)
            if cost:
                m.cost.labels(model_label, provider).inc(cost)
            if outcome.streamed and outcome.first_token_ms is not None:
                m.ttft.labels(provider).observe(outcome.first_token_ms / 1000)
        span = ctx.span if ctx is not None else None
        if span is not None:
            _gen_ai_attributes(span, outcome, model, provider, prompt, completion)
        if not requests_log.isEnabledFor(logging.INFO):
            return
        fields: dict[str, Any] = {
            "generation_id": outcome.gen_id,
            "key": meta.key.hash[:12],
            "model": model,
            "provider": provider or None,
            "attempts": [{"provider": a.provider, "status": a.status, "latency_ms": a.latency_ms,
                          "error": a.error_type} for a in outcome.attempts],
            "status": status,
            "error": err.error_type if err is not None and not served else None,
            "streamed": outcome.streamed,
            "cancelled": outcome.cancelled,
            "latency_ms": latency_ms,
            "ttft_ms": outcome.first_token_ms,
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "cost_usd": round(cost, 9),
        }
        if ctx is not None:
            fields["endpoint"] = ctx.endpoint
        requests_log.info("request", extra={"fields": fields})

    def attempt_started(self, provider: Any, upstream_model: str) -> Any:
        """The attempt's span, or None when tracing is off."""
        if self.tracing is None:
            return None
        ctx = context.current.get()
        span = self.tracing.start_attempt(ctx.span if ctx else None, provider.name,
                                          upstream_model, provider.base_url)
        if ctx is not None:
            ctx.attempt_span = span
        return span

    def attempt_succeeded(self, span: Any, provider: str) -> None:
        if self.metrics is not None:
            self.metrics.attempts.labels(provider, "ok").inc()
        if span is not None and self.tracing is not None:
            self.tracing.end_attempt(span, None, 200)

    def attempt_failed(self, span: Any, provider: str, endpoint: str, kind: str,
                       status: int | None, error_type: str, latency_ms: int) -> None:
        klass = outcome_class(kind, status)
        if self.metrics is not None:
            self.metrics.attempts.labels(provider, klass).inc()
        if span is not None and self.tracing is not None:
            self.tracing.end_attempt(span, error_type, status)
        upstream_log.warning("upstream attempt failed", extra={"fields": {
            "provider": provider, "endpoint": endpoint, "outcome": klass, "status": status,
            "error": error_type, "latency_ms": latency_ms}})

    def fallback(self, failed_provider: str, next_provider: str, next_model: str) -> None:
        if self.metrics is not None:
            self.metrics.fallbacks.labels(failed_provider).inc()
        upstream_log.info("fallback", extra={"fields": {
            "from": failed_provider, "to": next_provider, "model": next_model}})

    def upstream_headers(self, dialect: str, headers: dict[str, str]) -> None:
        """X-Request-Id to providers that accept one; traceparent when tracing."""
        ctx = context.current.get()
        if ctx is None:
            return
        if dialect in _REQUEST_ID_DIALECTS:
            headers["x-request-id"] = ctx.request_id
        if ctx.attempt_span is not None and self.tracing is not None:
            self.tracing.inject(ctx.attempt_span, headers)

    # -- background ------------------------------------------------------------------

    def circuit_changed(self, endpoint: str, old: str, new: str) -> None:
        if new == "closed":
            self._open_circuits.discard(endpoint)
        else:
            self._open_circuits.add(endpoint)
        if self.metrics is not None:
            self.metrics.circuits_open.set(len(self._open_circuits))
        level = logging.INFO if new == "closed" else logging.WARNING
        circuit_log.log(level, "circuit %s", new, extra={"fields": {
            "endpoint": endpoint, "from": old, "to": new}})

    def background_failure(self, component: str, exc: BaseException | None,
                           dependency: str | None = None, message: str = "") -> None:
        if self.metrics is not None:
            self.metrics.background_failures.labels(component).inc()
            if dependency:
                self.metrics.dependency_errors.labels(dependency).inc()
        background_log.error("%s failed%s", component, f": {message}" if message else "",
                             exc_info=exc, extra={"fields": {"component": component}})

    def recovered(self, component: str) -> None:
        background_log.info("%s recovered", component, extra={"fields": {"component": component}})

    def dependency_error(self, dependency: str) -> None:
        if self.metrics is not None:
            self.metrics.dependency_errors.labels(dependency).inc()

    def settlements_committed(self, queued_at: list[float], depth: int) -> None:
        m = self.metrics
        if m is None:
            return
        now = time.monotonic()
        for t in queued_at:
            m.settlement_lag.observe(now - t)
        m.ledger_queue.set(depth)

    def close(self) -> None:
        """At shutdown: send the spans still queued; drop this worker's live gauges."""
        if self.tracing is not None:
            self.tracing.shutdown()
        if self.metrics is not None:
            self.metrics.process_exit()

    def ledger_depth(self, depth: int) -> None:
        if self.metrics is not None:
            self.metrics.ledger_queue.set(depth)


def _gen_ai_attributes(span: Any, outcome: Any, model: str, provider: str, prompt: int,
                       completion: int) -> None:
    attrs: dict[str, Any] = {"gen_ai.operation.name": "chat", "gen_ai.request.model": model,
                             "switchboard.generation_id": outcome.gen_id,
                             "switchboard.attempts": len(outcome.attempts)}
    if provider:
        attrs["gen_ai.provider.name"] = provider
        attrs["gen_ai.response.model"] = model
    if outcome.upstream_id:
        attrs["gen_ai.response.id"] = outcome.upstream_id
    if outcome.finish_reason:
        attrs["gen_ai.response.finish_reasons"] = [outcome.finish_reason]
    if outcome.usage:
        attrs["gen_ai.usage.input_tokens"] = prompt
        attrs["gen_ai.usage.output_tokens"] = completion
    if outcome.error is not None and outcome.served is None:
        attrs["error.type"] = outcome.error.error_type
    span.set_attributes(attrs)  # one lock and one validation pass, not one per attribute
