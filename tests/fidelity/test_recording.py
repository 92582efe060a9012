"""What the generation record and the refusals tell a user.

Regressions: User-Agent and OpenRouter-Client were dropped (`user_agent` stayed null); a key
with $0 usage whose limit was below one request's hold heard only "spending limit is
reached"; a model whose providers lack credentials got a 503 that SDKs retried for long.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fidelity.test_auto_router import router_config
from tests.support import GatewayServer, MockUpstream, Reply, openai_completion


@pytest.fixture()
def gw(upstream: MockUpstream, tmp_path: Path) -> Iterator[GatewayServer]:
    upstream.default = lambda path, body: Reply(json=openai_completion(model=body["model"]))
    g = GatewayServer(router_config(upstream.url), tmp_path)
    g.charge(100)
    yield g
    g.stop()


def _generation(gw: GatewayServer, key: str, gen_id: str) -> dict[str, Any]:
    r = gw.http.get("/generation", params={"id": gen_id},
                    headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()["data"]
    return data


def test_user_agent_client_and_the_routers_choice_are_recorded(gw: GatewayServer) -> None:
    key = gw.new_key()
    headers = {"Authorization": f"Bearer {key}", "User-Agent": "my-app/2.1",
               "OpenRouter-Client": "openrouter-python/1.3.84"}
    r = gw.http.post("/chat/completions", headers=headers, json={
        "model": "openrouter/auto",
        "messages": [{"role": "user", "content": "Write a Python function that sorts a list"}]})
    assert r.status_code == 200, r.text
    g = _generation(gw, key, r.json()["id"])
    assert g["user_agent"] == "my-app/2.1"
    assert g["client"] == "openrouter-python/1.3.84"
    assert g["router"] == "openrouter/auto"
    assert g["model"] == "anthropic/claude-sonnet-4.6"
    assert g["router_reason"].startswith("code:")

    r = gw.http.post("/chat/completions", headers=headers, json={
        "model": "openai/gpt-5-mini", "messages": [{"role": "user", "content": "hi"}]})
    g = _generation(gw, key, r.json()["id"])
    assert g["router"] is None and g["user_agent"] == "my-app/2.1"


def test_key_limit_402_says_what_was_needed_and_how_to_lower_it(gw: GatewayServer) -> None:
    key = gw.new_key("tiny", limit=0.001)
    r = gw.http.post("/chat/completions", headers={"Authorization": f"Bearer {key}"}, json={
        "model": "openai/o3", "max_tokens": 100_000,
        "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 402, r.text
    err = r.json()["error"]
    assert "max_tokens" in err["message"] and "$0.001" in err["message"]
    assert err["metadata"]["required"] > 0.001
    assert err["metadata"]["limit_remaining"] == 0.001
    # the same request with a small max_tokens fits the limit
    r = gw.http.post("/chat/completions", headers={"Authorization": f"Bearer {key}"}, json={
        "model": "openai/o3", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 200, r.text


def test_unconfigured_provider_names_the_variable_and_discourages_retries(
    upstream: MockUpstream, tmp_path: Path
) -> None:
    config = f"""
providers:
  - name: openai
    display_name: OpenAI
    api: openai
    base_url: {upstream.url}/openai/v1
    api_key: sk-test
"""
    gw = GatewayServer(config, tmp_path, env={"ANTHROPIC_API_KEY": "", "AZURE_OPENAI_API_KEY": ""})
    try:
        gw.charge(10)
        key = gw.new_key()
        auth = {"Authorization": f"Bearer {key}"}
        msgs = [{"role": "user", "content": "hi"}]
        r = gw.http.post("/chat/completions", headers=auth,
                         json={"model": "anthropic/claude-sonnet-4.6", "messages": msgs})
        assert r.status_code == 503
        assert "ANTHROPIC_API_KEY" in r.json()["error"]["message"]
        assert int(r.headers["retry-after"]) >= 3600
        assert r.headers["x-should-retry"] == "false"
        # provider.only picks the one provider of gpt-5 that has no credential
        r = gw.http.post("/chat/completions", headers=auth, json={
            "model": "openai/gpt-5", "provider": {"only": ["azure"]}, "messages": msgs})
        assert r.status_code == 503, r.text
        assert "AZURE_OPENAI_API_KEY" in r.json()["error"]["message"]
        assert r.json()["error"]["message"].count("set ") == 1  # only azure's variable
        assert upstream.requests == []
    finally:
        gw.stop()
