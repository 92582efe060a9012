"""Cohere v2 chat behind the gateway, end to end with the openai SDK.

The mock speaks Cohere's v2 wire format (typed SSE events when streaming); each test checks
what the client got and what reached the mock (URL, bearer key, the v2 chat body). The
recordings hold no Cohere stream, so the streams here are written after Cohere's docs.
"""

from __future__ import annotations

import json
from typing import Any

from tests.e2e.dialect_support import (
    IMAGE_MESSAGE,
    PERSON_FORMAT,
    PERSON_SCHEMA,
    PROVIDERS,
    WEATHER_TOOL,
    Client,
    assistant_turn,
    complete,
    expected_cost,
    fixed_model,
    only_hit,
    split_bytes,
    sse_bytes,
    stream,
)
from tests.support import MockUpstream, Reply

MODEL = fixed_model("cohere")
COHERE = PROVIDERS["cohere"]


def usage(prompt: int, completion: int, cached: int = 0) -> dict[str, Any]:
    return {"billed_units": {"input_tokens": prompt, "output_tokens": completion},
            "tokens": {"input_tokens": prompt, "output_tokens": completion},
            "cached_tokens": cached}


def answer(message: dict[str, Any], finish: str = "COMPLETE", prompt: int = 7,
           completion: int = 3, cached: int = 0) -> dict[str, Any]:
    return {"id": "co-e2e", "finish_reason": finish,
            "message": {"role": "assistant", **message},
            "usage": usage(prompt, completion, cached)}


def text(value: str) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": value}]}


def events(*middle: dict[str, Any], finish: str = "COMPLETE") -> bytes:
    start = {"type": "message-start", "id": "co-stream", "delta": {"message": {
        "role": "assistant", "content": [], "tool_plan": "", "tool_calls": [], "citations": []}}}
    end = {"type": "message-end", "delta": {"finish_reason": finish, "usage": usage(5, 4)}}
    return sse_bytes([start, *middle, end], named=True)


def content_events(pieces: list[str]) -> list[dict[str, Any]]:
    return [{"type": "content-start", "index": 0,
             "delta": {"message": {"content": {"type": "text", "text": ""}}}},
            *({"type": "content-delta", "index": 0,
               "delta": {"message": {"content": {"text": p}}}} for p in pieces),
            {"type": "content-end", "index": 0}]


def test_plain_request_url_auth_and_body(gw_client: Client, upstream: MockUpstream) -> None:
    upstream.script(COHERE.prefix, Reply(json=answer(text("Hello there"), prompt=30,
                                                     completion=3, cached=10)))
    got = complete(gw_client, MODEL, {
        "messages": [{"role": "system", "content": "Be brief."},
                     {"role": "user", "content": "Hi"}],
        "max_tokens": 100, "temperature": 0.5, "top_p": 0.9, "stop": "END"})
    assert (got.text, got.finish, got.native) == ("Hello there", "stop", "COMPLETE")
    assert (got.usage["prompt_tokens"], got.usage["completion_tokens"]) == (30, 3)
    assert got.usage["prompt_tokens_details"]["cached_tokens"] == 10
    assert got.usage["cost"] == expected_cost(
        {"prompt_tokens": 30, "cached_tokens": 10, "completion_tokens": 3})
    path, headers, sent = only_hit(upstream, COHERE.prefix)
    assert path == "/coh/v2/chat"
    assert headers["authorization"] == f"Bearer {COHERE.api_key}"
    assert sent == {"model": COHERE.model,
                    "messages": [{"role": "system", "content": "Be brief."},
                                 {"role": "user", "content": "Hi"}],
                    "temperature": 0.5, "p": 0.9, "max_tokens": 100,
                    "stop_sequences": ["END"], "stream": False}


def test_stream_concatenates_and_ends_with_usage_then_done(
    gw_client: Client, upstream: MockUpstream
) -> None:
    body = events(*content_events(["Hel", "lo, ", "world"]))
    upstream.script(COHERE.prefix, Reply(sse=split_bytes(body, 41)))
    got = stream(gw_client, MODEL, {"messages": [{"role": "user", "content": "Hi"}]})
    assert got.text == "Hello, world"
    assert (got.finish, got.native) == ("stop", "COMPLETE")
    assert (got.usage["prompt_tokens"], got.usage["completion_tokens"]) == (5, 4)
    _, headers, sent = only_hit(upstream, COHERE.prefix)
    assert sent["stream"] is True and headers["accept"] == "text/event-stream"


def test_streamed_tool_call_and_result_across_two_turns(
    gw_client: Client, upstream: MockUpstream
) -> None:
    call_id = "get_weather_x1y2"
    body = events(
        {"type": "tool-plan-delta", "delta": {"message": {"tool_plan": "I will look it up."}}},
        {"type": "tool-call-start", "index": 0, "delta": {"message": {"tool_calls": {
            "id": call_id, "type": "function",
            "function": {"name": "get_weather", "arguments": ""}}}}},
        *({"type": "tool-call-delta", "index": 0,
           "delta": {"message": {"tool_calls": {"function": {"arguments": piece}}}}}
          for piece in ('{"ci', 'ty": "Pa', 'ris"}')),
        {"type": "tool-call-end", "index": 0},
        finish="TOOL_CALL")
    upstream.script(COHERE.prefix, Reply(sse=split_bytes(body, 53)))
    first = [{"role": "user", "content": "Weather in Paris?"}]
    turn1 = stream(gw_client, MODEL, {"messages": first, "tools": [WEATHER_TOOL],
                                      "tool_choice": "required"})
    assert turn1.tool_calls == [(call_id, "get_weather", {"city": "Paris"})]
    assert (turn1.finish, turn1.native, turn1.reasoning) == (
        "tool_calls", "TOOL_CALL", "I will look it up.")
    _, _, sent1 = only_hit(upstream, COHERE.prefix)
    assert sent1["tools"] == [WEATHER_TOOL] and sent1["tool_choice"] == "REQUIRED"

    upstream.reset()
    upstream.script(COHERE.prefix, Reply(json=answer(text("Sunny, 21 °C."))))
    second = [*first, assistant_turn(turn1),
              {"role": "tool", "tool_call_id": call_id, "content": "sunny, 21C"}]
    turn2 = complete(gw_client, MODEL, {"messages": second, "tools": [WEATHER_TOOL]})
    assert turn2.text == "Sunny, 21 °C."
    _, _, sent2 = only_hit(upstream, COHERE.prefix)
    assert sent2["messages"] == [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "tool_calls": [{"id": call_id, "type": "function", "function": {
            "name": "get_weather", "arguments": json.dumps({"city": "Paris"})}}]},
        {"role": "tool", "tool_call_id": call_id, "content": "sunny, 21C"},
    ]


def test_images_from_data_uri_and_url(gw_client: Client, upstream: MockUpstream) -> None:
    upstream.script(COHERE.prefix, Reply(json=answer(text("A dot and a bird."))))
    got = complete(gw_client, MODEL, {"messages": [IMAGE_MESSAGE]})
    assert got.text == "A dot and a bird."
    _, _, sent = only_hit(upstream, COHERE.prefix)
    assert sent["messages"] == [{"role": "user", "content": [
        {"type": "text", "text": "What are these?"},
        *({"type": "image_url", "image_url": {"url": p["image_url"]["url"]}}
          for p in IMAGE_MESSAGE["content"][1:]),
    ]}]


def test_json_schema_becomes_a_json_object_format(
    gw_client: Client, upstream: MockUpstream
) -> None:
    upstream.script(COHERE.prefix, Reply(json=answer(text('{"name": "Ada", "age": 36}'))))
    got = complete(gw_client, MODEL, {"messages": [{"role": "user", "content": "Who?"}],
                                      "response_format": PERSON_FORMAT})
    assert json.loads(got.text) == {"name": "Ada", "age": 36}
    _, _, sent = only_hit(upstream, COHERE.prefix)
    assert sent["response_format"] == {"type": "json_object", "json_schema": PERSON_SCHEMA}
