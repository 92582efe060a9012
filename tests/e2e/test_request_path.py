"""The request path's own guarantees (issue 9/15): deadlines that mean what they say, our bugs
never counted against a provider, holds that bound what is charged."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from tests.e2e.routing_support import (
    RoutingClient,
    attempts,
    error_of,
    reset_gateway,
    route,
    routing_config,
    script,
)
from tests.e2e.test_routing_fallback import served
from tests.support import GatewayServer, MockUpstream, Reply, openai_completion, openai_stream


@pytest.fixture(scope="module")
def gw(mock: MockUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayServer]:
    conf = yaml.safe_load(routing_config(mock.url))
    for p in conf["providers"]:
        if p["name"] == "a":  # a slow answerer: first_token 1 s, but 5 s for a whole answer
            p["timeouts"] = {"connect": 1, "first_token": 1, "idle": 1, "total": 5}
    gateway = GatewayServer(yaml.safe_dump(conf), tmp_path_factory.mktemp("request-path"))
    gateway.charge(100)
    yield gateway
    gateway.stop()


@pytest.fixture()
def client(gw: GatewayServer, upstream: MockUpstream) -> RoutingClient:
    reset_gateway(gw)
    return RoutingClient(gw, gw.new_key())


def test_a_slow_non_streaming_answer_arrives_whole_and_is_billed_once(
    client: RoutingClient, upstream: MockUpstream
) -> None:
    # longer than first_token (1 s), within the total deadline (5 s): no 408, no fallback
    script(upstream, "a", Reply(delay_s=2.0, json=openai_completion("long answer", 10, 900)))
    r = client.chat(provider=route("a", "b"))
    body = served(r, "a", "Ay")
    assert body["choices"][0]["message"]["content"] == "long answer"
    assert attempts(upstream) == ["a"]
    assert client.responses(body["id"]) == [("a", 200)]
    gen = client.generation(body["id"])
    assert gen["tokens_completion"] == 900


def test_keepalive_comments_do_not_extend_the_first_token_deadline(
    client: RoutingClient, upstream: MockUpstream
) -> None:
    # `a` pings every 0.25 s for 4 s and never sends content: first_token (1 s) must fire
    pings = Reply(sse=[": ping"] * 16 + openai_stream(["late"]), chunk_delay_s=0.25)
    script(upstream, "a", pings)
    script(upstream, "b", Reply(sse=openai_stream(["from b"])))
    t0 = time.monotonic()
    s = client.stream(provider=route("a", "b"))
    assert s.status == 200
    assert s.content == "from b"
    assert time.monotonic() - t0 < 3.0


def test_a_stream_without_a_finish_reason_is_not_presented_as_complete(
    client: RoutingClient, upstream: MockUpstream
) -> None:
    events = [e for e in openai_stream(["half an ans"])
              if not (isinstance(e, dict) and e["choices"] and e["choices"][0]["finish_reason"])]
    script(upstream, "a", Reply(sse=[e for e in events if e != "[DONE]"]))
    s = client.stream(provider=route("a"))
    assert s.status == 200
    assert not s.done
    last = s.chunks[-1]
    assert last["error"]["metadata"]["error_type"] == "provider_unavailable"
    assert last["choices"][0]["finish_reason"] == "error"


class _Broken:
    """A dialect whose request building hits a bug of ours."""

    def __init__(self, real: Any) -> None:
        self._real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def build_request(self, *args: Any, **kwargs: Any) -> Any:
        raise KeyError("a bug of ours")


def test_our_own_bug_is_a_500_that_never_opens_a_providers_circuit(
    gw: GatewayServer, client: RoutingClient, upstream: MockUpstream,
    caplog: pytest.LogCaptureFixture,
) -> None:
    svc = gw.app.svc
    assert svc is not None
    dialects = svc.executor.dialects
    real = dialects.get("openai")
    dialects._cache["openai"] = _Broken(real)
    try:
        with caplog.at_level(logging.ERROR, logger="switchboard.executor"):
            for _ in range(4):  # the circuit opens after 2 provider failures
                r = client.chat(provider=route("a"))
                assert r.status_code == 500, r.text
                assert error_of(r)["metadata"].get("error_type") == "internal_error"
                assert "upstream" not in error_of(r)["message"]
        assert any("internal error" in rec.getMessage() for rec in caplog.records)
    finally:
        dialects._cache["openai"] = real
    script(upstream, "a", Reply(json=openai_completion("fine")))
    r = client.chat(provider=route("a"))
    served(r, "a", "Ay")  # still healthy: never a 503


def test_usage_beyond_the_request_cap_is_clamped_not_charged(
    client: RoutingClient, upstream: MockUpstream
) -> None:
    script(upstream, "a", Reply(json=openai_completion("x", 10**16, 1_000_000)))
    r = client.chat(provider=route("a"), max_tokens=10)
    body = served(r, "a", "Ay")
    assert body["usage"]["completion_tokens"] == 10
    assert body["usage"]["prompt_tokens"] <= 128000  # never past the endpoint's context
    # a: $1/M prompt, $2/M completion, +10 %: bounded however absurd the upstream's numbers
    assert body["usage"]["cost"] <= (128000 * 1 + 10 * 2) / 1e6 * 1.1 + 1e-12


def test_a_stream_that_ignores_max_tokens_is_stopped_at_the_held_budget(
    client: RoutingClient, upstream: MockUpstream
) -> None:
    words = ["word " * 20] * 200  # ~5,000 tokens against max_tokens 10
    script(upstream, "a", Reply(sse=openai_stream(words, completion=5000)))
    s = client.stream(provider=route("a"), max_tokens=10)
    assert s.status == 200
    assert s.done
    assert len(s.content) < 1000
    usage = s.chunks[-1]["usage"]
    assert usage["completion_tokens"] <= 10


def test_a_client_that_leaves_leaves_no_error_log(
    client: RoutingClient, upstream: MockUpstream, caplog: pytest.LogCaptureFixture
) -> None:
    import httpx

    script(upstream, "a", Reply(sse=openai_stream(["never"]), stall_after=0))
    with caplog.at_level(logging.WARNING):
        with (
            pytest.raises(httpx.ReadTimeout),
            httpx.stream("POST", f"{client.gw.base_url}/chat/completions",
                         headers=client.headers, timeout=0.3,
                         json={"model": "test/m1", "stream": True, "provider": route("a"),
                               "messages": [{"role": "user", "content": "hi"}]}) as r,
        ):
            r.read()
        time.sleep(1.0)  # the gateway notices the disconnect and winds the request down
    errors = [rec for rec in caplog.records if rec.levelno >= logging.ERROR]
    assert errors == [], [rec.getMessage() for rec in errors]
