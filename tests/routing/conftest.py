"""A small catalog built in code, and helpers to plan against it."""

from __future__ import annotations

import random
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import pytest

from switchboard.catalog.types import Catalog, Endpoint, Model, Pricing, ProviderInfo
from switchboard.routing.health import EndpointHealth, HealthSnapshot
from switchboard.routing.planner import Plan, RouteRequest, plan_route
from switchboard.routing.preferences import parse_preferences

ALL_PARAMS = frozenset(
    {
        "tools",
        "tool_choice",
        "response_format",
        "structured_outputs",
        "temperature",
        "top_p",
        "stop",
        "max_tokens",
        "seed",
        "reasoning",
    }
)
BASIC_PARAMS = frozenset({"temperature", "top_p", "stop", "max_tokens"})


def provider(
    name: str,
    *,
    display: str | None = None,
    key: str | None = "sk-test",
    env: str | None = None,
    trains: bool = False,
    api: str = "openai",
) -> ProviderInfo:
    return ProviderInfo(
        name=name,
        display_name=display or name.title(),
        api=api,
        base_url=f"https://{name}.example/v1",
        api_key=key,
        api_key_env=env or f"{name.upper().replace('-', '_').replace('/', '_')}_API_KEY",
        trains_on_data=trains,
    )


def endpoint(
    provider: str,
    model: str,
    prompt: str,
    completion: str,
    *,
    ctx: int = 128_000,
    params: frozenset[str] = ALL_PARAMS,
    quant: str | None = None,
    tps: float | None = None,
    latency: float | None = None,
    request: str = "0",
    image: str = "0",
) -> Endpoint:
    return Endpoint(
        provider=provider,
        model=model,
        pricing=Pricing(
            prompt=Decimal(prompt),
            completion=Decimal(completion),
            request=Decimal(request),
            image=Decimal(image),
        ),
        context_length=ctx,
        supported_parameters=params,
        quantization=quant,
        throughput_tps=tps,
        latency_ms=latency,
    )


def model(mid: str, *endpoints: Endpoint, modality: str = "text->text") -> Model:
    ctx = max((e.context_length for e in endpoints), default=0)
    return Model(id=mid, name=mid, context_length=ctx, endpoints=endpoints, modality=modality)


def build_catalog() -> Catalog:
    providers = [
        provider("openai", display="OpenAI"),
        provider("anthropic", display="Anthropic"),
        provider("together", display="Together"),
        provider("deepinfra", display="DeepInfra", trains=True),
        provider("cheapo", display="Cheapo", trains=True),
        provider("azure", display="Azure", key=None, env="AZURE_API_KEY"),
        provider("google-vertex/us-east5", display="Google Vertex"),
        provider("simulator", display="Simulator", key=None, api="simulator"),
    ]
    models = [
        model(
            "openai/gpt-5",
            endpoint("openai", "gpt-5", "1.25", "10", ctx=400_000, tps=80, latency=900),
            endpoint("azure", "gpt-5", "1.25", "10", ctx=400_000),
            modality="text+image->text",
        ),
        model(
            "anthropic/claude-sonnet-4.6",
            endpoint("anthropic", "claude-sonnet-4-6", "3", "15", ctx=200_000, tps=60),
            endpoint("google-vertex/us-east5", "claude-sonnet-4-6", "3", "15", ctx=200_000),
            modality="text+image->text",
        ),
        model(
            "anthropic/claude-opus-4.7:1m",
            endpoint("anthropic", "claude-opus-4-7-1m", "6", "22.5", ctx=1_000_000),
        ),
        model(
            "meta-llama/llama-3.3-70b-instruct",
            endpoint("together", "llama-70b", "0.88", "0.88", quant="fp8", tps=120, latency=300),
            endpoint("deepinfra", "llama-70b", "0.23", "0.40", quant="bf16", tps=40, latency=500),
            endpoint(
                "cheapo", "llama-70b", "0.10", "0.10", ctx=8_192, quant="fp4", params=BASIC_PARAMS
            ),
        ),
        model(
            "meta-llama/llama-3.3-70b-instruct:free",
            endpoint("cheapo", "llama-70b-free", "0", "0", ctx=8_192, params=BASIC_PARAMS),
            endpoint("together", "llama-70b-free", "0", "0", ctx=8_192),
        ),
        model("azure-only/model", endpoint("azure", "only", "1", "1")),
        model("switchboard/echo", endpoint("simulator", "echo", "0", "0")),
    ]
    return Catalog(
        providers={p.name: p for p in providers},
        models={m.id: m for m in models},
        auto_candidates=(
            "meta-llama/llama-3.3-70b-instruct",
            "anthropic/claude-sonnet-4.6",
            "openai/gpt-5",
        ),
    )


CATALOG = build_catalog()  # immutable; shared by hypothesis tests, which cannot take fixtures


@pytest.fixture
def catalog() -> Catalog:
    return CATALOG


def snapshot(entries: dict[str, EndpointHealth], now: float = 0.0) -> HealthSnapshot:
    return HealthSnapshot(MappingProxyType(entries), now)


def plan(
    model_id: str = "openai/gpt-5",
    *,
    provider: dict[str, Any] | None = None,
    health: HealthSnapshot | None = None,
    seed: int = 0,
    catalog: Catalog = CATALOG,
    **kwargs: Any,
) -> Plan:
    req = RouteRequest(model=model_id, preferences=parse_preferences(provider), **kwargs)
    return plan_route(catalog, req, health or HealthSnapshot(), random.Random(seed))


def providers_of(p: Plan) -> list[str]:
    return [a.provider.name for a in p.attempts]


def pairs_of(p: Plan) -> list[tuple[str, str]]:
    return [(a.model.id, a.provider.name) for a in p.attempts]
