"""POST /messages through the anthropic SDK: plain, streamed, tools, thinking, errors, to an
Anthropic upstream (signatures and cache_control intact) and translated to other dialects."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import pytest

from tests.e2e.dialect_support import (
    PNG_DATA,
    PROVIDERS,
    expected_cost,
    fixed_model,
    only_hit,
    sse_bytes,
)
from tests.e2e.test_dialects_cross import gemini_answer
from tests.e2e.test_openrouter_contract import openapi, schema_for, validate
from tests.support import GatewayServer, MockUpstream, Reply, openai_completion, openai_stream

OPENAI, ANTHROPIC, GEMINI = PROVIDERS["openai"], PROVIDERS["anthropic"], PROVIDERS["gemini"]
WEATHER = {"name": "get_weather", "description": "Weather in a city.",
           "input_schema": {"type": "object", "properties": {"city": {"type": "string"}},
                            "required": ["city"]}}


@pytest.fixture()
def claude(dialect_gw: GatewayServer, dialect_key: str,
           upstream: MockUpstream) -> Iterator[anthropic.Anthropic]:
    """The anthropic SDK as Claude Code configures it: base URL and x-api-key."""
    base = dialect_gw.base_url.removesuffix("/v1")  # the SDK appends /v1/messages
    client = anthropic.Anthropic(base_url=base, api_key=dialect_key, max_retries=0, timeout=30)
    yield client
    client.close()


def anthropic_message(content: list[dict[str, Any]], stop: str = "end_turn", prompt: int = 12,
                      completion: int = 4, read: int = 0, write: int = 0) -> dict[str, Any]:
    return {"id": "msg_up", "type": "message", "role": "assistant", "model": ANTHROPIC.model,
            "content": content, "stop_reason": stop, "stop_sequence": None,
            "usage": {"input_tokens": prompt, "output_tokens": completion,
                      "cache_read_input_tokens": read, "cache_creation_input_tokens": write}}


def validate_stream_event(name: str, data: dict[str, Any]) -> None:
    schemas = openapi()["components"]["schemas"]
    mapping = schemas["MessagesStreamEvents"].get("discriminator", {}).get("mapping", {})
    if data["type"] in mapping:
        validate(data, schema_for(mapping[data["type"]].rsplit("/", 1)[-1]))
    assert name == data["type"]


def test_plain_to_anthropic_keeps_cache_control_and_bills_cache(
        claude: anthropic.Anthropic, upstream: MockUpstream, dialect_gw: GatewayServer,
        dialect_key: str) -> None:
    upstream.script(ANTHROPIC.prefix, Reply(json=anthropic_message(
        [{"type": "text", "text": "Hello!"}], prompt=10, completion=4, read=100, write=20)))
    raw = claude.messages.with_raw_response.create(
        model=fixed_model("anthropic"), max_tokens=100,
        system=[{"type": "text", "text": "Long instructions.",
                 "cache_control": {"type": "ephemeral"}}],
        messages=[{"role": "user", "content": "Hi"}],
        extra_headers={"anthropic-version": "2023-06-01"})
    msg = raw.parse()
    assert msg.content[0].type == "text" and msg.content[0].text == "Hello!"
    assert msg.stop_reason == "end_turn" and msg.id.startswith("gen-")
    assert msg.usage.input_tokens == 10 and msg.usage.cache_read_input_tokens == 100
    assert msg.usage.cache_creation_input_tokens == 20
    body = raw.http_response.json()
    validate(body, schema_for("MessagesResult"))
    cost = expected_cost({"prompt_tokens": 130, "completion_tokens": 4, "cached_tokens": 100,
                          "cache_write_tokens": 20})
    assert body["usage"]["cost"] == pytest.approx(cost, abs=1e-15)
    _, headers, sent = only_hit(upstream, ANTHROPIC.prefix)
    assert headers["x-api-key"] == ANTHROPIC.api_key  # the provider's key, not the caller's
    assert sent["system"] == [{"type": "text", "text": "Long instructions.",
                               "cache_control": {"type": "ephemeral"}}]
    assert sent["max_tokens"] == 100
    r = httpx.get(f"{dialect_gw.base_url}/generation", params={"id": msg.id},
                  headers={"Authorization": f"Bearer {dialect_key}"})
    assert r.json()["data"]["total_cost"] == body["usage"]["cost"]


def test_thinking_signature_survives_a_round_trip(claude: anthropic.Anthropic,
                                                  upstream: MockUpstream) -> None:
    thought = {"type": "thinking", "thinking": "Paris is in France.", "signature": "sig-123"}
    upstream.script(ANTHROPIC.prefix, Reply(json=anthropic_message(
        [thought, {"type": "tool_use", "id": "toolu_9", "name": "get_weather",
                   "input": {"city": "Paris"}}], "tool_use")))
    first = claude.messages.create(
        model=fixed_model("anthropic"), max_tokens=2000, tools=[WEATHER],
        thinking={"type": "enabled", "budget_tokens": 1024},
        messages=[{"role": "user", "content": "Weather in Paris?"}])
    assert [b.type for b in first.content] == ["thinking", "tool_use"]
    assert first.content[0].signature == "sig-123"  # type: ignore[union-attr]
    assert first.stop_reason == "tool_use"
    _, _, sent = only_hit(upstream, ANTHROPIC.prefix)
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 1024}
    upstream.reset()
    upstream.script(ANTHROPIC.prefix, Reply(json=anthropic_message(
        [{"type": "text", "text": "Sunny."}])))
    second = claude.messages.create(
        model=fixed_model("anthropic"), max_tokens=2000, tools=[WEATHER],
        thinking={"type": "enabled", "budget_tokens": 1024},
        messages=[{"role": "user", "content": "Weather in Paris?"},
                  {"role": "assistant", "content": [b.model_dump() for b in first.content]},
                  {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_9",
                                                "content": "22C"}]}])
    assert second.content[0].text == "Sunny."  # type: ignore[union-attr]
    _, _, sent = only_hit(upstream, ANTHROPIC.prefix)
    replayed = sent["messages"][1]["content"]
    assert replayed[0] == {"type": "thinking", "thinking": "Paris is in France.",
                           "signature": "sig-123"}
    assert replayed[1]["type"] == "tool_use" and replayed[1]["id"] == "toolu_9"
    assert sent["messages"][2]["content"][0]["tool_use_id"] == "toolu_9"


def test_streamed_to_openai_reads_as_anthropic_events(claude: anthropic.Anthropic,
                                                      upstream: MockUpstream) -> None:
    upstream.script(OPENAI.prefix, Reply(sse=openai_stream(["Hel", "lo"], 8, 2)))
    with claude.messages.stream(model=fixed_model("openai"), max_tokens=50,
                                messages=[{"role": "user", "content": "hi"}]) as s:
        text = "".join(s.text_stream)
        final = s.get_final_message()
    assert text == "Hello" and final.content[0].text == "Hello"  # type: ignore[union-attr]
    assert final.usage.input_tokens == 8 and final.usage.output_tokens == 2
    assert final.stop_reason == "end_turn"
    _, _, sent = only_hit(upstream, OPENAI.prefix)
    assert sent["messages"] == [{"role": "user", "content": "hi"}] and sent["max_tokens"] == 50


def test_raw_stream_event_sequence(dialect_gw: GatewayServer, dialect_key: str,
                                   upstream: MockUpstream) -> None:
    upstream.script(OPENAI.prefix, Reply(sse=openai_stream(["a", "b"])))
    r = httpx.post(f"{dialect_gw.base_url}/messages", timeout=30,
                   headers={"x-api-key": dialect_key, "anthropic-version": "2023-06-01"},
                   json={"model": fixed_model("openai"), "max_tokens": 20, "stream": True,
                         "messages": [{"role": "user", "content": "x"}]})
    assert r.headers["content-type"].startswith("text/event-stream")
    events = []
    for frame in r.text.split("\n\n"):
        lines = dict(ln.split(": ", 1) for ln in frame.splitlines() if ": " in ln)
        if "event" in lines:
            events.append((lines["event"], json.loads(lines["data"])))
    names = [n for n, _ in events if n != "ping"]
    assert names == ["message_start", "content_block_start", "content_block_delta",
                     "content_block_delta", "content_block_stop", "message_delta",
                     "message_stop"]
    for name, data in events:
        validate_stream_event(name, data)


def test_tools_translated_to_gemini_streamed(claude: anthropic.Anthropic,
                                             upstream: MockUpstream) -> None:
    frames = [gemini_answer([{"functionCall": {"name": "get_weather",
                                               "args": {"city": "Oslo"}}}])]
    upstream.script(GEMINI.prefix, Reply(sse=[sse_bytes(frames)]))
    with claude.messages.stream(model=fixed_model("gemini"), max_tokens=50, tools=[WEATHER],
                                tool_choice={"type": "any"},
                                messages=[{"role": "user", "content": "Oslo?"}]) as s:
        final = s.get_final_message()
    (block,) = final.content
    assert block.type == "tool_use" and block.name == "get_weather"
    assert block.input == {"city": "Oslo"}
    assert final.stop_reason == "tool_use"
    _, _, sent = only_hit(upstream, GEMINI.prefix)
    assert sent["toolConfig"]["functionCallingConfig"]["mode"] == "ANY"


def test_image_to_openai(claude: anthropic.Anthropic, upstream: MockUpstream) -> None:
    upstream.script(OPENAI.prefix, Reply(json=openai_completion("A pixel.")))
    msg = claude.messages.create(model=fixed_model("openai"), max_tokens=30, messages=[
        {"role": "user", "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                         "data": PNG_DATA}},
            {"type": "text", "text": "What is it?"}]}])
    assert msg.content[0].text == "A pixel."  # type: ignore[union-attr]
    _, _, sent = only_hit(upstream, OPENAI.prefix)
    assert sent["messages"][0]["content"][0] == {
        "type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_DATA}"}}


def test_errors_in_anthropic_shape(claude: anthropic.Anthropic, dialect_gw: GatewayServer,
                                   upstream: MockUpstream) -> None:
    bad = anthropic.Anthropic(base_url=dialect_gw.base_url.removesuffix("/v1"),
                              api_key="sk-wrong", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as auth:
        bad.messages.create(model=fixed_model("openai"), max_tokens=5,
                            messages=[{"role": "user", "content": "x"}])
    assert auth.value.body["error"]["type"] == "authentication_error"  # type: ignore[index]
    with pytest.raises(anthropic.NotFoundError):
        claude.messages.create(model="nobody/nothing", max_tokens=5,
                               messages=[{"role": "user", "content": "x"}])
    with pytest.raises(anthropic.BadRequestError) as err:
        claude.messages.create(model=fixed_model("openai"), max_tokens=5, messages=[])
    validate(err.value.body, schema_for("AnthropicMessagesErrorResponse"))
    upstream.script(OPENAI.prefix, Reply(status=503, json={"error": {"message": "down"}}),
                    Reply(status=503, json={"error": {"message": "down"}}))
    with pytest.raises(anthropic.APIStatusError) as down:
        claude.messages.create(model=fixed_model("openai"), max_tokens=5,
                               messages=[{"role": "user", "content": "x"}])
    assert down.value.status_code == 502
    assert down.value.body["type"] == "error"  # type: ignore[index]


def test_bearer_auth_works_too(dialect_gw: GatewayServer, dialect_key: str,
                               upstream: MockUpstream) -> None:
    upstream.script(OPENAI.prefix, Reply(json=openai_completion("ok")))
    r = httpx.post(f"{dialect_gw.base_url}/messages", timeout=30,
                   headers={"Authorization": f"Bearer {dialect_key}"},
                   json={"model": fixed_model("openai"), "max_tokens": 5,
                         "messages": [{"role": "user", "content": "x"}]})
    assert r.status_code == 200 and r.json()["content"][0]["text"] == "ok"


def test_published_request_schema_accepts_what_we_send() -> None:
    validate({"model": "m", "max_tokens": 10, "system": "s", "tools": [WEATHER],
              "thinking": {"type": "enabled", "budget_tokens": 1024},
              "messages": [{"role": "user", "content": "x"}]}, schema_for("MessagesRequest"))


def test_streamed_thinking_keeps_its_signature(claude: anthropic.Anthropic,
                                               upstream: MockUpstream) -> None:
    start = {**anthropic_message([], prompt=9, completion=1), "stop_reason": None}
    native = [
        {"type": "message_start", "message": start},
        {"type": "content_block_start", "index": 0,
         "content_block": {"type": "thinking", "thinking": "", "signature": ""}},
        {"type": "content_block_delta", "index": 0,
         "delta": {"type": "thinking_delta", "thinking": "Hmm."}},
        {"type": "content_block_delta", "index": 0,
         "delta": {"type": "signature_delta", "signature": "sig-abc"}},
        {"type": "content_block_stop", "index": 0},
        {"type": "content_block_start", "index": 1,
         "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta",
                                                             "text": "Four."}},
        {"type": "content_block_stop", "index": 1},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
         "usage": {"output_tokens": 7}},
        {"type": "message_stop"},
    ]
    upstream.script(ANTHROPIC.prefix, Reply(sse=[sse_bytes(native, named=True)]))
    with claude.messages.stream(model=fixed_model("anthropic"), max_tokens=2000,
                                thinking={"type": "enabled", "budget_tokens": 1024},
                                messages=[{"role": "user", "content": "2+2?"}]) as s:
        final = s.get_final_message()
    thinking, text = final.content
    assert thinking.type == "thinking" and thinking.thinking == "Hmm."
    assert thinking.signature == "sig-abc"
    assert text.type == "text" and text.text == "Four."
    assert final.usage.output_tokens == 7 and final.usage.input_tokens == 9


def test_claude_code_model_names_find_their_catalog_model(claude: anthropic.Anthropic,
                                                          upstream: MockUpstream) -> None:
    upstream.script(ANTHROPIC.prefix, Reply(json=anthropic_message(
        [{"type": "text", "text": "hi"}])))
    msg = claude.messages.create(model=f"{ANTHROPIC.model}-20250929", max_tokens=5,
                                 messages=[{"role": "user", "content": "x"}])
    assert msg.model == fixed_model("anthropic")
    _, _, sent = only_hit(upstream, ANTHROPIC.prefix)
    assert sent["model"] == ANTHROPIC.model


def test_a_stream_cut_after_content_ends_with_an_error_event(
        claude: anthropic.Anthropic, upstream: MockUpstream) -> None:
    upstream.script(OPENAI.prefix, Reply(sse=openai_stream(["Hel", "lo", "!"]), cut_after=3))
    seen: list[str] = []
    with pytest.raises(anthropic.APIStatusError), claude.messages.stream(
            model=fixed_model("openai"), max_tokens=20,
            messages=[{"role": "user", "content": "hi"}]) as s:
        for event in s:
            seen.append(event.type)
    assert "content_block_delta" in seen and "message_stop" not in seen
