"""Fallback in streams end to end (SPEC §3): invisible before the first content chunk,
an SSE error event (and no [DONE]) after it or once keep-alives committed the status,
plain JSON with the real status when everything failed before anything was sent."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.routing_support import (
    USER,
    RoutingClient,
    Streamed,
    attempts,
    error_of,
    fail,
    reset_gateway,
    route,
    routing_gateway,
    script,
    stream_ok,
    wait_for,
)
from tests.support import GatewayServer, MockUpstream, Reply, openai_stream

KEEPALIVE = ": OPENROUTER PROCESSING"


@pytest.fixture(scope="module")
def gw(mock: MockUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayServer]:
    yield from routing_gateway(mock, tmp_path_factory.mktemp("routing-stream"))


@pytest.fixture()
def client(gw: GatewayServer, upstream: MockUpstream) -> RoutingClient:
    reset_gateway(gw)
    return RoutingClient(gw, gw.new_key())


def fast_keepalives(gw: GatewayServer) -> None:
    svc = gw.app.svc
    assert svc is not None
    svc.chat.keepalive_first_s, svc.chat.keepalive_every_s = 0.2, 0.2


def assert_clean_stream(s: Streamed, text: str, display: str, model: str = "test/m1") -> None:
    """A successful stream: only the serving provider's chunks, usage once, then [DONE]."""
    assert s.status == 200, s.text
    assert s.headers["content-type"].startswith("text/event-stream")
    assert s.content == text
    assert s.done and s.data[-1] == "[DONE]"
    chunks = s.chunks
    assert not any("error" in ch for ch in chunks)
    assert {ch["provider"] for ch in chunks} == {display}
    assert {ch["model"] for ch in chunks} == {model}
    assert len({ch["id"] for ch in chunks}) == 1 and chunks[0]["id"].startswith("gen-")
    roles = [c for ch in chunks for c in ch["choices"] if (c.get("delta") or {}).get("role")]
    assert len(roles) == 1  # nothing of a failed attempt leaked through
    assert sum(1 for ch in chunks if ch.get("usage")) == 1


def assert_error_event(s: Streamed, code: int) -> dict[str, Any]:
    """The stream ends with an SSE error chunk and no [DONE]."""
    assert s.status == 200
    assert s.headers["content-type"].startswith("text/event-stream")
    assert not s.done
    last = json.loads(s.data[-1])
    assert isinstance(last["error"]["code"], int) and last["error"]["code"] == code
    assert last["error"]["message"]
    assert last["error"]["metadata"]["error_type"]
    assert last["choices"][0]["finish_reason"] == "error"
    return last


# -- failures before the first content chunk: invisible ------------------------------


def test_503_before_the_stream_starts_is_invisible(
    client: RoutingClient, upstream: MockUpstream
) -> None:
    script(upstream, "a", fail(503))
    script(upstream, "b", stream_ok("Hel", "lo"))
    s = client.stream(provider=route("a", "b"))
    assert_clean_stream(s, "Hello", "Bee")
    assert s.headers["OpenRouter-Provider"] == "b"
    assert s.headers["OpenRouter-Model"] == "test/m1"
    assert attempts(upstream) == ["a", "b"]
    gen_id = s.chunks[0]["id"]
    assert s.headers["X-Generation-Id"] == gen_id
    assert client.responses(gen_id) == [("a", 503), ("b", 200)]
    assert client.generation(gen_id)["streamed"] is True


def test_cut_after_the_role_chunk_but_before_content_is_invisible(
    client: RoutingClient, upstream: MockUpstream
) -> None:
    script(upstream, "a", Reply(sse=openai_stream(["never seen"]), cut_after=1))
    script(upstream, "b", stream_ok("from ", "b"))
    s = client.stream(provider=route("a", "b"))
    assert_clean_stream(s, "from b", "Bee")
    assert attempts(upstream) == ["a", "b"]
    assert client.responses(s.chunks[0]["id"]) == [("a", 502), ("b", 200)]


@pytest.mark.parametrize(
    "first_event",
    [
        "{not json",
        {"error": {"code": 503, "message": "overloaded, try later"}},
    ],
    ids=["unparseable-chunk", "error-event"],
)
def test_bad_first_event_falls_back(
    client: RoutingClient, upstream: MockUpstream, first_event: Any
) -> None:
    script(upstream, "a", Reply(sse=[first_event, "[DONE]"]))
    script(upstream, "b", stream_ok("ok"))
    s = client.stream(provider=route("a", "b"))
    assert_clean_stream(s, "ok", "Bee")
    assert attempts(upstream) == ["a", "b"]


def test_unparseable_200_to_a_stream_request_falls_back(
    client: RoutingClient, upstream: MockUpstream
) -> None:
    script(upstream, "a", Reply(raw=b"not json"))
    script(upstream, "b", stream_ok("parsed"))
    s = client.stream(provider=route("a", "b"))
    assert attempts(upstream) == ["a", "b"]
    assert_clean_stream(s, "parsed", "Bee")


def test_timeout_before_the_first_byte_falls_back(
    client: RoutingClient, upstream: MockUpstream
) -> None:
    script(upstream, "a", Reply(sse=openai_stream(["late"]), delay_s=1.6))
    script(upstream, "b", stream_ok("on ", "time"))
    s = client.stream(provider=route("a", "b"))
    assert_clean_stream(s, "on time", "Bee")
    assert attempts(upstream) == ["a", "b"]
    assert client.responses(s.chunks[0]["id"]) == [("a", 408), ("b", 200)]


def test_fallback_behind_keepalives_is_invisible(
    gw: GatewayServer, client: RoutingClient, upstream: MockUpstream
) -> None:
    fast_keepalives(gw)
    # headers at once, then silence: the first-token timer runs out after 1 s
    script(upstream, "a", Reply(sse=openai_stream(["late"]), chunk_delay_s=1.6))
    script(upstream, "b", stream_ok("kept ", "alive"))
    s = client.stream(provider=route("a", "b"))
    assert_clean_stream(s, "kept alive", "Bee")
    assert s.events[0] == KEEPALIVE  # the status was committed before any provider answered
    assert len(s.comments) >= 2
    first_data = next(i for i, e in enumerate(s.events) if e.startswith("data: "))
    assert all(e == KEEPALIVE for e in s.events[:first_data])
    assert attempts(upstream) == ["a", "b"]
    assert client.responses(s.chunks[0]["id"]) == [("a", 408), ("b", 200)]


def test_models_fallback_in_a_stream_names_the_fallback_model(
    client: RoutingClient, upstream: MockUpstream
) -> None:
    script(upstream, "a", fail(503))
    script(upstream, "b", fail(503), fail(503), stream_ok("m2 ", "here"))
    s = client.stream(models=["test/m2"], provider=route("a", "b"))
    assert_clean_stream(s, "m2 here", "Bee", model="test/m2")
    assert s.headers["OpenRouter-Model"] == "test/m2"
    assert [h["body"]["model"] for h in upstream.requests] == ["m1-a", "m1-b", "m1-b", "m2-b"]


# -- failures once the stream has started ---------------------------------------------
# (with continuation turned off: tests/e2e/test_continuation.py covers it on)

NO_CONTINUATION = {**route("a", "b"), "continue_on_break": False}


def test_cut_after_content_ends_with_an_error_event_and_no_done(
    client: RoutingClient, upstream: MockUpstream
) -> None:
    script(upstream, "a", Reply(sse=openai_stream(["Hel", "lo", " world"]), cut_after=3))
    s = client.stream(provider=NO_CONTINUATION)
    assert s.content == "Hello"
    last = assert_error_event(s, 502)
    assert last["error"]["metadata"]["provider"] == "a"
    assert attempts(upstream) == ["a"]  # content reached the client: no fallback any more
    gen_id = s.chunks[0]["id"]
    assert last["id"] == gen_id
    gen = client.generation(gen_id)
    assert gen["finish_reason"] == "error"
    assert gen["provider"] == "a"
    assert gen["tokens_completion"] > 0  # charged for what was generated


def test_upstream_error_event_after_content_is_relayed_as_an_error_event(
    client: RoutingClient, upstream: MockUpstream
) -> None:
    events = openai_stream(["Hel", "lo"])[:3]  # role, "Hel", "lo"
    events.append({"error": {"message": "overloaded mid-answer", "code": 503}})
    script(upstream, "a", Reply(sse=events))
    s = client.stream(provider=NO_CONTINUATION)
    assert s.content == "Hello"
    last = assert_error_event(s, 502)
    assert last["error"]["message"] == "overloaded mid-answer"
    assert last["error"]["metadata"]["provider"] == "a"
    assert attempts(upstream) == ["a"]


def test_every_attempt_failing_quickly_is_plain_json_with_the_real_status(
    client: RoutingClient, upstream: MockUpstream
) -> None:
    script(upstream, "a", fail(503))
    script(upstream, "b", fail(503), fail(503))
    with httpx.stream(
        "POST",
        f"{client.gw.base_url}/chat/completions",
        headers=client.headers,
        json={"model": "test/m1", "messages": USER, "stream": True, "provider": route("a", "b")},
    ) as r:
        r.read()
    assert r.status_code == 502
    err = error_of(r)
    assert [a["provider"] for a in err["metadata"]["attempts"]] == ["a", "b", "b"]


def test_stream_400_is_plain_json_400(client: RoutingClient, upstream: MockUpstream) -> None:
    script(upstream, "a", fail(400, "bad stop sequence"))
    s = client.stream(provider=route("a", "b"))
    assert s.status == 400
    assert s.headers["content-type"].startswith("application/json")
    assert s.json()["error"]["code"] == 400
    assert attempts(upstream) == ["a"]


@pytest.mark.parametrize(("upstream_status", "code"), [(503, 502), (429, 429)])
def test_every_attempt_failing_behind_keepalives_is_an_sse_error_event(
    gw: GatewayServer,
    client: RoutingClient,
    upstream: MockUpstream,
    upstream_status: int,
    code: int,
) -> None:
    fast_keepalives(gw)
    slow = fail(upstream_status, "nope", delay_s=0.4)
    script(upstream, "a", slow)
    script(upstream, "b", slow, slow)
    s = client.stream(provider=route("a", "b"))
    assert s.events[0] == KEEPALIVE
    assert len(s.data) == 1  # nothing but the error
    last = assert_error_event(s, code)
    tried = ["a", "b", "b"] if upstream_status == 503 else ["a", "b"]
    assert attempts(upstream) == tried
    assert [a["provider"] for a in last["error"]["metadata"]["attempts"]] == tried
    gen_id = last["id"]
    assert s.headers["X-Generation-Id"] == gen_id
    assert client.responses(gen_id) == [(p, upstream_status) for p in tried]


# -- the client goes away -------------------------------------------------------------


def test_client_disconnect_mid_stream_cancels_the_upstream(
    client: RoutingClient, upstream: MockUpstream
) -> None:
    script(upstream, "a", Reply(sse=openai_stream(["tick "] * 60), chunk_delay_s=0.05))
    got = ""
    with httpx.stream(
        "POST",
        f"{client.gw.base_url}/chat/completions",
        headers=client.headers,
        json={"model": "test/m1", "messages": USER, "stream": True, "provider": route("a")},
    ) as r:
        gen_id = r.headers["X-Generation-Id"]
        for line in r.iter_lines():
            if line.startswith("data: ") and "tick" in line:
                got = line
                break
    assert got
    t0 = time.monotonic()
    hits = upstream.hits("/a/v1/")
    assert len(hits) == 1
    assert wait_for(lambda: hits[0]["disconnected"], 3.0), "the upstream kept streaming"
    assert time.monotonic() - t0 < 3.0

    def cancelled() -> bool:
        r = httpx.get(
            f"{client.gw.base_url}/generation", params={"id": gen_id}, headers=client.headers
        )
        return r.status_code == 200 and r.json()["data"]["cancelled"] is True

    assert wait_for(cancelled, 3.0)


def test_client_disconnect_behind_keepalives_cancels_the_pending_attempt(
    gw: GatewayServer, client: RoutingClient, upstream: MockUpstream
) -> None:
    fast_keepalives(gw)
    script(upstream, "a", Reply(sse=openai_stream(["never"]), stall_after=0))
    with httpx.stream(
        "POST",
        f"{client.gw.base_url}/chat/completions",
        headers=client.headers,
        json={"model": "test/m1", "messages": USER, "stream": True, "provider": route("a", "b")},
    ) as r:
        gen_id = r.headers["X-Generation-Id"]
        assert next(r.iter_lines()) == KEEPALIVE
    left = time.monotonic()
    hit = upstream.hits("/a/v1/")[0]
    # well before a's 1 s first-token timeout would have closed it and moved on to b
    assert wait_for(lambda: hit["disconnected"], 0.5), "the upstream call outlived the client"
    assert hit["disconnected_at"] - left < 0.5
    time.sleep(max(0.0, hit["time"] + 1.2 - time.monotonic()))
    assert attempts(upstream) == ["a"]
    gen = client.generation(gen_id)
    assert gen["cancelled"] is True and gen["total_cost"] == 0


def test_client_disconnect_before_the_first_keepalive_cancels_the_upstream(
    client: RoutingClient, upstream: MockUpstream
) -> None:
    script(upstream, "a", Reply(sse=openai_stream(["never"]), stall_after=0))
    with (
        pytest.raises(httpx.ReadTimeout),
        httpx.stream(
            "POST",
            f"{client.gw.base_url}/chat/completions",
            headers=client.headers,
            timeout=0.3,
            json={
                "model": "test/m1",
                "messages": USER,
                "stream": True,
                "provider": route("a", "b"),
            },
        ) as r,
    ):
        r.read()  # no headers yet: the gateway is still waiting for a (keep-alive after 2 s)
    left = time.monotonic()
    hit = upstream.hits("/a/v1/")[0]
    time.sleep(max(0.0, hit["time"] + 1.2 - time.monotonic()))
    assert attempts(upstream) == ["a"], "the next endpoint was called after the client left"
    assert hit["disconnected"] and hit["disconnected_at"] - left < 0.5


def test_idle_timeout_after_content_is_an_error_event(
    client: RoutingClient, upstream: MockUpstream
) -> None:
    script(upstream, "a", Reply(sse=openai_stream(["Hel", "lo"]), stall_after=2))
    s = client.stream(provider=NO_CONTINUATION)
    assert s.content == "Hel"
    last = assert_error_event(s, 408)
    assert last["error"]["metadata"]["error_type"] == "timeout"
    assert attempts(upstream) == ["a"]
    hit = upstream.hits("/a/v1/")[0]
    assert wait_for(lambda: hit["disconnected"], 1.0)  # the gateway hung up on the stall


def test_idle_timeout_before_content_falls_back(
    client: RoutingClient, upstream: MockUpstream
) -> None:
    script(upstream, "a", Reply(sse=openai_stream(["never"]), stall_after=1))  # role chunk only
    script(upstream, "b", stream_ok("b ", "instead"))
    s = client.stream(provider=route("a", "b"))
    assert_clean_stream(s, "b instead", "Bee")
    assert attempts(upstream) == ["a", "b"]
    assert client.responses(s.chunks[0]["id"]) == [("a", 408), ("b", 200)]
