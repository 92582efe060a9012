"""The shipped catalog (catalog/data/catalog.yaml) against the seed's model list and price table.

The seed's prices include the 10 % fee; the catalog stores provider cost. So for every row of the
seed's price table, the model's first (cheapest) endpoint cost x 1.1, rounded to cents, must be the
seed's number.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

CATALOG = (
    Path(__file__).resolve().parents[1]
    / "src"
    / "switchboard"
    / "catalog"
    / "data"
    / "catalog.yaml"
)
MARKUP = Decimal("1.10")

# The seed's "主流 vendor 与模型" list (openrouter/auto is the router, not a catalog model).
SEED_MODEL_IDS = [
    "anthropic/claude-opus-4.7",
    "anthropic/claude-opus-4.7:1m",
    "anthropic/claude-sonnet-4.6",
    "anthropic/claude-haiku-4.5",
    "anthropic/claude-3.5-sonnet",
    "openai/gpt-5",
    "openai/gpt-5-mini",
    "openai/gpt-5-nano",
    "openai/o3",
    "openai/o4-mini",
    "openai/gpt-4o",
    "openai/gpt-4o-mini",
    "google/gemini-2.5-pro",
    "google/gemini-2.5-flash",
    "google/gemini-2.5-flash-lite",
    "google/gemini-2.5-flash-image",
    "xai/grok-2",
    "xai/grok-2-vision",
    "xai/grok-4",
    "meta-llama/llama-3.3-70b-instruct",
    "meta-llama/llama-3.3-70b-instruct:free",
    "meta-llama/llama-3.1-405b-instruct",
    "meta-llama/llama-3.1-8b-instruct:free",
    "mistralai/mistral-large",
    "mistralai/mistral-medium",
    "mistralai/mixtral-8x22b-instruct",
    "deepseek/deepseek-r1",
    "deepseek/deepseek-v3",
    "deepseek/deepseek-chat",
    "deepseek/deepseek-r1:free",
    "qwen/qwen-2.5-72b-instruct",
    "qwen/qwen-2.5-coder-32b-instruct",
    "qwen/qwen-vl-max",
    "qwen/qwen-2.5-7b-instruct:free",
    "zhipu/glm-4-plus",
    "zhipu/glm-4-air",
    "zhipu/glm-4v",
    "cohere/command-r-plus",
    "cohere/command-r-08-2024",
]

# Ids the catalog adds beyond the list: the price table's spelling, the paid bases of :free
# entries, and :beta.
EXTRA_MODEL_IDS = [
    "meta-llama/llama-3.3-70b",
    "meta-llama/llama-3.1-8b-instruct",
    "qwen/qwen-2.5-7b-instruct",
    "anthropic/claude-sonnet-4.6:beta",
    "anthropic/claude-sonnet-4.6:1m",
]

# The seed's "价格速查(2026,含中间费)" table: USD per million tokens, fee included.
SEED_PRICES = {
    "anthropic/claude-opus-4.7": ("16.50", "82.50"),
    "anthropic/claude-sonnet-4.6": ("3.30", "16.50"),
    "anthropic/claude-haiku-4.5": ("0.88", "4.40"),
    "openai/gpt-5": ("5.50", "27.50"),
    "openai/gpt-5-mini": ("0.55", "2.75"),
    "openai/gpt-5-nano": ("0.11", "0.44"),
    "openai/o3": ("16.50", "66"),
    "google/gemini-2.5-pro": ("1.38", "5.50"),
    "google/gemini-2.5-flash": ("0.36", "1.44"),
    "google/gemini-2.5-flash-lite": ("0.09", "0.36"),
    "deepseek/deepseek-r1": ("0.30", "1.20"),
    "qwen/qwen-2.5-72b-instruct": ("0.40", "0.60"),
    "meta-llama/llama-3.3-70b": ("0.27", "0.40"),
    "xai/grok-4": ("5", "15"),
}

# The seed's provider table plus the first-party APIs of the listed vendors.
PROVIDERS = [
    "openai",
    "anthropic",
    "google-vertex",
    "google-ai-studio",
    "azure",
    "fireworks",
    "together",
    "groq",
    "cerebras",
    "deepinfra",
    "nebius",
    "mistral",
    "xai",
    "deepseek",
    "qwen",
    "zhipu",
    "cohere",
]
SEED_REGIONS = {
    "openai": "us",
    "anthropic": "us",
    "google-vertex": "multi",
    "google-ai-studio": "global",
    "azure": "multi",
    "fireworks": "us",
    "together": "us",
    "groq": "us",
    "cerebras": "us",
    "deepinfra": "us",
    "nebius": "eu",
    "mistral": "eu",
}
PAID_FIRST_PARTY = ["openai", "anthropic", "google-vertex", "google-ai-studio", "azure"]
DIALECTS = {"openai", "anthropic", "gemini", "vertex", "azure", "cohere"}
MODALITIES = {"text->text", "text+image->text", "text+image->text+image", "text->embeddings"}
TOKENIZERS = {
    "Claude",
    "GPT",
    "Gemini",
    "Llama3",
    "Mistral",
    "DeepSeek",
    "Qwen",
    "Grok",
    "GLM",
    "Cohere",
    "Other",
}
KNOWN_PARAMETERS = {
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "response_format",
    "structured_outputs",
    "temperature",
    "top_p",
    "top_k",
    "stop",
    "max_tokens",
    "seed",
    "frequency_penalty",
    "presence_penalty",
    "logprobs",
    "top_logprobs",
    "reasoning",
    "include_reasoning",
}


def dec(value: Any) -> Decimal:
    """A catalog price: a number, or a ratio such as "0.36/1.1" (the seed's price less the fee)."""
    num, _, den = str(value).partition("/")
    return Decimal(num) / Decimal(den or 1)


def with_fee(cost: Any) -> Decimal:
    return (dec(cost) * MARKUP).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@pytest.fixture(scope="module")
def catalog() -> dict[str, Any]:
    data = yaml.safe_load(CATALOG.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def providers(catalog: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in catalog["providers"]}


@pytest.fixture(scope="module")
def models(catalog: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["id"]: m for m in catalog["models"]}


def test_top_level_has_only_the_catalog_sections(catalog: dict[str, Any]) -> None:
    assert set(catalog) == {"providers", "models", "auto_router"}


def test_ids_and_names_are_unique(catalog: dict[str, Any]) -> None:
    ids = [m["id"] for m in catalog["models"]]
    names = [p["name"] for p in catalog["providers"]]
    assert len(ids) == len(set(ids))
    assert len(names) == len(set(names))


@pytest.mark.parametrize("model_id", SEED_MODEL_IDS + EXTRA_MODEL_IDS)
def test_every_seed_model_is_in_the_catalog(models: dict[str, Any], model_id: str) -> None:
    assert model_id in models


def test_the_auto_router_is_not_a_catalog_model(models: dict[str, Any]) -> None:
    assert "openrouter/auto" not in models


def test_every_provider_is_listed(providers: dict[str, Any]) -> None:
    assert set(PROVIDERS) <= set(providers)


@pytest.mark.parametrize("name", PROVIDERS)
def test_provider_entry_is_complete(providers: dict[str, Any], name: str) -> None:
    p = providers[name]
    assert p["api"] in DIALECTS
    assert p["display_name"]
    assert p["base_url"].startswith("https://")
    assert "${" not in p["base_url"]
    assert "api_key" not in p, (
        "credentials come from the environment (api_key_env), never the shipped file"
    )
    assert p.get("api_key_env") or p["api"] == "vertex"
    assert isinstance(p["trains_on_data"], bool)
    assert isinstance(p["retains_prompts"], bool)
    assert p["privacy_policy_url"].startswith("https://")


def test_base_urls_follow_each_sdk(providers: dict[str, Any]) -> None:
    # OpenAI-compatible: the SDK base URL (the gateway appends /chat/completions).
    for name, p in providers.items():
        if p["api"] == "openai":
            assert "/v" in p["base_url"], name
    assert providers["anthropic"]["base_url"] == "https://api.anthropic.com"
    assert providers["google-ai-studio"]["base_url"] == "https://generativelanguage.googleapis.com"
    assert providers["cohere"]["base_url"] == "https://api.cohere.com"
    assert providers["azure"]["options"]["api_version"] == "2024-10-21"  # a string, not a YAML date
    assert providers["azure"]["options"]["resource_env"] == "AZURE_OPENAI_RESOURCE"
    assert providers["google-vertex"]["options"]["project_env"] == "GOOGLE_CLOUD_PROJECT"


@pytest.mark.parametrize("name,region", sorted(SEED_REGIONS.items()))
def test_provider_regions_follow_the_seed(
    providers: dict[str, Any], name: str, region: str
) -> None:
    assert providers[name]["region"] == region


@pytest.mark.parametrize("name", PAID_FIRST_PARTY)
def test_paid_first_party_apis_do_not_train(providers: dict[str, Any], name: str) -> None:
    assert providers[name]["trains_on_data"] is False


def test_every_endpoint_is_well_formed(models: dict[str, Any], providers: dict[str, Any]) -> None:
    for mid, m in models.items():
        assert m["modality"] in MODALITIES, mid
        assert m["tokenizer"] in TOKENIZERS, mid
        assert isinstance(m["created"], int) and m["created"] > 1_600_000_000, mid
        assert m["context_length"] > 0, mid
        assert m["endpoints"], mid
        for e in m["endpoints"]:
            where = f"{mid} @ {e['provider']}"
            assert e["provider"] in providers, f"{where}: unknown provider"
            assert e["model"], where
            assert e["context_length"] <= m["context_length"], where
            assert set(e["supported_parameters"]) <= KNOWN_PARAMETERS, where
            if m["modality"].endswith("->embeddings"):  # input only: no output cap or price
                assert e["max_completion_tokens"] is None and dec(e["pricing"]["prompt"]) > 0
                continue
            assert 0 < e["max_completion_tokens"] <= e["context_length"], where
            assert "max_tokens" in e["supported_parameters"], where
            for key, value in e["pricing"].items():
                assert dec(value) >= 0, f"{where}: {key}"
                for part in str(value).split("/"):
                    assert dec(part) == dec(part).quantize(Decimal("0.000001")), (
                        f"{where}: {key} too precise"
                    )


def test_anthropic_endpoints_do_not_claim_openai_only_parameters(models: dict[str, Any]) -> None:
    unsupported = {"frequency_penalty", "presence_penalty", "seed", "logprobs", "top_logprobs"}
    for mid, m in models.items():
        for e in m["endpoints"]:
            if mid.startswith("anthropic/"):
                assert not unsupported & set(e["supported_parameters"]), f"{mid} @ {e['provider']}"


def test_free_models_are_zero_priced(models: dict[str, Any]) -> None:
    free = [mid for mid in models if mid.endswith(":free")]
    assert len(free) == 4
    for mid in free:
        for e in models[mid]["endpoints"]:
            assert all(dec(v) == 0 for v in e["pricing"].values()), f"{mid} @ {e['provider']}"


def test_free_models_have_a_paid_base(models: dict[str, Any]) -> None:
    for mid in models:
        if mid.endswith(":free"):
            base = mid.removesuffix(":free")
            assert base in models, base
            assert any(dec(e["pricing"]["prompt"]) > 0 for e in models[base]["endpoints"]), base


def test_paid_models_are_not_free(models: dict[str, Any]) -> None:
    for mid, m in models.items():
        if not mid.endswith(":free") and not m["modality"].endswith("->embeddings"):
            for e in m["endpoints"]:
                assert dec(e["pricing"]["prompt"]) > 0 and dec(e["pricing"]["completion"]) > 0, mid


@pytest.mark.parametrize("model_id,prices", sorted(SEED_PRICES.items()))
def test_first_endpoint_cost_plus_fee_is_the_seed_price(
    models: dict[str, Any], model_id: str, prices: tuple[str, str]
) -> None:
    prompt, completion = (Decimal(p) for p in prices)
    pricing = models[model_id]["endpoints"][0]["pricing"]
    assert with_fee(pricing["prompt"]) == prompt
    assert with_fee(pricing["completion"]) == completion


@pytest.mark.parametrize("model_id", sorted(SEED_PRICES))
def test_first_endpoint_is_the_cheapest(models: dict[str, Any], model_id: str) -> None:
    endpoints = models[model_id]["endpoints"]
    first = endpoints[0]["pricing"]
    for e in endpoints[1:]:
        assert dec(first["prompt"]) <= dec(e["pricing"]["prompt"]), e["provider"]
        assert dec(first["completion"]) <= dec(e["pricing"]["completion"]), e["provider"]


def test_sonnet_matches_the_seed_models_example(models: dict[str, Any]) -> None:
    m = models["anthropic/claude-sonnet-4.6"]
    first = m["endpoints"][0]
    assert m["name"] == "Claude Sonnet 4.6"
    assert (m["context_length"], m["modality"], m["tokenizer"], m["instruct_type"]) == (
        200000,
        "text+image->text",
        "Claude",
        None,
    )
    # "prompt": "0.0000033", "completion": "0.0000165" per token, fee included
    assert dec(first["pricing"]["prompt"]) * MARKUP / 1_000_000 == Decimal("0.0000033")
    assert dec(first["pricing"]["completion"]) * MARKUP / 1_000_000 == Decimal("0.0000165")
    assert (first["context_length"], first["max_completion_tokens"]) == (200000, 8192)


def test_variants_share_their_base_models_upstream(models: dict[str, Any]) -> None:
    pairs = [
        ("anthropic/claude-sonnet-4.6:beta", "anthropic/claude-sonnet-4.6"),
        ("anthropic/claude-opus-4.7:1m", "anthropic/claude-opus-4.7"),
        ("anthropic/claude-sonnet-4.6:1m", "anthropic/claude-sonnet-4.6"),
        ("meta-llama/llama-3.3-70b", "meta-llama/llama-3.3-70b-instruct"),
    ]
    for variant, base in pairs:
        # `[1m]`: the Anthropic dialect's marker for the long-context beta header
        upstream = models[variant]["endpoints"][0]["model"].removesuffix("[1m]")
        assert upstream == models[base]["endpoints"][0]["model"]
    assert models["anthropic/claude-opus-4.7:1m"]["context_length"] == 1_000_000
    assert models["anthropic/claude-sonnet-4.6:1m"]["context_length"] == 1_000_000
    assert (
        models["meta-llama/llama-3.3-70b"]["endpoints"]
        == models["meta-llama/llama-3.3-70b-instruct"]["endpoints"]
    )


def test_auto_router_table_names_catalog_models(
    catalog: dict[str, Any], models: dict[str, Any]
) -> None:
    from switchboard.routing.classifier import TASKS

    tasks = catalog["auto_router"]["tasks"]
    assert set(tasks) == set(TASKS)
    for task, ids in tasks.items():
        for c in ids:
            assert c in models and not c.endswith(":free"), (task, c)


def test_supported_parameters_agree_with_what_each_dialect_translates() -> None:
    """require_parameters trusts the catalog; the catalog must not promise more than the
    dialect of the endpoint's provider really translates."""
    from switchboard.catalog.loader import build_catalog
    from switchboard.dialects.registry import Dialects

    catalog = build_catalog()
    dialects = Dialects()
    for model in catalog.models.values():
        for ep in model.endpoints:
            api = catalog.providers[ep.provider].api
            extra = set(ep.supported_parameters) - set(dialects.get(api).supported_parameters)
            assert not extra, f"{model.id} on {ep.provider} ({api}) claims {sorted(extra)}"
