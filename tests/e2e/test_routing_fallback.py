"""Fallback, retries and final errors end to end (SPEC §3 "Retries and fallbacks").

Several OpenAI-wire mock providers fail on command; each test checks which of them the
gateway called and in what order, the answer (or error) the client got, and what
/generation recorded for every attempt.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.routing_support import (
    BACKOFF_MAX_S,
    BACKOFF_MIN_S,
    RoutingClient,
    attempt_statuses,
    attempts,
    bursts,
    error_of,
    fail,
    gaps,
    ok,
    reset_gateway,
    route,
    routing_gateway,
    script,
)
from tests.support import GatewayServer, MockUpstream, Reply

SLACK_S = 0.35  # scheduling noise allowed on top of an expected wait


@pytest.fixture(scope="module")
def gw(mock: MockUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayServer]:
    yield from routing_gateway(mock, tmp_path_factory.mktemp("routing-fallback"))


@pytest.fixture()
def client(gw: GatewayServer, upstream: MockUpstream) -> RoutingClient:
    reset_gateway(gw)
    return RoutingClient(gw, gw.new_key())


def served(r: Any, provider: str, display: str, model: str = "test/m1") -> dict[str, Any]:
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    assert r.headers["OpenRouter-Provider"] == provider
    assert r.headers["OpenRouter-Model"] == model
    assert body["provider"] == display
    assert body["model"] == model
    return body


# -- one endpoint fails, the next one serves ----------------------------------------------


def test_503_hands_over_to_the_next_endpoint_at_once_and_bills_the_one_that_served(
    client: RoutingClient, upstream: MockUpstream
) -> None:
    script(upstream, "a", fail(503))
    r = client.chat(provider=route("a", "b", "c"))
    body = served(r, "b", "Bee")
    assert attempts(upstream) == ["a", "b"]
    assert gaps(upstream)[0] < BACKOFF_MIN_S  # no backoff between different endpoints
    assert upstream.hits("/b/v1/")[0]["body"]["model"] == "m1-b"
    # 10 prompt × $2/M + 5 completion × $4/M at b's prices, not a's
    assert r.headers["OpenRouter-Provider-Cost"] == "0.00004"
    assert r.headers["OpenRouter-Cost"] == "0.000044"
    assert client.responses(body["id"]) == [("a", 503), ("b", 200)]
    gen = client.generation(body["id"])
    assert gen["provider"] == "b" and gen["provider_name"] == "Bee"


@pytest.mark.parametrize("status", [401, 402, 403, 408, 429, 500, 502, 504])
def test_failures_that_fall_back(
    client: RoutingClient, upstream: MockUpstream, status: int
) -> None:
    script(upstream, "a", fail(status))
    r = client.chat(provider=route("a", "b"))
    body = served(r, "b", "Bee")
    assert attempts(upstream) == ["a", "b"]
    assert client.responses(body["id"]) == [("a", status), ("b", 200)]


def test_timeout_before_the_first_byte_falls_back(
    client: RoutingClient, upstream: MockUpstream
) -> None:
    script(upstream, "a", Reply(delay_s=1.6, json={"late": True}))
    t0 = time.monotonic()
    r = client.chat(provider=route("a", "b"))
    body = served(r, "b", "Bee")
    assert attempts(upstream) == ["a", "b"]
    assert 0.95 <= gaps(upstream)[0] < 1.0 + SLACK_S  # first_token: 1 s
    assert time.monotonic() - t0 < 1.6  # the hung upstream was not waited for
    assert client.responses(body["id"]) == [("a", 408), ("b", 200)]


def test_connection_refused_falls_back(client: RoutingClient, upstream: MockUpstream) -> None:
    r = client.chat("test/dead", provider={"order": ["dead", "a"]})
    body = served(r, "a", "Ay", model="test/dead")
    assert attempts(upstream) == ["a"]
    assert client.responses(body["id"]) == [("dead", 502), ("a", 200)]


def test_unparseable_200_counts_as_502_and_falls_back(
    client: RoutingClient, upstream: MockUpstream
) -> None:
    script(upstream, "a", Reply(raw=b"not json"))
    r = client.chat(provider=route("a", "b"))
    body = served(r, "b", "Bee")
    assert attempts(upstream) == ["a", "b"]
    assert client.responses(body["id"]) == [("a", 502), ("b", 200)]


# -- the last endpoint of a model: retried once, never in a tight loop -------------------


def test_transient_failure_on_the_last_endpoint_is_retried_once_after_a_backoff(
    client: RoutingClient, upstream: MockUpstream
) -> None:
    script(upstream, "a", fail(503))
    script(upstream, "b", fail(502), ok("second time lucky"))
    r = client.chat(provider=route("a", "b"))
    body = served(r, "b", "Bee")
    assert body["choices"][0]["message"]["content"] == "second time lucky"
    assert attempts(upstream) == ["a", "b", "b"]
    a_to_b, b_to_b = gaps(upstream)
    assert a_to_b < BACKOFF_MIN_S
    assert BACKOFF_MIN_S - 0.02 <= b_to_b <= BACKOFF_MAX_S + SLACK_S
    assert client.responses(body["id"]) == [("a", 503), ("b", 502), ("b", 200)]


def test_every_endpoint_failing_gives_502_listing_every_attempt(
    client: RoutingClient, upstream: MockUpstream
) -> None:
    for p in "abc":
        script(upstream, p, *[fail(503, f"{p} is down")] * 3)
    r = client.chat(provider=route("a", "b", "c"))
    assert r.status_code == 502
    err = error_of(r)
    assert attempts(upstream) == ["a", "b", "c", "c"]  # the last one retried once, no more
    assert BACKOFF_MIN_S - 0.02 <= gaps(upstream)[-1] <= BACKOFF_MAX_S + SLACK_S
    assert [a["provider"] for a in err["metadata"]["attempts"]] == ["a", "b", "c", "c"]
    assert all(a["error_type"] and a["status"] for a in err["metadata"]["attempts"])
    assert err["metadata"]["provider"] == "c"
    assert err["metadata"]["provider_name"] == "Cee"
    assert err["metadata"]["error_type"] == "provider_unavailable"
    assert err["metadata"]["raw"] == {"error": {"message": "c is down", "type": "server_error"}}


def test_connection_reset_on_the_last_endpoint_is_retried_once_after_a_backoff(
    client: RoutingClient, upstream: MockUpstream
) -> None:
    first: list[float] = []

    def reset_then_ok(path: str, body: dict[str, Any]) -> Reply:
        now = time.monotonic()
        first.append(now)
        return Reply(reset=True) if now - first[0] < 0.1 else ok("after the reset")

    upstream.default = reset_then_ok
    r = client.chat(provider=route("a"))
    body = served(r, "a", "Ay")
    assert body["choices"][0]["message"]["content"] == "after the reset"
    groups = bursts(upstream.hits("/a/v1/"))
    assert len(groups) == 2  # the failed attempt, then one retry
    wait = groups[1][0]["time"] - groups[0][-1]["time"]
    assert BACKOFF_MIN_S - 0.02 <= wait <= BACKOFF_MAX_S + SLACK_S
    assert client.responses(body["id"]) == [("a", 502), ("a", 200)]


def test_resets_everywhere_give_502(client: RoutingClient, upstream: MockUpstream) -> None:
    upstream.default = lambda path, body: Reply(reset=True)
    r = client.chat(provider=route("a", "b"))
    assert r.status_code == 502
    err = error_of(r)
    assert [a["provider"] for a in err["metadata"]["attempts"]] == ["a", "b", "b"]
    assert len(bursts(upstream.hits("/a/v1/"))) == 1
    assert len(bursts(upstream.hits("/b/v1/"))) == 2


def test_429_retry_after_within_the_cap_is_waited_for_on_the_last_endpoint(
    client: RoutingClient, upstream: MockUpstream
) -> None:
    script(upstream, "a", fail(429, "slow down", headers={"Retry-After": "1"}), ok("waited"))
    r = client.chat(provider=route("a"))
    body = served(r, "a", "Ay")
    assert attempts(upstream) == ["a", "a"]
    assert 1.0 - 0.02 <= gaps(upstream)[0] <= 1.0 + SLACK_S
    assert client.responses(body["id"]) == [("a", 429), ("a", 200)]


def test_429_retry_after_zero_still_waits_the_backoff_floor(
    client: RoutingClient, upstream: MockUpstream
) -> None:
    script(upstream, "a", fail(429, headers={"Retry-After": "0"}), ok())
    r = client.chat(provider=route("a"))
    served(r, "a", "Ay")
    assert attempts(upstream) == ["a", "a"]
    assert gaps(upstream)[0] >= BACKOFF_MIN_S - 0.02


def test_429_retry_after_beyond_the_cap_is_not_waited_for(
    client: RoutingClient, upstream: MockUpstream
) -> None:
    script(upstream, "a", fail(429, "come back later", headers={"Retry-After": "5"}))
    t0 = time.monotonic()
    r = client.chat(provider=route("a"))
    assert time.monotonic() - t0 < 1.0
    assert r.status_code == 429
    err = error_of(r)
    assert r.headers["Retry-After"] == "5"
    assert attempts(upstream) == ["a"]
    assert attempt_statuses(err) == [("a", 429)]
    assert err["metadata"]["error_type"] == "rate_limit_exceeded"


def test_429_on_an_endpoint_that_is_not_the_last_hands_over_at_once(
    client: RoutingClient, upstream: MockUpstream
) -> None:
    script(upstream, "a", fail(429, headers={"Retry-After": "1"}))
    r = client.chat(provider=route("a", "b"))
    served(r, "b", "Bee")
    assert attempts(upstream) == ["a", "b"]
    assert gaps(upstream)[0] < BACKOFF_MIN_S


def test_the_last_failure_decides_the_final_status(
    client: RoutingClient, upstream: MockUpstream
) -> None:
    script(upstream, "a", fail(503))
    script(upstream, "b", fail(429, "busy"))  # no Retry-After: not retried
    r = client.chat(provider=route("a", "b"))
    assert r.status_code == 429
    assert "Retry-After" not in r.headers
    assert [a["provider"] for a in error_of(r)["metadata"]["attempts"]] == ["a", "b"]


def test_timeouts_everywhere_give_408(client: RoutingClient, upstream: MockUpstream) -> None:
    script(upstream, "a", Reply(delay_s=1.6, json={}))
    script(upstream, "b", Reply(delay_s=1.6, json={}))
    r = client.chat(provider=route("a", "b"))
    assert r.status_code == 408
    err = error_of(r)
    assert attempts(upstream) == ["a", "b"]  # a timeout is not retried on the same endpoint
    assert attempt_statuses(err) == [("a", 408), ("b", 408)]
    assert err["metadata"]["error_type"] == "timeout"


def test_unparseable_200_everywhere_is_502(client: RoutingClient, upstream: MockUpstream) -> None:
    script(upstream, "a", Reply(raw=b"not json"), Reply(raw=b"not json"))
    r = client.chat(provider=route("a"))
    assert r.status_code == 502
    assert attempt_statuses(error_of(r)) == [("a", 502)]


# -- the request's own fault and refusals ----------------------------------------------


def test_400_is_not_tried_on_another_endpoint(
    client: RoutingClient, upstream: MockUpstream
) -> None:
    script(upstream, "a", fail(400, "temperature out of range"))
    r = client.chat(provider=route("a", "b"))
    assert r.status_code == 400
    err = error_of(r)
    assert attempts(upstream) == ["a"]
    assert err["message"] == "temperature out of range"
    assert attempt_statuses(err) == [("a", 400)]


def test_400_moves_on_to_the_models_fallback(client: RoutingClient, upstream: MockUpstream) -> None:
    script(upstream, "a", fail(400, "this model cannot do that"))
    r = client.chat(models=["test/m2"], provider={"order": ["a", "b"]})
    body = served(r, "b", "Bee", model="test/m2")
    assert attempts(upstream) == ["a", "b"]
    assert [h["body"]["model"] for h in upstream.requests] == ["m1-a", "m2-b"]
    assert client.responses(body["id"]) == [("a", 400), ("b", 200)]


@pytest.mark.parametrize("status", [400, 403])
def test_content_policy_refusal_is_returned_not_routed_around(
    client: RoutingClient, upstream: MockUpstream, status: int
) -> None:
    raw_message = "Your request was rejected by our content policy."
    script(upstream, "a", fail(status, raw_message))
    r = client.chat(models=["test/m2"], provider={"order": ["a", "b", "c"]})
    assert r.status_code == 403
    err = error_of(r)
    assert attempts(upstream) == ["a"]
    assert err["metadata"]["error_type"] == "content_policy"
    assert err["metadata"]["provider"] == "a"
    assert err["metadata"]["raw"]["error"]["message"] == raw_message


# -- the `models` fallback list ---------------------------------------------------------


def test_models_fallback_after_every_endpoint_failed_and_retry_after_was_honoured(
    client: RoutingClient, upstream: MockUpstream
) -> None:
    script(upstream, "a", fail(503))
    # c is m1's last endpoint: its 429 is waited for, then m2 (served by c too) takes over
    script(upstream, "c", fail(429, headers={"Retry-After": "1"}), fail(429), ok("from m2"))
    r = client.chat(models=["test/m2"], provider=route("a", "c"))
    body = served(r, "c", "Cee", model="test/m2")
    assert body["choices"][0]["message"]["content"] == "from m2"
    assert [(h["path"].split("/")[1], h["body"]["model"]) for h in upstream.requests] == [
        ("a", "m1-a"),
        ("c", "m1-c"),
        ("c", "m1-c"),
        ("c", "m2-c"),
    ]
    _, wait, to_m2 = gaps(upstream)
    assert 1.0 - 0.02 <= wait <= 1.0 + SLACK_S
    assert to_m2 < BACKOFF_MIN_S
    assert client.responses(body["id"]) == [("a", 503), ("c", 429), ("c", 429), ("c", 200)]
    gen = client.generation(body["id"])
    assert gen["model"] == "test/m2"
    assert [p["model_permaslug"] for p in gen["provider_responses"]] == [
        "test/m1",
        "test/m1",
        "test/m1",
        "test/m2",
    ]


def test_models_fallback_that_fails_too_lists_both_models_attempts(
    client: RoutingClient, upstream: MockUpstream
) -> None:
    upstream.default = lambda path, body: fail(500)
    r = client.chat(models=["test/m2"], provider=route("b"))
    assert r.status_code == 502
    err = error_of(r)
    assert [(a["provider"], a.get("model")) for a in err["metadata"]["attempts"]] == [
        ("b", "test/m1"),
        ("b", "test/m1"),
        ("b", "test/m2"),
        ("b", "test/m2"),
    ]
    assert [h["body"]["model"] for h in upstream.requests] == ["m1-b", "m1-b", "m2-b", "m2-b"]


def test_empty_models_list_means_no_fallback(client: RoutingClient, upstream: MockUpstream) -> None:
    script(upstream, "a", fail(400, "nope"))
    r = client.chat(models=[], provider=route("a"))
    assert r.status_code == 400
    assert attempts(upstream) == ["a"]
