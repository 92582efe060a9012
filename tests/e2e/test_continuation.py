"""A stream that breaks half-way is continued on another endpoint (issue 14, SPEC §3).

Providers as in routing_support (OpenAI wire format on the mock); `b` declares
`supports_prefill: true`, `c` does not, so `b` continues from an assistant prefix and `c`
restarts the answer, which is used only if it repeats exactly what was sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from tests.e2e.routing_support import (
    RoutingClient,
    Streamed,
    attempts,
    reset_gateway,
    route,
    routing_config,
    script,
)
from tests.support import GatewayServer, MockUpstream, Reply, openai_stream


@pytest.fixture(scope="module")
def gw(mock: MockUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayServer]:
    conf = yaml.safe_load(routing_config(mock.url))
    for model in conf["models"]:
        for ep in model["endpoints"]:
            if ep["provider"] == "b":
                ep["supports_prefill"] = True
    gateway = GatewayServer(yaml.safe_dump(conf), tmp_path_factory.mktemp("continuation"))
    gateway.charge(100)
    yield gateway
    gateway.stop()


@pytest.fixture()
def client(gw: GatewayServer, upstream: MockUpstream) -> RoutingClient:
    reset_gateway(gw)
    return RoutingClient(gw, gw.new_key())


def cut(pieces: list[str], after: int, **kw: Any) -> Reply:
    """A stream cut after `after` events (the role chunk counts as one)."""
    return Reply(sse=openai_stream(pieces, **kw), cut_after=after)


def whole(s: Streamed, text: str) -> dict[str, Any]:
    """One clean answer: the exact text, one id, usage once, [DONE], no error."""
    assert s.status == 200, s.text
    assert s.content == text
    assert s.done and s.data[-1] == "[DONE]"
    assert not any("error" in ch for ch in s.chunks)
    assert len({ch["id"] for ch in s.chunks}) == 1
    usages = [ch for ch in s.chunks if ch.get("usage")]
    assert len(usages) == 1 and "usage" in s.chunks[-1]
    finishes = [c["finish_reason"] for ch in s.chunks for c in ch["choices"]
                if c.get("finish_reason")]
    assert finishes == ["stop"]
    return usages[0]["usage"]


def last_request(upstream: MockUpstream, provider: str) -> dict[str, Any]:
    body: dict[str, Any] = upstream.hits(f"/{provider}/v1/")[-1]["body"]
    return body


def test_a_cut_stream_is_continued_from_a_prefill(
    client: RoutingClient, upstream: MockUpstream
) -> None:
    script(upstream, "a", cut(["Hel", "lo", " wor", "ld"], after=3))
    script(upstream, "b", Reply(sse=openai_stream([" wor", "ld."], prompt=12, completion=3)))
    s = client.stream(provider=route("a", "b"))
    usage = whole(s, "Hello world.")
    assert attempts(upstream) == ["a", "b"]
    sent = last_request(upstream, "b")["messages"]
    assert sent[-1] == {"role": "assistant", "content": "Hello", "prefix": True}
    gen = client.generation(s.chunks[0]["id"])
    responses = gen["provider_responses"]
    assert [(r["provider"], r["status"]) for r in responses] == [("a", 200), ("b", 200)]
    assert responses[1]["tokens_completion"] == 3
    assert responses[0]["tokens_completion"] > 0  # a is charged for what it produced
    # one usage block: the parts' tokens and costs summed, and what the ledger charged
    assert usage["completion_tokens"] == responses[0]["tokens_completion"] + 3
    assert gen["total_cost"] == pytest.approx(usage["cost"])
    assert gen["provider"] == "b"


def test_a_target_without_prefill_restarts_and_only_the_rest_is_sent(
    client: RoutingClient, upstream: MockUpstream
) -> None:
    script(upstream, "a", cut(["Hel", "lo", " world"], after=3))
    script(upstream, "c", Reply(sse=openai_stream(["He", "llo wo", "rld"])))
    s = client.stream(provider=route("a", "c"))
    whole(s, "Hello world")
    assert attempts(upstream) == ["a", "c"]
    assert last_request(upstream, "c")["messages"][-1]["role"] == "user"


def test_a_restart_that_diverges_ends_with_the_original_error(
    client: RoutingClient, upstream: MockUpstream
) -> None:
    script(upstream, "a", cut(["Hel", "lo", " world"], after=3))
    script(upstream, "c", Reply(sse=openai_stream(["Good", "bye"])))
    s = client.stream(provider=route("a", "c"))
    assert s.content == "Hello"
    assert not s.done
    last = s.chunks[-1]
    assert last["error"]["code"] == 502
    assert last["error"]["metadata"]["provider"] == "a"  # the original cause
    assert last["choices"][0]["finish_reason"] == "error"


def test_a_refused_prefill_is_restarted_without_it(
    client: RoutingClient, upstream: MockUpstream
) -> None:
    script(upstream, "a", cut(["Hel", "lo", " world"], after=3))
    refusal = Reply(status=400, json={"error": {"message": "prefix not supported"}})
    script(upstream, "b", refusal, Reply(sse=openai_stream(["Hello", " world"])))
    s = client.stream(provider=route("a", "b"))
    whole(s, "Hello world")
    bodies = [h["body"] for h in upstream.hits("/b/v1/")]
    assert bodies[0]["messages"][-1]["role"] == "assistant"
    assert bodies[1]["messages"][-1]["role"] == "user"


def test_a_refused_prefill_never_masks_the_real_failure(
    client: RoutingClient, upstream: MockUpstream
) -> None:
    script(upstream, "a", cut(["Hel", "lo", " world"], after=3))
    refusal = Reply(status=400, json={"error": {"message": "prefix not supported"}})
    script(upstream, "b", refusal, Reply(sse=openai_stream(["Other", " text"])))
    s = client.stream(provider=route("a", "b"))
    last = s.chunks[-1]
    assert last["error"]["metadata"]["provider"] == "a"
    assert "prefix" not in last["error"]["message"]


def test_a_stream_that_ends_without_a_finish_reason_is_continued(
    client: RoutingClient, upstream: MockUpstream
) -> None:
    events = [e for e in openai_stream(["Hel", "lo"]) if not (
        isinstance(e, dict) and e["choices"] and e["choices"][0]["finish_reason"])]
    script(upstream, "a", Reply(sse=events))
    script(upstream, "b", Reply(sse=openai_stream([" there"])))
    s = client.stream(provider=route("a", "b"))
    whole(s, "Hello there")


def test_an_idle_stall_is_continued(client: RoutingClient, upstream: MockUpstream) -> None:
    script(upstream, "a", Reply(sse=openai_stream(["Hel", "lo", " x"]), stall_after=3))
    script(upstream, "b", Reply(sse=openai_stream([" world"])))
    s = client.stream(provider=route("a", "b"))
    whole(s, "Hello world")


def test_an_error_event_mid_stream_is_continued(
    client: RoutingClient, upstream: MockUpstream
) -> None:
    events = openai_stream(["Hel", "lo"])[:3]
    events.append({"error": {"message": "overloaded mid-answer", "code": 503}})
    script(upstream, "a", Reply(sse=events))
    script(upstream, "b", Reply(sse=openai_stream(["!"])))
    s = client.stream(provider=route("a", "b"))
    whole(s, "Hello!")


def test_one_malformed_event_is_skipped_not_fatal(
    client: RoutingClient, upstream: MockUpstream
) -> None:
    events = openai_stream(["Hel", "lo", " world"])
    events.insert(2, "{not json")
    script(upstream, "a", Reply(sse=events))
    s = client.stream(provider=route("a", "b"))
    whole(s, "Hello world")
    assert attempts(upstream) == ["a"]


def _tool_stream(args: list[str]) -> list[Any]:
    base = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    calls = [{"index": 0, "id": "call_1", "type": "function",
              "function": {"name": "weather", "arguments": ""}}]
    events: list[Any] = [{**base, "choices": [{"index": 0, "delta": {
        "role": "assistant", "tool_calls": calls}, "finish_reason": None}]}]
    for a in args:
        events.append({**base, "choices": [{"index": 0, "delta": {"tool_calls": [
            {"index": 0, "function": {"arguments": a}}]}, "finish_reason": None}]})
    events.append({**base, "choices": [{"index": 0, "delta": {},
                                        "finish_reason": "tool_calls"}]})
    events.append({**base, "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 7,
                                                    "total_tokens": 12}})
    return events


def test_a_break_inside_tool_arguments_restarts_the_call_whole(
    client: RoutingClient, upstream: MockUpstream
) -> None:
    script(upstream, "a", Reply(sse=_tool_stream(['{"ci', 'ty": "Par', 'is"}']), cut_after=3))
    script(upstream, "b", Reply(sse=_tool_stream(['{"city": ', '"Paris"}'])))
    s = client.stream(provider=route("a", "b"))
    assert s.done
    calls = [tc for ch in s.chunks for c in ch["choices"]
             for tc in (c.get("delta") or {}).get("tool_calls") or ()]
    assert calls == [{"index": 0, "id": "call_1", "type": "function",
                      "function": {"name": "weather", "arguments": '{"city": "Paris"}'}}]
    assert last_request(upstream, "b")["messages"][-1]["role"] == "user"  # restarted


def test_continuation_can_be_turned_off(client: RoutingClient, upstream: MockUpstream) -> None:
    script(upstream, "a", cut(["Hel", "lo", " world"], after=3))
    s = client.stream(provider={**route("a", "b"), "continue_on_break": False})
    assert s.content == "Hello"
    assert s.chunks[-1]["error"]["code"] == 502
    assert attempts(upstream) == ["a"]
