"""Anthropic Messages behind the gateway, end to end with the openai SDK.

The mock speaks Anthropic's wire format; each test checks what the client got and what
reached the mock (URL, x-api-key, the Messages body).
"""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest

from tests.e2e.dialect_support import (
    IMAGE_MESSAGE,
    IMAGE_URL,
    PERSON_FORMAT,
    PERSON_SCHEMA,
    PNG_DATA,
    PROVIDERS,
    WEATHER_TOOL,
    Client,
    assistant_turn,
    complete,
    expected_cost,
    fixed_model,
    only_hit,
    sse_bytes,
    sse_data,
    stream,
)
from tests.support import MockUpstream, Reply

MODEL = fixed_model("anthropic")
PREFIX = PROVIDERS["anthropic"].prefix
UPSTREAM = PROVIDERS["anthropic"].model


def message(content: list[dict[str, Any]], stop: str = "end_turn", prompt: int = 12,
            completion: int = 4, cache_read: int = 0) -> dict[str, Any]:
    return {"id": "msg_e2e", "type": "message", "role": "assistant", "model": UPSTREAM,
            "content": content, "stop_reason": stop, "stop_sequence": None,
            "usage": {"input_tokens": prompt, "output_tokens": completion,
                      "cache_read_input_tokens": cache_read, "cache_creation_input_tokens": 0}}


def text_stream(pieces: list[str], prompt: int = 9, completion: int = 3) -> bytes:
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": {**message([], prompt=prompt, completion=1),
                                              "stop_reason": None}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "ping"},
        *({"type": "content_block_delta", "index": 0,
           "delta": {"type": "text_delta", "text": p}} for p in pieces),
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
         "usage": {"output_tokens": completion}},
        {"type": "message_stop"},
    ]
    return sse_bytes(events, named=True)


def test_plain_request_url_auth_and_body(gw_client: Client, upstream: MockUpstream) -> None:
    upstream.script(PREFIX, Reply(json=message([{"type": "text", "text": "Hello there"}],
                                               prompt=20, completion=3, cache_read=8)))
    got = complete(gw_client, MODEL, {
        "messages": [{"role": "system", "content": "Be brief."},
                     {"role": "user", "content": "Hi"}],
        "max_tokens": 100, "temperature": 0.5, "stop": ["END"]})
    assert (got.text, got.finish, got.native) == ("Hello there", "stop", "end_turn")
    assert got.usage["prompt_tokens"] == 28  # 20 uncached + 8 read from the cache
    assert got.usage["prompt_tokens_details"]["cached_tokens"] == 8
    assert got.usage["cost"] == expected_cost(
        {"prompt_tokens": 28, "cached_tokens": 8, "completion_tokens": 3})
    assert got.headers["openrouter-provider"] == "anthropic"
    path, headers, sent = only_hit(upstream, PREFIX)
    assert path == "/anth/v1/messages"
    assert headers["x-api-key"] == PROVIDERS["anthropic"].api_key
    assert headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in headers
    assert sent == {"model": UPSTREAM, "max_tokens": 100, "system": "Be brief.",
                    "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
                    "temperature": 0.5, "stop_sequences": ["END"]}


def test_stream_concatenates_and_ends_with_usage_then_done(
    gw_client: Client, upstream: MockUpstream
) -> None:
    upstream.script(PREFIX, Reply(sse=[text_stream(["Hel", "lo, ", "wor", "ld"])]))
    got = stream(gw_client, MODEL, {"messages": [{"role": "user", "content": "Hi"}]})
    assert got.text == "Hello, world"
    assert (got.finish, got.native) == ("stop", "end_turn")
    assert (got.usage["prompt_tokens"], got.usage["completion_tokens"]) == (9, 3)
    assert got.usage["cost"] > 0
    _, _, sent = only_hit(upstream, PREFIX)
    assert sent["stream"] is True and sent["max_tokens"] > 0


def test_tool_call_and_result_across_two_turns(gw_client: Client, upstream: MockUpstream) -> None:
    upstream.script(PREFIX, Reply(json=message([
        {"type": "text", "text": "Let me check."},
        {"type": "tool_use", "id": "toolu_01A", "name": "get_weather",
         "input": {"city": "Paris"}},
    ], stop="tool_use")))
    first = [{"role": "user", "content": "Weather in Paris?"}]
    turn1 = complete(gw_client, MODEL, {"messages": first, "tools": [WEATHER_TOOL],
                                        "tool_choice": "auto"})
    assert turn1.tool_calls == [("toolu_01A", "get_weather", {"city": "Paris"})]
    assert (turn1.text, turn1.finish, turn1.native) == ("Let me check.", "tool_calls", "tool_use")
    _, _, sent1 = only_hit(upstream, PREFIX)
    assert sent1["tools"] == [{"name": "get_weather", "description": "Current weather in a city.",
                               "input_schema": WEATHER_TOOL["function"]["parameters"]}]
    assert sent1["tool_choice"] == {"type": "auto"}

    upstream.reset()
    upstream.script(PREFIX, Reply(sse=[text_stream(["Sunny, ", "21 °C."])]))
    second = [*first, assistant_turn(turn1),
              {"role": "tool", "tool_call_id": "toolu_01A", "content": "sunny, 21C"}]
    turn2 = stream(gw_client, MODEL, {"messages": second, "tools": [WEATHER_TOOL]})
    assert turn2.text == "Sunny, 21 °C."
    _, _, sent2 = only_hit(upstream, PREFIX)
    assert sent2["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Weather in Paris?"}]},
        {"role": "assistant", "content": [
            {"type": "text", "text": "Let me check."},
            {"type": "tool_use", "id": "toolu_01A", "name": "get_weather",
             "input": {"city": "Paris"}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_01A", "content": "sunny, 21C"}]},
    ]


def test_images_from_data_uri_and_url(gw_client: Client, upstream: MockUpstream) -> None:
    upstream.script(PREFIX, Reply(json=message([{"type": "text", "text": "A dot and a bird."}])))
    got = complete(gw_client, MODEL, {"messages": [IMAGE_MESSAGE]})
    assert got.text == "A dot and a bird."
    _, _, sent = only_hit(upstream, PREFIX)
    assert sent["messages"] == [{"role": "user", "content": [
        {"type": "text", "text": "What are these?"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                     "data": PNG_DATA}},
        {"type": "image", "source": {"type": "url", "url": IMAGE_URL}},
    ]}]


def forced_answer(_path: str, body: dict[str, Any]) -> Reply:
    """Anthropic honouring a forced tool: it answers by calling it, streamed when asked."""
    name = body["tool_choice"]["name"]
    answer = {"name": "Ada", "age": 36}
    if not body.get("stream"):
        return Reply(json=message([{"type": "tool_use", "id": "toolu_j", "name": name,
                                    "input": answer}], stop="tool_use"))
    raw = json.dumps(answer)
    return Reply(sse=[sse_bytes([
        {"type": "message_start", "message": {**message([]), "stop_reason": None}},
        {"type": "content_block_start", "index": 0, "content_block": {
            "type": "tool_use", "id": "toolu_j", "name": name, "input": {}}},
        *({"type": "content_block_delta", "index": 0,
           "delta": {"type": "input_json_delta", "partial_json": raw[i:i + 7]}}
          for i in range(0, len(raw), 7)),
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "tool_use"},
         "usage": {"output_tokens": 9}},
        {"type": "message_stop"},
    ], named=True)])


@pytest.mark.parametrize("streamed", [False, True], ids=["plain", "stream"])
def test_json_schema_is_a_forced_tool_whose_input_is_the_answer(
    streamed: bool, gw_client: Client, upstream: MockUpstream
) -> None:
    upstream.default = forced_answer
    got = (stream if streamed else complete)(gw_client, MODEL, {
        "messages": [{"role": "user", "content": "Who?"}], "response_format": PERSON_FORMAT})
    assert json.loads(got.text) == {"name": "Ada", "age": 36}
    assert (got.tool_calls, got.finish, got.native) == ([], "stop", "tool_use")
    _, _, sent = only_hit(upstream, PREFIX)
    (tool,) = sent["tools"]
    assert sent["tool_choice"] == {"type": "tool", "name": tool["name"]}
    assert "person" in tool["name"] and tool["input_schema"] == PERSON_SCHEMA


def test_error_event_after_content_ends_the_stream_with_an_error_chunk(
    gw_client: Client, upstream: MockUpstream
) -> None:
    body = text_stream(["Partial ", "answer"])
    cut = body.index(b"event: content_block_stop")
    overloaded = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    upstream.script(PREFIX, Reply(sse=[body[:cut], sse_bytes([overloaded], named=True)]))
    chunks = []
    with pytest.raises(openai.APIError) as info:
        for chunk in gw_client.sdk.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": "Hi"}], stream=True):
            chunks.append(chunk)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "Partial answer"
    assert b"[DONE]" not in gw_client.raw
    last = json.loads(sse_data(gw_client.raw)[-1])
    assert last["choices"][0]["finish_reason"] == "error"
    error = last["error"]
    assert info.value.body == error
    assert error["code"] == 503 and error["metadata"]["error_type"] == "provider_overloaded"
    assert error["metadata"]["provider"] == "anthropic"
    assert error["metadata"]["raw"] == overloaded
