"""Prices to the cent: /models shows the seed's price table exactly, and charges match it.

Regression: provider costs stored as 4-decimal approximations (0.3273 for 0.36/1.1) showed
`0.00000036003` for Gemini 2.5 Flash and charged that too.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from switchboard.billing.pricing import MILLION, PICO, compute_cost, per_token_str
from switchboard.catalog.loader import build_catalog
from tests.support import GatewayServer, MockUpstream, Reply, openai_completion

# The seed's "价格速查(2026,含中间费)": USD per million tokens, fee included. The seed rounds
# Gemini 2.5 Pro's 1.375 to 1.38; /models may show either.
SEED_PRICES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "anthropic/claude-opus-4.7": (("16.50",), ("82.50",)),
    "anthropic/claude-sonnet-4.6": (("3.30",), ("16.50",)),
    "anthropic/claude-haiku-4.5": (("0.88",), ("4.40",)),
    "openai/gpt-5": (("5.50",), ("27.50",)),
    "openai/gpt-5-mini": (("0.55",), ("2.75",)),
    "openai/gpt-5-nano": (("0.11",), ("0.44",)),
    "openai/o3": (("16.50",), ("66",)),
    "google/gemini-2.5-pro": (("1.38", "1.375"), ("5.50",)),
    "google/gemini-2.5-flash": (("0.36",), ("1.44",)),
    "google/gemini-2.5-flash-lite": (("0.09",), ("0.36",)),
    "deepseek/deepseek-r1": (("0.30",), ("1.20",)),
    "qwen/qwen-2.5-72b-instruct": (("0.40",), ("0.60",)),
    "meta-llama/llama-3.3-70b": (("0.27",), ("0.40",)),
    "xai/grok-4": (("5",), ("15",)),
}


def per_token(per_million: str) -> str:
    return format((Decimal(per_million) / MILLION).normalize(), "f")


@pytest.fixture(scope="module")
def builtin_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayServer]:
    gw = GatewayServer("markup: 0.10\n", tmp_path_factory.mktemp("prices"))
    yield gw
    gw.stop()


def test_models_shows_every_seed_price_exactly(builtin_gateway: GatewayServer) -> None:
    listed = {m["id"]: m["pricing"] for m in builtin_gateway.http.get("/models").json()["data"]}
    wrong = {}
    for model_id, (prompts, completions) in SEED_PRICES.items():
        pricing = listed[model_id]
        if pricing["prompt"] not in {per_token(p) for p in prompts} or pricing[
            "completion"
        ] not in {per_token(c) for c in completions}:
            wrong[model_id] = (pricing["prompt"], pricing["completion"])
    assert not wrong


def test_no_listed_price_carries_rounding_noise(builtin_gateway: GatewayServer) -> None:
    """Every price of the whole built-in catalog is a short decimal (no 0.00000036003)."""
    for m in builtin_gateway.http.get("/models").json()["data"]:
        for field, value in m["pricing"].items():
            if value.startswith("-"):
                continue  # openrouter/auto: variable pricing
            digits = value.split(".")[1] if "." in value else ""
            assert len(digits.lstrip("0")) <= 6, (m["id"], field, value)


@pytest.mark.parametrize("model_id", sorted(SEED_PRICES))
def test_charges_are_the_listed_price_times_tokens(model_id: str) -> None:
    catalog = build_catalog()
    pricing = catalog.models[model_id].endpoints[0].pricing
    markup = Decimal("0.10")
    prompt_pt = Decimal(per_token_str(pricing.prompt, markup))
    completion_pt = Decimal(per_token_str(pricing.completion, markup))
    for prompt, completion in [(1, 0), (0, 1), (7, 3), (123_457, 98_765), (10**9, 10**8)]:
        cost = compute_cost(pricing, {"prompt_tokens": prompt, "completion_tokens": completion},
                            markup)
        exact = (prompt * prompt_pt + completion * completion_pt) / PICO
        assert exact == exact.to_integral_value()
        assert cost.pico == int(exact), (prompt, completion)


def test_served_request_is_charged_the_seed_price(
    mock: MockUpstream, tmp_path: Path
) -> None:
    """DeepSeek R1 through its first-party endpoint: 0.30 / 1.20 per million with the fee."""
    mock.reset()
    config = f"""
providers:
  - name: deepseek
    display_name: DeepSeek
    api: openai
    base_url: {mock.url}/deepseek/v1
    api_key: sk-test
"""
    gw = GatewayServer(config, tmp_path)
    try:
        gw.charge(100)
        key = gw.new_key()
        mock.script("deepseek", Reply(json=openai_completion(prompt=54_321, completion=7_777)))
        r = gw.http.post(
            "/chat/completions",
            headers={"Authorization": f"Bearer {key}"},
            json={"model": "deepseek/deepseek-r1", "provider": {"only": ["deepseek"]},
                  "messages": [{"role": "user", "content": "hi"}]},
        )
        assert r.status_code == 200, r.text
        expected = Decimal("54321") * Decimal("0.30") / MILLION + Decimal(
            "7777") * Decimal("1.20") / MILLION
        assert Decimal(r.headers["openrouter-cost"]) == expected
    finally:
        gw.stop()
        mock.reset()
