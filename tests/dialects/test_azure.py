"""Azure OpenAI dialect: URL and auth, body rules, OpenAI recordings replayed, Azure errors."""

from __future__ import annotations

import copy
import dataclasses
import itertools
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from switchboard.catalog.types import ProviderInfo
from switchboard.dialects.azure import AzureDialect, AzureStreamTranslator
from switchboard.dialects.base import UpstreamError

from .fixtures import Interaction, recorded

DIALECT = AzureDialect()
PROVIDER = ProviderInfo(
    name="azure",
    display_name="Azure",
    api="azure",
    base_url="https://contoso.openai.azure.com/",
    api_key="az-key",
)
OPENAI = recorded("openai", "/chat/completions")
JSON_OK = [it for it in OPENAI if it.status == 200 and not it.is_sse]
SSE_OK = [it for it in OPENAI if it.status == 200 and it.is_sse]
ERRORS = [it for it in OPENAI if it.status >= 400]


def _ids(items: list[Interaction]) -> list[str]:
    return [it.id for it in items]


def provider(**changes: Any) -> ProviderInfo:
    return dataclasses.replace(PROVIDER, **changes)


def translate(stream: bytes, cuts: list[int] | None = None) -> list[dict[str, Any]]:
    translator = AzureStreamTranslator()
    bounds = [0, *sorted(cuts or []), len(stream)]
    out: list[dict[str, Any]] = []
    for start, end in itertools.pairwise(bounds):
        out.extend(translator.feed(stream[start:end]))
    return out + translator.close()


def raw_chunks(stream: bytes) -> list[dict[str, Any]]:
    """The recorded chunks read naively, independent of the SSE decoder under test."""
    return [
        orjson.loads(line[len("data: ") :])
        for line in stream.decode().splitlines()
        if line.startswith("data: {")
    ]


def fold(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    content = ""
    calls: dict[int, dict[str, str]] = {}
    finish = None
    for chunk in chunks:
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            content += delta.get("content") or ""
            for call in delta.get("tool_calls") or []:
                slot = calls.setdefault(call["index"], {"id": "", "name": "", "arguments": ""})
                slot["id"] = call.get("id") or slot["id"]
                slot["name"] = (call.get("function") or {}).get("name") or slot["name"]
                slot["arguments"] += (call.get("function") or {}).get("arguments") or ""
            finish = choice.get("finish_reason") or finish
    return {"content": content, "tool_calls": calls, "finish_reason": finish}


# --- request ---------------------------------------------------------------


def build(
    body: dict[str, Any], stream: bool = False, info: ProviderInfo = PROVIDER
) -> tuple[str, dict[str, str], dict[str, Any]]:
    frozen = copy.deepcopy(body)
    request = DIALECT.build_request(info, "gpt-4o-prod", body, stream)
    assert body == frozen, "build_request must not mutate its input"
    return request.url, request.headers, orjson.loads(request.body)


BODY: dict[str, Any] = {
    "model": "openai/gpt-4o",
    "messages": [{"role": "user", "content": "Hi"}],
    "temperature": 0.3,
    "logit_bias": {"50256": -100},
    "parallel_tool_calls": False,
    "user": "u-1",
}


def test_url_names_the_deployment_and_default_api_version() -> None:
    url, _, _ = build(BODY)
    assert url == (
        "https://contoso.openai.azure.com/openai/deployments/gpt-4o-prod"
        "/chat/completions?api-version=2024-10-21"
    )


@pytest.mark.parametrize(
    ("base_url", "options", "url_start"),
    [
        ("https://{resource}.openai.azure.com", {"resource": "fabrikam"}, "https://fabrikam."),
        (
            "https://contoso.openai.azure.com/openai/",
            {},
            "https://contoso.openai.azure.com/openai/d",
        ),
    ],
)
def test_base_url_forms(base_url: str, options: dict[str, Any], url_start: str) -> None:
    url, _, _ = build(BODY, info=provider(base_url=base_url, options=options))
    assert url.startswith(url_start)
    assert url.count("/openai/") == 1


def test_api_version_option() -> None:
    url, _, _ = build(BODY, info=provider(options={"api_version": "2025-04-01-preview"}))
    assert url.endswith("?api-version=2025-04-01-preview")


def test_resource_template_without_resource_is_a_config_error() -> None:
    with pytest.raises(UpstreamError) as err:
        build(BODY, info=provider(base_url="https://{resource}.openai.azure.com"))
    assert err.value.error_type == "provider_misconfigured"


def test_deployment_is_quoted() -> None:
    request = DIALECT.build_request(PROVIDER, "my deploy/1", BODY, False)
    assert "/deployments/my%20deploy%2F1/" in request.url


def test_auth_is_the_api_key_header() -> None:
    _, headers, _ = build(BODY)
    assert headers["api-key"] == "az-key"
    assert "Authorization" not in headers


def test_body_is_openai_minus_model() -> None:
    _, _, payload = build(BODY)
    assert payload == {k: v for k, v in BODY.items() if k != "model"}


def test_streaming_forces_usage() -> None:
    body = {**BODY, "stream": True, "stream_options": {"include_usage": False, "x": 1}}
    _, headers, payload = build(body, stream=True)
    assert payload["stream"] is True
    assert payload["stream_options"] == {"include_usage": True, "x": 1}
    assert headers["Accept"] == "text/event-stream"


def test_not_streaming_drops_stream_options() -> None:
    _, _, payload = build({**BODY, "stream": False, "stream_options": {"include_usage": True}})
    assert "stream" not in payload and "stream_options" not in payload


def test_openrouter_reasoning_becomes_reasoning_effort() -> None:
    _, _, payload = build({**BODY, "reasoning": {"effort": "low", "exclude": True}})
    assert payload["reasoning_effort"] == "low" and "reasoning" not in payload
    _, _, payload = build({**BODY, "reasoning": {"max_tokens": 100}})
    assert "reasoning" not in payload and "reasoning_effort" not in payload


# --- recorded answers ------------------------------------------------------


def test_openai_recordings_are_replayed() -> None:
    assert len(JSON_OK) >= 9 and len(SSE_OK) >= 8 and len(ERRORS) >= 6


@pytest.mark.parametrize("it", JSON_OK, ids=_ids(JSON_OK))
def test_recorded_answer_passes_through(it: Interaction) -> None:
    want = it.json()
    out = DIALECT.parse_response(it.body)
    assert out["id"] == want["id"] and out["model"] == want["model"]
    assert "system_fingerprint" in out
    for got, rec in zip(out["choices"], want["choices"], strict=True):
        assert got["message"]["content"] == rec["message"]["content"]
        assert got["finish_reason"] == rec["finish_reason"]
        assert got["native_finish_reason"] == rec["finish_reason"]
        rec_calls = rec["message"].get("tool_calls") or []
        assert [c["id"] for c in got["message"].get("tool_calls") or []] == [
            c["id"] for c in rec_calls
        ]
        for call, rec_call in zip(got["message"].get("tool_calls") or [], rec_calls, strict=True):
            assert call["function"]["name"] == rec_call["function"]["name"]
            args = orjson.loads(call["function"]["arguments"])
            assert args == orjson.loads(rec_call["function"]["arguments"])
    assert_usage(out["usage"], want["usage"])


def assert_usage(usage: dict[str, Any], recorded_usage: dict[str, Any]) -> None:
    for key in ("prompt_tokens", "completion_tokens", "total_tokens"):
        assert usage[key] == recorded_usage[key]
    prompt_details = recorded_usage.get("prompt_tokens_details") or {}
    completion_details = recorded_usage.get("completion_tokens_details") or {}
    assert usage["prompt_tokens_details"]["cached_tokens"] == prompt_details.get("cached_tokens", 0)
    assert usage["prompt_tokens_details"]["cache_write_tokens"] == 0
    assert usage["completion_tokens_details"]["reasoning_tokens"] == completion_details.get(
        "reasoning_tokens", 0
    )


def test_missing_usage_details_default_to_zero() -> None:
    body = {
        "id": "c",
        "object": "chat.completion",
        "model": "gpt-4o",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
    }
    out = DIALECT.parse_response(orjson.dumps(body))
    assert out["usage"]["prompt_tokens_details"] == {"cached_tokens": 0, "cache_write_tokens": 0}
    assert out["usage"]["completion_tokens_details"] == {"reasoning_tokens": 0}
    assert out["choices"][0]["native_finish_reason"] is None


def test_content_filter_finish_is_kept() -> None:
    body = {
        "id": "c",
        "object": "chat.completion",
        "model": "gpt-4o",
        "choices": [
            {
                "index": 0,
                "finish_reason": "content_filter",
                "message": {"role": "assistant", "content": None},
                "content_filter_results": {"hate": {"filtered": True, "severity": "high"}},
            }
        ],
        "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {}}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 0, "total_tokens": 3},
    }
    choice = DIALECT.parse_response(orjson.dumps(body))["choices"][0]
    assert (choice["finish_reason"], choice["native_finish_reason"]) == (
        "content_filter",
        "content_filter",
    )


@pytest.mark.parametrize("body", [b"", b"<html>", b"[]", b'{"error": null}'])
def test_unparseable_answer_is_502(body: bytes) -> None:
    with pytest.raises(UpstreamError) as err:
        DIALECT.parse_response(body)
    assert err.value.status == 502


# --- streams ---------------------------------------------------------------


@pytest.mark.parametrize("it", SSE_OK, ids=_ids(SSE_OK))
def test_recorded_stream_passes_through(it: Interaction) -> None:
    chunks = translate(it.body)
    recorded_chunks = raw_chunks(it.body)
    assert fold(chunks) == fold(recorded_chunks)
    usage_chunks = [c for c in chunks if c.get("usage")]
    assert len(usage_chunks) == 1 and chunks[-1] is usage_chunks[0]
    assert chunks[-1]["choices"] == []
    assert_usage(chunks[-1]["usage"], next(c["usage"] for c in recorded_chunks if c.get("usage")))
    for chunk in chunks[:-1]:
        for choice in chunk["choices"]:
            assert choice["native_finish_reason"] == choice["finish_reason"]


@pytest.mark.parametrize("it", SSE_OK, ids=_ids(SSE_OK))
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_stream_split_anywhere_gives_the_same_chunks(it: Interaction, data: st.DataObject) -> None:
    cuts = data.draw(st.lists(st.integers(1, len(it.body) - 1), max_size=60))
    assert translate(it.body, cuts) == translate(it.body)


def _sse(*objects: Any) -> bytes:
    return b"".join(
        b"data: " + (o if isinstance(o, bytes) else orjson.dumps(o)) + b"\n\n" for o in objects
    )


def _chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    return {"id": "c1", "object": "chat.completion.chunk", "choices": [choice], **extra}


USAGE = {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}


def test_azure_prompt_filter_chunk_is_dropped() -> None:
    prompt_filter = {
        "choices": [],
        "created": 0,
        "id": "",
        "model": "",
        "object": "",
        "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {}}],
    }
    stream = _sse(
        prompt_filter,
        _chunk({"role": "assistant", "content": "Hi"}),
        _chunk({}, "stop"),
        {"id": "c1", "choices": [], "usage": USAGE},
        b"[DONE]",
    )
    chunks = translate(stream)
    assert [c["choices"][0]["finish_reason"] for c in chunks[:-1]] == [None, "stop"]
    assert chunks[-1]["usage"]["prompt_tokens"] == 5


def test_usage_riding_on_the_last_choice_chunk_is_split_off() -> None:
    chunks = translate(_sse(_chunk({"content": "Hi"}), _chunk({}, "length", usage=USAGE)))
    assert "usage" not in chunks[1] and chunks[1]["choices"][0]["finish_reason"] == "length"
    assert chunks[2]["choices"] == [] and chunks[2]["usage"]["total_tokens"] == 7


def test_stream_cut_before_any_finish_fails_on_close() -> None:
    translator = AzureStreamTranslator()
    translator.feed(_sse(_chunk({"content": "Hi"})))
    with pytest.raises(UpstreamError) as err:
        translator.close()
    assert err.value.status == 502


def test_error_event_mid_stream_raises() -> None:
    body = {"error": {"code": "server_error", "message": "The server had an error"}}
    with pytest.raises(UpstreamError) as err:
        AzureStreamTranslator().feed(_sse(_chunk({"content": "Hi"}), body))
    assert err.value.status == 502 and err.value.message == "The server had an error"


# --- errors ----------------------------------------------------------------

RECORDED_ERRORS = {
    400: (400, "bad_request"),
    401: (401, "provider_auth_error"),
    404: (404, "not_found"),
}


@pytest.mark.parametrize("it", ERRORS, ids=_ids(ERRORS))
def test_recorded_openai_errors(it: Interaction) -> None:
    err = DIALECT.parse_error(it.status, it.body, it.headers)
    assert (err.status, err.error_type) == RECORDED_ERRORS[it.status]
    assert err.message == it.json()["error"]["message"]
    assert err.upstream_status == it.status and err.raw == it.json()


CONTENT_FILTER_MESSAGE = (
    "The response was filtered due to the prompt triggering Azure OpenAI's content "
    "management policy. Please modify your prompt and retry."
)


@pytest.mark.parametrize(
    "error",
    [
        {
            "message": CONTENT_FILTER_MESSAGE,
            "param": "prompt",
            "code": "content_filter",
            "status": 400,
            "innererror": {
                "code": "ResponsibleAIPolicyViolation",
                "content_filter_result": {"violence": {"filtered": True, "severity": "high"}},
            },
        },
        {
            "message": CONTENT_FILTER_MESSAGE,
            "code": None,
            "innererror": {"code": "ResponsibleAIPolicyViolation"},
        },
    ],
)
def test_content_filter_is_a_403_refusal(error: dict[str, Any]) -> None:
    err = DIALECT.parse_error(400, orjson.dumps({"error": error}), {})
    assert (err.status, err.error_type, err.upstream_status) == (403, "content_policy", 400)


@pytest.mark.parametrize(
    ("headers", "retry_after"),
    [({"retry-after": "6"}, 6.0), ({"Retry-After-Ms": "500"}, 0.5), ({}, None)],
)
def test_rate_limit_with_retry_after(headers: dict[str, str], retry_after: float | None) -> None:
    body = {
        "error": {
            "code": "429",
            "message": "Requests to the ChatCompletions_Create Operation have exceeded the "
            "token rate limit of your current pricing tier. Please retry after 6 seconds.",
        }
    }
    err = DIALECT.parse_error(429, orjson.dumps(body), headers)
    assert (err.status, err.error_type, err.retry_after) == (
        429,
        "rate_limit_exceeded",
        retry_after,
    )


def test_api_management_401_body() -> None:
    body = b'{"statusCode": 401, "message": "Access denied due to invalid subscription key."}'
    err = DIALECT.parse_error(401, body, {})
    assert (err.status, err.error_type) == (401, "provider_auth_error")
    assert err.message.startswith("Access denied")


def test_context_length_error() -> None:
    body = {
        "error": {
            "code": "context_length_exceeded",
            "message": "This model's maximum context length is 128000 tokens. However, your "
            "messages resulted in 130000 tokens.",
        }
    }
    err = DIALECT.parse_error(400, orjson.dumps(body), {})
    assert (err.status, err.error_type) == (400, "context_length_exceeded")


def test_non_json_error_body() -> None:
    err = DIALECT.parse_error(502, b"<html>Bad Gateway</html>", {})
    assert (err.status, err.error_type, err.upstream_status) == (502, "provider_unavailable", 502)
