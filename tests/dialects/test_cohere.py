"""Cohere v2 dialect: recorded answers, streams split anywhere, requests Cohere's SDK accepts."""

from __future__ import annotations

import copy
import inspect
import itertools
import typing
from typing import Any

import orjson
import pytest
from cohere.v2.client import V2Client
from cohere.v2.types import V2ChatStreamResponse
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, TypeAdapter

from switchboard.catalog.types import ProviderInfo
from switchboard.dialects.base import UpstreamError
from switchboard.dialects.cohere import CohereDialect, CohereStreamTranslator

from .fixtures import Interaction, recorded

DIALECT = CohereDialect()
PROVIDER = ProviderInfo(
    name="cohere",
    display_name="Cohere",
    api="cohere",
    base_url="https://api.cohere.com/",
    api_key="co-test",
)
RECORDED_CHATS = [it for it in recorded("cohere", "api.cohere.com/v2/chat") if it.status == 200]

# Written out again here rather than imported, so a wrong entry in the dialect shows.
EXPECTED_FINISH = {
    "COMPLETE": "stop",
    "STOP_SEQUENCE": "stop",
    "MAX_TOKENS": "length",
    "TOOL_CALL": "tool_calls",
    "ERROR": "error",
    "TIMEOUT": "error",
}


def _ids(items: list[Interaction]) -> list[str]:
    return [it.id for it in items]


# --- reading OpenAI-shaped output back -------------------------------------


def accumulate(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    """Fold chunk dicts the way an OpenAI client does; check the usage-chunk contract."""
    content, reasoning = "", ""
    calls: dict[int, dict[str, Any]] = {}
    finish = native = None
    usage_chunks = [c for c in chunks if c.get("usage")]
    assert len(usage_chunks) <= 1, "usage is sent once"
    if usage_chunks:
        assert chunks[-1] is usage_chunks[0] and chunks[-1]["choices"] == []
    for chunk in chunks:
        assert chunk["object"] == "chat.completion.chunk"
        for choice in chunk["choices"]:
            assert "native_finish_reason" in choice
            delta = choice["delta"]
            content += delta.get("content") or ""
            reasoning += delta.get("reasoning") or ""
            for call in delta.get("tool_calls") or []:
                slot = calls.setdefault(call["index"], {"id": "", "name": "", "arguments": ""})
                slot["id"] = call.get("id") or slot["id"]
                fn = call.get("function") or {}
                slot["name"] = fn.get("name") or slot["name"]
                slot["arguments"] += fn.get("arguments") or ""
            if choice["finish_reason"]:
                finish, native = choice["finish_reason"], choice["native_finish_reason"]
    assert sorted(calls) == list(range(len(calls))), "tool call indices count from 0"
    return {
        "content": content,
        "reasoning": reasoning,
        "tool_calls": [calls[i] for i in sorted(calls)],
        "finish_reason": finish,
        "native_finish_reason": native,
        "usage": usage_chunks[0]["usage"] if usage_chunks else None,
    }


def summarise(completion: dict[str, Any]) -> dict[str, Any]:
    """A chat.completion in the same shape as `accumulate` gives for a stream."""
    choice = completion["choices"][0]
    message = choice["message"]
    return {
        "content": message["content"] or "",
        "reasoning": message.get("reasoning") or "",
        "tool_calls": [
            {"id": c["id"], "name": c["function"]["name"], "arguments": c["function"]["arguments"]}
            for c in message.get("tool_calls") or []
        ],
        "finish_reason": choice["finish_reason"],
        "native_finish_reason": choice["native_finish_reason"],
        "usage": completion["usage"],
    }


def translate(stream: bytes, cuts: list[int] | None = None) -> list[dict[str, Any]]:
    translator = CohereStreamTranslator(created=0)
    bounds = [0, *sorted(cuts or []), len(stream)]
    out: list[dict[str, Any]] = []
    for start, end in itertools.pairwise(bounds):
        out.extend(translator.feed(stream[start:end]))
    return out + translator.close()


# --- Cohere streams built from recorded answers -----------------------------


def _pieces(text: str, size: int = 7) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def stream_events(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """The v2 event sequence Cohere streams for a given non-streamed answer."""
    message = answer["message"]
    events: list[dict[str, Any]] = [
        {
            "id": answer["id"],
            "type": "message-start",
            "delta": {
                "message": {
                    "role": "assistant",
                    "content": [],
                    "tool_plan": "",
                    "tool_calls": [],
                    "citations": [],
                }
            },
        }
    ]
    # Cohere's order: thinking, the tool plan, answer text, then tool calls
    items = message.get("content") or []
    index = 0
    for item in (i for i in items if i["type"] == "thinking"):
        events += _content_events(index, "thinking", item["thinking"])
        index += 1
    if message.get("tool_plan"):
        for piece in _pieces(message["tool_plan"]):
            events.append({"type": "tool-plan-delta", "delta": {"message": {"tool_plan": piece}}})
    for item in (i for i in items if i["type"] == "text"):
        events += _content_events(index, "text", item["text"])
        index += 1
    for call in message.get("tool_calls") or []:
        start = {
            "id": call["id"],
            "type": "function",
            "function": {"name": call["function"]["name"], "arguments": ""},
        }
        events.append(
            {"type": "tool-call-start", "index": index, "delta": {"message": {"tool_calls": start}}}
        )
        for piece in _pieces(call["function"]["arguments"], 3):
            events.append(
                {
                    "type": "tool-call-delta",
                    "index": index,
                    "delta": {"message": {"tool_calls": {"function": {"arguments": piece}}}},
                }
            )
        events.append({"type": "tool-call-end", "index": index})
        index += 1
    for number, citation in enumerate(message.get("citations") or []):
        events.append(
            {
                "type": "citation-start",
                "index": number,
                "delta": {"message": {"citations": citation}},
            }
        )
        events.append({"type": "citation-end", "index": number})
    events.append(
        {
            "type": "message-end",
            "id": answer["id"],
            "delta": {"finish_reason": answer["finish_reason"], "usage": answer["usage"]},
        }
    )
    return events


def _content_events(index: int, kind: str, text: str) -> list[dict[str, Any]]:
    return [
        {
            "type": "content-start",
            "index": index,
            "delta": {"message": {"content": {"type": kind, kind: ""}}},
        },
        *(
            {
                "type": "content-delta",
                "index": index,
                "delta": {"message": {"content": {kind: piece}}},
            }
            for piece in _pieces(text)
        ),
        {"type": "content-end", "index": index},
    ]


def sse(events: list[dict[str, Any]], newline: bytes = b"\n") -> bytes:
    frames = [
        b"event: " + e["type"].encode() + newline + b"data: " + orjson.dumps(e) + newline * 2
        for e in events
    ]
    return b"".join(frames) + b"data: [DONE]" + newline * 2


def strict(model: Any) -> None:
    """The SDK's models allow extra fields; a field Cohere does not define is a bug here."""
    if isinstance(model, BaseModel):
        assert not model.model_extra, f"{type(model).__name__} got unknown {model.model_extra}"
        for name in type(model).model_fields:
            strict(getattr(model, name))
    elif isinstance(model, list | tuple):
        for item in model:
            strict(item)


_STREAM_EVENT = TypeAdapter(V2ChatStreamResponse)


def check_event(event: dict[str, Any]) -> None:
    """The SDK parses it as the event it claims to be. (No extras check: Cohere's real
    message-start carries fields the SDK's model does not declare.)"""
    assert _STREAM_EVENT.validate_python(event, strict=True).type == event["type"]


# A docs-shaped stream: thinking, a tool plan, two tool calls, non-ASCII text.
HANDWRITTEN_EVENTS: list[dict[str, Any]] = [
    {
        "id": "run-1",
        "type": "message-start",
        "delta": {
            "message": {
                "role": "assistant",
                "content": [],
                "tool_plan": "",
                "tool_calls": [],
                "citations": [],
            }
        },
    },
    *_content_events(0, "thinking", "Weather, then time — both in Zürich."),
    {"type": "tool-plan-delta", "delta": {"message": {"tool_plan": "I will call two tools."}}},
    {
        "type": "tool-call-start",
        "index": 1,
        "delta": {
            "message": {
                "tool_calls": {
                    "id": "get_weather_a1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": ""},
                }
            }
        },
    },
    {
        "type": "tool-call-delta",
        "index": 1,
        "delta": {"message": {"tool_calls": {"function": {"arguments": '{"city": "Zü'}}}},
    },
    {
        "type": "tool-call-delta",
        "index": 1,
        "delta": {"message": {"tool_calls": {"function": {"arguments": 'rich"}'}}}},
    },
    {"type": "tool-call-end", "index": 1},
    {
        "type": "tool-call-start",
        "index": 2,
        "delta": {
            "message": {
                "tool_calls": {
                    "id": "get_time_b2",
                    "type": "function",
                    "function": {"name": "get_time", "arguments": ""},
                }
            }
        },
    },
    {
        "type": "tool-call-delta",
        "index": 2,
        "delta": {"message": {"tool_calls": {"function": {"arguments": "{}"}}}},
    },
    {"type": "tool-call-end", "index": 2},
    {
        "type": "message-end",
        "delta": {
            "finish_reason": "TOOL_CALL",
            "usage": {
                "billed_units": {"input_tokens": 10, "output_tokens": 20},
                "tokens": {"input_tokens": 120, "output_tokens": 25},
                "cached_tokens": 100,
            },
        },
    },
]
HANDWRITTEN = sse(HANDWRITTEN_EVENTS)
STREAMS = {
    "handwritten": HANDWRITTEN,
    "handwritten-crlf": sse(HANDWRITTEN_EVENTS, b"\r\n"),
    **{it.id: sse(stream_events(it.json())) for it in RECORDED_CHATS},
}


# --- recorded answers ------------------------------------------------------


def test_every_cohere_recording_is_replayed() -> None:
    assert len(RECORDED_CHATS) >= 8


@pytest.mark.parametrize("it", RECORDED_CHATS, ids=_ids(RECORDED_CHATS))
def test_recorded_answer_translates(it: Interaction) -> None:
    answer = it.json()
    out = DIALECT.parse_response(it.body)
    assert out["object"] == "chat.completion" and out["id"] == answer["id"]
    choice = out["choices"][0]
    message = choice["message"]
    items = answer["message"].get("content") or []
    texts = [i["text"] for i in items if i["type"] == "text"]
    recorded_calls = answer["message"].get("tool_calls") or []
    assert message["content"] == ("".join(texts) if texts else None)
    assert [c["id"] for c in message.get("tool_calls", [])] == [c["id"] for c in recorded_calls]
    for got, want in zip(message.get("tool_calls", []), recorded_calls, strict=True):
        assert got["type"] == "function"
        assert got["function"]["name"] == want["function"]["name"]
        assert orjson.loads(got["function"]["arguments"]) == orjson.loads(
            want["function"]["arguments"]
        )
    assert choice["finish_reason"] == EXPECTED_FINISH[answer["finish_reason"]]
    assert choice["native_finish_reason"] == answer["finish_reason"]
    usage, tokens = out["usage"], answer["usage"]["tokens"]
    assert usage["prompt_tokens"] == tokens["input_tokens"]
    assert usage["completion_tokens"] == tokens["output_tokens"]
    assert usage["total_tokens"] == tokens["input_tokens"] + tokens["output_tokens"]
    assert usage["prompt_tokens_details"] == {
        "cached_tokens": answer["usage"].get("cached_tokens", 0),
        "cache_write_tokens": 0,
    }
    assert usage["completion_tokens_details"] == {"reasoning_tokens": 0}


def _by_cassette(name: str, number: int = 0) -> Interaction:
    return next(it for it in RECORDED_CHATS if it.id == f"{name}#{number}")


def test_thinking_items_become_reasoning() -> None:
    out = DIALECT.parse_response(
        _by_cassette("pydantic-ai__test_cohere_model_thinking_part", 1).body
    )
    message = out["choices"][0]["message"]
    assert message["reasoning"].startswith("Okay, the user is asking how to cross a river")
    assert message["content"].startswith("Crossing a river safely")
    assert out["usage"]["prompt_tokens"] == 2190 and out["usage"]["completion_tokens"] == 1257


def test_tool_call_answer_has_null_content_and_plan_as_reasoning() -> None:
    it = _by_cassette("pydantic-ai__test_tool_choice_matrix[auto-cohere]")
    out = DIALECT.parse_response(it.body)
    choice = out["choices"][0]
    assert choice["message"]["content"] is None
    assert choice["message"]["reasoning"] == (
        "I will use the 'get_weather' tool to find the weather in Paris."
    )
    assert choice["message"]["tool_calls"] == [
        {
            "id": "get_weather_9gpb31r7h7mj",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
        }
    ]
    assert (choice["finish_reason"], choice["native_finish_reason"]) == ("tool_calls", "TOOL_CALL")
    assert out["usage"]["prompt_tokens_details"]["cached_tokens"] == 144


def test_stop_sequence_is_a_stop() -> None:
    out = DIALECT.parse_response(_by_cassette("pydantic-ai__test_stop_settings[cohere]").body)
    choice = out["choices"][0]
    assert choice["message"]["content"] == "The capital of France is a city known as"
    assert (choice["finish_reason"], choice["native_finish_reason"]) == ("stop", "STOP_SEQUENCE")


def test_cached_tokens_reported() -> None:
    it = _by_cassette("pydantic-ai__test_request_usage_with_cached_tokens")
    out = DIALECT.parse_response(it.body)
    assert out["usage"]["prompt_tokens"] == 2935
    assert out["usage"]["prompt_tokens_details"]["cached_tokens"] == 2928


def test_usage_falls_back_to_billed_units() -> None:
    body = {
        "id": "x",
        "finish_reason": "MAX_TOKENS",
        "message": {"role": "assistant", "content": [{"type": "text", "text": "a"}]},
        "usage": {"billed_units": {"input_tokens": 5, "output_tokens": 7}},
    }
    out = DIALECT.parse_response(orjson.dumps(body))
    assert out["choices"][0]["finish_reason"] == "length"
    assert (out["usage"]["prompt_tokens"], out["usage"]["completion_tokens"]) == (5, 7)


@pytest.mark.parametrize("body", [b"", b"<html>", b"[]", b'{"id": "x"}'])
def test_unparseable_answer_is_502(body: bytes) -> None:
    with pytest.raises(UpstreamError) as err:
        DIALECT.parse_response(body)
    assert err.value.status == 502


# --- streams ---------------------------------------------------------------


@pytest.mark.parametrize("it", RECORDED_CHATS, ids=_ids(RECORDED_CHATS))
def test_synthetic_stream_matches_the_answer(it: Interaction) -> None:
    events = stream_events(it.json())
    for event in events:  # the synthetic events are what the SDK itself would accept
        check_event(event)
    streamed = accumulate(translate(sse(events)))
    assert streamed == summarise(DIALECT.parse_response(it.body))


def test_handwritten_stream() -> None:
    for event in HANDWRITTEN_EVENTS:
        check_event(event)
    chunks = translate(HANDWRITTEN)
    first = chunks[0]["choices"][0]
    assert first["delta"] == {"role": "assistant", "content": ""}
    assert all(c["id"] == "run-1" for c in chunks)
    result = accumulate(chunks)
    assert result["reasoning"] == "Weather, then time — both in Zürich.\n\nI will call two tools."
    assert result["tool_calls"] == [
        {"id": "get_weather_a1", "name": "get_weather", "arguments": '{"city": "Zürich"}'},
        {"id": "get_time_b2", "name": "get_time", "arguments": "{}"},
    ]
    assert (result["finish_reason"], result["native_finish_reason"]) == ("tool_calls", "TOOL_CALL")
    assert result["usage"]["prompt_tokens"] == 120
    assert result["usage"]["completion_tokens"] == 25
    assert result["usage"]["prompt_tokens_details"]["cached_tokens"] == 100


def test_handwritten_stream_split_at_every_byte() -> None:
    whole = translate(HANDWRITTEN)
    for cut in range(1, len(HANDWRITTEN)):
        assert translate(HANDWRITTEN, [cut]) == whole, f"split at byte {cut}"
    assert translate(HANDWRITTEN, list(range(1, len(HANDWRITTEN)))) == whole


@pytest.mark.parametrize("name", list(STREAMS))
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_stream_split_anywhere_gives_the_same_chunks(name: str, data: st.DataObject) -> None:
    stream = STREAMS[name]
    cuts = data.draw(st.lists(st.integers(1, max(1, len(stream) - 1)), max_size=40))
    assert translate(stream, cuts) == translate(stream)


def test_stream_without_message_end_fails_on_close() -> None:
    translator = CohereStreamTranslator()
    translator.feed(sse(HANDWRITTEN_EVENTS[:4]).removesuffix(b"data: [DONE]\n\n"))
    with pytest.raises(UpstreamError) as err:
        translator.close()
    assert err.value.status == 502


def test_one_stream_event_that_is_not_json_is_skipped_two_in_a_row_fail() -> None:
    translator = CohereStreamTranslator()
    assert translator.feed(b"event: content-delta\ndata: {nope\n\n") == []
    with pytest.raises(UpstreamError):
        translator.feed(b"event: content-delta\ndata: {nope\n\n")


def test_stream_without_usage_sends_no_usage_chunk() -> None:
    stream = sse(
        [
            {"type": "message-start", "id": "m"},
            {"type": "message-end", "delta": {"finish_reason": "COMPLETE"}},
        ]
    )
    chunks = translate(stream)
    assert [c["choices"][0]["finish_reason"] for c in chunks] == [None, "stop"]
    assert all("usage" not in c for c in chunks)


# --- requests --------------------------------------------------------------

_CHAT_HINTS = typing.get_type_hints(V2Client.chat)
_CHAT_FIELDS = (set(inspect.signature(V2Client.chat).parameters) - {"self", "request_options"}) | {
    "stream"
}


def validate_with_sdk(payload: dict[str, Any]) -> None:
    """Every field is one the SDK's `chat` takes, in the type the SDK declares for it."""
    assert set(payload) <= _CHAT_FIELDS, set(payload) - _CHAT_FIELDS
    for name, value in payload.items():
        if name == "stream":
            assert isinstance(value, bool)
        elif name == "tool_choice":
            assert value in ("REQUIRED", "NONE")  # the SDK's hint also admits Any
        else:
            strict(TypeAdapter(_CHAT_HINTS[name]).validate_python(value, strict=True))


def build(body: dict[str, Any], stream: bool = False) -> dict[str, Any]:
    frozen = copy.deepcopy(body)
    request = DIALECT.build_request(PROVIDER, "command-a-03-2025", body, stream)
    assert body == frozen, "build_request must not mutate its input"
    assert request.url == "https://api.cohere.com/v2/chat"
    assert request.headers["Authorization"] == "Bearer co-test"
    payload: dict[str, Any] = orjson.loads(request.body)
    validate_with_sdk(payload)
    return payload


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
            "additionalProperties": False,
        },
    },
}
TIME_TOOL = {"type": "function", "function": {"name": "get_time", "strict": True}}
IMAGE = "data:image/png;base64,iVBORw0KGgo="

MATRIX: dict[str, dict[str, Any]] = {
    "system": {
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    },
    "developer-parts": {
        "messages": [
            {"role": "developer", "content": [{"type": "text", "text": "Be brief."}]},
            {"role": "user", "content": [{"type": "text", "text": "Hi"}]},
        ]
    },
    "multi-turn": {
        "messages": [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello!"},
            {"role": "user", "content": "Again"},
        ],
        "temperature": 0.2,
        "top_p": 0.9,
        "top_k": 40,
        "max_tokens": 100,
        "seed": 7,
        "frequency_penalty": 0.1,
        "presence_penalty": 0.2,
    },
    "tools": {
        "messages": [{"role": "user", "content": "Weather?"}],
        "tools": [WEATHER_TOOL, TIME_TOOL],
        "tool_choice": "required",
    },
    "tool-results": {
        "messages": [
            {"role": "user", "content": "Weather in Paris?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "Sunny"},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {
                        "id": "c2",
                        "type": "function",
                        "function": {"name": "get_time", "arguments": ""},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "c2", "content": [{"type": "text", "text": "noon"}]},
        ],
        "tools": [WEATHER_TOOL, TIME_TOOL],
        "tool_choice": "none",
    },
    "images": {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image_url", "image_url": {"url": IMAGE, "detail": "low"}},
                    {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
                ],
            }
        ]
    },
    "json_object": {
        "messages": [{"role": "user", "content": "JSON please"}],
        "response_format": {"type": "json_object"},
    },
    "json_schema": {
        "messages": [{"role": "user", "content": "JSON please"}],
        "response_format": {
            "type": "json_schema",
            "json_schema": {
                "name": "person",
                "strict": True,
                "schema": {
                    "type": "object",
                    "properties": {"name": {"type": "string"}},
                    "required": ["name"],
                },
            },
        },
    },
    "stop": {"messages": [{"role": "user", "content": "Count"}], "stop": ["5", "six"]},
    "stop-string": {"messages": [{"role": "user", "content": "Count"}], "stop": "5"},
    "reasoning": {
        "messages": [{"role": "user", "content": "Think"}],
        "max_completion_tokens": 1000,
        "reasoning": {"effort": "high"},
    },
}


@pytest.mark.parametrize("case", list(MATRIX))
@pytest.mark.parametrize("stream", [False, True])
def test_request_matrix_is_valid_for_the_cohere_sdk(case: str, stream: bool) -> None:
    payload = build(MATRIX[case], stream)
    assert payload["model"] == "command-a-03-2025" and payload["stream"] is stream


def test_request_fields_are_translated() -> None:
    assert build(MATRIX["multi-turn"]) | {"messages": None} == {
        "model": "command-a-03-2025",
        "messages": None,
        "stream": False,
        "temperature": 0.2,
        "p": 0.9,
        "k": 40,
        "max_tokens": 100,
        "seed": 7,
        "frequency_penalty": 0.1,
        "presence_penalty": 0.2,
    }
    assert build(MATRIX["stop-string"])["stop_sequences"] == ["5"]
    assert build(MATRIX["json_object"])["response_format"] == {"type": "json_object"}
    assert build(MATRIX["json_schema"])["response_format"] == {
        "type": "json_object",
        "json_schema": MATRIX["json_schema"]["response_format"]["json_schema"]["schema"],
    }
    images = build(MATRIX["images"])["messages"][0]["content"]
    assert images[1] == {"type": "image_url", "image_url": {"url": IMAGE, "detail": "low"}}
    tools = build(MATRIX["tools"])
    assert tools["tool_choice"] == "REQUIRED" and tools["strict_tools"] is True
    assert tools["tools"][1]["function"]["parameters"] == {"type": "object", "properties": {}}
    results = build(MATRIX["tool-results"])
    assert results["tool_choice"] == "NONE"
    assert [m["role"] for m in results["messages"]] == [
        "user",
        "assistant",
        "tool",
        "assistant",
        "tool",
    ]
    # an assistant turn of tool calls only carries no (empty) content
    assert "content" not in results["messages"][1] and "content" not in results["messages"][3]
    assert results["messages"][3]["tool_calls"][0]["function"]["arguments"] == "{}"
    assert results["messages"][4]["content"] == [{"type": "text", "text": "noon"}]


@pytest.mark.parametrize(
    ("reasoning", "thinking"),
    [
        ({"effort": "high"}, {"type": "enabled", "token_budget": 800}),
        ({"max_tokens": 2048}, {"type": "enabled", "token_budget": 2048}),
        ({"enabled": False}, {"type": "disabled"}),
        ({"effort": "none"}, {"type": "disabled"}),
        ({}, {"type": "enabled"}),
        (None, None),
    ],
)
def test_reasoning_becomes_thinking(reasoning: Any, thinking: Any) -> None:
    body: dict[str, Any] = {"messages": [{"role": "user", "content": "x"}], "max_tokens": 1000}
    if reasoning is not None:
        body["reasoning"] = reasoning
    assert build(body).get("thinking") == thinking


def named(tool: str) -> dict[str, Any]:
    return {"type": "function", "function": {"name": tool}}


def test_named_tool_choice_offers_only_that_tool() -> None:
    body = {**MATRIX["tools"], "tool_choice": named("get_time")}
    payload = build(body)
    assert payload["tool_choice"] == "REQUIRED"
    assert [t["function"]["name"] for t in payload["tools"]] == ["get_time"]
    assert payload["strict_tools"] is True


def test_strict_tools_follows_only_the_tools_sent() -> None:
    # regression: a strict tool filtered out by tool_choice still switched strict_tools on
    body = {**MATRIX["tools"], "tool_choice": named("get_weather")}
    assert "strict_tools" not in build(body)


def _recorded_request(name: str, number: int = 0) -> dict[str, Any]:
    it = next(i for i in recorded("cohere") if i.id == f"{name}#{number}")
    return it.request


# OpenAI-shaped bodies for recorded Cohere requests: built, they must equal the recording.
REPLAYED_REQUESTS: dict[tuple[str, int], dict[str, Any]] = {
    ("pydantic-ai__test_cohere_model_instructions", 0): {
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "What is the capital of France?"},
        ]
    },
    ("pydantic-ai__test_stop_settings[cohere]", 0): {
        "messages": [
            {
                "role": "user",
                "content": "What is the capital of France? Give me an answer that "
                'contains the word "Paris", but is not the first word.',
            }
        ],
        "stop": ["Paris"],
    },
    ("pydantic-ai__test_tool_choice_matrix[auto-cohere]", 1): {
        "messages": [
            {"role": "user", "content": "What's the weather in Paris?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "get_weather_9gpb31r7h7mj",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                    }
                ],
            },
            {
                "role": "tool",
                "tool_call_id": "get_weather_9gpb31r7h7mj",
                "content": "Sunny, 22C in Paris",
            },
        ],
        "tools": [WEATHER_TOOL],
        "tool_choice": "auto",
    },
    ("pydantic-ai__test_tool_choice_matrix[list_single-cohere]", 0): {
        "messages": [{"role": "user", "content": "What's the weather in Paris?"}],
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "description": "Get weather for a city",
                    "parameters": {
                        "type": "object",
                        "properties": {"city": {"type": "string"}},
                        "required": ["city"],
                    },
                },
            },
            TIME_TOOL,
        ],
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
    },
}


@pytest.mark.parametrize("key", list(REPLAYED_REQUESTS), ids=lambda k: f"{k[0]}#{k[1]}")
def test_recorded_request_is_rebuilt(key: tuple[str, int]) -> None:
    want = _recorded_request(*key)
    request = DIALECT.build_request(PROVIDER, want["model"], REPLAYED_REQUESTS[key], False)
    assert orjson.loads(request.body) == want


@pytest.mark.parametrize(
    "message",
    [
        {"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "x"}}]},
        {"role": "system", "content": [{"type": "image_url", "image_url": {"url": IMAGE}}]},
        {"role": "function", "name": "f", "content": "x"},
    ],
)
def test_untranslatable_messages_are_400(message: dict[str, Any]) -> None:
    with pytest.raises(UpstreamError) as err:
        DIALECT.build_request(PROVIDER, "m", {"messages": [message]}, False)
    assert err.value.status == 400


# --- errors ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "headers", "client_status", "error_type"),
    [
        (
            429,
            b'{"id": "e1", "message": "You are using a Trial key, which is limited to 10 API '
            b'calls / minute."}',
            {"retry-after": "2"},
            429,
            "rate_limit_exceeded",
        ),
        (
            400,
            b'{"message": "too many tokens: size limit exceeded by 1532 tokens. Try using '
            b'shorter or fewer inputs."}',
            {},
            400,
            "context_length_exceeded",
        ),
        (498, b'{"message": "invalid api token"}', {}, 401, "provider_auth_error"),
        (401, b'{"message": "invalid api token"}', {}, 401, "provider_auth_error"),
        (
            400,
            b'{"message": "invalid request: messages must not be empty"}',
            {},
            400,
            "bad_request",
        ),
        (500, b'{"message": "internal server error"}', {}, 502, "provider_unavailable"),
        (503, b"upstream connect error", {}, 502, "provider_unavailable"),
    ],
)
def test_errors_are_classified(
    status: int, body: bytes, headers: dict[str, str], client_status: int, error_type: str
) -> None:
    err = DIALECT.parse_error(status, body, headers)
    assert (err.status, err.error_type, err.upstream_status) == (client_status, error_type, status)
    assert err.message and err.raw


def test_rate_limit_keeps_retry_after() -> None:
    err = DIALECT.parse_error(429, b'{"message": "slow down"}', {"Retry-After": "2"})
    assert err.retry_after == 2.0 and err.message == "slow down"


def test_thinking_and_tool_plan_read_the_same_streamed_or_not() -> None:
    answer = {
        "id": "a1",
        "finish_reason": "TOOL_CALL",
        "message": {
            "role": "assistant",
            "content": [{"type": "thinking", "thinking": "Need the weather."}],
            "tool_plan": "I will look it up.",
            "tool_calls": [
                {
                    "id": "w1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                }
            ],
        },
        "usage": {"tokens": {"input_tokens": 3, "output_tokens": 4}},
    }
    whole = summarise(DIALECT.parse_response(orjson.dumps(answer)))
    assert whole["reasoning"] == "Need the weather.\n\nI will look it up."
    assert whole["content"] == "" and whole["finish_reason"] == "tool_calls"
    assert accumulate(translate(sse(stream_events(answer)))) == whole
