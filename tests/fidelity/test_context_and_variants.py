"""Context checks before the upstream call, `:1m` variants and Anthropic's JSON answers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from switchboard.catalog.loader import build_catalog
from switchboard.catalog.types import ProviderInfo
from switchboard.dialects.anthropic import AnthropicDialect, parse_message
from switchboard.routing.variants import resolve_model
from tests.support import GatewayServer, MockUpstream, Reply, openai_completion

SMALL_AND_BIG = """
builtin_catalog: false
providers:
  - name: small
    api: openai
    base_url: {url}/small/v1
    api_key: sk-s
  - name: big
    api: openai
    base_url: {url}/big/v1
    api_key: sk-b
models:
  - id: test/tiny
    context_length: 1000
    endpoints:
      - provider: small
        model: tiny
        pricing: {{prompt: 0.1, completion: 0.1}}
  - id: test/pair
    context_length: 100000
    endpoints:
      - provider: small
        model: pair-small
        pricing: {{prompt: 0.1, completion: 0.1}}
        context_length: 16000
      - provider: big
        model: pair-big
        pricing: {{prompt: 5, completion: 5}}
        context_length: 100000
"""
LONG = "word " * 40_000  # ~50k tokens by any count


def _post(gw: GatewayServer, key: str, body: dict[str, object]) -> tuple[int, dict[str, object]]:
    r = gw.http.post("/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"})
    return r.status_code, r.json()


@pytest.fixture()
def pair(upstream: MockUpstream, tmp_path: Path) -> Iterator[tuple[GatewayServer, str]]:
    gw = GatewayServer(SMALL_AND_BIG.format(url=upstream.url), tmp_path)
    gw.charge(100)
    yield gw, gw.new_key()
    gw.stop()


def test_prompt_that_cannot_fit_is_a_400_before_any_upstream_call(
    upstream: MockUpstream, pair: tuple[GatewayServer, str]
) -> None:
    gw, key = pair
    status, body = _post(gw, key, {"model": "test/tiny", "transforms": [],
                                    "messages": [{"role": "user", "content": LONG}]})
    assert status == 400, body
    err = body["error"]
    assert isinstance(err, dict)
    assert err["metadata"]["error_type"] == "context_length_exceeded"
    assert "middle-out" in err["message"]
    assert upstream.requests == []

    # a fallback model that fits takes over instead
    upstream.default = lambda p, b: Reply(json=openai_completion(model=b["model"]))
    status, body = _post(gw, key, {"model": "test/tiny", "models": ["test/pair"],
                                    "transforms": [],
                                    "messages": [{"role": "user", "content": LONG}]})
    assert status == 200 and body["model"] == "test/pair"
    assert [r["path"] for r in upstream.requests] == ["/big/v1/chat/completions"]


def test_selection_prefers_the_endpoint_whose_context_fits(
    upstream: MockUpstream, pair: tuple[GatewayServer, str]
) -> None:
    gw, key = pair
    upstream.default = lambda p, b: Reply(json=openai_completion(model=b["model"]))
    # the small endpoint is far cheaper, but only the big one holds the prompt
    status, _ = _post(gw, key, {"model": "test/pair", "provider": {"sort": "price"},
                                "messages": [{"role": "user", "content": LONG}]})
    assert status == 200
    assert upstream.requests[0]["path"].startswith("/big/")
    upstream.requests.clear()
    status, _ = _post(gw, key, {"model": "test/pair", "provider": {"sort": "price"},
                                "messages": [{"role": "user", "content": "short"}]})
    assert upstream.requests[0]["path"].startswith("/small/")


# -- :1m and :beta ---------------------------------------------------------------------------

def test_claude_sonnet_and_opus_have_1m_and_beta_variants() -> None:
    catalog = build_catalog()
    for mid in ("anthropic/claude-sonnet-4.6:1m", "anthropic/claude-opus-4.7:1m"):
        assert resolve_model(catalog, mid).model_id == mid
        assert catalog.models[mid].context_length == 1_000_000
    assert resolve_model(catalog, "anthropic/claude-sonnet-4.6:beta").model_id.endswith(":beta")


def test_1m_sends_anthropics_beta_header() -> None:
    provider = ProviderInfo("anthropic", "Anthropic", "anthropic", "https://api.anthropic.com",
                            api_key="k")
    body = {"messages": [{"role": "user", "content": "hi"}]}
    req = AnthropicDialect().build_request(provider, "claude-sonnet-4-6[1m]", body, False)
    assert req.headers["anthropic-beta"] == "context-1m-2025-08-07"
    assert orjson.loads(req.body)["model"] == "claude-sonnet-4-6"
    plain = AnthropicDialect().build_request(provider, "claude-sonnet-4-6", body, False)
    assert "anthropic-beta" not in plain.headers


ANTHROPIC_REPLY = {
    "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-6",
    "content": [{"type": "text", "text": "Hi"}], "stop_reason": "end_turn",
    "usage": {"input_tokens": 5, "output_tokens": 2},
}


def test_1m_variant_through_the_gateway(upstream: MockUpstream, tmp_path: Path) -> None:
    config = f"""
providers:
  - name: anthropic
    api: anthropic
    base_url: {upstream.url}/anthropic
    api_key: sk-ant
"""
    gw = GatewayServer(config, tmp_path)
    try:
        gw.charge(100)
        key = gw.new_key()
        upstream.script("anthropic", Reply(json=ANTHROPIC_REPLY))
        status, body = _post(gw, key, {"model": "anthropic/claude-sonnet-4.6:1m",
                                        "messages": [{"role": "user", "content": "hi"}]})
        assert status == 200, body
        assert body["model"] == "anthropic/claude-sonnet-4.6:1m"
        hit = upstream.requests[0]
        assert hit["headers"]["anthropic-beta"] == "context-1m-2025-08-07"
        assert hit["body"]["model"] == "claude-sonnet-4-6"
    finally:
        gw.stop()


# -- Anthropic structured output -------------------------------------------------------------

def test_json_schema_answer_is_the_json_alone() -> None:
    """Regression: Claude's preamble was glued to the JSON (`I'll look that up.{"city":…}`)."""
    msg = {
        "id": "msg_2", "type": "message", "role": "assistant", "model": "claude-sonnet-4-6",
        "content": [
            {"type": "text", "text": "I'll look that up."},
            {"type": "tool_use", "id": "tu_1", "name": "json_answer__city",
             "input": {"city": "Paris"}},
        ],
        "stop_reason": "tool_use", "usage": {"input_tokens": 5, "output_tokens": 9},
    }
    out = parse_message(msg)
    choice = out["choices"][0]
    assert choice["message"]["content"] == '{"city":"Paris"}'
    assert choice["finish_reason"] == "stop"
