"""Builds the runtime Catalog from the shipped data files and the user's config file."""

from __future__ import annotations

import functools
import os
from importlib import resources

import yaml

from switchboard.api.params import dialect_parameters
from switchboard.catalog.types import (
    Catalog,
    Endpoint,
    Model,
    Pricing,
    ProviderInfo,
    ProviderTLS,
    Timeouts,
)
from switchboard.config import ConfigError, FileConf, ModelConf, ProviderConf, _line_of, parse_text


@functools.cache
def _shipped(name: str) -> FileConf:
    text = resources.files("switchboard.catalog").joinpath("data", name).read_text("utf-8")
    return parse_text(text, f"<built-in {name}>")[0]


def _credential(conf: ProviderConf) -> str | None:
    if conf.api_key:  # an explicit (already ${VAR}-expanded) key wins
        return conf.api_key
    if conf.api_key_env:
        return os.environ.get(conf.api_key_env) or None
    return None


def _options(conf: ProviderConf) -> dict[str, object]:
    """Resolve `<name>_env` options from the environment (e.g. Azure's resource name)."""
    options: dict[str, object] = dict(conf.options)
    for key, value in conf.options.items():
        if key.endswith("_env") and isinstance(value, str) and key[:-4] not in options:
            found = os.environ.get(value)
            if found:
                options[key[:-4]] = found
    if "credentials" in options and "credentials_file" not in options:
        options["credentials_file"] = options.pop("credentials")
    if conf.api == "vertex" and options.get("credentials_file") and options.get("project"):
        options["keyless"] = True  # OAuth from a service account: no API key needed
    return options


def _provider(conf: ProviderConf) -> ProviderInfo:
    return ProviderInfo(
        name=conf.name,
        display_name=conf.display_name or conf.name,
        api=conf.api,
        base_url=conf.base_url,
        api_key=_credential(conf),
        api_key_env=conf.api_key_env,
        trains_on_data=conf.trains_on_data,
        retains_prompts=conf.retains_prompts,
        region=conf.region,
        timeouts=Timeouts(conf.timeouts.connect, conf.timeouts.first_token, conf.timeouts.idle,
                          conf.timeouts.total),
        max_retry_after_s=conf.retries.max_retry_after_s,
        circuit_failures=conf.circuit.failures,
        circuit_cooldown_s=conf.circuit.cooldown_s,
        rate_limit_rpm=conf.rate_limit.rpm if conf.rate_limit else None,
        privacy_policy_url=conf.privacy_policy_url,
        terms_of_service_url=conf.terms_of_service_url,
        status_page_url=conf.status_page_url,
        tls=ProviderTLS(**conf.tls.model_dump()) if conf.tls else None,
        options=_options(conf),
    )


def _model(conf: ModelConf, providers: dict[str, ProviderConf]) -> Model:
    endpoints = tuple(
        Endpoint(
            provider=e.provider,
            model=e.model,
            pricing=Pricing(**e.pricing.model_dump()),
            context_length=e.context_length or conf.context_length,
            max_completion_tokens=e.max_completion_tokens,
            # never claim a parameter the endpoint's dialect does not carry (api/params.py)
            supported_parameters=frozenset(e.supported_parameters)
            & dialect_parameters(providers[e.provider].api),
            quantization=e.quantization,
            latency_ms=e.latency_ms,
            throughput_tps=e.throughput_tps,
            supports_prefill=e.supports_prefill,
        )
        for e in conf.endpoints
    )
    return Model(
        id=conf.id,
        name=conf.name or conf.id,
        context_length=conf.context_length,
        endpoints=endpoints,
        modality=conf.modality,
        tokenizer=conf.tokenizer,
        instruct_type=conf.instruct_type,
        description=conf.description,
        created=conf.created,
        is_moderated=conf.is_moderated,
        hugging_face_id=conf.hugging_face_id,
        default_parameters=dict(conf.default_parameters),
        timeout_s=conf.timeout_s,
        categories=tuple(c.lower() for c in conf.categories),
    )


def build_catalog(
    user: FileConf | None = None, node: yaml.Node | None = None, source: str = "config"
) -> Catalog:
    user = user or FileConf()
    layers: list[FileConf] = []
    if user.builtin_catalog:
        layers.append(_shipped("catalog.yaml"))
    if user.simulator:
        layers.append(_shipped("simulator.yaml"))
    layers.append(user)

    providers: dict[str, ProviderConf] = {}
    models: dict[str, ModelConf] = {}
    for layer in layers:
        for p in layer.providers:
            providers[p.name] = p  # the user's entry replaces the shipped one
        for m in layer.models:
            models[m.id] = m
    # The per-task table applies to whatever models exist, built-in catalog or not.
    tasks = {**_shipped("catalog.yaml").auto_router.tasks, **user.auto_router.tasks}

    for i, m in enumerate(user.models):
        for j, e in enumerate(m.endpoints):
            if e.provider not in providers:
                line = _line_of(node, ("models", i, "endpoints", j, "provider"))
                raise ConfigError(
                    f"{source} line {line}: models[{i}].endpoints[{j}].provider: "
                    f"unknown provider '{e.provider}' (add it under providers:)"
                )
    runtime_models = {
        mid: _model(m, providers)
        for mid, m in models.items()
        if all(e.provider in providers for e in m.endpoints)
    }
    return Catalog(
        providers={name: _provider(p) for name, p in providers.items()},
        models=runtime_models,
        auto_candidates=tuple(c for c in user.auto_router.candidates if c in runtime_models),
        auto_tasks={t: tuple(ids) for t, ids in tasks.items()},
    )
