"""Pure planning: requested models + provider preferences + health -> ordered attempts.

The plan lists every endpoint the executor may try, in order: first the
endpoints of `model`, then those of each model in `models`. Per model, the
endpoints are filtered (filters.py) and ordered (ordering.py). A model left
with no endpoint is skipped while another model still has some; when none has,
the first model's reason is the error.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from decimal import Decimal

from switchboard.catalog.types import Catalog, Endpoint, Model, ProviderInfo
from switchboard.errors import GatewayError, bad_request
from switchboard.routing.auto import (
    NO_AUTO,
    AutoChoice,
    AutoOptions,
    rank_auto_models,
    rank_free_models,
)
from switchboard.routing.filters import Candidate, FilterInput, eligible
from switchboard.routing.health import HealthSnapshot
from switchboard.routing.ordering import order_candidates, ranking
from switchboard.routing.preferences import DEFAULT_PREFERENCES, ProviderPreferences
from switchboard.routing.variants import AUTO_MODEL, FREE_MODEL, ModelRef, resolve_model

DEFAULT_MARKUP = Decimal("0.10")
ROUTES = ("fallback", "auto", "sort")


@dataclass(frozen=True, slots=True)
class Attempt:
    model: Model
    endpoint: Endpoint
    provider: ProviderInfo


@dataclass(frozen=True, slots=True)
class RouteRequest:
    model: str
    models: tuple[str, ...] = ()
    # "fallback" (the default), "auto" (choose among the requested models, or the
    # auto-router candidates), or the legacy "sort" (= provider.sort.partition "none")
    route: str | None = None
    preferences: ProviderPreferences = DEFAULT_PREFERENCES
    used_parameters: frozenset[str] = frozenset()  # OpenAI params present in the request
    prompt_tokens: int = 0  # estimate; 0: unknown (no context check, no preference)
    # True: an endpoint whose context cannot hold the prompt is removed (compression is off);
    # False: it is only tried after those that fit (middle-out may still shrink the prompt)
    context_strict: bool = True
    account_data_collection: str = "allow"
    needs: frozenset[str] = frozenset()  # for auto: {"image", "tools", ...}
    auto: AutoOptions = NO_AUTO  # task, plugin restrictions, session's model


@dataclass(frozen=True, slots=True)
class Plan:
    attempts: tuple[Attempt, ...]
    web_search: bool  # some requested model had :online; the search runs once per request
    requested_model: str
    auto_choice: AutoChoice | None = None  # set when a router chose the model


def plan_route(
    catalog: Catalog,
    req: RouteRequest,
    health: HealthSnapshot,
    rng: random.Random,
    markup: Decimal = DEFAULT_MARKUP,
) -> Plan:
    refs, choice = _model_chain(catalog, req)
    prefs = req.preferences
    account_deny = req.account_data_collection == "deny"
    inp = FilterInput(
        preferences=prefs,
        used_parameters=req.used_parameters,
        prompt_tokens=req.prompt_tokens if req.context_strict else 0,
        deny_data_collection=account_deny or prefs.data_collection == "deny",
        deny_from_account=account_deny and prefs.data_collection != "deny",
        markup=markup,
    )
    attempts: list[Attempt] = []
    planned: set[tuple[str, str]] = set()  # `x` and `x:nitro` share endpoints: try each once
    failures: list[tuple[str, GatewayError]] = []
    for ref in refs:
        model = catalog.models[ref.model_id]
        found = eligible(model, catalog, inp, health)
        if isinstance(found, GatewayError):
            failures.append((ref.requested, found))
            continue
        sort = ref.sort or prefs.sort
        ordered = order_candidates(found, prefs, sort, health, rng, req.used_parameters)
        if req.prompt_tokens:  # endpoints whose context holds the prompt first (stable)
            ordered.sort(key=lambda c: c.endpoint.context_length < req.prompt_tokens)
        for c in ordered:
            if (model.id, c.endpoint.key) not in planned:
                planned.add((model.id, c.endpoint.key))
                attempts.append(Attempt(model, c.endpoint, c.provider))
    if not attempts:
        raise _no_route(failures)
    global_sort = refs[0].sort or prefs.sort
    if global_sort and (prefs.sort_partition == "none" or req.route == "sort"):
        key = ranking(prefs, global_sort, health, rng, req.used_parameters)
        # partition "none": one sort over the endpoints of all models (stable: ties keep
        # the model order)
        attempts.sort(key=lambda a: key(Candidate(a.endpoint, a.provider)))
    return Plan(
        attempts=tuple(attempts),
        web_search=any(ref.web_search for ref in refs),
        requested_model=req.model or next(m for m in req.models if m),
        auto_choice=choice,
    )


def _model_chain(catalog: Catalog, req: RouteRequest) -> tuple[list[ModelRef], AutoChoice | None]:
    """The requested models, resolved (unknown ids fail here, fallbacks included), and the
    router's pick when one chose."""
    if req.route is not None and req.route not in ROUTES:
        raise bad_request("route must be 'fallback', 'auto' or 'sort'", "route")
    requested = list(dict.fromkeys(m for m in (req.model, *req.models) if m))
    if not requested:
        raise bad_request("model is required", "model")
    refs = [resolve_model(catalog, m) for m in requested]
    opts = req.auto
    if req.route == "auto" and not any(r.is_router for r in refs):
        # route "auto" picks among the models the request names; the rest stay as fallbacks
        by_id: dict[str, ModelRef] = {}
        for r in refs:
            by_id.setdefault(r.model_id, r)
        ranked = rank_auto_models(catalog, req.needs, req.prompt_tokens, list(by_id), opts)
        return [by_id[mid] for mid in ranked], AutoChoice("route:auto", ranked[0], opts.task,
                                                          opts.reason)
    chain: list[ModelRef] = []
    choice: AutoChoice | None = None
    for ref in refs:
        if ref.model_id == AUTO_MODEL:  # the ranked candidates, variants carried over
            ranked = rank_auto_models(catalog, req.needs, req.prompt_tokens, None, opts)
        elif ref.model_id == FREE_MODEL:
            ranked = rank_free_models(catalog, req.needs, req.prompt_tokens, opts)
        else:
            chain.append(ref)
            continue
        if choice is None:
            reason = opts.reason
            if ranked[0] == opts.sticky_model:
                reason = "the session's model"
            choice = AutoChoice(ref.model_id, ranked[0], opts.task, reason)
        chain.extend(replace(ref, model_id=mid) for mid in ranked)
    return chain, choice


def _no_route(failures: list[tuple[str, GatewayError]]) -> GatewayError:
    first = failures[0][1]
    if len(failures) == 1:
        return first
    # the first model's reason leads; every model's reason is in the metadata
    metadata = dict(first.metadata)
    metadata["models"] = [{"model": m, "reason": e.message} for m, e in failures]
    return replace(first, metadata=metadata)
