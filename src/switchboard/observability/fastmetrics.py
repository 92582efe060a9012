"""Counters, gauges and histograms as plain Python numbers, for one process.

prometheus-client's own metric objects take a lock and validate labels on every update
(a few microseconds each); the gateway updates a dozen per request from a single event
loop thread, so here an update is an attribute addition on a cached child, and the
Prometheus families are built only when /metrics is scraped. Same calling surface as
prometheus-client's metrics (`labels(...).inc()`, `.observe()`, `.set()`), so the
multiprocess mode can use the library's own classes instead.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Sequence
from typing import Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)


class _Value:
    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0.0

    def inc(self, amount: float = 1) -> None:
        self.value += amount

    def dec(self, amount: float = 1) -> None:
        self.value -= amount

    def set(self, value: float) -> None:
        self.value = value


class _Buckets:
    __slots__ = ("bounds", "count", "counts", "sum")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # the last one is +Inf
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1  # first bucket with value <= le
        self.sum += value
        self.count += 1


class FastMetric:
    def __init__(self, kind: str, name: str, doc: str, labelnames: Sequence[str] = (),
                 buckets: Sequence[float] = ()) -> None:
        self.kind, self.name, self.doc = kind, name, doc
        self.labelnames = tuple(labelnames)
        self.bounds = tuple(float(b) for b in buckets)
        self.children: dict[tuple[str, ...], Any] = {}
        self._default = None if labelnames else self.labels()

    def labels(self, *values: str) -> Any:
        child = self.children.get(values)
        if child is None:
            if len(values) != len(self.labelnames):
                raise ValueError(f"{self.name} takes labels {self.labelnames}")
            child = _Buckets(self.bounds) if self.kind == "histogram" else _Value()
            self.children[values] = child
        return child

    # the unlabelled metrics' own updates
    def inc(self, amount: float = 1) -> None:
        self._default.inc(amount)  # type: ignore[union-attr]

    def dec(self, amount: float = 1) -> None:
        self._default.dec(amount)  # type: ignore[union-attr]

    def set(self, value: float) -> None:
        self._default.set(value)  # type: ignore[union-attr]

    def observe(self, value: float) -> None:
        self._default.observe(value)  # type: ignore[union-attr]

    def family(self) -> Metric:
        names = list(self.labelnames)
        if self.kind == "counter":
            fam: Any = CounterMetricFamily(self.name, self.doc, labels=names)
            for values, child in self.children.items():
                fam.add_metric(list(values), child.value)
        elif self.kind == "gauge":
            fam = GaugeMetricFamily(self.name, self.doc, labels=names)
            for values, child in self.children.items():
                fam.add_metric(list(values), child.value)
        else:
            fam = HistogramMetricFamily(self.name, self.doc, labels=names)
            les = [*(_le(b) for b in self.bounds), "+Inf"]
            for values, child in self.children.items():
                running, cumulative = 0, []
                for le, n in zip(les, child.counts, strict=True):
                    running += n
                    cumulative.append((le, running))
                fam.add_metric(list(values), cumulative, child.sum)
        return fam  # type: ignore[no-any-return]


def _le(bound: float) -> str:
    return repr(float(bound))


class FastCollector:
    """What a CollectorRegistry scrapes: every FastMetric's current family."""

    def __init__(self) -> None:
        self.metrics: list[FastMetric] = []

    def add(self, metric: FastMetric) -> FastMetric:
        self.metrics.append(metric)
        return metric

    def collect(self) -> Iterator[Metric]:
        for m in self.metrics:
            yield m.family()
