"""Gemini (AI Studio) and Gemini on Vertex behind the gateway, end to end with the openai SDK.

The mock speaks Gemini's REST format; each test checks what the client got and what reached
the mock (URL, x-goog-api-key or the Vertex bearer token, the generateContent body).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.e2e.dialect_support import (
    IMAGE_MESSAGE,
    IMAGE_URL,
    PERSON_FORMAT,
    PNG_DATA,
    PROVIDERS,
    WEATHER_TOOL,
    Client,
    assistant_turn,
    complete,
    expected_cost,
    fixed_model,
    only_hit,
    split_bytes,
    stream,
)
from tests.support import MockUpstream, Reply

GEMINI, VERTEX = PROVIDERS["gemini"], PROVIDERS["vertex"]
VERTEX_PATH = "/vtx/v1/projects/p/locations/us-central1/publishers/google/models/"


def answer(parts: list[dict[str, Any]], finish: str | None = "STOP", prompt: int = 11,
           completion: int = 5, thoughts: int = 0) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    usage = {"promptTokenCount": prompt, "candidatesTokenCount": completion,
             "totalTokenCount": prompt + completion + thoughts}
    if thoughts:
        usage["thoughtsTokenCount"] = thoughts
    return {"candidates": [candidate], "usageMetadata": usage,
            "modelVersion": GEMINI.model, "responseId": "resp-e2e"}


def sse(frames: list[dict[str, Any]]) -> bytes:
    return b"".join(b"data: " + json.dumps(f).encode() + b"\r\n\r\n" for f in frames)


def text_frames(pieces: list[str]) -> list[dict[str, Any]]:
    frames = [answer([{"text": p}], finish=None, completion=i + 1) for i, p in enumerate(pieces)]
    frames[-1]["candidates"][0]["finishReason"] = "STOP"
    return frames


@pytest.mark.parametrize("provider", ["gemini", "vertex"])
def test_plain_request_url_auth_and_body(
    provider: str, gw_client: Client, upstream: MockUpstream
) -> None:
    p = PROVIDERS[provider]
    upstream.script(p.prefix, Reply(json=answer(
        [{"text": "Thinking...", "thought": True}, {"text": "Hello there"}],
        prompt=20, completion=3, thoughts=7)))
    got = complete(gw_client, fixed_model(provider), {
        "messages": [{"role": "system", "content": "Be brief."},
                     {"role": "user", "content": "Hi"}],
        "max_tokens": 100, "temperature": 0.5})
    assert (got.text, got.reasoning) == ("Hello there", "Thinking...")
    assert (got.finish, got.native) == ("stop", "STOP")
    assert (got.usage["prompt_tokens"], got.usage["completion_tokens"]) == (20, 10)
    assert got.usage["completion_tokens_details"]["reasoning_tokens"] == 7
    assert got.usage["cost"] == expected_cost({"prompt_tokens": 20, "completion_tokens": 10})
    path, headers, sent = only_hit(upstream, p.prefix)
    if provider == "gemini":
        assert path == f"/gem/v1beta/models/{p.model}:generateContent"
        assert headers["x-goog-api-key"] == p.api_key and "authorization" not in headers
    else:
        assert path == f"{VERTEX_PATH}{p.model}:generateContent"
        assert headers["authorization"] == f"Bearer {p.api_key}"
        assert "x-goog-api-key" not in headers
    assert sent == {"contents": [{"role": "user", "parts": [{"text": "Hi"}]}],
                    "systemInstruction": {"parts": [{"text": "Be brief."}]},
                    "generationConfig": {"temperature": 0.5, "maxOutputTokens": 100}}


@pytest.mark.parametrize("provider", ["gemini", "vertex"])
def test_stream_concatenates_and_ends_with_usage_then_done(
    provider: str, gw_client: Client, upstream: MockUpstream
) -> None:
    p = PROVIDERS[provider]
    upstream.script(p.prefix, Reply(sse=split_bytes(sse(text_frames(["Hel", "lo, ", "world"])))))
    got = stream(gw_client, fixed_model(provider),
                 {"messages": [{"role": "user", "content": "Hi"}]})
    assert got.text == "Hello, world"
    assert (got.finish, got.native) == ("stop", "STOP")
    assert (got.usage["prompt_tokens"], got.usage["completion_tokens"]) == (11, 3)
    path, headers, _ = only_hit(upstream, p.prefix)
    method = "streamGenerateContent?alt=sse"
    if provider == "gemini":
        assert path == f"/gem/v1beta/models/{p.model}:{method}"
    else:
        assert path == f"{VERTEX_PATH}{p.model}:{method}"
        assert headers["authorization"] == f"Bearer {p.api_key}"


def test_tool_call_and_result_across_two_turns(gw_client: Client, upstream: MockUpstream) -> None:
    model = fixed_model("gemini")
    # Gemini 3 signs its calls and refuses a replayed call without the signature
    call = {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
            "thoughtSignature": "c2lnLWUyZQ=="}
    upstream.script(GEMINI.prefix, Reply(sse=[sse([answer([call])])]))
    first = [{"role": "user", "content": "Weather in Paris?"}]
    turn1 = stream(gw_client, model, {"messages": first, "tools": [WEATHER_TOOL],
                                      "tool_choice": "auto"})
    ((call_id, name, args),) = turn1.tool_calls
    assert (name, args, turn1.finish) == ("get_weather", {"city": "Paris"}, "tool_calls")
    _, _, sent1 = only_hit(upstream, GEMINI.prefix)
    assert sent1["tools"] == [{"functionDeclarations": [{
        "name": "get_weather", "description": "Current weather in a city.",
        "parameters": {"type": "OBJECT", "properties": {"city": {"type": "STRING"}},
                       "required": ["city"]}}]}]
    assert sent1["toolConfig"] == {"functionCallingConfig": {"mode": "AUTO"}}

    # the signature reached the client with the call, in reasoning_details
    details = [d for c in turn1.chunks for ch in c.choices
               for d in (ch.delta.model_extra or {}).get("reasoning_details") or []]
    assert [(d["data"], d["id"]) for d in details] == [("c2lnLWUyZQ==", call_id)]
    assistant = {**assistant_turn(turn1), "reasoning_details": details}

    upstream.reset()
    upstream.script(GEMINI.prefix, Reply(json=answer([{"text": "Sunny, 21 °C."}])))
    second = [*first, assistant,
              {"role": "tool", "tool_call_id": call_id, "content": '{"sky": "sunny", "c": 21}'}]
    turn2 = complete(gw_client, model, {"messages": second, "tools": [WEATHER_TOOL]})
    assert turn2.text == "Sunny, 21 °C."
    _, _, sent2 = only_hit(upstream, GEMINI.prefix)
    assert sent2["contents"] == [
        {"role": "user", "parts": [{"text": "Weather in Paris?"}]},
        {"role": "model", "parts": [call]},
        {"role": "user", "parts": [{"functionResponse": {
            "name": "get_weather", "response": {"sky": "sunny", "c": 21}}}]},
    ]


def test_images_from_data_uri_and_url(gw_client: Client, upstream: MockUpstream) -> None:
    upstream.script(GEMINI.prefix, Reply(json=answer([{"text": "A dot and a bird."}])))
    got = complete(gw_client, fixed_model("gemini"), {"messages": [IMAGE_MESSAGE]})
    assert got.text == "A dot and a bird."
    _, _, sent = only_hit(upstream, GEMINI.prefix)
    assert sent["contents"] == [{"role": "user", "parts": [
        {"text": "What are these?"},
        {"inlineData": {"mimeType": "image/png", "data": PNG_DATA}},
        {"fileData": {"mimeType": "image/jpeg", "fileUri": IMAGE_URL}},
    ]}]


def test_json_schema_becomes_a_response_schema(gw_client: Client, upstream: MockUpstream) -> None:
    upstream.script(GEMINI.prefix, Reply(json=answer([{"text": '{"name": "Ada", "age": 36}'}])))
    got = complete(gw_client, fixed_model("gemini"), {
        "messages": [{"role": "user", "content": "Who?"}], "response_format": PERSON_FORMAT})
    assert json.loads(got.text) == {"name": "Ada", "age": 36}
    _, _, sent = only_hit(upstream, GEMINI.prefix)
    assert sent["generationConfig"] == {"responseMimeType": "application/json", "responseSchema": {
        "type": "OBJECT", "properties": {"name": {"type": "STRING"}, "age": {"type": "INTEGER"}},
        "required": ["name", "age"]}}
