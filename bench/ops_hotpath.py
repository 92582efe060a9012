"""CPU the operations hooks add to one request, measured in-process without the network.

Runs exactly what a served, non-streaming chat request calls (request id, route, one
attempt, the settlement line, the response's end) per variant, one request at a time with
an idle pause between (as at c=1), and prints the median microseconds per request.
The end-to-end figure is bench/ops_overhead.py; this one has none of its network noise,
so it resolves differences of a few microseconds.

    .venv/bin/python bench/ops_hotpath.py [--requests 5000] [--gap-ms 0.5]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
from types import SimpleNamespace
from typing import Any

from switchboard.billing.pricing import Cost
from switchboard.execution.outcome import AttemptRecord, Outcome
from switchboard.observability import context
from switchboard.observability.logs import (
    BackgroundHandler,
    JsonFormatter,
    RequestIdFilter,
    lighten_records,
)
from switchboard.observability.metrics import Metrics
from switchboard.observability.observer import Observer

ROUTE = "/api/v1/chat/completions"
HEADERS = {"authorization": "Bearer sk-sb-v1-x", "content-type": "application/json",
           "x-request-id": "bench-request"}


def one(obs: Observer, served: Any, meta: Any) -> None:
    ctx = obs.begin(HEADERS.get("x-request-id"))
    token = context.current.set(ctx)
    obs.routed(ctx, "POST", ROUTE, HEADERS)
    span = obs.attempt_started(served.provider, "gpt-4o-mini")
    obs.upstream_headers("openai", {"content-type": "application/json"})
    obs.attempt_succeeded(span, "mock")
    outcome = Outcome("gen-1-abc", time.monotonic(), 0, False)
    outcome.served = served
    outcome.attempts.append(AttemptRecord("mock", "Mock", "bench/gpt", "mock/gpt", 200, 1))
    outcome.usage = {"prompt_tokens": 10, "completion_tokens": 20, "total_tokens": 30}
    outcome.cost = Cost(900, 1000, 300, 600)
    outcome.first_token_ms = 1
    obs.request_finished(outcome, meta)
    obs.end(ctx, "POST", 200)
    context.current.reset(token)


def measure(obs: Observer, n: int, gap_s: float) -> float:
    served = SimpleNamespace(model=SimpleNamespace(id="bench/gpt"),
                             provider=SimpleNamespace(name="mock", base_url="http://mock/v1"))
    meta = SimpleNamespace(key=SimpleNamespace(hash="ab" * 32), creq=SimpleNamespace(
        model="bench/gpt"))
    for _ in range(500):
        one(obs, served, meta)
    times = []
    for _ in range(n):
        # a pause like the upstream round trip at c=1: background threads (the log writer,
        # the span exporter) get the GIL here, as they do in the server
        time.sleep(gap_s)
        t0 = time.perf_counter()
        one(obs, served, meta)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e6


def logging_to(level: int, background: bool = True) -> None:
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    target = logging.StreamHandler(open("/dev/null", "w"))  # noqa: SIM115
    target.setFormatter(JsonFormatter())
    # as `switchboard serve` sets it up, or written on the request's own time
    handler: logging.Handler = BackgroundHandler(target) if background else target
    handler.addFilter(RequestIdFilter())
    root.addHandler(handler)
    root.setLevel(level)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=5000)
    ap.add_argument("--gap-ms", type=float, default=0.5, help="idle time between requests")
    args = ap.parse_args()
    n, gap = args.requests, args.gap_ms / 1000
    lighten_records()  # as `switchboard serve` does
    models = frozenset({"bench/gpt"})
    rows: list[tuple[str, float]] = []
    logging_to(logging.WARNING)
    rows.append(("hooks only (metrics off)", measure(Observer(None, None, models), n, gap)))
    rows.append(("metrics on", measure(Observer(Metrics(), None, models), n, gap)))
    logging_to(logging.INFO)
    rows.append(("metrics + info log line", measure(Observer(Metrics(), None, models), n, gap)))
    logging_to(logging.INFO, background=False)
    rows.append(("  (line written inline)", measure(Observer(Metrics(), None, models), n, gap)))
    logging_to(logging.WARNING)
    try:
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        from switchboard.observability.tracing import Tracing

        tracing = Tracing("http://127.0.0.1:9/", exporter=InMemorySpanExporter())
        rows.append(("metrics + tracing", measure(Observer(Metrics(), tracing, models), n, gap)))
        tracing.shutdown()
    except ImportError:
        print("(OpenTelemetry not installed: pip install -e '.[otel]' to measure tracing)")
    print(f"{'variant':28} {'p50 us per request':>19}")
    for name, us in rows:
        print(f"{name:28} {us:19.1f}")


if __name__ == "__main__":
    main()
