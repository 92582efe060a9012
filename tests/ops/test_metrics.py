"""GET /metrics: Prometheus text read back with prometheus-client's parser, after traffic
that fails the way the routing suites fail; guarded by loopback or a bearer token."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from switchboard.api import ops
from switchboard.config import MetricsConf
from switchboard.observability.observer import Observer
from switchboard.web import Request
from tests.e2e.routing_support import RoutingClient, fail, ok, route, script, stream_ok, wait_for
from tests.ops.support import Scrape, fresh_health, ops_gateway, scrape
from tests.support import GatewayServer, MockUpstream

CHAT = "/api/v1/chat/completions"
TOKEN = "metrics-secret-token"


@pytest.fixture(scope="module")
def gw(mock: MockUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayServer]:
    gw = ops_gateway(mock, tmp_path_factory.mktemp("ops-metrics"), metrics={"token": TOKEN})
    yield gw
    gw.stop()


@pytest.fixture()
def client(gw: GatewayServer, upstream: MockUpstream) -> RoutingClient:
    fresh_health(gw)
    return RoutingClient(gw, gw.new_key())


def delta(before: Scrape, after: Scrape, name: str, **labels: str) -> float:
    return after.value(name, **labels) - before.value(name, **labels)


def test_a_fallback_counts_attempts_fallbacks_tokens_cost_and_the_request(
    gw: GatewayServer, client: RoutingClient, upstream: MockUpstream
) -> None:
    before = scrape(gw)
    script(upstream, "a", fail(500))
    script(upstream, "b", ok())
    assert client.chat(provider=route("a", "b")).status_code == 200
    assert wait_for(lambda: delta(before, scrape(gw), "switchboard_settlement_lag_seconds_count")
                    >= 1)
    after = scrape(gw)
    assert delta(before, after, "switchboard_requests_total", endpoint=CHAT, model="test/m1",
                 provider="b", status="200") == 1
    assert delta(before, after, "switchboard_upstream_attempts_total", provider="a",
                 outcome="server_error") == 1
    assert delta(before, after, "switchboard_upstream_attempts_total", provider="b",
                 outcome="ok") == 1
    assert delta(before, after, "switchboard_fallbacks_total", provider="a") == 1
    assert delta(before, after, "switchboard_tokens_total", model="test/m1", provider="b",
                 kind="prompt") == 10
    assert delta(before, after, "switchboard_tokens_total", model="test/m1", provider="b",
                 kind="completion") == 5
    # b's prices are 2/4 per million, plus the 10 % markup
    cost = delta(before, after, "switchboard_cost_usd_total", model="test/m1", provider="b")
    assert cost == pytest.approx((10 * 2 + 5 * 4) / 1e6 * 1.1)
    assert delta(before, after, "switchboard_request_duration_seconds_count",
                 endpoint=CHAT) == 1
    assert after.value("switchboard_ledger_queue_depth") == 0


def test_timeouts_resets_and_rate_limits_are_separate_outcome_classes(
    gw: GatewayServer, client: RoutingClient, upstream: MockUpstream
) -> None:
    from tests.support import Reply

    before = scrape(gw)
    script(upstream, "a", Reply(json={}, delay_s=1.5))
    script(upstream, "b", Reply(reset=True))
    script(upstream, "c", fail(429, headers={"retry-after": "0"}))
    script(upstream, "d", ok())
    assert client.chat(provider=route("a", "b", "c", "d")).status_code == 200
    after = scrape(gw)
    for provider, outcome in (("a", "timeout"), ("b", "reset"), ("c", "rate_limited"),
                              ("d", "ok")):
        assert delta(before, after, "switchboard_upstream_attempts_total", provider=provider,
                     outcome=outcome) == 1, (provider, outcome)
    assert delta(before, after, "switchboard_fallbacks_total") == 3


def test_a_stream_is_in_flight_while_it_runs_and_observes_time_to_first_token(
    gw: GatewayServer, client: RoutingClient, upstream: MockUpstream
) -> None:
    before = scrape(gw)
    script(upstream, "c", stream_ok("a", "b", "c", "d", chunk_delay_s=0.3))
    done = threading.Event()
    threading.Thread(target=lambda: (client.stream(provider=route("c")), done.set()),
                     daemon=True).start()
    assert wait_for(lambda: scrape(gw).value("switchboard_in_flight_streams") == 1)
    assert scrape(gw).value("switchboard_in_flight_requests") == 1
    assert done.wait(10)
    after = scrape(gw)
    assert after.value("switchboard_in_flight_streams") == 0
    assert after.value("switchboard_in_flight_requests") == 0
    assert delta(before, after, "switchboard_time_to_first_token_seconds_count",
                 provider="c") == 1


def test_rejections_are_counted_by_reason(gw: GatewayServer, client: RoutingClient) -> None:
    before = scrape(gw)
    url = f"{gw.base_url}/chat/completions"
    body = {"model": "test/m1", "messages": [{"role": "user", "content": "hi"}]}
    assert httpx.post(url, json=body, headers={"Authorization": "Bearer nope"}
                      ).status_code == 401
    tiny = gw.new_key("tiny", limit=0.000001)
    assert httpx.post(url, json=body, headers={"Authorization": f"Bearer {tiny}"}
                      ).status_code == 402
    assert httpx.post(url, json={**body, "model": "no/such"}, headers=client.headers
                      ).status_code in (400, 404)
    after = scrape(gw)
    assert delta(before, after, "switchboard_rejections_total", reason="unauthorized",
                 status="401") == 1
    assert delta(before, after, "switchboard_rejections_total", reason="key_limit_exceeded",
                 status="402") == 1
    # an unknown model is a rejection too, and its name never becomes a label
    assert "no/such" not in after.text


def test_an_open_circuit_shows(gw: GatewayServer, client: RoutingClient,
                               upstream: MockUpstream) -> None:
    for _ in range(2):
        script(upstream, "a", fail(500))
        script(upstream, "b", ok())
        assert client.chat(provider=route("a", "b")).status_code == 200
    assert scrape(gw).value("switchboard_circuits_open") == 1
    time.sleep(1.1)
    script(upstream, "a", ok())
    assert client.chat(provider=route("a")).status_code == 200
    assert scrape(gw).value("switchboard_circuits_open") == 0


def test_labels_stay_bounded(gw: GatewayServer, client: RoutingClient) -> None:
    s = scrape(gw)
    label_names = {k for _, labels, _ in s.samples for k in labels}
    assert label_names <= {"endpoint", "model", "provider", "status", "outcome", "kind",
                           "reason", "le", "dependency", "component"}
    assert client.key not in s.text and client.key[:20] not in s.text


def test_the_token_opens_metrics_and_a_wrong_one_is_refused(gw: GatewayServer) -> None:
    url = f"http://127.0.0.1:{gw.port}/metrics"
    assert httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    wrong = httpx.get(url, headers={"Authorization": "Bearer guess"})
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == 401


def _remote(headers: list[tuple[bytes, bytes]] | None = None) -> Request:
    scope = {"type": "http", "method": "GET", "path": "/metrics", "headers": headers or [],
             "client": ("203.0.113.9", 40000)}

    async def receive() -> dict:
        return {"type": "http.request"}

    return Request(scope, receive)


def test_from_another_host_metrics_need_the_token() -> None:
    from switchboard.errors import GatewayError
    from switchboard.observability.metrics import Metrics

    observer = Observer(Metrics())
    with pytest.raises(GatewayError) as no_token:
        ops.metrics(_remote(), MetricsConf(), observer, None)
    assert no_token.value.status == 403
    with pytest.raises(GatewayError) as missing:
        ops.metrics(_remote(), MetricsConf(token=TOKEN), observer, None)
    assert missing.value.status == 401
    auth = [(b"authorization", f"Bearer {TOKEN}".encode())]
    assert ops.metrics(_remote(auth), MetricsConf(token=TOKEN), observer, None).status == 200


def test_metrics_can_be_switched_off(mock: MockUpstream, tmp_path) -> None:  # type: ignore[no-untyped-def]
    gw = ops_gateway(mock, tmp_path, metrics={"enabled": False})
    try:
        r = httpx.get(f"http://127.0.0.1:{gw.port}/metrics")
        assert r.status_code == 404 and "metrics" in r.json()["error"]["message"]
    finally:
        gw.stop()
