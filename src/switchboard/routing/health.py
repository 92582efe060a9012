"""Live endpoint health: speed, recent errors, and a circuit breaker per endpoint.

The planner reads an immutable `HealthSnapshot`; the executor writes through a
`HealthStore` (records and probe grants). Two stores share the interface:
`HealthTracker` here, in-process, and `RedisHealthTracker` (health_redis.py),
shared by every instance of the gateway.

Circuit: `closed` until `failures_to_open` failures in a row, then `open` for
`cooldown_s`; after that one request may probe (`half_open`): a success closes
the circuit, a failure opens it again. A probe holds a lease of `cooldown_s`, so
a probe that never reports back (a cancelled request) does not wedge the circuit.
"""

from __future__ import annotations

import math
import statistics
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, Protocol

CircuitState = Literal["closed", "open", "half_open"]
Clock = Callable[[], float]

WINDOW_S = 60.0  # error rate and speed look this far back
BUCKETS = 12  # the window moves in steps of WINDOW_S / BUCKETS, so memory stays bounded
MAX_SAMPLES = 32  # speed samples kept per endpoint; the median of these is reported
SUMMARY_EVERY_S = 0.25  # how stale a healthy endpoint's reported medians may be


@dataclass(frozen=True, slots=True)
class EndpointHealth:
    latency_ms: float | None = None  # median time to first token in the window
    throughput_tps: float | None = None  # median output tokens per second in the window
    error_rate: float = 0.0  # failed / all attempts in the window
    requests: int = 0  # attempts in the window
    consecutive_failures: int = 0
    state: CircuitState = "closed"
    # open: when the cooldown ends; half_open: when the current probe's lease ends.
    # Either way, a probe may go once the clock passes it.
    open_until: float | None = None

    @property
    def recently_failed(self) -> bool:
        return self.error_rate > 0 or self.consecutive_failures > 0


UNKNOWN = EndpointHealth()  # never seen: assumed healthy, unmeasured
_EMPTY: Mapping[str, EndpointHealth] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class HealthSnapshot:
    """An immutable view for one planning decision."""

    endpoints: Mapping[str, EndpointHealth] = field(default_factory=lambda: _EMPTY)
    now: float = 0.0  # the store's clock when taken; open_until is on the same clock

    def get(self, key: str) -> EndpointHealth:
        return self.endpoints.get(key, UNKNOWN)

    def circuit(self, key: str) -> Literal["closed", "probe", "blocked"]:
        """closed: route normally; probe: a probe may go (plan it last); blocked: skip it."""
        h = self.get(key)
        if h.state == "closed":
            return "closed"
        if h.open_until is None or self.now >= h.open_until:
            return "probe"
        return "blocked"


class HealthStore(Protocol):
    async def record_success(
        self, key: str, ttft_ms: float | None = None, tps: float | None = None
    ) -> None: ...

    async def record_failure(self, key: str, failures_to_open: int, cooldown_s: float) -> None: ...

    async def allow_probe(self, key: str) -> bool:
        """True when a request may go to `key`; for an open circuit, grants the one probe."""
        ...

    def snapshot(self) -> HealthSnapshot: ...


def summarize(
    ok: int,
    failed: int,
    samples: Iterable[tuple[float | None, float | None]],
    consecutive_failures: int,
    state: CircuitState,
    open_until: float | None,
) -> EndpointHealth:
    """One endpoint's window (attempt counts, (ttft_ms, tps) samples) and circuit, summarized."""
    ttfts: list[float] = []
    tpss: list[float] = []
    for ttft, tps in samples:
        if ttft is not None:
            ttfts.append(ttft)
        if tps is not None:
            tpss.append(tps)
    return EndpointHealth(
        latency_ms=statistics.median(ttfts) if ttfts else None,
        throughput_tps=statistics.median(tpss) if tpss else None,
        error_rate=failed / (ok + failed) if ok + failed else 0.0,
        requests=ok + failed,
        consecutive_failures=consecutive_failures,
        state=state,
        open_until=open_until,
    )


@dataclass(slots=True)
class _Endpoint:
    # window buckets: [bucket index, ok count, failed count], oldest first
    buckets: deque[list[int]] = field(default_factory=deque)
    samples: deque[tuple[int, float | None, float | None]] = field(
        default_factory=lambda: deque(maxlen=MAX_SAMPLES)
    )  # (bucket index, ttft_ms, tps)
    consecutive_failures: int = 0
    state: CircuitState = "closed"
    open_until: float | None = None
    cooldown_s: float = 30.0
    summarized_at: float = float("-inf")  # when a success last asked for a new summary

    def count(self, bucket: int, ok: bool) -> None:
        if not self.buckets or self.buckets[-1][0] != bucket:
            self.buckets.append([bucket, 0, 0])
            if len(self.buckets) > BUCKETS:
                self.buckets.popleft()
        self.buckets[-1][1 if ok else 2] += 1

    def summarize(self, bucket: int) -> EndpointHealth:
        first = bucket - BUCKETS + 1
        return summarize(
            ok=sum(b[1] for b in self.buckets if b[0] >= first),
            failed=sum(b[2] for b in self.buckets if b[0] >= first),
            samples=((s[1], s[2]) for s in self.samples if s[0] >= first),
            consecutive_failures=self.consecutive_failures,
            state=self.state,
            open_until=self.open_until,
        )


class HealthTracker:
    """In-process HealthStore: one gateway process, no shared state."""

    observer: Any = None  # told of circuit state changes (the app sets it)

    def __init__(self, clock: Clock = time.monotonic, window_s: float = WINDOW_S) -> None:
        self._clock = clock
        self._bucket_s = window_s / BUCKETS
        self._endpoints: dict[str, _Endpoint] = {}
        # snapshot() is on every request's path: rebuild only what changed since the last one
        self._view: Mapping[str, EndpointHealth] = _EMPTY
        self._view_bucket = -1
        self._stale: set[str] = set()

    def _bucket(self, now: float) -> int:
        return math.floor(now / self._bucket_s)

    def _get(self, key: str) -> _Endpoint:
        self._stale.add(key)
        ep = self._endpoints.get(key)
        if ep is None:
            ep = self._endpoints[key] = _Endpoint()
        return ep

    async def record_success(
        self, key: str, ttft_ms: float | None = None, tps: float | None = None
    ) -> None:
        now = self._clock()
        bucket = self._bucket(now)
        ep = self._endpoints.get(key)
        if ep is None:
            ep = self._get(key)
        elif (ep.state != "closed" or ep.consecutive_failures
              or now - ep.summarized_at >= SUMMARY_EVERY_S):
            self._stale.add(key)
            ep.summarized_at = now
        # else: a healthy endpoint's medians may lag up to SUMMARY_EVERY_S behind; the hot
        # path then skips re-summarizing on every success
        ep.count(bucket, ok=True)
        if ttft_ms is not None or tps is not None:
            ep.samples.append((bucket, ttft_ms, tps))
        # any success is proof of life, even from a request that began before the circuit opened
        if ep.state != "closed" and self.observer is not None:
            self.observer.circuit_changed(key, ep.state, "closed")
        ep.consecutive_failures = 0
        ep.state = "closed"
        ep.open_until = None

    async def record_failure(self, key: str, failures_to_open: int, cooldown_s: float) -> None:
        now = self._clock()
        ep = self._get(key)
        ep.count(self._bucket(now), ok=False)
        ep.consecutive_failures += 1
        ep.cooldown_s = cooldown_s
        # A failed probe re-opens at once; a closed circuit opens at the threshold. A failure
        # while already open (a request that started earlier) must not extend the cooldown.
        if ep.state == "half_open" or (
            ep.state == "closed" and 0 < failures_to_open <= ep.consecutive_failures
        ):
            if self.observer is not None:
                self.observer.circuit_changed(key, ep.state, "open")
            ep.state = "open"
            ep.open_until = now + cooldown_s

    async def allow_probe(self, key: str) -> bool:
        ep = self._endpoints.get(key)
        if ep is None or ep.state == "closed":
            return True
        now = self._clock()
        if ep.open_until is not None and now < ep.open_until:
            return False
        self._stale.add(key)
        if ep.state != "half_open" and self.observer is not None:
            self.observer.circuit_changed(key, ep.state, "half_open")
        ep.state = "half_open"
        ep.open_until = now + ep.cooldown_s
        return True

    def snapshot(self) -> HealthSnapshot:
        now = self._clock()
        bucket = self._bucket(now)
        if bucket != self._view_bucket:
            self._stale = set(self._endpoints)  # the window moved: every summary may change
        if self._stale:
            view = dict(self._view)
            for key in self._stale:
                view[key] = self._endpoints[key].summarize(bucket)
            self._view = MappingProxyType(view)
            self._view_bucket = bucket
            self._stale = set()
        return HealthSnapshot(self._view, now)
