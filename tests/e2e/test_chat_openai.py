"""End to end through the real server with the openai SDK against an OpenAI-wire mock."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from tests.support import GatewayServer, MockUpstream, Reply, openai_completion, openai_stream


def client(gw: GatewayServer, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.base_url, api_key=key, max_retries=0)


def test_plain_completion_with_openrouter_fields_and_headers(
    gateway: GatewayServer, upstream: MockUpstream
) -> None:
    upstream.script("/alpha/", Reply(json=openai_completion("Hi there", prompt=12, completion=3)))
    c = client(gateway, gateway.new_key())
    raw = c.chat.completions.with_raw_response.create(
        model="test/gpt", messages=[{"role": "user", "content": "hello"}],
        extra_body={"provider": {"order": ["alpha"]}},
        extra_headers={"HTTP-Referer": "https://app.example", "X-Title": "Example"})
    resp = raw.parse()
    assert resp.choices[0].message.content == "Hi there"
    assert resp.id.startswith("gen-")
    assert resp.model == "test/gpt"
    body = raw.http_response.json()
    assert body["provider"] == "Alpha"
    assert body["choices"][0]["native_finish_reason"] == "stop"
    assert "system_fingerprint" in body
    headers = raw.http_response.headers
    assert headers["OpenRouter-Provider"] == "alpha"
    assert headers["OpenRouter-Model"] == "test/gpt"
    assert headers["X-Generation-Id"] == resp.id
    # 12 × 0.15/M + 3 × 0.6/M = 0.0000036 provider cost; × 1.1 = 0.00000396
    assert headers["OpenRouter-Provider-Cost"] == "0.0000036"
    assert headers["OpenRouter-Cost"] == "0.00000396"
    assert body["usage"]["cost"] == pytest.approx(0.00000396, abs=0)
    assert headers["content-type"].startswith("application/json")
    sent = upstream.hits("/alpha/")[0]
    assert sent["body"]["model"] == "gpt-4o-mini"
    assert "provider" not in sent["body"]
    assert sent["headers"]["Authorization"] == "Bearer sk-alpha"


def test_stream_relays_chunks_and_ends_with_usage_then_done(
    gateway: GatewayServer, upstream: MockUpstream
) -> None:
    upstream.script("/alpha/", Reply(sse=openai_stream(["Hel", "lo", "!"], prompt=7, completion=3)))
    c = client(gateway, gateway.new_key())
    stream = c.chat.completions.create(
        model="test/gpt", messages=[{"role": "user", "content": "hi"}], stream=True,
        stream_options={"include_usage": True}, extra_body={"provider": {"only": ["alpha"]}})
    chunks = list(stream)
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    assert text == "Hello!"
    usage_chunks = [ch for ch in chunks if ch.usage]
    assert len(usage_chunks) == 1 and usage_chunks[0].choices == []
    assert usage_chunks[0].usage.prompt_tokens == 7
    assert all(ch.id.startswith("gen-") for ch in chunks)
    sent = upstream.hits("/alpha/")[0]["body"]
    assert sent["stream"] is True and sent["stream_options"]["include_usage"] is True


def test_stream_raw_bytes_end_with_done(gateway: GatewayServer, upstream: MockUpstream) -> None:
    upstream.script("/alpha/", Reply(sse=openai_stream(["a", "b"])))
    key = gateway.new_key()
    with httpx.stream("POST", f"{gateway.base_url}/chat/completions",
                      headers={"Authorization": f"Bearer {key}"},
                      json={"model": "test/gpt", "stream": True,
                            "messages": [{"role": "user", "content": "x"}],
                            "provider": {"only": ["alpha"]}}) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        data = r.read().decode()
    events = [e for e in data.split("\n\n") if e.strip()]
    assert events[-1] == "data: [DONE]"
    final = json.loads(events[-2][len("data: "):])
    assert final["choices"] == [] and final["usage"]["cost"] > 0


def test_tools_and_tool_choice_pass_through(gateway: GatewayServer, upstream: MockUpstream) -> None:
    call = {"id": "call_1", "type": "function",
            "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}
    upstream.script("/alpha/", Reply(json=openai_completion(
        "", finish="tool_calls", message={"content": None, "tool_calls": [call]})))
    c = client(gateway, gateway.new_key())
    tools = [{"type": "function", "function": {
        "name": "get_weather", "parameters": {"type": "object",
                                              "properties": {"city": {"type": "string"}}}}}]
    resp = c.chat.completions.create(
        model="test/gpt", messages=[{"role": "user", "content": "weather?"}], tools=tools,
        tool_choice="required", extra_body={"provider": {"only": ["alpha"]}})
    assert resp.choices[0].finish_reason == "tool_calls"
    assert json.loads(resp.choices[0].message.tool_calls[0].function.arguments) == {"city": "Paris"}
    sent = upstream.hits("/alpha/")[0]["body"]
    assert sent["tools"] == tools and sent["tool_choice"] == "required"


def test_json_schema_and_image_parts_forwarded(gateway: GatewayServer,
                                               upstream: MockUpstream) -> None:
    upstream.script("/alpha/", Reply(json=openai_completion('{"a": 1}')))
    c = client(gateway, gateway.new_key())
    fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": {
        "type": "object", "properties": {"a": {"type": "integer"}}}}}
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
    resp = c.chat.completions.create(
        model="test/gpt", response_format=fmt,  # type: ignore[arg-type]
        messages=[{"role": "user", "content": [{"type": "text", "text": "what?"}, image]}],
        extra_body={"provider": {"only": ["alpha"]}, "logit_bias": {"50256": -100}})
    assert json.loads(resp.choices[0].message.content or "") == {"a": 1}
    sent = upstream.hits("/alpha/")[0]["body"]
    assert sent["response_format"] == fmt
    assert sent["messages"][0]["content"][1] == image
    assert sent["logit_bias"] == {"50256": -100}


def test_legacy_completions(gateway: GatewayServer, upstream: MockUpstream) -> None:
    upstream.script("/alpha/", Reply(json=openai_completion("world")))
    c = client(gateway, gateway.new_key())
    resp = c.completions.create(model="test/gpt", prompt="hello",
                                extra_body={"provider": {"only": ["alpha"]}})
    assert resp.choices[0].text == "world"
    assert resp.object == "text_completion"


def test_simulator_echo_plain_and_stream(gateway: GatewayServer) -> None:
    c = client(gateway, gateway.new_key())
    resp = c.chat.completions.create(model="switchboard/echo",
                                     messages=[{"role": "user", "content": "ping pong"}])
    assert resp.choices[0].message.content == "ping pong"
    text = "".join(ch.choices[0].delta.content or "" for ch in c.chat.completions.create(
        model="switchboard/echo", messages=[{"role": "user", "content": "a b c"}], stream=True)
        if ch.choices)
    assert text == "a b c"


@pytest.mark.parametrize(("body", "status", "field"), [
    (b"{not json", 400, None),
    (b'{"model": 5, "messages": []}', 400, "model"),
    (b'{"model": "test/gpt"}', 400, "messages"),
    (b'{"model": "test/gpt", "messages": [{"role": "user", "content": "x"}], '
     b'"temperature": "hot"}', 400, "temperature"),
    (b'{"model": "test/gpt", "messages": [{"role": "wizard", "content": "x"}]}', 400,
     "messages[0]"),
    (b'{"model": "nope/nothing", "messages": [{"role": "user", "content": "x"}]}', 404, None),
    (b'{"model": "test/gpt", "messages": [{"role": "user", "content": "x"}], '
     b'"provider": {"colour": "red"}}', 400, None),
])
def test_bad_requests_get_clear_errors(gateway: GatewayServer, body: bytes, status: int,
                                       field: str | None) -> None:
    key = gateway.new_key()
    r = httpx.post(f"{gateway.base_url}/chat/completions", content=body,
                   headers={"Authorization": f"Bearer {key}", "content-type": "application/json"})
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    err = r.json()["error"]
    assert err["code"] == status and err["message"]
    if field:
        assert field in err["message"]
    assert "Traceback" not in r.text


def test_oversize_body_is_413(gateway: GatewayServer) -> None:
    key = gateway.new_key()
    big = b'{"model": "test/gpt", "messages": [{"role": "user", "content": "' + b"x" * (
        33 * 1024 * 1024) + b'"}]}'
    r = httpx.post(f"{gateway.base_url}/chat/completions", content=big, timeout=60,
                   headers={"Authorization": f"Bearer {key}", "content-type": "application/json"})
    assert r.status_code == 413
    assert r.json()["error"]["code"] == 413


def test_auth_errors(gateway: GatewayServer) -> None:
    body = {"model": "switchboard/echo", "messages": [{"role": "user", "content": "x"}]}
    r = httpx.post(f"{gateway.base_url}/chat/completions", json=body)
    assert r.status_code == 401
    r = httpx.post(f"{gateway.base_url}/chat/completions", json=body,
                   headers={"Authorization": "Bearer sk-sb-v1-wrong"})
    assert r.status_code == 401
    r = gateway.admin("POST", "/chat/completions", json=body)
    assert r.status_code == 403  # the root key runs no completions


def test_upstream_error_mapped_with_provider_and_raw(gateway: GatewayServer,
                                                     upstream: MockUpstream) -> None:
    raw = {"error": {"message": "Rate limit reached", "type": "rate_limit_error"}}
    upstream.script("/alpha/", *[Reply(status=429, json=raw)] * 2)
    c = client(gateway, gateway.new_key())
    with pytest.raises(openai.RateLimitError) as info:
        c.chat.completions.create(model="test/gpt", messages=[{"role": "user", "content": "x"}],
                                  extra_body={"provider": {"only": ["alpha"]}})
    err = info.value.body
    assert isinstance(err, dict)
    meta = err["metadata"]
    assert meta["provider"] == "alpha" and meta["raw"] == raw
    assert meta["error_type"] == "rate_limit_exceeded"


def test_models_endpoint_shape(gateway: GatewayServer) -> None:
    r = httpx.get(f"{gateway.base_url}/models")
    data = r.json()
    assert data["total_count"] == len(data["data"])
    m = next(x for x in data["data"] if x["id"] == "test/gpt")
    assert m["pricing"]["prompt"] == "0.000000165"
    assert m["architecture"]["input_modalities"] == ["text", "image"]
    r = httpx.get(f"{gateway.base_url}/models/test/gpt/endpoints")
    assert [e["provider_name"] for e in r.json()["data"]["endpoints"]] == ["Alpha", "Beta"]
    assert httpx.get(f"{gateway.base_url}/models/no/such/endpoints").status_code == 404
