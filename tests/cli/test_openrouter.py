"""Pointed at OpenRouter the commands work unchanged: key resolution, and OpenRouter's own
payload shapes served by the mock upstream standing in for openrouter.ai."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import typer
from tests.cli.conftest import _SCRUB, build_app
from tests.support import MockUpstream, Reply
from typer.testing import CliRunner, Result

from switchboard.cli.connection import LOCAL_BASE_URL, OPENROUTER_BASE_URL, resolve

KEY = "sk-or-v1-test"


def test_only_an_openrouter_key_means_openrouter() -> None:
    conn = resolve(None, None, env={"OPENROUTER_API_KEY": KEY})
    assert (conn.base_url, conn.api_key, conn.is_openrouter) == (OPENROUTER_BASE_URL, KEY, True)


def test_switchboard_settings_win_over_the_openrouter_key() -> None:
    env = {"OPENROUTER_API_KEY": KEY, "SWITCHBOARD_API_KEY": "sk-sb"}
    assert resolve(None, None, env=env).base_url == LOCAL_BASE_URL
    assert resolve(None, None, env=env).api_key == "sk-sb"
    local = resolve("http://gw:8080/api/v1/", None, env={"OPENROUTER_API_KEY": KEY})
    assert (local.base_url, local.api_key) == ("http://gw:8080/api/v1", None)
    assert resolve(None, "sk-flag", env={"OPENROUTER_API_KEY": KEY}).base_url == LOCAL_BASE_URL


def test_admin_commands_take_the_gateways_root_key_but_never_send_it_to_openrouter() -> None:
    env = {"SWITCHBOARD_ADMIN_KEY": "root", "SWITCHBOARD_API_KEY": "inference"}
    assert resolve(None, None, admin=True, env=env).api_key == "root"
    assert resolve(None, None, admin=False, env=env).api_key == "inference"
    remote = resolve(OPENROUTER_BASE_URL, None, admin=True,
                     env={"SWITCHBOARD_ADMIN_KEY": "root", "OPENROUTER_API_KEY": KEY})
    assert remote.api_key == KEY


# -- OpenRouter's shapes (from its OpenAPI examples), served by the mock ----------------------

_MODELS = {"data": [
    {"id": "openrouter/auto", "name": "Auto Router", "context_length": 2000000,
     "pricing": {"prompt": "-1", "completion": "-1"}},
    {"id": "openai/gpt-4", "name": "OpenAI: GPT-4", "context_length": 8192,
     "pricing": {"prompt": "0.00003", "completion": "0.00006", "image": "0", "request": "0"}},
]}
_ENDPOINTS = {"data": {"id": "openai/gpt-4", "name": "OpenAI: GPT-4", "architecture": {},
                       "endpoints": [{
    "name": "OpenAI: GPT-4", "model_id": "openai/gpt-4", "context_length": 8192,
    "max_completion_tokens": 4096, "pricing": {"prompt": "0.00003", "completion": "0.00006"},
    "provider_name": "OpenAI", "quantization": "fp16", "status": 0, "tag": "openai/fp16"}]}}
_KEY = {"hash": "f01d52606dc8f0a8303a7b5cc3fa07109c2e346cec7c0a16b40de462992ce943",
        "name": "My Key", "label": "sk-or-v1-0e6...1c96", "disabled": False, "limit": 100,
        "limit_remaining": 74.5, "limit_reset": "monthly", "usage": 25.5,
        "created_at": "2025-08-24T10:30:00Z", "updated_at": None}
_STREAM: list[Any] = [
    b": OPENROUTER PROCESSING\n\n",
    {"id": "gen-1", "provider": "OpenAI", "model": "openai/gpt-4", "object":
     "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": "Hi"}}]},
    {"id": "gen-1", "provider": "OpenAI", "model": "openai/gpt-4", "choices": [],
     "usage": {"prompt_tokens": 4, "completion_tokens": 1, "total_tokens": 5, "cost": 0.00018}},
    "[DONE]",
]


def _openrouter(path: str, body: dict[str, Any]) -> Reply:
    routes: dict[str, Callable[[], Reply]] = {
        "/api/v1/models/openai/gpt-4/endpoints": lambda: Reply(json=_ENDPOINTS),
        "/api/v1/models": lambda: Reply(json=_MODELS),
        "/api/v1/keys": lambda: Reply(json={"data": [] if "offset" in path else [_KEY]}),
        "/api/v1/credits": lambda: Reply(json={"data": {"total_credits": 100.5,
                                                        "total_usage": 25.75}}),
        "/api/v1/chat/completions": lambda: Reply(sse=_STREAM),
    }
    for prefix, reply in routes.items():
        if path.split("?")[0] == prefix:
            return reply()
    return Reply(status=404, json={"error": {"code": 404, "message": "Not Found"}})


@pytest.fixture()
def fake_openrouter(upstream: MockUpstream) -> Callable[..., Result]:
    upstream.default = _openrouter
    app: typer.Typer = build_app()
    env = {**dict.fromkeys(_SCRUB), "SWITCHBOARD_BASE_URL": f"{upstream.url}/api/v1",
           "SWITCHBOARD_API_KEY": KEY}

    def run(*args: str) -> Result:
        return CliRunner().invoke(app, list(args), env={**env, "COLUMNS": "120"})

    return run


def test_models_with_openrouter_prices_and_tags(fake_openrouter: Callable[..., Result]) -> None:
    r = fake_openrouter("models")
    assert r.exit_code == 0, r.output
    rows = {line.split()[0]: line.split()[1:] for line in r.stdout.splitlines()
            if "/" in line.split()[0]}
    assert rows["openai/gpt-4"] == ["8,192", "$30.00", "$60.00"]
    assert rows["openrouter/auto"] == ["2,000,000", "varies", "varies"]
    assert {line.split()[0] for line in fake_openrouter("models", "--provider", "openai")
            .stdout.splitlines() if "/" in line.split()[0]} == {"openai/gpt-4"}
    shown = fake_openrouter("models", "show", "openai/gpt-4")
    assert ["OpenAI", "8,192", "4,096", "$30.00", "$60.00", "fp16", "ok"] in [
        line.split() for line in shown.stdout.splitlines()]


def test_chat_keys_and_credits_with_openrouter_shapes(
    fake_openrouter: Callable[..., Result], upstream: MockUpstream
) -> None:
    r = fake_openrouter("chat", "openai/gpt-4", "hello")
    assert r.exit_code == 0, r.output
    assert r.stdout == "Hi\n"
    assert "OpenAI · openai/gpt-4 · 4 in, 1 out · $0.00018" in r.stderr
    assert upstream.requests[-1]["headers"]["Authorization"] == f"Bearer {KEY}"
    keys = fake_openrouter("keys", "list")
    assert keys.exit_code == 0, keys.output
    assert ["f01d52606dc8f0a8", "My", "Key", "active", "$100.00", "$74.50", "monthly", "$25.50",
            "2025-08-24"] in [line.split() for line in keys.stdout.splitlines()]
    credits = fake_openrouter("credits")
    assert "$74.75" in credits.stdout
