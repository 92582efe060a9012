"""Properties of plan_route over generated catalogs, preferences and health."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from switchboard.catalog.types import Catalog, Endpoint, Model, Pricing, ProviderInfo
from switchboard.errors import GatewayError
from switchboard.routing.health import EndpointHealth, HealthSnapshot
from switchboard.routing.planner import Plan, RouteRequest, plan_route
from switchboard.routing.preferences import parse_preferences

SLUGS = ["alpha", "beta", "gamma", "delta", "eps", "zeta"]
QUANTS = [None, "fp8", "bf16", "int4"]
PARAMS = ["tools", "response_format", "temperature", "seed"]
MARKUP = Decimal("0.10")

prices = st.integers(min_value=0, max_value=3000).map(lambda c: Decimal(c) / 100)


@st.composite
def catalogs(draw: st.DrawFn) -> Catalog:
    providers = {
        s: ProviderInfo(
            name=s,
            display_name=s.upper(),
            api="openai",
            base_url="https://x",
            api_key=draw(st.sampled_from(["k", "k", "k", None])),
            trains_on_data=draw(st.booleans()),
        )
        for s in SLUGS
    }
    models = {}
    for mid in ("m/one", "m/two"):
        slugs = draw(st.lists(st.sampled_from(SLUGS), min_size=1, max_size=6, unique=True))
        endpoints = tuple(
            Endpoint(
                provider=s,
                model=f"{mid}-{s}",
                pricing=Pricing(prompt=draw(prices), completion=draw(prices)),
                context_length=draw(st.sampled_from([4096, 32_000, 200_000])),
                supported_parameters=frozenset(draw(st.sets(st.sampled_from(PARAMS)))),
                quantization=draw(st.sampled_from(QUANTS)),
                throughput_tps=draw(st.none() | st.floats(1, 500)),
                latency_ms=draw(st.none() | st.floats(10, 5000)),
            )
            for s in slugs
        )
        models[mid] = Model(id=mid, name=mid, context_length=200_000, endpoints=endpoints)
    return Catalog(providers=providers, models=models)


slug_lists = st.lists(st.sampled_from(SLUGS), max_size=4, unique=True)


@st.composite
def provider_objects(draw: st.DrawFn) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for name in ("order", "only", "ignore"):
        if draw(st.booleans()):
            obj[name] = draw(slug_lists)
    if draw(st.booleans()):
        obj["allow_fallbacks"] = draw(st.booleans())
    if draw(st.booleans()):
        obj["sort"] = draw(st.sampled_from(["price", "throughput", "latency"]))
    if draw(st.booleans()):
        obj["data_collection"] = draw(st.sampled_from(["allow", "deny"]))
    if draw(st.booleans()):
        obj["require_parameters"] = draw(st.booleans())
    if draw(st.booleans()):
        obj["quantizations"] = draw(st.lists(st.sampled_from(["fp8", "bf16", "int4", "unknown"])))
    if draw(st.booleans()):
        obj["max_price"] = {
            k: str(draw(prices)) for k in draw(st.sets(st.sampled_from(["prompt", "completion"])))
        }
    return obj


healths = st.builds(
    EndpointHealth,
    error_rate=st.sampled_from([0.0, 0.0, 0.5]),
    consecutive_failures=st.sampled_from([0, 0, 2]),
    state=st.sampled_from(["closed", "closed", "open", "half_open"]),
    open_until=st.sampled_from([None, 50.0, 150.0]),
)


@st.composite
def snapshots(draw: st.DrawFn, catalog: Catalog) -> HealthSnapshot:
    keys = [e.key for m in catalog.models.values() for e in m.endpoints]
    chosen = draw(st.lists(st.sampled_from(keys), unique=True)) if keys else []
    return HealthSnapshot({k: draw(healths) for k in chosen}, now=100.0)


@st.composite
def scenarios(
    draw: st.DrawFn, force: dict[str, Any] | None = None, params: frozenset[str] | None = None
) -> tuple[Catalog, RouteRequest, HealthSnapshot, int]:
    """`force` overrides fields of the provider object; `params` fixes used_parameters."""
    catalog = draw(catalogs())
    req = RouteRequest(
        model="m/one",
        models=draw(st.sampled_from([(), ("m/two",)])),
        preferences=parse_preferences({**draw(provider_objects()), **(force or {})}),
        used_parameters=(
            params if params is not None else frozenset(draw(st.sets(st.sampled_from(PARAMS))))
        ),
        prompt_tokens=draw(st.sampled_from([0, 10_000])),
        account_data_collection=draw(st.sampled_from(["allow", "allow", "deny"])),
    )
    return catalog, req, draw(snapshots(catalog)), draw(st.integers(0, 2**32))


Scenario = tuple[Catalog, RouteRequest, HealthSnapshot, int]


def planned(scenario: Scenario) -> Plan | None:
    catalog, req, health, seed = scenario
    try:
        return plan_route(catalog, req, health, random.Random(seed), MARKUP)
    except GatewayError as err:
        # a refusal is fine, as long as it is one of the documented ones
        assert (err.status, err.error_type) in {
            (404, "no_endpoints"),
            (404, "privacy_restricted"),
            (400, "context_length_exceeded"),
            (503, "provider_unavailable"),
        }
        return None


def named(entries: tuple[str, ...], slug: str) -> bool:
    return slug in entries  # entries are drawn from SLUGS, so no case or display-name matching


def ignored_providers_are_never_planned(plan: Plan, req: RouteRequest) -> None:
    assert not any(named(req.preferences.ignore, a.provider.name) for a in plan.attempts)


def only_is_a_ceiling(plan: Plan, req: RouteRequest) -> None:
    if only := req.preferences.only:
        assert all(named(only, a.provider.name) for a in plan.attempts)


def allow_fallbacks_false_never_leaves_order(plan: Plan, req: RouteRequest) -> None:
    prefs = req.preferences
    if not prefs.allow_fallbacks and prefs.order:
        assert all(named(prefs.order, a.provider.name) for a in plan.attempts)


def max_price_is_never_exceeded(plan: Plan, req: RouteRequest) -> None:
    if ceiling := req.preferences.max_price:
        for a in plan.attempts:
            if ceiling.prompt is not None:
                assert a.endpoint.pricing.prompt * (1 + MARKUP) <= ceiling.prompt
            if ceiling.completion is not None:
                assert a.endpoint.pricing.completion * (1 + MARKUP) <= ceiling.completion


def deny_never_plans_a_training_provider(plan: Plan, req: RouteRequest) -> None:
    if "deny" in (req.preferences.data_collection, req.account_data_collection):
        assert not any(a.provider.trains_on_data for a in plan.attempts)


def plans_configured_unblocked_endpoints_once_each(plan: Plan, health: HealthSnapshot) -> None:
    assert plan.attempts
    assert all(a.provider.configured for a in plan.attempts)
    assert all(health.circuit(a.endpoint.key) != "blocked" for a in plan.attempts)
    keys = [(a.model.id, a.endpoint.key) for a in plan.attempts]
    assert len(keys) == len(set(keys))


def requested_model_comes_first(plan: Plan) -> None:
    if any(a.model.id == "m/one" for a in plan.attempts):
        assert plan.attempts[0].model.id == "m/one"


# Generating a catalog dominates the run time, so every invariant is checked on each example.
@settings(max_examples=400, deadline=None)
@given(scenarios())
def test_plan_invariants(s: Scenario) -> None:
    if plan := planned(s):
        req, health = s[1], s[2]
        ignored_providers_are_never_planned(plan, req)
        only_is_a_ceiling(plan, req)
        allow_fallbacks_false_never_leaves_order(plan, req)
        max_price_is_never_exceeded(plan, req)
        deny_never_plans_a_training_provider(plan, req)
        plans_configured_unblocked_endpoints_once_each(plan, health)
        requested_model_comes_first(plan)


@settings(max_examples=100, deadline=None)
@given(scenarios(force={"allow_fallbacks": False, "order": ["alpha", "gamma", "eps"]}))
def test_allow_fallbacks_false_never_leaves_order(s: Scenario) -> None:
    if plan := planned(s):
        allow_fallbacks_false_never_leaves_order(plan, s[1])


@settings(max_examples=100, deadline=None)
@given(scenarios(force={"sort": "price", "order": []}, params=frozenset({"temperature"})))
def test_price_sort_is_monotonic_within_each_model(s: Scenario) -> None:
    health = s[2]
    if plan := planned(s):
        for mid in ("m/one", "m/two"):
            # an endpoint kept only for its circuit probe goes last whatever its price
            live = [
                a.endpoint.pricing.prompt + a.endpoint.pricing.completion
                for a in plan.attempts
                if a.model.id == mid and health.circuit(a.endpoint.key) == "closed"
            ]
            assert live == sorted(live)
