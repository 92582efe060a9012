"""openrouter/auto chooses for the prompt; openrouter/free picks a free model.

Regression: the router took the first configured candidate for a greeting and a coding task
alike, and with `builtin_catalog: false` every auto request was a 404.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from switchboard.routing.classifier import classify
from tests.support import GatewayServer, MockUpstream, Reply, openai_completion

# prompt -> the task the classifier must name
PROMPTS = [
    ("Hello! How are you today?", "chat"),
    ("Tell me a joke about cats", "chat"),
    ("Recommend a good book for the weekend", "chat"),
    ("Write a Python function that reverses a linked list", "code"),
    ("Why does my code throw a NullPointerException?", "code"),
    ("```js\nconst x = [1,2,3].map(n => n * 2)\n```\nwhat does this print?", "code"),
    ("SELECT name FROM users WHERE id = 1; why is it slow?", "code"),
    ("写一个快速排序的函数", "code"),
    ("What is the integral of x^2 from 0 to 3?", "reasoning"),
    ("Solve 3x + 5 = 20", "reasoning"),
    ("Prove that there are infinitely many primes", "reasoning"),
    ("证明根号2是无理数", "reasoning"),
    ('Translate "good morning" into French', "language"),
    ("你好,今天天气怎么样?", "language"),
    ("Привет, как дела?", "language"),
]


@pytest.mark.parametrize("prompt,task", PROMPTS)
def test_classifier_names_the_task(prompt: str, task: str) -> None:
    assert classify([{"role": "user", "content": prompt}]).task == task


def test_request_shape_outranks_words() -> None:
    msgs = [{"role": "user", "content": "Write a Python function"}]
    assert classify(msgs, images=1).task == "vision"
    assert classify(msgs, tools=True).task == "tools"
    assert classify(msgs, prompt_tokens=100_000).task == "long_context"


def _model(model_id: str, provider: str, ctx: int = 128_000, modality: str = "text->text",
           price: str = "1") -> str:
    return f"""
  - id: {model_id}
    context_length: {ctx}
    modality: {modality}
    endpoints:
      - provider: {provider}
        model: {model_id.split('/')[1]}
        pricing: {{prompt: {price}, completion: {price}}}
        supported_parameters: [tools, tool_choice, response_format, max_tokens, temperature]
"""


def router_config(mock_url: str) -> str:
    models = "".join([
        _model("anthropic/claude-sonnet-4.6", "up", 200_000, "text+image->text"),
        _model("openai/gpt-5-mini", "up", 400_000, "text+image->text"),
        _model("openai/o3", "up", 200_000),
        _model("google/gemini-2.5-flash", "up", 1_000_000, "text+image->text"),
        _model("meta-llama/llama-3.3-70b-instruct:free", "up", 8_192, price="0"),
    ])
    return f"""
builtin_catalog: false
providers:
  - name: up
    api: openai
    base_url: {mock_url}/up/v1
    api_key: sk-up
models:{models}
"""


@pytest.fixture()
def gw(upstream: MockUpstream, tmp_path: Path) -> Iterator[Keyed]:
    upstream.default = lambda path, body: Reply(json=openai_completion(model=body["model"]))
    g = GatewayServer(router_config(upstream.url), tmp_path)
    g.charge(100)
    yield Keyed(g.http, g.new_key())
    g.stop()


@dataclass
class Keyed:
    """A gateway's client and an API key for it."""

    http: httpx.Client
    key: str


def ask(gw: Keyed, content: Any, **extra: Any) -> Any:
    body = {"model": "openrouter/auto", "messages": [{"role": "user", "content": content}],
            **extra}
    r = gw.http.post("/chat/completions", json=body,
                     headers={"Authorization": f"Bearer {gw.key}"})
    assert r.status_code == 200, r.text
    return r.json()


IMAGE = [{"type": "text", "text": "What is in this picture?"},
         {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}]
TOOL = {"type": "function", "function": {"name": "get_weather",
                                         "parameters": {"type": "object", "properties": {}}}}


@pytest.mark.parametrize("content,extra,expected", [
    ("Hello! How are you today?", {}, "openai/gpt-5-mini"),
    ("Write a Python function that reverses a linked list", {}, "anthropic/claude-sonnet-4.6"),
    ("Prove that there are infinitely many primes", {}, "openai/o3"),
    ('Translate "good morning" into French', {}, "google/gemini-2.5-flash"),
    (IMAGE, {}, "google/gemini-2.5-flash"),
    ("What's the weather in Paris?", {"tools": [TOOL]}, "anthropic/claude-sonnet-4.6"),
    ("Summarise this: " + "lorem ipsum dolor sit amet " * 12_000, {}, "google/gemini-2.5-flash"),
])
def test_auto_routes_each_kind_of_prompt_to_its_model(
    gw: Keyed, content: Any, extra: dict[str, Any], expected: str
) -> None:
    assert ask(gw, content, **extra)["model"] == expected


def test_a_session_sticks_to_its_first_model(gw: Keyed) -> None:
    first = ask(gw, "Write a Python function that adds two numbers", session_id="s-1")
    assert first["model"] == "anthropic/claude-sonnet-4.6"
    later = ask(gw, "Thanks! How are you?", session_id="s-1")
    assert later["model"] == "anthropic/claude-sonnet-4.6"
    other = ask(gw, "Thanks! How are you?", session_id="s-2")
    assert other["model"] == "openai/gpt-5-mini"


def test_plugin_allowed_models_restricts_the_choice(gw: Keyed) -> None:
    plugins = [{"id": "auto-router", "allowed_models": ["openai/*"]}]
    got = ask(gw, "Write a Python function that reverses a list", plugins=plugins)
    assert got["model"] == "openai/gpt-5-mini"
    plugins = [{"id": "auto-router", "allowed_models": ["openai/*"],
                "excluded_models": ["openai/gpt-5-mini"]}]
    assert ask(gw, "Hello!", plugins=plugins)["model"] == "openai/o3"


def test_plugin_with_nothing_allowed_is_a_404(gw: Keyed) -> None:
    r = gw.http.post("/chat/completions", headers={"Authorization": f"Bearer {gw.key}"},
                     json={"model": "openrouter/auto", "messages": [{"role": "user",
                                                                      "content": "hi"}],
                           "plugins": [{"id": "auto-router", "allowed_models": ["x/*"]}]})
    assert r.status_code == 404
    assert "No models match" in r.json()["error"]["message"]


def test_config_candidates_narrow_the_pool(upstream: MockUpstream, tmp_path: Path) -> None:
    upstream.default = lambda path, body: Reply(json=openai_completion(model=body["model"]))
    config = router_config(upstream.url) + "auto_router:\n  candidates: [openai/o3]\n"
    g = GatewayServer(config, tmp_path)
    try:
        g.charge(10)
        assert ask(Keyed(g.http, g.new_key()), "Write a Python function")["model"] == "openai/o3"
    finally:
        g.stop()


def test_free_router_picks_a_free_model(gw: Keyed) -> None:
    got = ask(gw, "Hello!", model="openrouter/free")
    assert got["model"] == "meta-llama/llama-3.3-70b-instruct:free"
    assert got["usage"]["cost"] == 0


def test_models_lists_the_routers(gw: Keyed) -> None:
    data = {m["id"]: m for m in gw.http.get("/models").json()["data"]}
    auto = data["openrouter/auto"]
    assert auto["pricing"]["prompt"] == auto["pricing"]["completion"] == "-1"
    assert auto["description"] and auto["context_length"] == 1_000_000
    assert "image" in auto["architecture"]["input_modalities"]
    assert data["openrouter/free"]["pricing"]["prompt"] == "0"
