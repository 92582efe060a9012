"""The config file of SPEC §2: YAML with ${VAR} expansion, validated with line numbers.

The built-in catalog ships in the same format, so one schema and one loader serve both.
"""

from __future__ import annotations

import os
import re
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

DIALECTS = ("openai", "anthropic", "gemini", "vertex", "azure", "cohere", "simulator")
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class ConfigError(Exception):
    """A bad config file: the message names the file, the line and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TimeoutsConf(_Strict):
    connect: float = Field(5.0, gt=0)
    first_token: float = Field(60.0, gt=0)
    idle: float = Field(60.0, gt=0)
    total: float = Field(600.0, gt=0)  # a non-streaming call, body included


class RetriesConf(_Strict):
    max_retry_after_s: float = Field(5.0, ge=0)


class CircuitConf(_Strict):
    failures: int = Field(5, ge=1)
    cooldown_s: float = Field(30.0, ge=0)


class RateLimitConf(_Strict):
    rpm: int | None = Field(None, ge=1)
    rpd: int | None = Field(None, ge=1)


class TLSConf(_Strict):
    ca_file: str | None = None  # PEM bundle that replaces the system CAs for this provider
    cert_file: str | None = None  # client certificate (PEM) for mutual TLS
    key_file: str | None = None  # its private key, when not inside cert_file
    verify: bool = True  # false: no certificate or hostname check (test set-ups only)

    @field_validator("ca_file", "cert_file", "key_file")
    @classmethod
    def _readable(cls, v: str | None) -> str | None:
        if v is not None and not os.path.isfile(v):
            raise ValueError(f"no such file: {v}")
        return v

    @model_validator(mode="after")
    def _key_needs_cert(self) -> TLSConf:
        if self.key_file and not self.cert_file:
            raise ValueError("key_file needs cert_file")
        return self


class UpstreamConf(_Strict):
    max_body_mb: float = Field(64, gt=0)  # a whole upstream answer, after decompression
    max_line_kb: float = Field(1024, gt=0)  # one line of an upstream event stream
    max_connections_per_origin: int = Field(256, ge=1)
    keepalive_expiry_s: float = Field(15.0, ge=0)


class ProviderConf(_Strict):
    name: str = Field(min_length=1)
    display_name: str | None = None
    api: Literal["openai", "anthropic", "gemini", "vertex", "azure", "cohere", "simulator"]
    base_url: str = ""
    api_key: str | None = None
    api_key_env: str | None = None
    trains_on_data: bool = False
    retains_prompts: bool = False
    region: str | None = None
    timeouts: TimeoutsConf = TimeoutsConf()
    retries: RetriesConf = RetriesConf()
    circuit: CircuitConf = CircuitConf()
    rate_limit: RateLimitConf | None = None
    tls: TLSConf | None = None
    privacy_policy_url: str | None = None
    terms_of_service_url: str | None = None
    status_page_url: str | None = None
    options: dict[str, Any] = {}

    @field_validator("name")
    @classmethod
    def _slug(cls, v: str) -> str:
        if not re.fullmatch(r"[a-z0-9][a-z0-9._-]*", v):
            raise ValueError("must be a lowercase slug (letters, digits, '-', '_', '.')")
        return v


class PricingConf(_Strict):
    prompt: Decimal = Field(Decimal(0), ge=0)
    completion: Decimal = Field(Decimal(0), ge=0)
    image: Decimal = Field(Decimal(0), ge=0)
    request: Decimal = Field(Decimal(0), ge=0)
    input_cache_read: Decimal | None = Field(None, ge=0)
    input_cache_write: Decimal | None = Field(None, ge=0)
    internal_reasoning: Decimal | None = Field(None, ge=0)
    web_search: Decimal = Field(Decimal(0), ge=0)

    @field_validator("*", mode="before")
    @classmethod
    def _ratio(cls, v: Any) -> Any:
        """`"0.36/1.1"`: a price whose marked-up value must come out exact (the seed's list
        price less the 10 % fee), which no finite decimal can state."""
        if isinstance(v, str) and "/" in v:
            num, _, den = v.partition("/")
            try:
                return Decimal(num.strip()) / Decimal(den.strip())
            except (ArithmeticError, ValueError) as exc:
                raise ValueError("must be a number or a ratio like 0.36/1.1") from exc
        return v


class EndpointConf(_Strict):
    provider: str
    model: str
    pricing: PricingConf = PricingConf()
    context_length: int | None = Field(None, gt=0)
    max_completion_tokens: int | None = Field(None, gt=0)
    supported_parameters: list[str] = []
    quantization: str | None = None
    latency_ms: float | None = Field(None, ge=0)
    throughput_tps: float | None = Field(None, ge=0)
    supports_prefill: bool | None = None  # None: the dialect's default (anthropic: true)


class ModelConf(_Strict):
    id: str
    name: str | None = None
    context_length: int = Field(gt=0)
    modality: str = "text->text"
    tokenizer: str = "Other"
    instruct_type: str | None = None
    description: str = ""
    created: int = 0
    hugging_face_id: str | None = None
    is_moderated: bool = False
    default_parameters: dict[str, Any] = {}
    timeout_s: float | None = Field(None, gt=0)  # overrides the providers' timeouts.total
    categories: list[str] = []  # OpenRouter's use-case categories (GET /models?category=)
    endpoints: list[EndpointConf] = Field(min_length=1)

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not re.fullmatch(r"[\w.-]+/[\w.:-]+", v):
            raise ValueError("must look like vendor/model[:variant]")
        return v


class LoggingConf(_Strict):
    store_content: bool = True
    retain_days: int = Field(30, ge=0)
    # the process's log lines (`switchboard serve --log-level/--log-format` win over these)
    level: Literal["debug", "info", "warning", "error", "critical"] = "info"
    format: Literal["text", "json"] = "text"


class MetricsConf(_Strict):
    enabled: bool = True
    token: str | None = None  # GET /metrics: open on loopback; elsewhere this bearer token


class TracingConf(_Strict):
    otlp_endpoint: str | None = None  # OTEL_EXPORTER_OTLP_ENDPOINT wins; unset: no tracing
    service_name: str = "switchboard"


class AutoRouterConf(_Strict):
    candidates: list[str] = []
    tasks: dict[str, list[str]] = {}  # task -> model ids, best first (routing/classifier.py)


class WebSearchConf(_Strict):
    engine: Literal["exa", "tavily", "brave", "searxng"] = "exa"
    base_url: str | None = None
    api_key: str | None = None
    price_per_search: Decimal = Field(Decimal("0.004"), ge=0)


class FileConf(_Strict):
    markup: Decimal = Field(Decimal("0.10"), ge=0)
    max_body_mb: float = Field(32, gt=0)
    builtin_catalog: bool = True
    simulator: bool = True
    logging: LoggingConf = LoggingConf()
    metrics: MetricsConf = MetricsConf()
    tracing: TracingConf = TracingConf()
    auto_router: AutoRouterConf = AutoRouterConf()
    web_search: WebSearchConf | None = None
    upstream: UpstreamConf = UpstreamConf()
    continue_on_break: bool = True  # continue a stream that breaks half-way on another endpoint
    providers: list[ProviderConf] = []
    models: list[ModelConf] = []


def expand_vars(value: Any) -> Any:
    """Replace ${VAR} (and ${VAR:-default}) in every string; unset variables become ''."""
    if isinstance(value, str):
        return _VAR.sub(lambda m: os.environ.get(m.group(1), m.group(2) or ""), value)
    if isinstance(value, list):
        return [expand_vars(v) for v in value]
    if isinstance(value, dict):
        return {k: expand_vars(v) for k, v in value.items()}
    return value


def _line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """Walk the composed YAML tree along a pydantic error location to find its line."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            for key, val in node.value:
                if key.value == part:
                    node, line = val, key.start_mark.line + 1
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                return line
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def _field_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def parse_text(text: str, source: str) -> tuple[FileConf, yaml.Node | None]:
    try:
        node = yaml.compose(text)
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{source}{where}: invalid YAML: {exc}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{source} line 1: the file must be a mapping of settings")
    try:
        return FileConf.model_validate(expand_vars(raw)), node
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            line = _line_of(node, loc)
            lines.append(f"{source} line {line}: {_field_path(loc)}: {err['msg']}")
        raise ConfigError("\n".join(lines)) from None


def load_file(path: str | Path) -> tuple[FileConf, yaml.Node | None]:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read config file: {exc.strerror}") from None
    return parse_text(text, str(p))
