"""Which of a model's endpoints a request may use: the provider-preference filters.

Filters run in a fixed order and the first one that leaves nothing is named in
the error, so a user learns which of their settings to relax.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from decimal import Decimal

from switchboard.api.params import CAPABILITIES, satisfying_names
from switchboard.billing.pricing import listed_per_million
from switchboard.catalog.types import Catalog, Endpoint, Model, Pricing, ProviderInfo
from switchboard.errors import GatewayError
from switchboard.routing.health import HealthSnapshot
from switchboard.routing.preferences import MaxPrice, ProviderPreferences
from switchboard.routing.variants import is_free_model

# Request parameters that gate routing come from the one parameter table (api/params.py).
# Anything else (user, n, stream, metadata...) is not a provider capability the catalog
# records, so it never removes an endpoint.
# Even without require_parameters, endpoints that would drop these sort after those that
# honour them (OpenRouter's soft preference): a silently dropped tool list breaks the answer.
SOFT_PARAMETERS = frozenset({"tools", "tool_choice", "response_format", "structured_outputs"})


# The filters by which a request names its providers: when one of them leaves only providers
# without a credential, the answer names the missing variable instead of the filter.
_PROVIDER_FILTERS = frozenset({"provider.only", "provider.ignore", "provider.allow_fallbacks"})
UNCONFIGURED_RETRY_AFTER_S = 3600


@dataclass(frozen=True, slots=True)
class Candidate:
    endpoint: Endpoint
    provider: ProviderInfo


@dataclass(frozen=True, slots=True)
class FilterInput:
    """The parts of a request the filters read."""

    preferences: ProviderPreferences
    used_parameters: frozenset[str]
    prompt_tokens: int
    deny_data_collection: bool
    deny_from_account: bool  # for the message: the account, not the request, said deny
    markup: Decimal


def supports(endpoint: Endpoint, parameter: str) -> bool:
    return not satisfying_names(parameter).isdisjoint(endpoint.supported_parameters)


def names_provider(entries: Collection[str], provider: ProviderInfo) -> bool:
    """Whether a slug list (order/only/ignore) names this provider.

    Like OpenRouter: case-insensitive, display names accepted, and a base slug
    (`google-vertex`) matches its regional slugs (`google-vertex/us-east5`).
    """
    return provider_rank(entries, provider) is not None


def provider_rank(entries: Collection[str], provider: ProviderInfo) -> int | None:
    """Index of the first entry naming this provider, or None."""
    slug, display = provider.name.lower(), provider.display_name.lower()
    for i, entry in enumerate(entries):
        e = entry.lower()
        if e in (slug, display) or slug.startswith(e + "/"):
            return i
    return None


def eligible(
    model: Model, catalog: Catalog, inp: FilterInput, health: HealthSnapshot
) -> list[Candidate] | GatewayError:
    """The endpoints that pass every filter, or the error naming the filter that emptied them."""
    known = [Candidate(e, p) for e in model.endpoints
             if (p := catalog.providers.get(e.provider)) is not None]
    candidates = [c for c in known if c.provider.configured]
    if not candidates:
        return _unconfigured(model, catalog)
    dormant = [c for c in known if not c.provider.configured]  # no credential
    for name, keep in _filters(model, inp):
        kept = [c for c in candidates if keep(c)]
        dormant = [c for c in dormant if keep(c)]
        if not kept:
            if dormant and name in _PROVIDER_FILTERS:
                # the request chose providers that lack a credential: say which variable
                return _unconfigured(model, catalog, {c.provider.name for c in dormant})
            return _emptied(model, name, inp)
        candidates = kept
    # An open circuit still in its cooldown is skipped; past it, the endpoint stays (planned last)
    # so that the executor can send the one probe.
    live = [c for c in candidates if health.circuit(c.endpoint.key) != "blocked"]
    return live or _circuit_open(model, candidates, health)


def _filters(model: Model, inp: FilterInput) -> Iterator[tuple[str, Callable[[Candidate], bool]]]:
    prefs = inp.preferences
    if prefs.only:
        yield "provider.only", lambda c: names_provider(prefs.only, c.provider)
    if prefs.ignore:
        yield "provider.ignore", lambda c: not names_provider(prefs.ignore, c.provider)
    if not prefs.allow_fallbacks and prefs.order:
        yield "provider.allow_fallbacks", lambda c: names_provider(prefs.order, c.provider)
    if inp.deny_data_collection:
        # SPEC: free endpoints may always train on prompts, whatever the provider's flag says.
        free = is_free_model(model.id)
        yield "provider.data_collection", lambda c: not free and not c.provider.trains_on_data
    if prefs.require_parameters:
        needed = inp.used_parameters & CAPABILITIES
        yield "provider.require_parameters", lambda c: all(supports(c.endpoint, p) for p in needed)
    if prefs.quantizations:
        yield (
            "provider.quantizations",
            lambda c: (c.endpoint.quantization or "unknown").lower() in prefs.quantizations,
        )
    if (ceiling := prefs.max_price) is not None:
        yield (
            "provider.max_price",
            lambda c: within_max_price(c.endpoint.pricing, ceiling, inp.markup),
        )
    if inp.prompt_tokens > 0:
        yield "context length", lambda c: c.endpoint.context_length >= inp.prompt_tokens


def within_max_price(pricing: Pricing, ceiling: MaxPrice, markup: Decimal) -> bool:
    # max_price compares with what /models shows: the provider's price plus the markup.
    pairs = (
        (pricing.prompt, ceiling.prompt),
        (pricing.completion, ceiling.completion),
        (pricing.request, ceiling.request),
        (pricing.image, ceiling.image),
    )
    return all(
        limit is None or listed_per_million(price, markup) <= limit for price, limit in pairs
    )


def _unconfigured(
    model: Model, catalog: Catalog, only: Collection[str] | None = None
) -> GatewayError:
    """A configuration problem, not an outage: 503 as the SPEC says, but with `Retry-After`
    an hour ahead and `x-should-retry: false` (honoured by the OpenAI and Anthropic SDKs),
    so that clients do not keep retrying what only the operator can fix."""
    envs: list[str] = []
    missing: list[str] = []
    for e in model.endpoints:
        if only is not None and e.provider not in only:
            continue
        info = catalog.providers.get(e.provider)
        if info is not None and info.api_key_env:
            envs.append(info.api_key_env)
        else:
            missing.append(e.provider)
    hint = " or ".join(f"set {v}" for v in dict.fromkeys(envs))
    if hint:
        hint += " or add the provider to the config"
    else:
        names = ", ".join(f"provider '{p}'" for p in dict.fromkeys(missing))
        hint = f"add {names} to the config"
    chosen = " among the providers the request allows" if only is not None else ""
    return GatewayError(
        503,
        f"no configured provider for model {model.id}{chosen}: {hint}",
        "provider_unavailable",
        {"model": model.id, "missing_credentials": list(dict.fromkeys(envs))},
        {"Retry-After": str(UNCONFIGURED_RETRY_AFTER_S), "x-should-retry": "false"},
    )


def _emptied(model: Model, name: str, inp: FilterInput) -> GatewayError:
    meta = {"model": model.id, "filter": name}
    if name == "provider.data_collection":
        who = "your account's" if inp.deny_from_account else "the request's"
        if is_free_model(model.id):
            message = (
                f"'{model.id}' is a free model, whose providers may train on your data; "
                f'{who} data_collection "deny" rules it out'
            )
        else:
            message = (
                f"no endpoint of '{model.id}' left after provider.data_collection: every "
                f'provider may train on your data, and {who} setting is "deny"'
            )
        return GatewayError(404, message, "privacy_restricted", meta)
    message = f"no endpoint of '{model.id}' left after {name}"
    if name == "context length":
        # the request's fault, found before any upstream call: OpenAI's 400 for it
        largest = max(e.context_length for e in model.endpoints)
        message += (f": the prompt is about {inp.prompt_tokens} tokens and the largest context "
                    f"is {largest} tokens; shorten the prompt, choose a model with a larger "
                    'context, or allow compression with "transforms": ["middle-out"]')
        return GatewayError(400, message, "context_length_exceeded",
                            {**meta, "prompt_tokens": inp.prompt_tokens,
                             "context_length": largest})
    return GatewayError(404, message, "no_endpoints", meta)


def _circuit_open(
    model: Model, candidates: list[Candidate], health: HealthSnapshot
) -> GatewayError:
    waits = [
        until - health.now
        for c in candidates
        if (until := health.get(c.endpoint.key).open_until) is not None
    ]
    headers = {"Retry-After": str(max(1, math.ceil(min(waits))))} if waits else {}
    return GatewayError(
        503,
        f"all providers for {model.id} are temporarily unavailable (circuit open)",
        "provider_unavailable",
        {"model": model.id},
        headers,
    )
