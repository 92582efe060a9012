"""Typed view of the catalog: providers, models and the endpoints that serve them.

Prices here are the provider's cost in USD per million tokens (image: per image,
request: per request), as the config file states them; the markup is applied
only when showing or charging.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

ZERO = Decimal(0)
# OpenAI-compatible hosts known to continue an assistant prefix.
PREFILL_HOSTS = frozenset({"deepseek", "mistral", "together", "fireworks", "deepinfra",
                           "nebius", "groq", "cerebras"})


@dataclass(frozen=True, slots=True)
class Pricing:
    prompt: Decimal = ZERO
    completion: Decimal = ZERO
    image: Decimal = ZERO
    request: Decimal = ZERO
    input_cache_read: Decimal | None = None  # None: cached reads cost the prompt price
    input_cache_write: Decimal | None = None
    internal_reasoning: Decimal | None = None  # None: reasoning costs the completion price
    web_search: Decimal = ZERO

    @property
    def is_free(self) -> bool:
        return self.prompt == 0 and self.completion == 0 and self.request == 0


@dataclass(frozen=True, slots=True)
class Timeouts:
    connect: float = 5.0
    first_token: float = 60.0
    idle: float = 60.0
    total: float = 600.0  # deadline of a whole non-streaming call


@dataclass(frozen=True, slots=True)
class ProviderTLS:
    """A provider's own TLS settings: a private CA, a client certificate, or no checks."""

    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    verify: bool = True


@dataclass(frozen=True, slots=True)
class ProviderInfo:
    name: str  # slug used in provider.order / ignore / only
    display_name: str
    api: str  # dialect: openai | anthropic | gemini | vertex | azure | cohere | simulator
    base_url: str
    api_key: str | None = None  # resolved credential; None = not configured
    api_key_env: str | None = None  # the variable a user sets to switch it on
    trains_on_data: bool = False
    retains_prompts: bool = False
    region: str | None = None
    timeouts: Timeouts = field(default_factory=Timeouts)
    max_retry_after_s: float = 5.0
    circuit_failures: int = 5
    circuit_cooldown_s: float = 30.0
    rate_limit_rpm: int | None = None
    privacy_policy_url: str | None = None
    terms_of_service_url: str | None = None
    status_page_url: str | None = None
    tls: ProviderTLS | None = None
    # dialect-specific settings (azure: api_version; vertex: project, location, credentials_file)
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def configured(self) -> bool:
        return self.api == "simulator" or bool(self.api_key) or bool(self.options.get("keyless"))


@dataclass(frozen=True, slots=True)
class Endpoint:
    provider: str  # ProviderInfo.name
    model: str  # the upstream's own model name
    pricing: Pricing
    context_length: int
    max_completion_tokens: int | None = None
    supported_parameters: frozenset[str] = frozenset()
    quantization: str | None = None
    latency_ms: float | None = None  # catalog seed for sort=latency until measured
    throughput_tps: float | None = None  # catalog seed for sort=throughput until measured
    supports_prefill: bool | None = None  # None: see prefill_supported

    def prefill_supported(self, provider: ProviderInfo) -> bool:
        """Does this endpoint continue a final assistant message (prefill)? Anthropic does;
        DeepSeek, Mistral and most open-model hosts do; OpenAI's own API does not."""
        if self.supports_prefill is not None:
            return self.supports_prefill
        return provider.api == "anthropic" or provider.name in PREFILL_HOSTS

    @property
    def key(self) -> str:
        """Stable id of this endpoint for health tracking."""
        return f"{self.provider}:{self.model}"


@dataclass(frozen=True, slots=True)
class Model:
    id: str  # vendor/model[:variant]
    name: str
    context_length: int
    endpoints: tuple[Endpoint, ...]
    modality: str = "text->text"
    tokenizer: str = "Other"
    instruct_type: str | None = None
    description: str = ""
    created: int = 0
    is_moderated: bool = False
    hugging_face_id: str | None = None
    default_parameters: dict[str, Any] = field(default_factory=dict)
    timeout_s: float | None = None  # a non-streaming call's deadline, beating the provider's
    categories: tuple[str, ...] = ()

    @property
    def input_modalities(self) -> list[str]:
        return self.modality.split("->")[0].split("+")

    @property
    def output_modalities(self) -> list[str]:
        return self.modality.split("->")[-1].split("+")


@dataclass(frozen=True, slots=True)
class Catalog:
    providers: dict[str, ProviderInfo]
    models: dict[str, Model]
    auto_candidates: tuple[str, ...] = ()  # the config's auto_router.candidates
    # task (routing/classifier.py) -> model ids, best first: the auto router's default ranking
    auto_tasks: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def model(self, model_id: str) -> Model | None:
        return self.models.get(model_id)
