"""One OpenAI request or conversation served by providers of different dialects.

OpenRouter clients fall back between providers mid-request and switch them between turns;
every dialect must then read the same OpenAI body, including tool calls made by another.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from tests.e2e.dialect_support import (
    CROSS_MODEL,
    PROVIDERS,
    WEATHER_TOOL,
    Client,
    assistant_turn,
    complete,
    only_hit,
    sse_bytes,
    stream,
)
from tests.support import MockUpstream, Reply

ANTHROPIC, GEMINI = PROVIDERS["anthropic"], PROVIDERS["gemini"]
QUESTION = {"role": "user", "content": "Weather in Paris?"}


def gemini_answer(parts: list[dict[str, Any]]) -> dict[str, Any]:
    return {"candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP",
                            "index": 0}],
            "usageMetadata": {"promptTokenCount": 9, "candidatesTokenCount": 4},
            "modelVersion": GEMINI.model, "responseId": "resp-x"}


def anthropic_answer(content: list[dict[str, Any]], stop: str) -> dict[str, Any]:
    return {"id": "msg_x", "type": "message", "role": "assistant", "model": ANTHROPIC.model,
            "content": content, "stop_reason": stop,
            "usage": {"input_tokens": 9, "output_tokens": 4}}


def only(*providers: str) -> dict[str, Any]:
    return {"provider": {"only": list(providers)}}


def test_overloaded_anthropic_falls_back_to_gemini_before_the_first_chunk(
    gw_client: Client, upstream: MockUpstream
) -> None:
    overloaded = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    upstream.script(ANTHROPIC.prefix, Reply(status=529, json=overloaded))
    frames = [gemini_answer([{"text": "Hello from "}]), gemini_answer([{"text": "Gemini"}])]
    upstream.script(GEMINI.prefix, Reply(sse=[sse_bytes(frames)]))
    got = stream(gw_client, CROSS_MODEL, {
        "messages": [QUESTION], "max_tokens": 50,
        "provider": {"order": ["anthropic", "gemini"], "allow_fallbacks": True}})
    assert got.text == "Hello from Gemini"
    assert {c.model_extra.get("provider") for c in got.chunks if c.model_extra} == {"Gemini"}
    _, _, to_anthropic = only_hit(upstream, ANTHROPIC.prefix)
    _, _, to_gemini = only_hit(upstream, GEMINI.prefix)
    # the same OpenAI body, translated once per dialect
    assert to_anthropic["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Weather in Paris?"}]}]
    assert to_anthropic["max_tokens"] == 50 and to_anthropic["stream"] is True
    assert to_gemini["contents"] == [{"role": "user", "parts": [{"text": "Weather in Paris?"}]}]
    assert to_gemini["generationConfig"] == {"maxOutputTokens": 50}


def test_gemini_tool_call_answered_on_anthropic(gw_client: Client, upstream: MockUpstream) -> None:
    call = {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
            "thoughtSignature": "c2lnLXg="}
    upstream.script(GEMINI.prefix, Reply(json=gemini_answer([call])))
    turn1 = complete(gw_client, CROSS_MODEL, {"messages": [QUESTION], "tools": [WEATHER_TOOL],
                                              **only("gemini")})
    ((call_id, _, _),) = turn1.tool_calls

    upstream.reset()
    upstream.script(ANTHROPIC.prefix, Reply(json=anthropic_answer(
        [{"type": "text", "text": "Sunny."}], "end_turn")))
    second = [QUESTION, assistant_turn(turn1),
              {"role": "tool", "tool_call_id": call_id, "content": "sunny, 21C"}]
    turn2 = complete(gw_client, CROSS_MODEL, {"messages": second, "tools": [WEATHER_TOOL],
                                              **only("anthropic")})
    assert turn2.text == "Sunny."
    _, _, sent = only_hit(upstream, ANTHROPIC.prefix)
    # Gemini's signature means nothing to Anthropic: no thinking block is made of it
    assert sent["messages"][1:] == [
        {"role": "assistant", "content": [{"type": "tool_use", "id": call_id,
                                           "name": "get_weather", "input": {"city": "Paris"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call_id,
                                      "content": "sunny, 21C"}]},
    ]


def test_anthropic_tool_call_answered_on_gemini(gw_client: Client, upstream: MockUpstream) -> None:
    upstream.script(ANTHROPIC.prefix, Reply(json=anthropic_answer([
        {"type": "thinking", "thinking": "Need the weather.", "signature": "sig-anthropic"},
        {"type": "tool_use", "id": "toolu_01X", "name": "get_weather", "input": {"city": "Paris"}},
    ], "tool_use")))
    turn1 = complete(gw_client, CROSS_MODEL, {"messages": [QUESTION], "tools": [WEATHER_TOOL],
                                              **only("anthropic")})
    assert turn1.reasoning == "Need the weather."

    upstream.reset()
    upstream.script(GEMINI.prefix, Reply(json=gemini_answer([{"text": "Sunny."}])))
    second = [QUESTION, assistant_turn(turn1),
              {"role": "tool", "tool_call_id": "toolu_01X", "content": json.dumps({"c": 21})}]
    turn2 = complete(gw_client, CROSS_MODEL, {"messages": second, "tools": [WEATHER_TOOL],
                                              **only("gemini")})
    assert turn2.text == "Sunny."
    _, _, sent = only_hit(upstream, GEMINI.prefix)
    # a call Gemini did not sign gets Google's documented "skip the validator" placeholder
    skip = base64.b64encode(b"skip_thought_signature_validator").decode()
    assert sent["contents"][1:] == [
        {"role": "model", "parts": [{"functionCall": {"name": "get_weather",
                                                      "args": {"city": "Paris"}},
                                     "thoughtSignature": skip}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "get_weather",
                                                         "response": {"c": 21}}}]},
    ]
