"""Anthropic dialect: recorded answers replayed, streams split anywhere, requests checked
against the Anthropic SDK's own request types.

The expected side of every replay comes from the recording itself (for streams, accumulated by
the Anthropic SDK's stream helper), never from the code under test.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import orjson
import pytest
from anthropic.lib.streaming._messages import accumulate_event
from anthropic.types.message_create_params import (
    MessageCreateParamsNonStreaming,
    MessageCreateParamsStreaming,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from switchboard.catalog.types import ProviderInfo
from switchboard.dialects.anthropic import JSON_TOOL_PREFIX, AnthropicDialect
from switchboard.dialects.base import Dialect, UpstreamError

from .fixtures import Interaction, recorded

DIALECT: Dialect = AnthropicDialect()  # mypy checks it keeps to the protocol
PROVIDER = ProviderInfo(
    name="anthropic", display_name="Anthropic", api="anthropic",
    base_url="https://api.anthropic.com/", api_key="sk-ant-test",
)
MESSAGES = [it for it in recorded("anthropic") if "/v1/messages" in it.url]
ANSWERS = [it for it in MESSAGES if it.status == 200 and not it.is_sse]
STREAMS = [it for it in MESSAGES if it.status == 200 and it.is_sse]
FAILURES = [it for it in MESSAGES if it.status != 200]

# The brief's table, written out independently of the module's.
FINISH = {"end_turn": "stop", "tool_use": "tool_calls", "max_tokens": "length",
          "stop_sequence": "stop", "refusal": "content_filter", "pause_turn": "stop"}


def ids(items: list[Interaction]) -> list[str]:
    return [it.id for it in items]


def test_recordings_are_present() -> None:
    if not MESSAGES:
        pytest.skip("recorded fixtures not found (set SWITCHBOARD_RECORDED_FIXTURES)")
    assert ANSWERS and STREAMS and FAILURES


# -- the oracle: what a recording says happened -------------------------------------------


@dataclass
class Result:
    content: str = ""
    reasoning: str = ""
    signatures: list[str] = field(default_factory=list)
    redacted: list[str] = field(default_factory=list)
    tool_calls: list[tuple[str, str, Any]] = field(default_factory=list)  # id, name, input
    finish: str | None = None
    native: str | None = None
    usage: dict[str, Any] = field(default_factory=dict)


def sse_events(body: bytes) -> list[dict[str, Any]]:
    events = []
    for frame in body.decode().replace("\r\n", "\n").split("\n\n"):
        data = [line[5:].strip() for line in frame.split("\n") if line.startswith("data:")]
        if data:
            events.append(orjson.loads("\n".join(data)))
    return events


def recorded_message(it: Interaction) -> dict[str, Any]:
    if not it.is_sse:
        return it.json()  # type: ignore[no-any-return]
    snapshot: Any = None
    bufs: dict[int, bytes] = {}
    for event in sse_events(it.body):
        if event["type"] not in ("ping", "error"):
            snapshot = accumulate_event(event=event, current_snapshot=snapshot, json_bufs=bufs)
    return snapshot.model_dump(mode="json")  # type: ignore[no-any-return]


def expected(msg: dict[str, Any]) -> Result:
    blocks = msg["content"]
    usage = msg["usage"]
    read = usage.get("cache_read_input_tokens") or 0
    write = usage.get("cache_creation_input_tokens") or 0
    prompt = usage["input_tokens"] + read + write
    thinking = (usage.get("output_tokens_details") or {}).get("thinking_tokens") or 0
    return Result(
        content="".join(b["text"] for b in blocks if b["type"] == "text"),
        reasoning="".join(b["thinking"] for b in blocks if b["type"] == "thinking"),
        signatures=[b["signature"] for b in blocks if b["type"] == "thinking"],
        redacted=[b["data"] for b in blocks if b["type"] == "redacted_thinking"],
        tool_calls=[(b["id"], b["name"], b["input"]) for b in blocks if b["type"] == "tool_use"],
        finish=FINISH[msg["stop_reason"]],
        native=msg["stop_reason"],
        usage={
            "prompt_tokens": prompt, "completion_tokens": usage["output_tokens"],
            "total_tokens": prompt + usage["output_tokens"],
            "prompt_tokens_details": {"cached_tokens": read, "cache_write_tokens": write},
            "completion_tokens_details": {"reasoning_tokens": thinking},
        },
    )


# -- what the dialect produced --------------------------------------------------------------


def from_completion(completion: dict[str, Any]) -> Result:
    assert completion["object"] == "chat.completion"
    assert isinstance(completion["created"], int)
    (choice,) = completion["choices"]
    message = choice["message"]
    assert message["role"] == "assistant"
    details = message.get("reasoning_details") or []
    assert [d["index"] for d in details] == list(range(len(details)))
    calls = message.get("tool_calls") or []
    assert all(c["type"] == "function" for c in calls)
    if calls and not message["content"]:
        assert message["content"] is None
    return Result(
        content=message["content"] or "",
        reasoning=message.get("reasoning") or "",
        signatures=[d["signature"] for d in details if d["type"] == "reasoning.text"],
        redacted=[d["data"] for d in details if d["type"] == "reasoning.encrypted"],
        tool_calls=[(c["id"], c["function"]["name"], orjson.loads(c["function"]["arguments"]))
                    for c in calls],
        finish=choice["finish_reason"],
        native=choice["native_finish_reason"],
        usage=completion["usage"],
    )


def assemble(chunks: list[dict[str, Any]]) -> Result:
    """Put a chunk stream back together the way an OpenAI client does, checking its shape."""
    out = Result()
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    usage_chunks = [c for c in chunks if not c["choices"]]
    assert len(usage_chunks) == 1 and usage_chunks[0] is chunks[-1], "usage exactly once, last"
    out.usage = chunks[-1]["usage"]
    calls: dict[int, dict[str, Any]] = {}
    signed: dict[int, str] = {}
    for chunk in chunks[:-1]:
        assert chunk["object"] == "chat.completion.chunk"
        assert chunk["id"] == chunks[0]["id"] and chunk["model"] == chunks[0]["model"]
        (choice,) = chunk["choices"]
        delta = choice["delta"]
        if choice["finish_reason"] is not None:
            assert out.finish is None, "one finish_reason"
            out.finish, out.native = choice["finish_reason"], choice["native_finish_reason"]
        out.content += delta.get("content") or ""
        out.reasoning += delta.get("reasoning") or ""
        for detail in delta.get("reasoning_details") or []:
            assert detail["format"] == "anthropic-claude-v1"
            if detail.get("signature"):
                signed[detail["index"]] = detail["signature"]
            if detail["type"] == "reasoning.encrypted":
                out.redacted.append(detail["data"])
        for call in delta.get("tool_calls") or []:
            if call["index"] not in calls:
                assert call["type"] == "function" and call["id"]
                calls[call["index"]] = {"id": call["id"], "name": call["function"]["name"],
                                        "arguments": ""}
            calls[call["index"]]["arguments"] += call["function"].get("arguments") or ""
    assert sorted(calls) == list(range(len(calls))), "tool-call indexes count tool calls only"
    out.tool_calls = [(c["id"], c["name"], orjson.loads(c["arguments"] or "{}"))
                      for _, c in sorted(calls.items())]
    out.signatures = [s for _, s in sorted(signed.items())]
    return out


def translate(body: bytes, cuts: list[int] | None = None) -> list[dict[str, Any]]:
    translator = DIALECT.stream_translator()
    bounds = [0, *sorted(cuts or []), len(body)]
    chunks: list[dict[str, Any]] = []
    for start, end in pairwise(bounds):
        chunks += translator.feed(body[start:end])
    return chunks + translator.close()


def without_created(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in c.items() if k != "created"} for c in chunks]


# -- (1) replaying recorded answers --------------------------------------------------------


@pytest.mark.parametrize("it", ANSWERS, ids=ids(ANSWERS))
def test_recorded_answer(it: Interaction) -> None:
    completion = DIALECT.parse_response(it.body)
    assert completion["id"] == it.json()["id"] and completion["model"] == it.json()["model"]
    assert from_completion(completion) == expected(recorded_message(it))


@pytest.mark.parametrize("it", STREAMS, ids=ids(STREAMS))
def test_recorded_stream(it: Interaction) -> None:
    assert assemble(translate(it.body)) == expected(recorded_message(it))


@pytest.mark.parametrize("it", FAILURES, ids=ids(FAILURES))
def test_recorded_error(it: Interaction) -> None:
    body = it.json()
    classes = {"authentication_error": (401, "provider_auth_error"),
               "not_found_error": (404, "not_found"),
               "invalid_request_error": (400, "bad_request")}
    err = DIALECT.parse_error(it.status, it.body, it.headers)
    assert (err.status, err.error_type) == classes[body["error"]["type"]]
    assert err.message == body["error"]["message"]
    assert err.raw == body and err.upstream_status == it.status


# -- (2) streams split at arbitrary byte boundaries -----------------------------------------


@pytest.mark.parametrize("it", STREAMS, ids=ids(STREAMS))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_recorded_stream_split_anywhere(it: Interaction, data: st.DataObject) -> None:
    cuts = data.draw(st.lists(st.integers(0, len(it.body)), max_size=40))
    assert without_created(translate(it.body, cuts)) == without_created(translate(it.body))


@pytest.mark.parametrize("it", STREAMS[:6], ids=ids(STREAMS[:6]))
def test_recorded_stream_one_byte_at_a_time(it: Interaction) -> None:
    cuts = list(range(1, len(it.body)))
    assert without_created(translate(it.body, cuts)) == without_created(translate(it.body))


# -- errors ----------------------------------------------------------------------------------


def error_body(kind: str, message: str) -> bytes:
    return orjson.dumps({"type": "error", "error": {"type": kind, "message": message}})


@pytest.mark.parametrize(
    ("status", "kind", "message", "headers", "want"),
    [
        (529, "overloaded_error", "Overloaded", {}, (503, "provider_overloaded", None)),
        (400, "invalid_request_error", "prompt is too long: 208310 tokens > 200000 maximum", {},
         (400, "context_length_exceeded", None)),
        (401, "authentication_error", "invalid x-api-key", {}, (401, "provider_auth_error", None)),
        (429, "rate_limit_error", "Number of request tokens has exceeded your per-minute limit",
         {"retry-after": "7"}, (429, "rate_limit_exceeded", 7.0)),
        (500, "api_error", "Internal server error", {}, (502, "provider_unavailable", None)),
        (403, "permission_error", "Your API key does not have permission", {},
         (403, "forbidden", None)),
    ],
)
def test_parse_error_classes(
    status: int, kind: str, message: str, headers: dict[str, str], want: tuple[Any, ...]
) -> None:
    body = error_body(kind, message)
    err = DIALECT.parse_error(status, body, headers)
    assert (err.status, err.error_type, err.retry_after) == want
    assert err.message == message and err.raw == orjson.loads(body)


def test_parse_error_with_a_non_json_body_keeps_the_text() -> None:
    err = DIALECT.parse_error(502, b"<html>Bad Gateway</html>", {})
    assert err.status == 502 and err.raw == "<html>Bad Gateway</html>"
    assert "Bad Gateway" in err.message


@pytest.mark.parametrize("data", [b"not json", b"[]", b'{"id": "msg_1", "type": "message"}'])
def test_unparseable_answer_is_a_bad_gateway(data: bytes) -> None:
    with pytest.raises(UpstreamError) as info:
        DIALECT.parse_response(data)
    assert (info.value.status, info.value.error_type) == (502, "bad_gateway")


def sse(*events: dict[str, Any]) -> bytes:
    return b"".join(
        f"event: {e['type']}\ndata: ".encode() + orjson.dumps(e) + b"\n\n" for e in events
    )


START = {"type": "message_start", "message": {
    "id": "msg_x", "type": "message", "role": "assistant", "model": "claude-test", "content": [],
    "stop_reason": None, "usage": {"input_tokens": 10, "cache_read_input_tokens": 90,
                                   "cache_creation_input_tokens": 5, "output_tokens": 1}}}
TEXT = [{"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0,
         "delta": {"type": "text_delta", "text": "Hello"}}]
DELTA = {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
         "usage": {"output_tokens": 7}}
OVERLOADED = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}


def test_error_event_mid_stream_raises_after_the_chunks_before_it() -> None:
    translator = DIALECT.stream_translator()
    chunks = translator.feed(sse(START, *TEXT, OVERLOADED))
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks) == "Hello"
    with pytest.raises(UpstreamError) as info:
        translator.close()
    assert (info.value.status, info.value.error_type) == (503, "provider_overloaded")
    assert info.value.raw == OVERLOADED


def test_error_event_first_raises_at_once() -> None:
    translator = DIALECT.stream_translator()
    with pytest.raises(UpstreamError) as info:
        translator.feed(sse(OVERLOADED))
    assert info.value.status == 503


def test_stream_cut_before_the_end_is_a_bad_gateway() -> None:
    translator = DIALECT.stream_translator()
    translator.feed(sse(START, *TEXT))
    with pytest.raises(UpstreamError) as info:
        translator.close()
    assert (info.value.status, info.value.error_type) == (502, "bad_gateway")


def test_stream_without_message_stop_still_reports_usage_once() -> None:
    chunks = translate(sse(START, *TEXT, DELTA))
    result = assemble(chunks)
    assert result.finish == "stop" and result.content == "Hello"
    assert result.usage["prompt_tokens"] == 105
    assert result.usage["prompt_tokens_details"] == {"cached_tokens": 90, "cache_write_tokens": 5}
    assert result.usage["completion_tokens"] == 7


def test_server_tool_blocks_are_not_client_tool_calls() -> None:
    (web,) = [it for it in STREAMS if "web_search" in it.id]
    result = assemble(translate(web.body))
    assert result.tool_calls == [] and result.finish == "stop"
    assert "San Francisco" in result.content


# -- json_schema answers come back as content -----------------------------------------------


def test_json_schema_answer_tool_becomes_content() -> None:
    name = JSON_TOOL_PREFIX + "weather"
    answer = {"city": "Paris", "temp_c": 21}
    message = {"id": "msg_1", "type": "message", "role": "assistant", "model": "m",
               "content": [{"type": "tool_use", "id": "toolu_1", "name": name, "input": answer}],
               "stop_reason": "tool_use", "usage": {"input_tokens": 3, "output_tokens": 4}}
    completion = DIALECT.parse_response(orjson.dumps(message))
    choice = completion["choices"][0]
    assert orjson.loads(choice["message"]["content"]) == answer
    assert "tool_calls" not in choice["message"]
    assert (choice["finish_reason"], choice["native_finish_reason"]) == ("stop", "tool_use")

    stream = sse(
        START,
        {"type": "content_block_start", "index": 0,
         "content_block": {"type": "tool_use", "id": "toolu_1", "name": name, "input": {}}},
        {"type": "content_block_delta", "index": 0,
         "delta": {"type": "input_json_delta", "partial_json": '{"city": "Pa'}},
        {"type": "content_block_delta", "index": 0,
         "delta": {"type": "input_json_delta", "partial_json": 'ris", "temp_c": 21}'}},
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "tool_use"},
         "usage": {"output_tokens": 9}},
        {"type": "message_stop"},
    )
    result = assemble(translate(stream))
    assert orjson.loads(result.content) == answer
    assert result.tool_calls == [] and result.finish == "stop"


# -- (3) requests ----------------------------------------------------------------------------

ADAPTERS: dict[bool, TypeAdapter[Any]] = {
    False: TypeAdapter(MessageCreateParamsNonStreaming),
    True: TypeAdapter(MessageCreateParamsStreaming),
}


def materialise(value: Any) -> Any:
    """Pydantic validates Iterable[...] lazily; walking it forces (and keeps) the result."""
    if isinstance(value, dict):
        return {k: materialise(v) for k, v in value.items()}
    if value is None or isinstance(value, str | bytes | int | float | bool):
        return value
    return [materialise(v) for v in value]


# The API still takes these (older models use them; the recordings send temperature), but
# SDK 2.x no longer types them, as the newest models refuse sampling changes.
SAMPLING = {"temperature": float, "top_p": float, "top_k": int}


def assert_valid_anthropic(body: dict[str, Any]) -> None:
    typed = {k: v for k, v in body.items() if k not in SAMPLING}
    validated = materialise(ADAPTERS[body.get("stream") is True].validate_python(typed))
    assert validated == typed, "the SDK's types dropped or changed something"
    for name, kind in SAMPLING.items():
        assert name not in body or isinstance(body[name], kind)


def build(body: dict[str, Any], stream: bool = False) -> dict[str, Any]:
    snapshot = orjson.dumps(body)
    request = DIALECT.build_request(PROVIDER, "claude-sonnet-4-5", body, stream)
    assert orjson.dumps(body) == snapshot, "build_request must not mutate its input"
    assert request.method == "POST"
    assert request.url == "https://api.anthropic.com/v1/messages"
    assert request.headers == {"x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01",
                               "content-type": "application/json"}
    out: dict[str, Any] = orjson.loads(request.body)
    assert_valid_anthropic(out)
    return out


PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
)
WEATHER: dict[str, Any] = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"]}}}
TOOL_TURN: list[dict[str, Any]] = [
    {"role": "user", "content": "Weather in Paris and Rome?"},
    {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_1", "type": "function",
         "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
        {"id": "call_2", "type": "function",
         "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'}}]},
    {"role": "tool", "tool_call_id": "call_1", "content": "21C"},
    {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "25C"}]},
]


def test_minimal_request() -> None:
    out = build({"messages": [{"role": "user", "content": "Hi"}]})
    assert out == {"model": "claude-sonnet-4-5", "max_tokens": 4096,
                   "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]}


def test_streaming_request_says_so() -> None:
    assert build({"messages": [{"role": "user", "content": "Hi"}]}, stream=True)["stream"] is True


def test_system_and_developer_messages_go_on_top() -> None:
    out = build({"messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "developer", "content": [{"type": "text", "text": "Use French."}]},
        {"role": "user", "content": "Hi"}]})
    assert out["system"] == "Be brief.\n\nUse French."
    assert [m["role"] for m in out["messages"]] == ["user"]


def test_system_with_cache_control_stays_a_list_of_blocks() -> None:
    cached = {"type": "text", "text": "Long manual", "cache_control": {"type": "ephemeral"}}
    out = build({"messages": [{"role": "system", "content": [cached]},
                              {"role": "user", "content": "Hi"}]})
    assert out["system"] == [cached]


def test_multi_turn_merges_consecutive_roles_and_keeps_cache_control() -> None:
    out = build({"messages": [
        {"role": "user", "content": "One"},
        {"role": "user", "content": [
            {"type": "text", "text": "Two", "cache_control": {"type": "ephemeral"}}]},
        {"role": "assistant", "content": "Yes"},
        {"role": "user", "content": "Three"}]})
    assert out["messages"] == [
        {"role": "user", "content": [
            {"type": "text", "text": "One"},
            {"type": "text", "text": "Two", "cache_control": {"type": "ephemeral"}}]},
        {"role": "assistant", "content": [{"type": "text", "text": "Yes"}]},
        {"role": "user", "content": [{"type": "text", "text": "Three"}]}]


def test_images_from_data_uri_and_url() -> None:
    out = build({"messages": [{"role": "user", "content": [
        {"type": "text", "text": "Compare"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg",
                                            "detail": "high"}},
        {"type": "image_url", "image_url": {"url": "data:image/jpg;base64,/9j/"}}]}]})
    assert out["messages"][0]["content"][1:] == [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
        # a common misspelling Anthropic would refuse
        {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/"}},
    ]


def test_empty_text_is_left_out_as_anthropic_refuses_it() -> None:
    out = build({"messages": [
        {"role": "user", "content": [{"type": "text", "text": ""}, {"type": "text", "text": "Hi"}]},
        {"role": "assistant", "content": "", "tool_calls": TOOL_TURN[1]["tool_calls"][:1]},
        {"role": "tool", "tool_call_id": "call_1", "content": "21C"},
        {"role": "assistant", "content": ""},
        {"role": "user", "content": "Thanks"}], "tools": [WEATHER]})
    assert [m["content"] for m in out["messages"]] == [
        [{"type": "text", "text": "Hi"}],
        [{"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}}],
        [{"type": "tool_result", "tool_use_id": "call_1", "content": "21C"},
         {"type": "text", "text": "Thanks"}]]


def test_pdf_file_part_becomes_a_document() -> None:
    out = build({"messages": [{"role": "user", "content": [
        {"type": "file", "file": {"filename": "a.pdf",
                                  "file_data": "data:application/pdf;base64,JVBERi0="}}]}]})
    assert out["messages"][0]["content"] == [{"type": "document", "source": {
        "type": "base64", "media_type": "application/pdf", "data": "JVBERi0="}}]


def test_tools_tool_calls_and_merged_tool_results() -> None:
    out = build({"messages": TOOL_TURN, "tools": [WEATHER], "tool_choice": "auto"})
    assert out["tools"] == [{"name": "get_weather", "description": "Weather for a city",
                             "input_schema": WEATHER["function"]["parameters"]}]
    assert out["tool_choice"] == {"type": "auto"}
    assert out["messages"][1] == {"role": "assistant", "content": [
        {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
        {"type": "tool_use", "id": "call_2", "name": "get_weather", "input": {"city": "Rome"}}]}
    assert out["messages"][2] == {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "call_1", "content": "21C"},
        {"type": "tool_result", "tool_use_id": "call_2",
         "content": [{"type": "text", "text": "25C"}]}]}


@pytest.mark.parametrize(
    ("choice", "parallel", "want"),
    [
        ("auto", None, {"type": "auto"}),
        ("none", None, {"type": "none"}),
        ("required", None, {"type": "any"}),
        ({"type": "function", "function": {"name": "get_weather"}}, None,
         {"type": "tool", "name": "get_weather"}),
        ("required", False, {"type": "any", "disable_parallel_tool_use": True}),
        (None, False, {"type": "auto", "disable_parallel_tool_use": True}),
        (None, None, None),
    ],
)
def test_tool_choice(choice: Any, parallel: bool | None, want: dict[str, Any] | None) -> None:
    body: dict[str, Any] = {"messages": [{"role": "user", "content": "Hi"}], "tools": [WEATHER]}
    if choice is not None:
        body["tool_choice"] = choice
    if parallel is not None:
        body["parallel_tool_calls"] = parallel
    assert build(body).get("tool_choice") == want


def test_sampling_parameters_stop_and_user() -> None:
    out = build({"messages": [{"role": "user", "content": "Hi"}], "temperature": 0.3,
                 "top_p": 0.9, "top_k": 40, "stop": "END", "user": "user-42",
                 "max_completion_tokens": 100, "seed": 7, "n": 1})
    assert (out["temperature"], out["top_p"], out["top_k"]) == (0.3, 0.9, 40)
    assert out["stop_sequences"] == ["END"] and out["max_tokens"] == 100
    assert out["metadata"] == {"user_id": "user-42"}
    assert build({"messages": [{"role": "user", "content": "Hi"}],
                  "stop": ["a", "b"]})["stop_sequences"] == ["a", "b"]


def test_temperature_is_clamped_to_anthropics_range() -> None:
    assert build({"messages": [{"role": "user", "content": "Hi"}],
                  "temperature": 1.7})["temperature"] == 1.0


def test_json_schema_forces_a_tool_named_after_the_schema() -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}}
    out = build({"messages": [{"role": "user", "content": "Paris?"}], "response_format": {
        "type": "json_schema", "json_schema": {"name": "city info", "schema": schema}}})
    (tool,) = out["tools"]
    assert tool["name"] == JSON_TOOL_PREFIX + "city_info" and tool["input_schema"] == schema
    assert out["tool_choice"] == {"type": "tool", "name": tool["name"]}


def test_json_schema_with_client_tools_lets_either_be_called() -> None:
    out = build({"messages": [{"role": "user", "content": "Paris?"}], "tools": [WEATHER],
                 "response_format": {"type": "json_schema",
                                     "json_schema": {"name": "answer", "schema": {}}}})
    assert [t["name"] for t in out["tools"]] == ["get_weather", JSON_TOOL_PREFIX + "answer"]
    assert out["tool_choice"] == {"type": "any"}


def test_json_object_adds_a_system_instruction() -> None:
    out = build({"messages": [{"role": "system", "content": "Be brief."},
                              {"role": "user", "content": "Paris?"}],
                 "response_format": {"type": "json_object"}})
    assert out["system"].startswith("Be brief.\n\n") and "JSON" in out["system"]


@pytest.mark.parametrize(
    ("reasoning", "max_tokens", "budget", "want_max"),
    [
        ({"effort": "high"}, 10000, 8000, 10000),
        ({"effort": "medium"}, 10000, 5000, 10000),
        ({"effort": "low"}, 10000, 2000, 10000),
        ({"effort": "low"}, None, 1024, 4096),  # 0.2 x 4096 is below the 1024 minimum
        ({"max_tokens": 3000}, 2000, 3000, 5000),  # the answer keeps its 2000
        ({"max_tokens": 100}, 8000, 1024, 8000),
        ({}, 8000, 4000, 8000),
    ],
)
def test_reasoning_becomes_a_thinking_budget(
    reasoning: dict[str, Any], max_tokens: int | None, budget: int, want_max: int
) -> None:
    body: dict[str, Any] = {"messages": [{"role": "user", "content": "Hi"}],
                            "reasoning": reasoning, "temperature": 0.2, "top_k": 5}
    if max_tokens:
        body["max_tokens"] = max_tokens
    out = build(body)
    assert out["thinking"] == {"type": "enabled", "budget_tokens": budget}
    assert out["max_tokens"] == want_max > budget
    assert "temperature" not in out and "top_k" not in out  # thinking refuses them


@pytest.mark.parametrize("body", [{"reasoning": {"effort": "none"}},
                                  {"reasoning": {"enabled": False}}, {}])
def test_no_thinking_unless_asked(body: dict[str, Any]) -> None:
    assert "thinking" not in build({"messages": [{"role": "user", "content": "Hi"}], **body})


def test_reasoning_with_forced_tool_falls_back_to_auto() -> None:
    out = build({"messages": [{"role": "user", "content": "Hi"}], "tools": [WEATHER],
                 "tool_choice": "required", "reasoning": {"effort": "low"}})
    assert out["tool_choice"] == {"type": "auto"}


def test_reasoning_details_are_sent_back_as_signed_thinking_first() -> None:
    out = build({"messages": [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": "Checking.", "tool_calls": TOOL_TURN[1]["tool_calls"][:1],
         "reasoning_details": [
             # streamed fragments of one block, as a client collects them
             {"type": "reasoning.text", "text": "Need ", "format": "anthropic-claude-v1",
              "index": 0},
             {"type": "reasoning.text", "text": "a tool.", "format": "anthropic-claude-v1",
              "index": 0},
             {"type": "reasoning.text", "text": "", "signature": "sig==",
              "format": "anthropic-claude-v1", "index": 0},
             {"type": "reasoning.encrypted", "data": "opaque", "format": "anthropic-claude-v1",
              "index": 1},
             {"type": "reasoning.text", "text": "other model", "signature": "x",
              "format": "openai-responses-v1", "index": 2},
             {"type": "reasoning.text", "text": "unsigned", "index": 3},
         ]},
        {"role": "tool", "tool_call_id": "call_1", "content": "21C"}],
        "reasoning": {"effort": "low"}, "tools": [WEATHER]})
    assert out["messages"][1]["content"] == [
        {"type": "thinking", "thinking": "Need a tool.", "signature": "sig=="},
        {"type": "redacted_thinking", "data": "opaque"},
        {"type": "text", "text": "Checking."},
        {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}}]


@pytest.mark.parametrize(
    "message",
    [
        {"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]},
        {"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "data:image/bmp;base64,AAAA"}}]},
        {"role": "assistant", "tool_calls": [
            {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{oops"}}]},
        {"role": "tool", "content": "no id"},
        {"role": "function", "content": "legacy"},
        {"role": "system", "content": [{"type": "image_url", "image_url": {"url": "https://x"}}]},
    ],
)
def test_untranslatable_requests_are_a_400_naming_the_field(message: dict[str, Any]) -> None:
    with pytest.raises(UpstreamError) as info:
        DIALECT.build_request(PROVIDER, "m", {"messages": [message]}, False)
    assert (info.value.status, info.value.error_type) == (400, "bad_request")
    assert "messages[0]" in info.value.message


# -- recorded requests: the same intent written as OpenAI translates to what was sent --------


def to_openai(req: dict[str, Any]) -> dict[str, Any]:
    """A recorded Anthropic request written as the OpenAI request that means the same."""
    messages: list[dict[str, Any]] = []
    system = req.get("system")
    if isinstance(system, str):
        messages.append({"role": "system", "content": system})
    elif system:
        messages.append({"role": "system", "content": [dict(b) for b in system]})
    for m in req["messages"]:
        content = m["content"]
        if isinstance(content, str):
            messages.append({"role": m["role"], "content": content})
            continue
        parts: list[dict[str, Any]] = []
        calls: list[dict[str, Any]] = []
        details: list[dict[str, Any]] = []
        for b in content:
            cache = {"cache_control": b["cache_control"]} if b.get("cache_control") else {}
            if b["type"] == "text":
                parts.append({"type": "text", "text": b["text"], **cache})
            elif b["type"] == "image":
                src = b["source"]
                url = (src["url"] if src["type"] == "url"
                       else f"data:{src['media_type']};base64,{src['data']}")
                parts.append({"type": "image_url", "image_url": {"url": url}, **cache})
            elif b["type"] == "tool_result":
                result = b["content"]
                if cache:
                    result = [{"type": "text", "text": result, **cache}]
                messages.append({"role": "tool", "tool_call_id": b["tool_use_id"],
                                 "content": result})
            elif b["type"] == "tool_use":
                calls.append({"id": b["id"], "type": "function", "function": {
                    "name": b["name"], "arguments": orjson.dumps(b["input"]).decode()}})
            elif b["type"] == "thinking":
                details.append({"type": "reasoning.text", "text": b["thinking"],
                                "signature": b["signature"], "format": "anthropic-claude-v1",
                                "index": len(details)})
        if m["role"] == "assistant":
            text = "".join(p["text"] for p in parts)
            msg: dict[str, Any] = {"role": "assistant", "content": text or None}
            if calls:
                msg["tool_calls"] = calls
            if details:
                msg["reasoning_details"] = details
            messages.append(msg)
        elif parts:
            messages.append({"role": "user", "content": parts})
    out: dict[str, Any] = {"messages": messages, "max_tokens": req["max_tokens"]}
    tools = []
    for t in req.get("tools") or []:
        if t.get("type") not in (None, "custom"):
            tools.append(t)  # an Anthropic server tool
        else:
            tools.append({"type": "function", "function": {
                "name": t["name"], "description": t.get("description", ""),
                "parameters": t["input_schema"]}})
    if tools:
        out["tools"] = tools
    choice = (req.get("tool_choice") or {}).get("type")
    if choice:
        out["tool_choice"] = {"any": "required"}.get(choice, choice)
    thinking = req.get("thinking") or {}
    if thinking.get("type") == "enabled":
        out["reasoning"] = {"max_tokens": thinking["budget_tokens"]}
    for src, dst in (("temperature", "temperature"), ("top_p", "top_p"), ("top_k", "top_k"),
                     ("stop_sequences", "stop")):
        if src in req:
            out[dst] = req[src]
    return out


def canonical(req: dict[str, Any]) -> dict[str, Any]:
    """What matters of an Anthropic request, with equivalent spellings made equal."""

    def clean(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()
                    if v is not None and not (k == "is_error" and v is False)}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    def blocks(content: Any) -> list[dict[str, Any]]:
        if isinstance(content, str):
            return [{"type": "text", "text": content}]
        out = []
        for b in clean(content):
            if b["type"] == "tool_result":
                b["content"] = blocks(b["content"])
                if "cache_control" in b:  # the same cache breakpoint, one level down
                    b["content"][-1]["cache_control"] = b.pop("cache_control")
            out.append(b)
        return out

    thinking = req.get("thinking") or {}
    enabled = thinking.get("type") == "enabled"
    system = req.get("system")
    return {
        "model": req["model"],
        "max_tokens": req["max_tokens"],
        "stream": req.get("stream") is True,
        "system": blocks(system) if system else None,
        "messages": [{"role": m["role"], "content": blocks(m["content"])}
                     for m in req["messages"]],
        "tools": [{k: v for k, v in clean(t).items()
                   if k != "cache_control" and not (k == "description" and not v)}
                  for t in req.get("tools") or []],
        "tool_choice": req.get("tool_choice"),
        "thinking": thinking.get("budget_tokens") if enabled else None,
        # thinking requests go without temperature (the recordings send the default, 1.0)
        "temperature": None if enabled else req.get("temperature"),
        "stop_sequences": req.get("stop_sequences"),
    }


REPLAYABLE = [it for it in MESSAGES if isinstance(it.request, dict)
              and (it.request.get("thinking") or {}).get("type") != "adaptive"
              and "output_config" not in it.request]


@pytest.mark.parametrize("it", REPLAYABLE, ids=ids(REPLAYABLE))
def test_recorded_request_intent_translates_to_what_was_sent(it: Interaction) -> None:
    sent: dict[str, Any] = it.request
    stream = sent.get("stream") is True
    request = DIALECT.build_request(PROVIDER, sent["model"], to_openai(sent), stream)
    ours = orjson.loads(request.body)
    assert_valid_anthropic(ours)
    assert canonical(ours) == canonical(sent)


def continuation(first: Interaction, second: Interaction) -> tuple[dict[str, Any], Any]:
    """The assistant turn an OpenAI client keeps from `first`'s answer, and what was sent next."""
    if first.is_sse:
        deltas = [c["choices"][0]["delta"] for c in translate(first.body) if c["choices"]]
        calls: dict[int, dict[str, Any]] = {}
        for d in deltas:
            for call in d.get("tool_calls") or []:
                slot = calls.setdefault(call["index"], {"id": call.get("id"), "type": "function",
                                                        "function": {"name": "", "arguments": ""}})
                slot["function"]["name"] += call["function"].get("name") or ""
                slot["function"]["arguments"] += call["function"].get("arguments") or ""
        message: dict[str, Any] = {
            "role": "assistant",
            "content": "".join(d.get("content") or "" for d in deltas) or None,
            "tool_calls": [calls[i] for i in sorted(calls)],
            # kept exactly as streamed: one fragment per chunk
            "reasoning_details": [r for d in deltas for r in d.get("reasoning_details") or []],
        }
    else:
        message = DIALECT.parse_response(first.body)["choices"][0]["message"]
    return message, second.request["messages"][1]


CHAINS = [(a, b) for a, b in pairwise(MESSAGES)
          if a.cassette == b.cassette and a.status == 200
          and isinstance(b.request, dict) and len(b.request["messages"]) > 1
          and any(blk.get("type") == "thinking" for blk in b.request["messages"][1]["content"])]


@pytest.mark.parametrize(("first", "second"), CHAINS, ids=[a.id for a, _ in CHAINS])
def test_answer_with_thinking_is_sent_back_as_anthropic_expects(
    first: Interaction, second: Interaction
) -> None:
    kept, sent = continuation(first, second)
    body = {"messages": [{"role": "user", "content": "q"}, kept], "reasoning": {"effort": "low"}}
    ours = orjson.loads(DIALECT.build_request(PROVIDER, "m", body, False).body)
    assert_valid_anthropic(ours)
    want = [{k: v for k, v in b.items() if k in ("type", "thinking", "signature", "id", "name",
                                                  "input")}
            for b in sent["content"] if b["type"] in ("thinking", "tool_use")]
    got = [b for b in ours["messages"][1]["content"] if b["type"] in ("thinking", "tool_use")]
    assert got == want
