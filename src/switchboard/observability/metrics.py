"""Prometheus metrics: one registry per app, multiprocess-safe under `--workers N`.

With PROMETHEUS_MULTIPROC_DIR set (`switchboard serve` sets it for several workers) each
worker writes its values to files there and a scrape of any worker sums them all.
Labels stay bounded: route patterns, catalog model ids, provider names, status codes and
outcome classes only; never a key, an account or a raw path.
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

from switchboard.observability.fastmetrics import FastCollector, FastMetric

CONTENT_TYPE = CONTENT_TYPE_LATEST
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
_LAG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class Metrics:
    def __init__(self) -> None:
        # `_created` series double the scrape for nothing a dashboard uses (process-wide)
        disable_created_metrics()
        self.registry = CollectorRegistry(auto_describe=False)
        r = self.registry
        shared = multiprocess_dir() is not None
        fast = FastCollector()
        if not shared:
            r.register(fast)  # type: ignore[arg-type]

        # Several workers: prometheus-client's file-backed values, summed at scrape time.
        # One process: plain numbers (FastMetric), about ten times cheaper per update.
        def counter(name: str, doc: str, labels: tuple[str, ...] = ()) -> Any:
            if shared:
                return Counter(name, doc, labels, registry=r)
            return fast.add(FastMetric("counter", name, doc, labels))

        def gauge(name: str, doc: str, mode: str) -> Any:
            if shared:
                return Gauge(name, doc, registry=r, multiprocess_mode=mode)  # type: ignore[arg-type]
            return fast.add(FastMetric("gauge", name, doc))

        def histogram(name: str, doc: str, labels: tuple[str, ...],
                      buckets: tuple[float, ...]) -> Any:
            if shared:
                return Histogram(name, doc, labels, registry=r, buckets=buckets)
            return fast.add(FastMetric("histogram", name, doc, labels, buckets))

        self.requests = counter("switchboard_requests", "HTTP requests answered",
                                ("endpoint", "model", "provider", "status"))
        self.duration = histogram("switchboard_request_duration_seconds",
                                  "Time from request to the response's end", ("endpoint",),
                                  _LATENCY_BUCKETS)
        self.ttft = histogram("switchboard_time_to_first_token_seconds",
                              "Time to the first content token of a stream", ("provider",),
                              _LATENCY_BUCKETS)
        self.attempts = counter("switchboard_upstream_attempts", "Upstream attempts by outcome",
                                ("provider", "outcome"))
        self.fallbacks = counter("switchboard_fallbacks", "Moves to the next endpoint after a "
                                 "failed attempt, by the provider that failed", ("provider",))
        self.tokens = counter("switchboard_tokens", "Tokens metered",
                              ("model", "provider", "kind"))
        self.cost = counter("switchboard_cost_usd", "Cost charged to callers, USD",
                            ("model", "provider"))
        self.rejections = counter("switchboard_rejections", "Requests refused before or "
                                  "instead of an upstream call, by reason", ("reason", "status"))
        self.in_flight = gauge("switchboard_in_flight_requests", "Requests in progress",
                               "livesum")
        self.streams = gauge("switchboard_in_flight_streams", "Streaming responses in "
                             "progress", "livesum")
        self.circuits_open = gauge("switchboard_circuits_open", "Endpoints whose circuit is "
                                   "open or probing", "livemax")
        self.ledger_queue = gauge("switchboard_ledger_queue_depth", "Settlements waiting to "
                                  "be written", "livesum")
        self.settlement_lag = histogram(
            "switchboard_settlement_lag_seconds", "Time from a request's settlement to its "
            "commit in the database", (), _LAG_BUCKETS)
        self.dependency_errors = counter("switchboard_dependency_errors", "Database and Redis "
                                         "errors", ("dependency",))
        self.background_failures = counter("switchboard_background_failures", "Failures of "
                                           "background work", ("component",))

    def render(self) -> bytes:
        path = multiprocess_dir()
        if path is None:
            return generate_latest(self.registry)
        from prometheus_client import multiprocess

        merged = CollectorRegistry()
        multiprocess.MultiProcessCollector(merged, path=path)
        return generate_latest(merged)

    def process_exit(self) -> None:
        """Drop this worker's live gauges from the shared directory."""
        if multiprocess_dir() is not None:
            from prometheus_client import multiprocess

            multiprocess.mark_process_dead(os.getpid())
