"""Azure OpenAI behind the gateway, end to end with the openai SDK.

The body is OpenAI's; what differs is the deployment URL with api-version, the api-key header,
Azure's extra stream chunks (prompt_filter_results) and its content-filter errors.
"""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest

from tests.e2e.dialect_support import (
    IMAGE_MESSAGE,
    PERSON_FORMAT,
    PROVIDERS,
    WEATHER_TOOL,
    Client,
    assistant_turn,
    complete,
    expected_cost,
    fixed_model,
    only_hit,
    stream,
)
from tests.support import MockUpstream, Reply, openai_completion

MODEL = fixed_model("azure")
AZURE = PROVIDERS["azure"]
PATH = f"/az/openai/deployments/{AZURE.model}/chat/completions?api-version=2024-10-21"
FILTERS = {"hate": {"filtered": False, "severity": "safe"},
           "violence": {"filtered": False, "severity": "safe"}}


def completion(text: str | None = "Hello there", **extra: Any) -> dict[str, Any]:
    body = openai_completion(text or "", model="gpt-4o-2024-11-20", **extra)
    body["prompt_filter_results"] = [{"prompt_index": 0, "content_filter_results": FILTERS}]
    body["choices"][0]["content_filter_results"] = FILTERS
    return body


def azure_stream(pieces: list[str]) -> list[Any]:
    base = {"id": "chatcmpl-az", "object": "chat.completion.chunk", "created": 1700000000,
            "model": "gpt-4o-2024-11-20", "system_fingerprint": "fp_az"}

    def choice(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish,
                                     "content_filter_results": FILTERS}]}

    return [
        # Azure opens with the prompt's filter verdict: no choices, no usage
        {"id": "", "object": "", "created": 0, "model": "", "choices": [],
         "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": FILTERS}]},
        choice({"role": "assistant", "content": ""}),
        *(choice({"content": p}) for p in pieces),
        choice({}, "stop"),
        {**base, "choices": [], "usage": {"prompt_tokens": 8, "completion_tokens": 3,
                                          "total_tokens": 11}},
        "[DONE]",
    ]


def test_plain_request_url_auth_and_body(gw_client: Client, upstream: MockUpstream) -> None:
    upstream.script(AZURE.prefix, Reply(json=completion(
        "Hello there", prompt=20, completion=3,
        usage={"prompt_tokens_details": {"cached_tokens": 8}})))
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    got = complete(gw_client, MODEL, {"messages": messages, "max_tokens": 100,
                                      "temperature": 0.5, "seed": 7})
    assert (got.text, got.finish, got.native) == ("Hello there", "stop", "stop")
    assert got.usage["prompt_tokens_details"]["cached_tokens"] == 8
    assert got.usage["cost"] == expected_cost(
        {"prompt_tokens": 20, "cached_tokens": 8, "completion_tokens": 3})
    path, headers, sent = only_hit(upstream, AZURE.prefix)
    assert path == PATH
    assert headers["api-key"] == AZURE.api_key and "authorization" not in headers
    assert sent == {"messages": messages, "max_tokens": 100, "temperature": 0.5, "seed": 7}


def test_stream_drops_filter_chunks_and_ends_with_usage_then_done(
    gw_client: Client, upstream: MockUpstream
) -> None:
    upstream.script(AZURE.prefix, Reply(sse=azure_stream(["Hel", "lo, ", "world"])))
    got = stream(gw_client, MODEL, {"messages": [{"role": "user", "content": "Hi"}]})
    assert got.text == "Hello, world" and got.finish == "stop"
    assert (got.usage["prompt_tokens"], got.usage["completion_tokens"]) == (8, 3)
    path, _, sent = only_hit(upstream, AZURE.prefix)
    assert path == PATH
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}


def test_tool_call_and_result_across_two_turns(gw_client: Client, upstream: MockUpstream) -> None:
    call = {"id": "call_az1", "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}
    upstream.script(AZURE.prefix, Reply(json=completion(
        None, finish="tool_calls", message={"content": None, "tool_calls": [call]})))
    first = [{"role": "user", "content": "Weather in Paris?"}]
    turn1 = complete(gw_client, MODEL, {"messages": first, "tools": [WEATHER_TOOL],
                                        "tool_choice": "auto", "parallel_tool_calls": False})
    assert turn1.tool_calls == [("call_az1", "get_weather", {"city": "Paris"})]
    assert turn1.finish == "tool_calls"
    _, _, sent1 = only_hit(upstream, AZURE.prefix)
    assert sent1["tools"] == [WEATHER_TOOL] and sent1["tool_choice"] == "auto"
    assert sent1["parallel_tool_calls"] is False

    upstream.reset()
    upstream.script(AZURE.prefix, Reply(json=completion("Sunny, 21 °C.")))
    second = [*first, assistant_turn(turn1),
              {"role": "tool", "tool_call_id": "call_az1", "content": "sunny, 21C"}]
    turn2 = complete(gw_client, MODEL, {"messages": second, "tools": [WEATHER_TOOL]})
    assert turn2.text == "Sunny, 21 °C."
    _, _, sent2 = only_hit(upstream, AZURE.prefix)
    assert sent2["messages"][1]["tool_calls"] == [call]
    assert sent2["messages"][2] == second[2]


def test_images_and_json_schema_pass_through(gw_client: Client, upstream: MockUpstream) -> None:
    upstream.script(AZURE.prefix, Reply(json=completion('{"name": "Ada", "age": 36}')))
    got = complete(gw_client, MODEL, {"messages": [IMAGE_MESSAGE],
                                      "response_format": PERSON_FORMAT})
    assert json.loads(got.text) == {"name": "Ada", "age": 36}
    _, _, sent = only_hit(upstream, AZURE.prefix)
    assert sent["messages"] == [IMAGE_MESSAGE]
    assert sent["response_format"] == PERSON_FORMAT


def test_content_filter_refusal_is_a_403_passed_on_as_it_is(
    gw_client: Client, upstream: MockUpstream
) -> None:
    raw = {"error": {
        "code": "content_filter", "status": 400, "param": "prompt",
        "message": "The response was filtered due to the prompt triggering Azure OpenAI's "
                   "content management policy.",
        "innererror": {"code": "ResponsibleAIPolicyViolation",
                       "content_filter_result": {"violence": {"filtered": True,
                                                              "severity": "high"}}}}}
    upstream.script(AZURE.prefix, Reply(status=400, json=raw))
    with pytest.raises(openai.PermissionDeniedError) as info:
        complete(gw_client, MODEL, {"messages": [{"role": "user", "content": "..."}]})
    err = info.value.response.json()["error"]
    assert err["code"] == 403
    assert err["metadata"]["error_type"] == "content_policy"
    assert err["metadata"]["raw"] == raw and err["metadata"]["provider"] == "azure"
    assert len(upstream.hits(AZURE.prefix)) == 1, "a refusal is never retried or routed around"
