"""Helpers for the money tests: configs with known prices, exact JSON, HTTP bursts."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx

from tests.support import GatewayServer, Reply, openai_completion

MILLION = Decimal(1_000_000)
PICO = Decimal("1e-12")
MARKUP = Decimal("0.10")

# test/priced: every price component is distinct so a mix-up shows in the last digit.
PRICED = {
    "prompt": Decimal("1.23"),
    "completion": Decimal("4.56"),
    "input_cache_read": Decimal("0.123"),
    "input_cache_write": Decimal("1.5375"),
    "internal_reasoning": Decimal("7.89"),
    "image": Decimal("0.0012"),
    "request": Decimal("0.0005"),
}
# test/flat: the worst case is known without any prompt estimate (prompt is free).
FLAT_COMPLETION = Decimal("10")
FLAT_REQUEST = Decimal("0.001")
FLAT_MAX_TOKENS = 100


def flat_cost() -> Decimal:
    """What one test/flat request costs when it generates max_tokens: also its exact hold."""
    provider = FLAT_MAX_TOKENS * FLAT_COMPLETION / MILLION + FLAT_REQUEST
    return provider * (1 + MARKUP)


def money_config(mock_url: str, store_content: bool = True, retain_days: int = 30,
                 extra: str = "") -> str:
    p = PRICED
    return f"""
markup: 0.10
builtin_catalog: false
logging:
  store_content: {"true" if store_content else "false"}
  retain_days: {retain_days}
providers:
  - name: acme
    display_name: Acme AI
    api: openai
    base_url: {mock_url}/acme/v1
    api_key: sk-acme-upstream-secret
    timeouts: {{connect: 5, first_token: 20, idle: 20}}
  - name: flaky
    display_name: Flaky AI
    api: openai
    base_url: {mock_url}/flaky/v1
    api_key: sk-flaky-upstream-secret
    timeouts: {{connect: 1, first_token: 0.5, idle: 0.5, total: 0.5}}
    circuit: {{failures: 1000, cooldown_s: 1}}
  - name: metered
    display_name: Metered
    api: openai
    base_url: {mock_url}/metered/v1
    api_key: sk-metered-upstream
    rate_limit: {{rpm: 3}}
  - name: freep
    display_name: Free Provider
    api: openai
    base_url: {mock_url}/freep/v1
    api_key: sk-free-upstream
    trains_on_data: true
models:
  - id: test/priced
    name: Priced
    context_length: 100000
    modality: text+image->text
    endpoints:
      - provider: acme
        model: acme-large
        pricing: {{prompt: {p["prompt"]}, completion: {p["completion"]},
                   input_cache_read: {p["input_cache_read"]},
                   input_cache_write: {p["input_cache_write"]},
                   internal_reasoning: {p["internal_reasoning"]},
                   image: {p["image"]}, request: {p["request"]}}}
        max_completion_tokens: 4000
        supported_parameters: [max_tokens, temperature]
  - id: test/flat
    name: Flat
    context_length: 100000
    endpoints:
      - provider: acme
        model: acme-flat
        pricing: {{prompt: 0, completion: {FLAT_COMPLETION}, request: {FLAT_REQUEST}}}
        max_completion_tokens: {FLAT_MAX_TOKENS}
        supported_parameters: [max_tokens]
  - id: test/flaky
    name: Flaky
    context_length: 100000
    endpoints:
      - provider: flaky
        model: flaky-1
        pricing: {{prompt: 2, completion: 8}}
        max_completion_tokens: 200
        supported_parameters: [max_tokens]
  - id: test/fallback
    name: Fallback
    context_length: 100000
    endpoints:
      - provider: flaky
        model: flaky-fb
        pricing: {{prompt: 2, completion: 8}}
        max_completion_tokens: 200
        supported_parameters: [max_tokens]
      - provider: acme
        model: acme-fb
        pricing: {{prompt: 1, completion: 3}}
        max_completion_tokens: 200
        supported_parameters: [max_tokens]
  - id: test/metered
    name: Metered
    context_length: 100000
    endpoints:
      - provider: metered
        model: metered-1
        pricing: {{prompt: 1, completion: 1}}
        max_completion_tokens: 100
  - id: test/free:free
    name: Free
    context_length: 100000
    endpoints:
      - provider: freep
        model: free-1
        pricing: {{prompt: 0, completion: 0}}
        max_completion_tokens: 100
{extra}
"""


def exact(resp: httpx.Response) -> Any:
    """The body with every JSON number as the exact Decimal the server wrote."""
    return json.loads(resp.text, parse_float=Decimal)


def dec(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def flat_default(delay_s: float = 0.0) -> Callable[[str, dict[str, Any]], Reply]:
    """Every test/flat call generates exactly max_tokens, so each costs exactly its hold."""

    def reply(path: str, body: dict[str, Any]) -> Reply:
        n = int(body.get("max_tokens") or FLAT_MAX_TOKENS)
        if body.get("stream"):
            from tests.support import openai_stream

            return Reply(sse=openai_stream(["x"] * 3, prompt=9, completion=n),
                         delay_s=delay_s)
        return Reply(json=openai_completion("ok", prompt=9, completion=n), delay_s=delay_s)

    return reply


async def _one(client: httpx.AsyncClient, url: str, key: str, body: dict[str, Any]
               ) -> tuple[int, str | None, Decimal | None]:
    """(status, generation id, cost charged as the client saw it)."""
    if body.get("stream"):
        async with client.stream("POST", url, json=body, headers=auth(key)) as r:
            text = (await r.aread()).decode()
            if r.status_code != 200:
                return r.status_code, None, None
        events = [e[len("data: "):] for e in text.split("\n\n") if e.startswith("data: ")]
        assert events[-1] == "[DONE]", text[-500:]
        final = json.loads(events[-2], parse_float=Decimal)
        return 200, final["id"], dec(final["usage"]["cost"])
    r = await client.post(url, json=body, headers=auth(key))
    if r.status_code != 200:
        return r.status_code, None, None
    return 200, r.headers["x-generation-id"], Decimal(r.headers["openrouter-cost"])


def burst(targets: list[tuple[GatewayServer, str]], n: int, body_of: Callable[[int], dict[str, Any]]
          ) -> list[tuple[int, str | None, Decimal | None]]:
    """n requests all at once, round-robin over (gateway, key) targets."""

    async def main() -> list[tuple[int, str | None, Decimal | None]]:
        limits = httpx.Limits(max_connections=n + 10, max_keepalive_connections=n + 10)
        async with httpx.AsyncClient(timeout=60, limits=limits) as client:
            jobs = []
            for i in range(n):
                gw, key = targets[i % len(targets)]
                jobs.append(_one(client, f"{gw.base_url}/chat/completions", key, body_of(i)))
            return list(await asyncio.gather(*jobs))

    return asyncio.run(main())


def chat(gw: GatewayServer, key: str, body: dict[str, Any],
         headers: dict[str, str] | None = None) -> httpx.Response:
    return gw.http.post("/chat/completions", json=body, headers={**auth(key), **(headers or {})})


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]
