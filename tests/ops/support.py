"""Shared pieces of the operations tests: a routing gateway with ops settings, log capture,
and a /metrics scraper that reads values with prometheus-client's own parser."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import yaml
from prometheus_client.parser import text_string_to_metric_families

from switchboard.observability.logs import JsonFormatter, RequestIdFilter
from switchboard.routing.health import HealthTracker
from tests.e2e.routing_support import routing_config
from tests.support import GatewayServer, MockUpstream


def ops_gateway(mock: MockUpstream, tmp: Any, **sections: Any) -> GatewayServer:
    """The routing suites' gateway (providers a-d, circuit opens after 2 failures) plus any
    top-level config sections (metrics, tracing, logging)."""
    conf = yaml.safe_load(routing_config(mock.url))
    conf.update(sections)
    gw = GatewayServer(yaml.safe_dump(conf), tmp)
    gw.charge(100)
    return gw


def fresh_health(gw: GatewayServer) -> None:
    """Forget endpoint health between tests; the new tracker still reports circuit changes."""
    svc = gw.app.svc
    assert svc is not None
    tracker = HealthTracker()
    tracker.observer = gw.app.observer
    svc.health = svc.executor.health = tracker


class LogCapture:
    """Every log line the process writes while active, through the production JSON formatter."""

    def __init__(self) -> None:
        self.stream = io.StringIO()
        self.handler = logging.StreamHandler(self.stream)
        self.handler.setFormatter(JsonFormatter())
        self.handler.addFilter(RequestIdFilter())
        self._level = logging.WARNING

    def __enter__(self) -> LogCapture:
        root = logging.getLogger()
        self._level = root.level
        root.setLevel(logging.DEBUG)
        root.addHandler(self.handler)
        return self

    def __exit__(self, *exc: Any) -> None:
        root = logging.getLogger()
        root.removeHandler(self.handler)
        root.setLevel(self._level)

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    @property
    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.text.splitlines() if line.strip()]

    def where(self, **match: Any) -> list[dict[str, Any]]:
        return [ln for ln in self.lines if all(ln.get(k) == v for k, v in match.items())]


def capture_logs() -> Iterator[LogCapture]:
    with LogCapture() as cap:
        yield cap


class Scrape:
    """One /metrics scrape: samples looked up by name and labels."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.samples: list[tuple[str, dict[str, str], float]] = [
            (s.name, dict(s.labels), s.value)
            for family in text_string_to_metric_families(text)
            for s in family.samples
        ]

    def value(self, name: str, **labels: str) -> float:
        """The sum over samples of `name` whose labels include `labels` (0 when none)."""
        return sum(v for n, lab, v in self.samples
                   if n == name and all(lab.get(k) == want for k, want in labels.items()))


def scrape(gw: GatewayServer, token: str | None = None) -> Scrape:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    r = httpx.get(f"http://127.0.0.1:{gw.port}/metrics", headers=headers, timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return Scrape(r.text)
