"""The circuit breaker end to end: open after 2 straight failures, skipped for the 1 s
cooldown, then one probe that closes it again or re-opens it (SPEC §2 `circuit`)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from tests.e2e.routing_support import (
    RoutingClient,
    attempts,
    error_of,
    fail,
    reset_gateway,
    route,
    routing_config,
    routing_gateway,
    script,
    stream_ok,
    wait_for,
)
from tests.redis_guard import claim
from tests.support import GatewayServer, MockUpstream, Reply

COOLDOWN_S = 1.0
REDIS_URL = "redis://127.0.0.1:6379/12"


@pytest.fixture(scope="module")
def gw(mock: MockUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayServer]:
    yield from routing_gateway(mock, tmp_path_factory.mktemp("routing-circuit"))


@pytest.fixture()
def client(gw: GatewayServer, upstream: MockUpstream) -> RoutingClient:
    reset_gateway(gw)
    return RoutingClient(gw, gw.new_key())


def endpoint_status(gw: GatewayServer, provider: str) -> int:
    r = httpx.get(f"{gw.base_url}/models/test/m1/endpoints")
    eps = r.json()["data"]["endpoints"]
    return int(next(e["status"] for e in eps if e["provider_slug"] == provider))


def test_open_circuit_is_skipped_until_the_cooldown_then_probed(
    gw: GatewayServer, client: RoutingClient, upstream: MockUpstream
) -> None:
    script(upstream, "a", fail(503), fail(503))
    for _ in range(2):
        r = client.chat(provider=route("a", "b"))
        assert r.headers["OpenRouter-Provider"] == "b"
    opened = upstream.hits("/a/v1/")[-1]["time"]
    assert attempts(upstream) == ["a", "b", "a", "b"]
    assert endpoint_status(gw, "a") == -2

    upstream.reset()
    r = client.chat(provider=route("a", "b"))
    assert r.headers["OpenRouter-Provider"] == "b"
    assert attempts(upstream) == ["b"]  # a is skipped, not even tried
    r = client.chat(provider={"only": ["a"]})
    assert r.status_code == 503
    assert "circuit" in error_of(r)["message"]
    assert 1 <= int(r.headers["Retry-After"]) <= 1 + COOLDOWN_S
    assert attempts(upstream) == ["b"]
    assert time.monotonic() - opened < COOLDOWN_S, "too slow to observe the cooldown"

    time.sleep(max(0.0, opened + COOLDOWN_S + 0.1 - time.monotonic()))
    upstream.reset()
    script(upstream, "b", fail(503))
    r = client.chat(provider=route("a", "b"))
    assert r.headers["OpenRouter-Provider"] == "a"
    assert attempts(upstream) == ["b", "a"]  # the endpoint on probation goes last
    assert endpoint_status(gw, "a") != -2

    upstream.reset()
    r = client.chat(provider=route("a", "b"))
    assert r.headers["OpenRouter-Provider"] == "a"
    assert attempts(upstream) == ["a"]  # the probe succeeded: closed again


def test_failed_probe_reopens_at_once(client: RoutingClient, upstream: MockUpstream) -> None:
    script(upstream, "a", fail(503), fail(503))
    r = client.chat(provider=route("a"))
    assert r.status_code == 502
    assert attempts(upstream) == ["a", "a"]  # the retry was the second failure
    time.sleep(COOLDOWN_S + 0.1)

    upstream.reset()
    script(upstream, "a", fail(503), fail(503))
    r = client.chat(provider=route("a"))
    assert r.status_code == 502
    assert attempts(upstream) == ["a"]  # one probe; its failure re-opened the circuit
    r = client.chat(provider=route("a"))
    assert r.status_code == 503
    assert attempts(upstream) == ["a"]


def test_a_success_resets_the_failure_count(client: RoutingClient, upstream: MockUpstream) -> None:
    script(upstream, "a", fail(503))
    client.chat(provider=route("a", "b"))
    assert client.chat(provider=route("a")).status_code == 200
    script(upstream, "a", fail(503))
    client.chat(provider=route("a", "b"))
    upstream.reset()
    r = client.chat(provider=route("a", "b"))
    assert r.headers["OpenRouter-Provider"] == "a"
    assert attempts(upstream) == ["a"]


def test_the_requests_own_faults_do_not_open_the_circuit(
    client: RoutingClient, upstream: MockUpstream
) -> None:
    script(
        upstream,
        "a",
        fail(400, "bad"),
        fail(400, "bad"),
        fail(400, "flagged by our content policy"),
        fail(400, "bad"),
    )
    for _ in range(4):
        assert client.chat(provider=route("a", "b")).status_code in (400, 403)
    r = client.chat(provider=route("a", "b"))
    assert r.headers["OpenRouter-Provider"] == "a"
    assert attempts(upstream) == ["a"] * 5


def test_every_circuit_open_is_503_without_calling_anyone(
    client: RoutingClient, upstream: MockUpstream
) -> None:
    upstream.default = lambda path, body: fail(503)
    assert client.chat(provider=route("a", "b")).status_code == 502  # a once, b twice: b opens
    assert client.chat(provider=route("a", "b")).status_code == 502  # a again: a opens
    assert attempts(upstream) == ["a", "b", "b", "a"]
    r = client.chat(provider=route("a", "b"))
    assert r.status_code == 503
    err = error_of(r)
    assert err["metadata"]["error_type"] == "provider_unavailable"
    assert "Retry-After" in r.headers
    assert attempts(upstream) == ["a", "b", "b", "a"]


def streams(path: str, body: dict[str, Any]) -> Reply:
    return stream_ok()


# Regressions: a streamed success once never reached the health store, so streams neither
# reset the failure count nor closed a half-open circuit.
def test_a_streamed_success_resets_the_failure_count(
    client: RoutingClient, upstream: MockUpstream
) -> None:
    upstream.default = streams
    script(upstream, "a", fail(503))
    assert client.stream(provider=route("a", "b")).status == 200  # a: 1 failure
    assert client.stream(provider=route("a")).status == 200  # a: success
    script(upstream, "a", fail(503))
    assert client.stream(provider=route("a", "b")).status == 200  # a: 1 failure, not 2
    upstream.reset()
    upstream.default = streams
    s = client.stream(provider=route("a", "b"))
    assert s.headers["OpenRouter-Provider"] == "a"
    assert attempts(upstream) == ["a"]


def test_a_streamed_probe_closes_the_circuit(client: RoutingClient, upstream: MockUpstream) -> None:
    script(upstream, "a", fail(503), fail(503))
    assert client.stream(provider=route("a")).status == 502  # two failures: open
    time.sleep(COOLDOWN_S + 0.1)
    upstream.reset()
    upstream.default = streams
    s = client.stream(provider=route("a"))  # the probe
    assert s.status == 200 and s.done
    s = client.stream(provider=route("a", "b"))
    assert attempts(upstream) == ["a", "a"]
    assert s.headers["OpenRouter-Provider"] == "a"


@pytest.fixture()
def redis_db() -> Iterator[str]:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        claim(client, REDIS_URL)
    except redis.ConnectionError:
        pytest.skip("no Redis at 127.0.0.1:6379")
    yield REDIS_URL
    client.flushdb()
    client.close()


def test_circuit_is_shared_by_instances_through_redis(
    upstream: MockUpstream, tmp_path: Path, redis_db: str
) -> None:
    config = routing_config(upstream.url, cooldown_s=30)
    env = {"SWITCHBOARD_REDIS_URL": redis_db}
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    one = GatewayServer(config, tmp_path / "one", env=env)
    two = GatewayServer(config, tmp_path / "two", env=env)
    try:
        for gw in (one, two):
            gw.charge(10)
        c1, c2 = RoutingClient(one, one.new_key()), RoutingClient(two, two.new_key())
        script(upstream, "a", fail(503), fail(503))
        assert c1.chat(provider=route("a")).status_code == 502  # two failures: open
        assert attempts(upstream) == ["a", "a"]
        assert wait_for(lambda: endpoint_status(two, "a") == -2, 3.0)
        upstream.reset()
        r = c2.chat(provider=route("a", "b"))
        assert r.headers["OpenRouter-Provider"] == "b"
        assert attempts(upstream) == ["b"]
        assert c2.chat(provider=route("a")).status_code == 503
    finally:
        one.stop()
        two.stop()
