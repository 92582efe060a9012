"""Our responses against OpenRouter's published OpenAPI schemas and its official Python SDK."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import yaml
from openrouter import OpenRouter

from tests.support import GatewayServer, MockUpstream, Reply, openai_completion, openai_stream

SPEC = Path(__file__).resolve().parents[1] / "fixtures" / "openrouter-openapi.yaml"


def _open_provider_names(node: Any) -> Any:
    """Provider display names are an enum of OpenRouter's partners; ours are configurable."""
    if isinstance(node, dict):
        if "enum" in node and "OpenAI" in node["enum"] and "Anthropic" in node["enum"]:
            node = {k: v for k, v in node.items() if k != "enum"}
        return {k: _open_provider_names(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_open_provider_names(v) for v in node]
    return node


@functools.cache
def openapi() -> dict[str, Any]:
    return _open_provider_names(yaml.safe_load(SPEC.read_text()))


def schema_for(name: str) -> dict[str, Any]:
    """A component schema with its $refs resolvable (OpenAPI 3.1 is JSON Schema 2020-12)."""
    return {"$ref": f"#/components/schemas/{name}", "components": openapi()["components"]}


def response_schema(path: str, method: str = "get", status: str = "200") -> dict[str, Any]:
    op = openapi()["paths"][path][method]
    schema = op["responses"][status]["content"]["application/json"]["schema"]
    return {**schema, "components": openapi()["components"]}


def validate(instance: Any, schema: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator(schema).validate(instance)


def sdk(gw: GatewayServer, key: str) -> OpenRouter:
    return OpenRouter(api_key=key, server_url=gw.base_url)


def test_chat_result_matches_schema_and_sdk(gateway: GatewayServer, upstream: MockUpstream) -> None:
    upstream.script("/alpha/", Reply(json=openai_completion("Hi")))
    key = gateway.new_key()
    r = httpx.post(f"{gateway.base_url}/chat/completions",
                   headers={"Authorization": f"Bearer {key}"},
                   json={"model": "test/gpt", "messages": [{"role": "user", "content": "x"}],
                         "provider": {"only": ["alpha"]}})
    validate(r.json(), schema_for("ChatResult"))
    upstream.script("/alpha/", Reply(json=openai_completion("Hi")))
    result = sdk(gateway, key).chat.send(
        model="test/gpt", messages=[{"role": "user", "content": "x"}],
        provider={"only": ["alpha"]})
    assert result.choices[0].message.content == "Hi"
    assert result.usage is not None and result.usage.cost is not None


def test_stream_chunks_match_schema_and_sdk(gateway: GatewayServer,
                                            upstream: MockUpstream) -> None:
    upstream.script("/alpha/", Reply(sse=openai_stream(["a", "b"])))
    key = gateway.new_key()
    with httpx.stream("POST", f"{gateway.base_url}/chat/completions",
                      headers={"Authorization": f"Bearer {key}"},
                      json={"model": "test/gpt", "stream": True, "provider": {"only": ["alpha"]},
                            "messages": [{"role": "user", "content": "x"}]}) as r:
        lines = [ln for ln in r.iter_lines() if ln.startswith("data: ") and ln != "data: [DONE]"]
    for line in lines:
        validate(json.loads(line[6:]), schema_for("ChatStreamChunk"))
    upstream.script("/alpha/", Reply(sse=openai_stream(["a", "b"])))
    stream = sdk(gateway, key).chat.send(
        model="test/gpt", messages=[{"role": "user", "content": "x"}], stream=True,
        provider={"only": ["alpha"]})
    text = "".join(ch.choices[0].delta.content or "" for ch in stream if ch.choices)
    assert text == "ab"


def test_catalog_endpoints_match_schema_and_sdk(gateway: GatewayServer) -> None:
    base = gateway.base_url
    validate(httpx.get(f"{base}/models").json(), response_schema("/models"))
    validate(httpx.get(f"{base}/models/test/gpt/endpoints").json(),
             response_schema("/models/{author}/{slug}/endpoints"))
    validate(httpx.get(f"{base}/providers").json(), response_schema("/providers"))
    client = sdk(gateway, gateway.new_key())
    listed = client.models.list()
    assert listed is not None
    assert any(m.id == "test/gpt" for m in listed.result.data)
    assert client.endpoints.list(author="test", slug="gpt").data.id == "test/gpt"
    assert client.providers.list().data


def test_key_credit_and_record_endpoints_match_schema_and_sdk(
    gateway: GatewayServer, upstream: MockUpstream
) -> None:
    upstream.script("/alpha/", Reply(json=openai_completion("Hi")))
    key = gateway.new_key()
    headers = {"Authorization": f"Bearer {key}"}
    r = httpx.post(f"{gateway.base_url}/chat/completions", headers=headers,
                   json={"model": "test/gpt", "messages": [{"role": "user", "content": "x"}],
                         "provider": {"only": ["alpha"]}})
    gen_id = r.json()["id"]
    base = gateway.base_url
    validate(httpx.get(f"{base}/key", headers=headers).json(), response_schema("/key"))
    validate(httpx.get(f"{base}/credits", headers=headers).json(), response_schema("/credits"))
    validate(httpx.get(f"{base}/activity", headers=headers).json(), response_schema("/activity"))
    validate(httpx.get(f"{base}/generation", params={"id": gen_id}, headers=headers).json(),
             response_schema("/generation"))
    validate(gateway.admin("GET", "/keys").json(), response_schema("/keys"))
    validate(gateway.admin("POST", "/keys", json={"name": "x"}).json(),
             response_schema("/keys", "post", "201"))

    client = sdk(gateway, key)
    assert client.credits.get_credits().data.total_credits == 100
    assert client.api_keys.get_current_key_metadata().data.label.startswith("sk-sb-v1-")
    assert client.generations.get_generation(id=gen_id).data.id == gen_id
    admin = sdk(gateway, gateway.admin_key)
    created = admin.api_keys.create(name="from-sdk", limit=5)
    assert created.key.startswith("sk-sb-v1-")
    assert any(k.name == "from-sdk" for k in admin.api_keys.list().data)


@pytest.mark.parametrize("status", [400, 401, 404])
def test_error_bodies_match_schema(gateway: GatewayServer, status: int) -> None:
    key = gateway.new_key()
    body: dict[str, Any] = {"model": "test/gpt", "messages": [{"role": "user", "content": "x"}]}
    headers = {"Authorization": f"Bearer {key}"}
    if status == 400:
        body["temperature"] = "warm"
    elif status == 401:
        headers = {"Authorization": "Bearer nope"}
    else:
        body["model"] = "no/such-model"
    r = httpx.post(f"{gateway.base_url}/chat/completions", headers=headers, json=body)
    assert r.status_code == status
    validate(r.json(), response_schema("/chat/completions", "post", str(status)))
