"""Gemini and Vertex dialects: recorded answers replayed, streams split anywhere, requests
checked against the google-genai SDK's own types.

The expected side of every replay is read straight from the recorded Gemini JSON by the small
`_expected` oracle below (a few lines, independent of the dialect's code), plus spot checks of
literal values from the recordings.
"""

from __future__ import annotations

import base64
import copy
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import pytest
from google.genai import types
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from switchboard.catalog.types import ProviderInfo
from switchboard.dialects.base import UpstreamError
from switchboard.dialects.gemini import GeminiDialect
from switchboard.dialects.gemini_request import SKIP_SIGNATURE, clean_schema
from switchboard.dialects.vertex import HttpxAuthRequest, VertexCredentials, VertexDialect

from .fixtures import Interaction, recorded

DIALECT = GeminiDialect()
PROVIDER = ProviderInfo("google-ai-studio", "Google AI Studio", "gemini",
                        "https://generativelanguage.googleapis.com", api_key="k-123")

CALLS = [it for it in recorded("gemini") if "enerateContent" in it.url]
OK = [it for it in CALLS if it.status == 200]
STREAMS = [it for it in OK if "streamGenerateContent" in it.url]
SINGLE = [it for it in OK if "streamGenerateContent" not in it.url]
FAILED = [it for it in CALLS if it.status != 200]


def _ids(items: list[Interaction]) -> list[str]:
    return [it.id for it in items]


# --- the oracle: what the recording says -----------------------------------------------------


def _frames(it: Interaction) -> list[dict[str, Any]]:
    if it.is_sse:
        lines = it.body.decode().splitlines()
        return [json.loads(line[5:]) for line in lines if line.startswith("data:")]
    data = json.loads(it.body)
    return data if isinstance(data, list) else [data]


@dataclass
class Choice:
    content: str = ""
    reasoning: str = ""
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    signatures: list[str] = field(default_factory=list)
    native: str | None = None


def _expected(frames: list[dict[str, Any]]) -> tuple[dict[int, Choice], dict[str, Any]]:
    choices: dict[int, Choice] = {}
    usage: dict[str, Any] = {}
    for frame in frames:
        usage = frame.get("usageMetadata") or usage
        for pos, cand in enumerate(frame.get("candidates") or []):
            c = choices.setdefault(cand.get("index", pos), Choice())
            for part in cand.get("content", {}).get("parts", []):
                if "thoughtSignature" in part:
                    c.signatures.append(part["thoughtSignature"])
                if "functionCall" in part:
                    c.calls.append((part["functionCall"]["name"], part["functionCall"]["args"]))
                elif part.get("thought"):
                    c.reasoning += part["text"]
                elif "text" in part:
                    c.content += part["text"]
            c.native = cand.get("finishReason", c.native)
    return choices, usage


_FINISH = {"STOP": "stop", "MAX_TOKENS": "length", "SAFETY": "content_filter"}


def _check_choice(got: dict[str, Any], want: Choice) -> None:
    """`got`: content, reasoning, tool_calls, reasoning_details, finish_reason, native."""
    assert (got["content"] or "") == want.content
    assert (got["reasoning"] or "") == want.reasoning
    calls = got.get("tool_calls") or []
    assert [(c["function"]["name"], json.loads(c["function"]["arguments"])) for c in calls] == \
        want.calls
    assert len({c["id"] for c in calls}) == len(calls)
    details = got.get("reasoning_details") or []
    assert [d["data"] for d in details] == want.signatures
    call_ids = {c["id"] for c in calls}
    assert all(d["id"] is None or d["id"] in call_ids for d in details)
    assert all(d["type"] == "reasoning.encrypted" and d["format"] == "google-gemini-v1"
               for d in details)
    reason = _FINISH[want.native or "STOP"]
    assert got["finish_reason"] == ("tool_calls" if want.calls and reason == "stop" else reason)
    assert got["native_finish_reason"] == want.native


def _check_usage(usage: dict[str, Any], meta: dict[str, Any]) -> None:
    thoughts = meta.get("thoughtsTokenCount", 0)
    assert usage["prompt_tokens"] == meta["promptTokenCount"]
    assert usage["completion_tokens"] == meta.get("candidatesTokenCount", 0) + thoughts
    assert usage["total_tokens"] == meta["totalTokenCount"]
    assert usage["completion_tokens_details"] == {"reasoning_tokens": thoughts}
    assert usage["prompt_tokens_details"] == {
        "cached_tokens": meta.get("cachedContentTokenCount", 0), "cache_write_tokens": 0}


# --- replay: single answers ------------------------------------------------------------------


@pytest.mark.parametrize("it", SINGLE, ids=_ids(SINGLE))
def test_recorded_answer(it: Interaction) -> None:
    out = DIALECT.parse_response(it.body)
    want, meta = _expected(_frames(it))
    assert out["object"] == "chat.completion"
    assert [c["index"] for c in out["choices"]] == sorted(want)
    for choice in out["choices"]:
        _check_choice({**choice["message"], **choice}, want[choice["index"]])
        assert "index" not in str([tc.keys() for tc in choice["message"].get("tool_calls", [])])
    _check_usage(out["usage"], meta)


def test_recorded_answer_spot_checks() -> None:
    by_id = {it.id: DIALECT.parse_response(it.body) for it in SINGLE}
    potato = by_id["pydantic-ai__test_google_model_image_url_input#1"]
    assert potato["choices"][0]["message"]["content"] == "That is a potato."
    assert potato["usage"]["prompt_tokens"] == 1817
    calls = by_id["mirascope__test_call_with_tools__google_gemini_2_5_flash__sync#0"]
    message = calls["choices"][0]["message"]
    assert message["content"] is None
    assert [json.loads(tc["function"]["arguments"]) for tc in message["tool_calls"]] == [
        {"password": "mellon"}, {"password": "radiance"}]
    # the signature is tied to the first call, the one Gemini put it on
    assert message["reasoning_details"][0]["id"] == message["tool_calls"][0]["id"]
    assert calls["choices"][0]["finish_reason"] == "tool_calls"
    assert calls["usage"]["completion_tokens_details"]["reasoning_tokens"] == 76


# --- replay: streams -------------------------------------------------------------------------


@dataclass
class Streamed:
    choices: dict[int, dict[str, Any]]
    usage: list[dict[str, Any]]
    chunks: list[dict[str, Any]]


def _run(chunks: list[dict[str, Any]]) -> Streamed:
    choices: dict[int, dict[str, Any]] = {}
    usage: list[dict[str, Any]] = []
    for chunk in chunks:
        assert chunk["object"] == "chat.completion.chunk"
        if chunk.get("usage"):
            assert chunk["choices"] == []
            usage.append(chunk["usage"])
        for ch in chunk["choices"]:
            c = choices.setdefault(ch["index"], {
                "content": "", "reasoning": "", "calls": {}, "reasoning_details": [],
                "finish_reason": None, "native_finish_reason": None, "roles": 0})
            delta = ch["delta"]
            c["roles"] += delta.get("role") == "assistant"
            c["content"] += delta.get("content") or ""
            c["reasoning"] += delta.get("reasoning") or ""
            for tc in delta.get("tool_calls") or []:
                slot = c["calls"].setdefault(tc["index"], {"id": tc["id"], "function": {
                    "name": tc["function"]["name"], "arguments": ""}})
                slot["function"]["arguments"] += tc["function"].get("arguments") or ""
            c["reasoning_details"] += delta.get("reasoning_details") or []
            if ch["finish_reason"]:
                assert c["finish_reason"] is None, "one finish chunk per choice"
                c["finish_reason"] = ch["finish_reason"]
                c["native_finish_reason"] = ch["native_finish_reason"]
    for c in choices.values():
        c["tool_calls"] = [c["calls"][i] for i in sorted(c["calls"])]
    return Streamed(choices, usage, chunks)


def _translate(body: bytes, cuts: list[int] | None = None) -> list[dict[str, Any]]:
    tr = DIALECT.stream_translator()
    out: list[dict[str, Any]] = []
    bounds = [0, *sorted(cuts or []), len(body)]
    for a, b in itertools.pairwise(bounds):
        out += tr.feed(body[a:b])
    out += tr.close()
    assert tr.close() == []
    return out


@pytest.mark.parametrize("it", STREAMS, ids=_ids(STREAMS))
def test_recorded_stream(it: Interaction) -> None:
    got = _run(_translate(it.body))
    want, meta = _expected(_frames(it))
    assert sorted(got.choices) == sorted(want)
    for index, c in got.choices.items():
        assert c["roles"] == 1
        _check_choice(c, want[index])
    first = got.chunks[0]["choices"][0]["delta"]
    assert first == {"role": "assistant", "content": ""}
    assert len(got.usage) == 1 and got.chunks[-1]["usage"] == got.usage[0]
    _check_usage(got.usage[0], meta)


@pytest.mark.parametrize("it", STREAMS, ids=_ids(STREAMS))
def test_recorded_stream_matches_single_answer(it: Interaction) -> None:
    """The same response read as a stream and as one body gives the same message and ids."""
    frames = _frames(it)
    got = _run(_translate(it.body)).choices[0]
    calls = [tc for f in frames for tc in DIALECT.parse_response(orjson.dumps(f))["choices"][0]
             ["message"].get("tool_calls", [])]
    assert [tc["id"] for tc in got["tool_calls"]] == [tc["id"] for tc in calls]


def test_recorded_stream_spot_checks() -> None:
    by_id = {it.id: _run(_translate(it.body)).choices[0] for it in STREAMS}
    assert by_id["llm-gemini__test_prompt#0"]["content"] == "Scoop"
    assert by_id["llm-gemini__test_prompt#0"]["reasoning"].startswith("**Considering")
    assert by_id["mirascope__test_call_with_thinking__google_gemini_2_5_flash__stream#0"][
        "content"] == "3"
    tools = by_id["llm-gemini__test_tools_with_gemini_3_thought_signatures#0"]
    assert json.loads(tools["tool_calls"][0]["function"]["arguments"]) == {"x": 5, "y": 3}
    assert tools["reasoning_details"][0]["id"] == tools["tool_calls"][0]["id"]
    assert by_id["pydantic-ai__test_google_model_iter_stream#2"]["content"] == \
        "The temperature in Paris is 30°C.\n"


def _strip_created(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in c.items() if k != "created"} for c in chunks]


@pytest.mark.parametrize("it", STREAMS, ids=_ids(STREAMS))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_stream_split_anywhere(it: Interaction, data: st.DataObject) -> None:
    cuts = data.draw(st.lists(st.integers(0, len(it.body)), max_size=40))
    assert _strip_created(_translate(it.body, cuts)) == _strip_created(_translate(it.body))


@pytest.mark.parametrize("it", STREAMS[:4], ids=_ids(STREAMS[:4]))
def test_stream_fed_byte_by_byte(it: Interaction) -> None:
    every = list(range(1, len(it.body)))
    assert _strip_created(_translate(it.body, every)) == _strip_created(_translate(it.body))


# --- replay: errors --------------------------------------------------------------------------


@pytest.mark.parametrize("it", FAILED, ids=_ids(FAILED))
def test_recorded_error(it: Interaction) -> None:
    err = DIALECT.parse_error(it.status, it.body, it.headers)
    body = json.loads(it.body)["error"]
    assert err.message == body["message"]
    assert err.upstream_status == it.status
    assert err.raw == json.loads(it.body)
    expected = {"NOT_FOUND": (404, "not_found"),
                "INVALID_ARGUMENT": (401, "provider_auth_error")}  # API_KEY_INVALID comes as 400
    assert (err.status, err.error_type) == expected[body["status"]]


def _google(code: int, status: str, message: str, details: list[Any] | None = None) -> bytes:
    return orjson.dumps({"error": {"code": code, "message": message, "status": status,
                                   **({"details": details} if details else {})}})


@pytest.mark.parametrize(("status", "body", "headers", "want"), [
    (429, _google(429, "RESOURCE_EXHAUSTED", "Quota exceeded", [
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "37s"}]), {},
     (429, "rate_limit_exceeded", 37.0)),
    (429, _google(429, "RESOURCE_EXHAUSTED", "Resource exhausted"), {"retry-after": "3"},
     (429, "rate_limit_exceeded", 3.0)),
    (400, _google(400, "INVALID_ARGUMENT", "The input token count (1200000) exceeds the maximum "
                  "number of tokens allowed (1048576)."), {},
     (400, "context_length_exceeded", None)),
    (400, _google(400, "INVALID_ARGUMENT", "Invalid JSON payload received."), {},
     (400, "bad_request", None)),
    (503, _google(503, "UNAVAILABLE", "The model is overloaded. Please try again later."), {},
     (502, "provider_unavailable", None)),
    (500, _google(500, "INTERNAL", "An internal error has occurred."), {},
     (502, "provider_unavailable", None)),
    (403, _google(403, "PERMISSION_DENIED", "Method doesn't allow unregistered callers."), {},
     (403, "forbidden", None)),
    (401, _google(401, "UNAUTHENTICATED", "Request had invalid authentication credentials."), {},
     (401, "provider_auth_error", None)),
    (400, _google(400, "FAILED_PRECONDITION", "User location is not supported for the API use."),
     {}, (403, "forbidden", None)),
    (504, _google(504, "DEADLINE_EXCEEDED", "Deadline expired before operation could complete."),
     {}, (408, "timeout", None)),
    (502, b"<html>Bad Gateway</html>", {}, (502, "provider_unavailable", None)),
])
def test_error_classes(status: int, body: bytes, headers: dict[str, str],
                       want: tuple[int, str, float | None]) -> None:
    err = DIALECT.parse_error(status, body, headers)
    assert (err.status, err.error_type, err.retry_after) == want
    assert err.upstream_status == status


# --- stream and answer edge cases ------------------------------------------------------------


def _sse(*frames: dict[str, Any]) -> bytes:
    return b"".join(b"data: " + orjson.dumps(f) + b"\r\n\r\n" for f in frames)


def _cand(text: str, finish: str | None = None, index: int = 0) -> dict[str, Any]:
    c: dict[str, Any] = {"content": {"role": "model", "parts": [{"text": text}]}, "index": index}
    return {**c, "finishReason": finish} if finish else c


def test_stream_prompt_blocked() -> None:
    body = _sse({"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"},
                 "usageMetadata": {"promptTokenCount": 9, "totalTokenCount": 9}})
    got = _run(_translate(body))
    assert got.choices[0]["finish_reason"] == "content_filter"
    assert got.choices[0]["native_finish_reason"] == "PROHIBITED_CONTENT"
    assert got.usage[0]["prompt_tokens"] == 9


def test_stream_length_safety_and_several_candidates() -> None:
    body = _sse({"candidates": [_cand("a", index=0), _cand("b", index=1)]},
                {"candidates": [_cand("c", "MAX_TOKENS", 0), _cand("d", "SAFETY", 1)],
                 "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 4,
                                   "totalTokenCount": 7}})
    got = _run(_translate(body))
    assert (got.choices[0]["content"], got.choices[0]["finish_reason"]) == ("ac", "length")
    assert (got.choices[1]["content"], got.choices[1]["finish_reason"]) == ("bd", "content_filter")


def test_stream_without_finish_reason_still_finishes() -> None:
    got = _run(_translate(_sse({"candidates": [_cand("hi")]})))
    assert got.choices[0]["finish_reason"] == "stop" and got.usage == []


def test_stream_inband_error_raises() -> None:
    tr = DIALECT.stream_translator()
    tr.feed(_sse({"candidates": [_cand("partial")]}))
    with pytest.raises(UpstreamError) as exc:
        tr.feed(_sse({"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": "slow"}}))
    assert exc.value.status == 429
    with pytest.raises(UpstreamError) as bad:
        DIALECT.stream_translator().feed(b"data: {not json\n\n")
    assert bad.value.status == 502
    array = b'[{"candidates": []},\r\n{"error": {"code": 503, "status": "UNAVAILABLE"}}]'
    with pytest.raises(UpstreamError) as unavailable:
        DIALECT.stream_translator().feed(array)
    assert unavailable.value.error_type == "provider_unavailable"


def test_error_body_wrapped_in_array() -> None:
    """Without alt=sse, Google wraps even an error in the JSON array."""
    body = b"[" + _google(429, "RESOURCE_EXHAUSTED", "Quota exceeded") + b"]"
    err = DIALECT.parse_error(429, body, {})
    assert (err.status, err.message) == (429, "Quota exceeded")


def test_json_array_stream_with_odd_strings() -> None:
    frames = [{"candidates": [_cand('br{ace}s "quoted" \\ [x] \u00e9\u4e2d')]},
              {"candidates": [_cand("!", "STOP")]}]
    body = b"[" + b",\r\n".join(orjson.dumps(f) for f in frames) + b"]"
    for cuts in ([], list(range(1, len(body)))):
        got = _run(_translate(body, cuts))
        assert got.choices[0]["content"] == 'br{ace}s "quoted" \\ [x] \u00e9\u4e2d!'


def test_answer_edge_cases() -> None:
    blocked = DIALECT.parse_response(orjson.dumps(
        {"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {"promptTokenCount": 4}}))
    assert blocked["choices"][0]["finish_reason"] == "content_filter"
    assert blocked["choices"][0]["message"]["content"] == ""
    image = DIALECT.parse_response(orjson.dumps({"candidates": [{"content": {"parts": [
        {"inlineData": {"mimeType": "image/png", "data": "iVBO"}}]}, "finishReason": "STOP"}]}))
    assert image["choices"][0]["message"]["images"][0]["image_url"]["url"] == \
        "data:image/png;base64,iVBO"
    for junk in (b"<html>", b"[]", b"{}"):
        with pytest.raises(UpstreamError) as exc:
            DIALECT.parse_response(junk)
        assert exc.value.status == 502
    with pytest.raises(UpstreamError) as err:
        DIALECT.parse_response(_google(503, "UNAVAILABLE", "overloaded"))
    assert err.value.error_type == "provider_unavailable"


# --- requests, validated by the SDK's types --------------------------------------------------

_BODY_KEYS = {"contents", "systemInstruction", "generationConfig", "tools", "toolConfig"}


def _body(req_body: dict[str, Any], provider: ProviderInfo = PROVIDER,
          dialect: GeminiDialect = DIALECT) -> dict[str, Any]:
    before = copy.deepcopy(req_body)
    req = dialect.build_request(provider, "gemini-2.5-flash", req_body, False)
    assert req_body == before, "build_request must not mutate the OpenAI body"
    body: dict[str, Any] = json.loads(req.body)
    assert set(body) <= _BODY_KEYS
    for content in body["contents"]:
        assert content["role"] in ("user", "model")
        types.Content.model_validate_json(orjson.dumps(content))
    roles = [c["role"] for c in body["contents"]]
    assert all(a != b for a, b in itertools.pairwise(roles)), "turns alternate"
    if "systemInstruction" in body:
        types.Content.model_validate_json(orjson.dumps(body["systemInstruction"]))
    if "generationConfig" in body:
        types.GenerationConfig.model_validate_json(orjson.dumps(body["generationConfig"]))
    for tool in body.get("tools", []):
        types.Tool.model_validate_json(orjson.dumps(tool))
    if "toolConfig" in body:
        types.ToolConfig.model_validate_json(orjson.dumps(body["toolConfig"]))
    return body


def test_request_url_and_headers() -> None:
    req = DIALECT.build_request(PROVIDER, "gemini-2.5-flash",
                                {"messages": [{"role": "user", "content": "hi"}]}, False)
    assert req.url == ("https://generativelanguage.googleapis.com/v1beta/models/"
                       "gemini-2.5-flash:generateContent")
    assert req.headers["x-goog-api-key"] == "k-123"
    stream = DIALECT.build_request(PROVIDER, "gemini-2.5-flash",
                                   {"messages": [{"role": "user", "content": "hi"}]}, True)
    assert stream.url.endswith("gemini-2.5-flash:streamGenerateContent?alt=sse")


def test_request_system_and_multi_turn() -> None:
    body = _body({"messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
        {"role": "user", "content": "Hello"},
        {"role": "user", "content": [{"type": "text", "text": "there"}]},
        {"role": "assistant", "content": "Bonjour"},
        {"role": "user", "content": "Again"},
    ]})
    assert body["systemInstruction"] == {"parts": [{"text": "Be brief."},
                                                   {"text": "Answer in French."}]}
    assert body["contents"] == [
        {"role": "user", "parts": [{"text": "Hello"}, {"text": "there"}]},
        {"role": "model", "parts": [{"text": "Bonjour"}]},
        {"role": "user", "parts": [{"text": "Again"}]},
    ]
    assert "generationConfig" not in body


def test_request_system_only_becomes_a_user_turn() -> None:
    body = _body({"messages": [{"role": "system", "content": "Say hi"}]})
    assert body["contents"] == [{"role": "user", "parts": [{"text": "Say hi"}]}]


def test_request_generation_config() -> None:
    body = _body({"messages": [{"role": "user", "content": "x"}], "temperature": 0.2,
                  "top_p": 0.9, "top_k": 40, "max_tokens": 100, "max_completion_tokens": 50,
                  "stop": "END", "n": 2, "seed": 7, "presence_penalty": 0.5,
                  "frequency_penalty": -0.5, "user": "u1", "parallel_tool_calls": True})
    assert body["generationConfig"] == {
        "temperature": 0.2, "topP": 0.9, "topK": 40, "maxOutputTokens": 50,
        "stopSequences": ["END"], "candidateCount": 2, "seed": 7, "presencePenalty": 0.5,
        "frequencyPenalty": -0.5}
    listed = _body({"messages": [{"role": "user", "content": "x"}], "stop": ["a", "b"]})
    assert listed["generationConfig"]["stopSequences"] == ["a", "b"]


@pytest.mark.parametrize(("fields", "thinking"), [
    ({"reasoning": {"effort": "high"}}, {"thinkingBudget": 16384, "includeThoughts": True}),
    ({"reasoning_effort": "low"}, {"thinkingBudget": 4096, "includeThoughts": True}),
    ({"reasoning": {"max_tokens": 2000}}, {"thinkingBudget": 2000, "includeThoughts": True}),
    ({"reasoning": {"enabled": True}}, {"includeThoughts": True}),
    ({"reasoning": {"effort": "medium", "exclude": True}},
     {"thinkingBudget": 8192, "includeThoughts": False}),
    ({"reasoning": {"enabled": False}}, {"thinkingBudget": 0}),
    ({"reasoning": {"effort": "none"}}, {"thinkingBudget": 0}),
    ({"include_reasoning": True}, {"includeThoughts": True}),
    ({}, None),
])
def test_request_reasoning(fields: dict[str, Any], thinking: dict[str, Any] | None) -> None:
    body = _body({"messages": [{"role": "user", "content": "x"}], **fields})
    assert body.get("generationConfig", {}).get("thinkingConfig") == thinking


PERSON_SCHEMA: dict[str, Any] = {  # what pydantic emits for a nested model with an Optional
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$defs": {
        "Pet": {"type": "object", "title": "Pet", "additionalProperties": False,
                "properties": {"kind": {"enum": ["cat", "dog"], "type": "string"},
                               "legs": {"type": "integer", "default": 4, "examples": [4]}},
                "required": ["kind"]},
        "Node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/Node"}}},
    },
    "type": "object", "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "format": "email", "pattern": "^.+$"},
        "born": {"type": "string", "format": "date-time"},
        "pet": {"anyOf": [{"$ref": "#/$defs/Pet"}, {"type": "null"}], "default": None},
        "tags": {"type": "array", "items": {"type": ["string", "null"]}},
        "mixed": {"type": ["string", "integer"]},
        "mode": {"const": "fast"},
        "score": {"allOf": [{"$ref": "#/$defs/Pet"}], "description": "wrapped"},
        "chain": {"$ref": "#/$defs/Node"},
    },
    "required": ["name", "pet", "missing"],
}


def _walk_keys(node: Any) -> set[str]:
    if isinstance(node, dict):
        return set(node) | {k for v in node.values() for k in _walk_keys(v)}
    if isinstance(node, list):
        return {k for v in node for k in _walk_keys(v)}
    return set()


def test_schema_cleaning() -> None:
    schema = clean_schema(PERSON_SCHEMA)
    types.Schema.model_validate_json(orjson.dumps(schema))
    forbidden = {"$schema", "$defs", "$ref", "additionalProperties", "default", "examples",
                 "pattern", "const", "allOf", "oneOf"}
    assert not _walk_keys(schema) & forbidden
    props = schema["properties"]
    assert schema["type"] == "OBJECT" and schema["required"] == ["name", "pet"]
    assert props["name"] == {"type": "STRING"}  # Gemini knows no "email" format
    assert props["born"] == {"type": "STRING", "format": "date-time"}
    assert props["pet"]["nullable"] is True and props["pet"]["required"] == ["kind"]
    assert props["pet"]["properties"]["kind"] == {"type": "STRING", "enum": ["cat", "dog"]}
    assert props["tags"]["items"] == {"type": "STRING", "nullable": True}
    assert props["mixed"] == {"anyOf": [{"type": "STRING"}, {"type": "INTEGER"}]}
    assert props["mode"] == {"type": "STRING", "enum": ["fast"]}
    assert props["score"]["description"] == "wrapped" and "kind" in props["score"]["properties"]
    assert props["chain"]["properties"]["next"] == {"type": "OBJECT"}  # recursion cut


TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "description": "Weather in a city",
                                      "parameters": PERSON_SCHEMA}},
    {"type": "function", "function": {"name": "now", "parameters": {"type": "object",
                                                                    "properties": {}}}},
]


@pytest.mark.parametrize(("choice", "config"), [
    (None, None),
    ("auto", {"mode": "AUTO"}),
    ("none", {"mode": "NONE"}),
    ("required", {"mode": "ANY"}),
    ({"type": "function", "function": {"name": "now"}},
     {"mode": "ANY", "allowedFunctionNames": ["now"]}),
])
def test_request_tools(choice: Any, config: dict[str, Any] | None) -> None:
    req: dict[str, Any] = {"messages": [{"role": "user", "content": "x"}], "tools": TOOLS}
    if choice is not None:
        req["tool_choice"] = choice
    body = _body(req)
    decls = body["tools"][0]["functionDeclarations"]
    assert [d["name"] for d in decls] == ["get_weather", "now"]
    assert decls[0]["description"] == "Weather in a city"
    assert decls[0]["parameters"] == clean_schema(PERSON_SCHEMA)
    assert "parameters" not in decls[1]  # Gemini wants no schema for an argument-less function
    assert body.get("toolConfig") == ({"functionCallingConfig": config} if config else None)


def _tool_turn(details: list[dict[str, Any]] | None = None,
               extra: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    assistant: dict[str, Any] = {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_a", "type": "function",
         "function": {"name": "lookup", "arguments": '{"q": "mellon"}'}, **(extra or {})},
        {"id": "call_b", "type": "function", "function": {"name": "fetch", "arguments": ""}}]}
    if details is not None:
        assistant["reasoning_details"] = details
    return [
        {"role": "user", "content": "Look both up"},
        assistant,
        {"role": "tool", "tool_call_id": "call_a", "content": '{"secret": "Moria"}'},
        {"role": "tool", "tool_call_id": "call_b", "content": [{"type": "text", "text": "42"}]},
        {"role": "user", "content": "Thanks, and?"},
    ]


def test_request_tool_results_and_signatures() -> None:
    sig = base64.b64encode(b"opaque signature").decode()
    body = _body({"messages": _tool_turn([
        {"type": "reasoning.encrypted", "data": sig, "id": "call_a", "format": "google-gemini-v1",
         "index": 0}])})
    model, results = body["contents"][1], body["contents"][2]
    assert model == {"role": "model", "parts": [
        {"functionCall": {"name": "lookup", "args": {"q": "mellon"}}, "thoughtSignature": sig},
        {"functionCall": {"name": "fetch", "args": {}}}]}
    assert results == {"role": "user", "parts": [
        {"functionResponse": {"name": "lookup", "response": {"secret": "Moria"}}},
        {"functionResponse": {"name": "fetch", "response": {"output": 42}}},
        {"text": "Thanks, and?"}]}


def test_request_signature_placeholder_when_client_dropped_it() -> None:
    body = _body({"messages": _tool_turn()})
    parts = body["contents"][1]["parts"]
    assert parts[0]["thoughtSignature"] == SKIP_SIGNATURE
    assert "thoughtSignature" not in parts[1]  # only the first call of a step needs one
    assert base64.b64decode(SKIP_SIGNATURE) == b"skip_thought_signature_validator"


def test_request_signature_from_google_openai_compat_field() -> None:
    extra = {"extra_content": {"google": {"thought_signature": "c2ln"}}}
    body = _body({"messages": _tool_turn(extra=extra)})
    assert body["contents"][1]["parts"][0]["thoughtSignature"] == "c2ln"


def test_request_text_signature_goes_back_on_text() -> None:
    body = _body({"messages": [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello", "reasoning": "thinking...",
         "reasoning_details": [{"type": "reasoning.encrypted", "data": "c2ln", "id": None,
                                "format": "google-gemini-v1"},
                               {"type": "reasoning.encrypted", "data": "b3RoZXI=",
                                "format": "anthropic-claude-v1"}]},
        {"role": "user", "content": "more"}]})
    assert body["contents"][1]["parts"] == [{"text": "hello", "thoughtSignature": "c2ln"}]


def test_request_media() -> None:
    png = "iVBORw0KGgo="
    body = _body({"messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/a/cat.webp?x=1",
                                            "detail": "high"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/image"}},
        {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "mp3"}},
        {"type": "file", "file": {"filename": "doc.pdf",
                                  "file_data": "data:application/pdf;base64,JVBERi0="}},
    ]}]})
    assert body["contents"][0]["parts"] == [
        {"text": "What is this?"},
        {"inlineData": {"mimeType": "image/png", "data": png}},
        {"fileData": {"mimeType": "image/webp", "fileUri": "https://example.com/a/cat.webp?x=1"}},
        {"fileData": {"mimeType": "image/jpeg", "fileUri": "https://example.com/image"}},
        {"inlineData": {"mimeType": "audio/mp3", "data": "UklGRg=="}},
        {"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0="}},
    ]


@pytest.mark.parametrize(("fmt", "want"), [
    ({"type": "json_object"}, {"responseMimeType": "application/json"}),
    ({"type": "json_schema", "json_schema": {"name": "p", "strict": True, "schema": PERSON_SCHEMA}},
     {"responseMimeType": "application/json", "responseSchema": clean_schema(PERSON_SCHEMA)}),
    ({"type": "text"}, None),
])
def test_request_response_format(fmt: dict[str, Any], want: dict[str, Any] | None) -> None:
    body = _body({"messages": [{"role": "user", "content": "x"}], "response_format": fmt})
    assert body.get("generationConfig") == want


def test_request_rebuilds_recorded_first_turn() -> None:
    """The OpenAI twin of a recorded request yields the same Gemini body."""
    name = "mirascope__test_call_with_tools__google_gemini_2_5_flash__sync#0"
    it = next(i for i in SINGLE if i.id == name)
    body = _body({"messages": [
        {"role": "system", "content": "Use parallel tool calling."},
        {"role": "user", "content": "Please retrieve the secrets associated with each of these "
                                    "passwords: mellon,radiance"}],
        "tools": [{"type": "function", "function": {
            "name": "secret_retrieval_tool",
            "description": "A tool that requires a password to retrieve a secret.",
            "parameters": {"properties": {"password": {"title": "Password", "type": "string"}},
                           "required": ["password"], "type": "object"}}}]})
    rec = it.request
    assert body["contents"] == rec["contents"]
    assert body["systemInstruction"]["parts"] == rec["systemInstruction"]["parts"]
    assert body["tools"] == rec["tools"]


def _sig_bytes(sig: str) -> bytes:
    return base64.urlsafe_b64decode(sig.replace("+", "-").replace("/", "_"))


@pytest.mark.parametrize(("first", "second"), [
    ("mirascope__test_call_with_tools__google_gemini_2_5_flash__sync#0",
     "mirascope__test_call_with_tools__google_gemini_2_5_flash__sync#1"),
    ("mirascope__test_call_with_tools__google_gemini_2_5_flash__stream#0",
     "mirascope__test_call_with_tools__google_gemini_2_5_flash__stream#1"),
    ("llm-gemini__test_tools_with_gemini_3_thought_signatures#0",
     "llm-gemini__test_tools_with_gemini_3_thought_signatures#1"),
    ("pydantic-ai__test_google_streaming_tool_call_thought_signature#0",
     "pydantic-ai__test_google_streaming_tool_call_thought_signature#1"),
])
def test_signatures_round_trip_like_the_recorded_next_turn(first: str, second: str) -> None:
    """Answer -> OpenAI assistant message -> next request: the model turn the SDK sent."""
    prev = next(i for i in OK if i.id == first)
    nxt = next(i for i in OK if i.id == second)
    if prev in STREAMS:
        c = _run(_translate(prev.body)).choices[0]
        message = {"role": "assistant", "content": c["content"] or None,
                   "tool_calls": [{**tc, "type": "function"} for tc in c["tool_calls"]],
                   "reasoning_details": c["reasoning_details"]}
    else:
        message = DIALECT.parse_response(prev.body)["choices"][0]["message"]
    results = [{"role": "tool", "tool_call_id": tc["id"], "content": f"result {n}"}
               for n, tc in enumerate(message["tool_calls"])]
    body = _body({"messages": [{"role": "user", "content": "question"},
                               json.loads(orjson.dumps(message)), *results]})

    def calls(content: dict[str, Any]) -> list[tuple[str, Any, bytes | None]]:
        out = []
        for p in content["parts"]:
            fc = p.get("functionCall") or p.get("function_call")
            if fc:
                sig = p.get("thoughtSignature")
                out.append((fc["name"], fc["args"], _sig_bytes(sig) if sig else None))
        return out

    recorded_model = next(c for c in nxt.request["contents"] if c["role"] == "model")
    assert calls(body["contents"][1]) == calls(recorded_model)
    responses = [p for p in body["contents"][2]["parts"] if "functionResponse" in p]
    assert [p["functionResponse"]["name"] for p in responses] == [
        name for name, _, _ in calls(recorded_model)]


# --- Vertex ----------------------------------------------------------------------------------

VERTEX = VertexDialect()
VERTEX_PROVIDER = ProviderInfo("vertex", "Google Vertex", "vertex", "", api_key="ya29.token",
                               options={"project": "proj-1", "location": "europe-west4"})


def _vertex(provider: ProviderInfo, stream: bool = False) -> Any:
    return VERTEX.build_request(provider, "gemini-2.5-pro",
                                {"messages": [{"role": "user", "content": "hi"}]}, stream)


def test_vertex_url_and_auth() -> None:
    req = _vertex(VERTEX_PROVIDER)
    assert req.url == ("https://europe-west4-aiplatform.googleapis.com/v1/projects/proj-1/locations/"
                       "europe-west4/publishers/google/models/gemini-2.5-pro:generateContent")
    assert req.headers["authorization"] == "Bearer ya29.token"
    assert "x-goog-api-key" not in req.headers
    assert json.loads(req.body) == json.loads(
        DIALECT.build_request(PROVIDER, "m", {"messages": [{"role": "user", "content": "hi"}]},
                              False).body)
    assert _vertex(VERTEX_PROVIDER, True).url.endswith(
        "/models/gemini-2.5-pro:streamGenerateContent?alt=sse")


def test_vertex_locations_and_base_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    glob = ProviderInfo("v", "V", "vertex", "https://{location}-aiplatform.googleapis.com",
                        options={"project": "p", "location": "global", "access_token": "t"})
    assert _vertex(glob).url.startswith(
        "https://aiplatform.googleapis.com/v1/projects/p/locations/global/")
    default = ProviderInfo("v", "V", "vertex", "", options={"project": "p", "access_token": "t"})
    assert _vertex(default).url.startswith(
        "https://us-central1-aiplatform.googleapis.com/v1/projects/p/locations/us-central1/")
    assert _vertex(default).headers["authorization"] == "Bearer t"
    monkeypatch.setenv("MY_GCP_PROJECT", "from-env")
    mock = ProviderInfo("v", "V", "vertex", "http://127.0.0.1:8999/",
                        options={"project_env": "MY_GCP_PROJECT", "access_token": "t",
                                 "quota_project": "billing-proj"})
    req = _vertex(mock)
    assert req.url == ("http://127.0.0.1:8999/v1/projects/from-env/locations/us-central1/"
                       "publishers/google/models/gemini-2.5-pro:generateContent")
    assert req.headers["x-goog-user-project"] == "billing-proj"


def test_vertex_missing_token_or_project() -> None:
    no_token = ProviderInfo("v", "V", "vertex", "", options={"project": "p"})
    with pytest.raises(UpstreamError) as exc:
        _vertex(no_token)
    assert exc.value.status == 401 and "VertexCredentials" in exc.value.message
    no_project = ProviderInfo("v", "V", "vertex", "", api_key="t")
    with pytest.raises(UpstreamError) as exc2:
        _vertex(no_project)
    assert "project" in exc2.value.message


class _FakeCredentials:
    def __init__(self) -> None:
        self.token: str | None = None
        self.valid = False
        self.refreshed = 0

    def refresh(self, request: Any) -> None:
        self.refreshed += 1
        self.token, self.valid = f"tok-{self.refreshed}", True


def test_vertex_credentials_refresh_only_when_invalid() -> None:
    fake = _FakeCredentials()
    creds = VertexCredentials(credentials=fake, request=object())  # type: ignore[arg-type]
    provider = ProviderInfo("v", "V", "vertex", "", options={"project": "p"})
    fresh = creds.apply(provider)
    assert fresh.options["access_token"] == "tok-1" and provider.options == {"project": "p"}
    assert creds.token() == "tok-1" and fake.refreshed == 1
    fake.valid = False  # expired
    assert creds.token() == "tok-2"
    assert _vertex(fresh).headers["authorization"] == "Bearer tok-1"
    assert creds.apply(VERTEX_PROVIDER) is VERTEX_PROVIDER  # a configured token is used as is


def test_vertex_credentials_from_service_account_file(tmp_path: Any) -> None:
    """A real google-auth service-account flow, its token endpoint answered by httpx's mock."""
    crypto = pytest.importorskip("cryptography.hazmat.primitives.asymmetric.rsa")
    from cryptography.hazmat.primitives import serialization

    key = crypto.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    path = tmp_path / "sa.json"
    path.write_text(json.dumps({
        "type": "service_account", "project_id": "sa-project", "private_key_id": "1",
        "private_key": pem, "client_email": "bot@sa-project.iam.gserviceaccount.com",
        "client_id": "1", "token_uri": "https://oauth2.googleapis.com/token"}))
    seen: list[httpx.Request] = []

    def token_endpoint(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"access_token": "ya29.sa", "expires_in": 3600,
                                         "token_type": "Bearer"})

    transport = HttpxAuthRequest(httpx.Client(transport=httpx.MockTransport(token_endpoint)))
    creds = VertexCredentials(str(path), request=transport)
    provider = creds.apply(ProviderInfo("v", "V", "vertex", "", options={
        "credentials_file": str(path)}))
    assert provider.options["access_token"] == "ya29.sa"
    assert provider.options["project"] == "sa-project"  # taken from the credentials
    assert creds.token() == "ya29.sa" and len(seen) == 1  # cached until near expiry
    assert seen[0].url == "https://oauth2.googleapis.com/token"
    assert b"assertion=" in seen[0].content
    assert VertexCredentials.for_provider(provider)._file == str(path)
