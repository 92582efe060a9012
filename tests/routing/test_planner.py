"""plan_route against the conftest catalog: one behaviour per test, then combinations."""

import random
from decimal import Decimal

import pytest

from switchboard.catalog.types import Catalog
from switchboard.errors import GatewayError
from switchboard.routing.health import EndpointHealth, HealthSnapshot
from switchboard.routing.planner import RouteRequest, plan_route
from switchboard.routing.preferences import parse_preferences

from .conftest import build_catalog, endpoint, model, pairs_of, plan, providers_of, snapshot

LLAMA = "meta-llama/llama-3.3-70b-instruct"
LLAMA_FREE = LLAMA + ":free"
SONNET = "anthropic/claude-sonnet-4.6"
GPT5 = "openai/gpt-5"


def refused(*args: object, **kwargs: object) -> GatewayError:
    with pytest.raises(GatewayError) as info:
        plan(*args, **kwargs)  # type: ignore[arg-type]
    return info.value


# -- the model chain --


def test_plain_model_plans_its_configured_endpoints() -> None:
    p = plan(GPT5)
    assert providers_of(p) == ["openai"]  # azure has no credential
    assert p.requested_model == GPT5
    assert p.web_search is False
    assert p.attempts[0].model.id == GPT5
    assert p.attempts[0].endpoint.model == "gpt-5"
    assert p.attempts[0].provider.display_name == "OpenAI"


def test_fallback_models_follow_in_order() -> None:
    p = plan(GPT5, models=(SONNET, LLAMA), provider={"sort": "price"})
    assert [m for m, _ in pairs_of(p)] == [GPT5, SONNET, SONNET, LLAMA, LLAMA, LLAMA]


def test_duplicate_models_are_planned_once() -> None:
    p = plan(GPT5, models=(GPT5, SONNET, SONNET))
    assert [m for m, _ in pairs_of(p)] == [GPT5, SONNET, SONNET]


def test_a_routing_variant_of_the_same_model_adds_no_attempt() -> None:
    assert pairs_of(plan(GPT5, models=(GPT5 + ":nitro",))) == [(GPT5, "openai")]


def test_models_alone_without_model() -> None:
    p = plan("", models=(SONNET, GPT5))
    assert p.requested_model == SONNET
    assert p.attempts[0].model.id == SONNET


def test_no_model_at_all_is_a_400() -> None:
    err = refused("", models=())
    assert (err.status, err.message) == (400, "model is required")


def test_unknown_model_is_a_404() -> None:
    err = refused("openai/gpt-6")
    assert (err.status, err.error_type, err.message) == (
        404,
        "not_found",
        "model 'openai/gpt-6' not found",
    )


def test_unknown_fallback_model_is_named_even_when_the_first_is_fine() -> None:
    err = refused(GPT5, models=(SONNET, "nobody/typo"))
    assert (err.status, err.message) == (404, "model 'nobody/typo' not found")


def test_unknown_route_is_a_400() -> None:
    err = refused(GPT5, route="random")
    assert err.status == 400
    assert err.metadata == {"field": "route"}


# -- configured providers --


def test_model_served_only_by_unconfigured_providers_names_the_credential() -> None:
    err = refused("azure-only/model")
    assert err.status == 503
    assert err.error_type == "provider_unavailable"
    assert err.message == (
        "no configured provider for model azure-only/model: "
        "set AZURE_API_KEY or add the provider to the config"
    )


def test_provider_missing_from_the_config_is_named() -> None:
    base = build_catalog()
    ghost = model("x/ghost", endpoint("ghost", "g", "1", "1"))
    catalog = Catalog(base.providers, {ghost.id: ghost})
    err = refused("x/ghost", catalog=catalog)
    assert err.status == 503
    assert (
        err.message
        == "no configured provider for model x/ghost: add provider 'ghost' to the config"
    )


def test_simulator_needs_no_credential() -> None:
    assert providers_of(plan("switchboard/echo")) == ["simulator"]


def test_unconfigured_fallback_model_is_skipped() -> None:
    assert providers_of(plan("azure-only/model", models=(GPT5,))) == ["openai"]


# -- only / ignore / order / allow_fallbacks --


def test_only_keeps_the_named_providers() -> None:
    assert providers_of(plan(LLAMA, provider={"only": ["together"]})) == ["together"]


def test_only_matches_display_names_case_insensitively() -> None:
    assert providers_of(plan(LLAMA, provider={"only": ["DEEPINFRA"]})) == ["deepinfra"]
    assert providers_of(plan(SONNET, provider={"only": ["google vertex"]})) == [
        "google-vertex/us-east5"
    ]


def test_base_slug_matches_regional_slugs() -> None:
    assert providers_of(plan(SONNET, provider={"only": ["google-vertex"]})) == [
        "google-vertex/us-east5"
    ]


def test_empty_only_is_no_restriction() -> None:
    assert len(plan(LLAMA, provider={"only": []}).attempts) == 3


def test_ignore_drops_the_named_providers() -> None:
    assert "together" not in providers_of(plan(LLAMA, provider={"ignore": ["together"]}))


def test_ignoring_every_provider_names_the_filter() -> None:
    err = refused(LLAMA, provider={"ignore": ["together", "deepinfra", "cheapo"]})
    assert err.status == 404
    assert err.error_type == "no_endpoints"
    assert err.message == f"no endpoint of '{LLAMA}' left after provider.ignore"
    assert err.metadata == {"model": LLAMA, "filter": "provider.ignore"}


def test_order_puts_named_providers_first_in_that_order() -> None:
    p = plan(LLAMA, provider={"order": ["cheapo", "together"]})
    assert providers_of(p) == ["cheapo", "together", "deepinfra"]


def test_order_beats_sort() -> None:
    p = plan(LLAMA, provider={"order": ["together"], "sort": "price"})
    assert providers_of(p) == ["together", "cheapo", "deepinfra"]


def test_unknown_order_entries_are_harmless() -> None:
    assert len(plan(LLAMA, provider={"order": ["nobody"]}).attempts) == 3


def test_allow_fallbacks_false_stays_within_order() -> None:
    p = plan(LLAMA, provider={"order": ["deepinfra", "cheapo"], "allow_fallbacks": False})
    assert providers_of(p) == ["deepinfra", "cheapo"]


def test_allow_fallbacks_false_with_no_ordered_provider_serving_the_model() -> None:
    err = refused(LLAMA, provider={"order": ["openai"], "allow_fallbacks": False})
    assert err.message == f"no endpoint of '{LLAMA}' left after provider.allow_fallbacks"


def test_allow_fallbacks_false_without_order_keeps_only_the_primary() -> None:
    p = plan(LLAMA, provider={"allow_fallbacks": False, "sort": "price"})
    assert providers_of(p) == ["cheapo"]


def test_allow_fallbacks_false_does_not_drop_fallback_models() -> None:
    p = plan(LLAMA, models=(GPT5,), provider={"allow_fallbacks": False, "sort": "price"})
    assert pairs_of(p) == [(LLAMA, "cheapo"), (GPT5, "openai")]


# -- data collection --


def test_data_collection_deny_excludes_training_providers() -> None:
    assert providers_of(plan(LLAMA, provider={"data_collection": "deny"})) == ["together"]


def test_account_deny_applies_without_the_request_saying_so() -> None:
    p = plan(LLAMA, account_data_collection="deny")
    assert providers_of(p) == ["together"]


def test_request_allow_cannot_lift_an_account_deny() -> None:
    p = plan(LLAMA, provider={"data_collection": "allow"}, account_data_collection="deny")
    assert providers_of(p) == ["together"]


def test_deny_with_only_training_providers_left_is_privacy_restricted() -> None:
    err = refused(LLAMA, provider={"only": ["deepinfra"], "data_collection": "deny"})
    assert (err.status, err.error_type) == (404, "privacy_restricted")
    assert "provider.data_collection" in err.message


def test_free_model_with_deny_is_a_404_that_says_why() -> None:
    # together does not train on paid traffic, but free endpoints always may
    err = refused(LLAMA_FREE, provider={"data_collection": "deny"})
    assert (err.status, err.error_type) == (404, "privacy_restricted")
    assert "free model" in err.message and "train" in err.message
    assert "the request's" in err.message


def test_free_model_with_account_deny_blames_the_account() -> None:
    err = refused(LLAMA_FREE, account_data_collection="deny")
    assert "your account's" in err.message


def test_free_model_with_deny_falls_back_to_a_paid_model() -> None:
    p = plan(LLAMA_FREE, models=(GPT5,), provider={"data_collection": "deny"})
    assert pairs_of(p) == [(GPT5, "openai")]


def test_free_model_without_deny_is_planned() -> None:
    assert set(providers_of(plan(LLAMA_FREE))) == {"cheapo", "together"}


# -- require_parameters --


def test_require_parameters_drops_endpoints_missing_one() -> None:
    p = plan(LLAMA, provider={"require_parameters": True}, used_parameters=frozenset({"tools"}))
    assert "cheapo" not in providers_of(p)


def test_require_parameters_maps_openai_names_to_catalog_names() -> None:
    used = frozenset({"max_completion_tokens", "temperature"})
    p = plan(LLAMA, provider={"require_parameters": True}, used_parameters=used)
    assert len(p.attempts) == 3  # the catalog says max_tokens
    used = frozenset({"structured_outputs"})  # json_schema: response_format support suffices
    p = plan(LLAMA, provider={"require_parameters": True}, used_parameters=used)
    assert sorted(providers_of(p)) == ["deepinfra", "together"]


def test_require_parameters_ignores_non_capability_fields() -> None:
    used = frozenset({"user", "n", "stream", "metadata"})
    p = plan(LLAMA, provider={"require_parameters": True}, used_parameters=used)
    assert len(p.attempts) == 3


def test_require_parameters_emptying_the_list_is_named() -> None:
    err = refused(
        LLAMA,
        provider={"require_parameters": True, "only": ["cheapo"]},
        used_parameters=frozenset({"tools"}),
    )
    assert err.message == f"no endpoint of '{LLAMA}' left after provider.require_parameters"


def test_without_require_parameters_tool_support_is_a_soft_preference() -> None:
    p = plan(LLAMA, provider={"sort": "price"}, used_parameters=frozenset({"tools"}))
    assert providers_of(p) == ["deepinfra", "together", "cheapo"]  # cheapo would drop tools
    p = plan(LLAMA, provider={"sort": "price"})
    assert providers_of(p) == ["cheapo", "deepinfra", "together"]


# -- quantizations --


def test_quantizations_filter() -> None:
    assert providers_of(plan(LLAMA, provider={"quantizations": ["fp8"]})) == ["together"]
    p = plan(LLAMA, provider={"quantizations": ["FP4", "bf16"], "sort": "price"})
    assert providers_of(p) == ["cheapo", "deepinfra"]


def test_unknown_quantization_matches_endpoints_without_one() -> None:
    assert providers_of(plan(GPT5, provider={"quantizations": ["unknown"]})) == ["openai"]
    err = refused(GPT5, provider={"quantizations": ["int4"]})
    assert err.message == f"no endpoint of '{GPT5}' left after provider.quantizations"


# -- max_price --


def test_max_price_compares_with_marked_up_prices() -> None:
    # deepinfra's 0.23 is 0.253 with the 10 % markup
    p = plan(LLAMA, provider={"max_price": {"prompt": "0.25"}})
    assert providers_of(p) == ["cheapo"]
    p = plan(LLAMA, provider={"max_price": {"prompt": "0.253"}, "sort": "price"})
    assert providers_of(p) == ["cheapo", "deepinfra"]  # at the limit is within it


def test_max_price_uses_the_markup_given() -> None:
    req = RouteRequest(model=LLAMA, preferences=parse_preferences({"max_price": {"prompt": 0.23}}))
    p = plan_route(build_catalog(), req, HealthSnapshot(), random.Random(0), markup=Decimal(0))
    assert sorted(a.provider.name for a in p.attempts) == ["cheapo", "deepinfra"]


def test_max_price_per_field() -> None:
    p = plan(LLAMA, provider={"max_price": {"completion": 0.5}})
    assert sorted(providers_of(p)) == ["cheapo", "deepinfra"]
    p = plan(LLAMA, provider={"max_price": {"completion": "0.44", "prompt": 1}, "sort": "price"})
    assert providers_of(p) == ["cheapo", "deepinfra"]  # 0.40 * 1.1 = 0.44


def test_max_price_on_request_and_image_prices() -> None:
    base = build_catalog()
    m = model(
        "x/priced",
        endpoint("openai", "a", "1", "1", request="0.01"),
        endpoint("anthropic", "b", "1", "1", image="2"),
    )
    catalog = Catalog(base.providers, {m.id: m})
    assert providers_of(plan(m.id, catalog=catalog, provider={"max_price": {"request": 0}})) == [
        "anthropic"
    ]
    assert providers_of(plan(m.id, catalog=catalog, provider={"max_price": {"image": 1}})) == [
        "openai"
    ]


def test_max_price_too_low_names_the_filter() -> None:
    err = refused(GPT5, provider={"max_price": {"prompt": 1}})
    assert (err.status, err.error_type) == (404, "no_endpoints")
    assert err.message == f"no endpoint of '{GPT5}' left after provider.max_price"


# -- context length --


def test_endpoints_too_small_for_the_prompt_are_skipped() -> None:
    assert "cheapo" not in providers_of(plan(LLAMA, prompt_tokens=10_000))
    assert "cheapo" in providers_of(plan(LLAMA, prompt_tokens=8_192))


def test_prompt_too_long_for_every_endpoint() -> None:
    err = refused(GPT5, prompt_tokens=500_000)
    assert (err.status, err.error_type) == (400, "context_length_exceeded")
    assert err.message.startswith(f"no endpoint of '{GPT5}' left after context length")
    assert "500000" in err.message and "400000" in err.message


def test_with_compression_possible_endpoints_that_fit_are_only_preferred() -> None:
    p = plan(LLAMA, prompt_tokens=10_000, context_strict=False, provider={"sort": "price"})
    assert providers_of(p)[-1] == "cheapo"  # the cheapest, but too small: tried last
    assert plan(GPT5, prompt_tokens=500_000, context_strict=False).attempts


def test_long_prompt_moves_on_to_a_larger_fallback_model() -> None:
    p = plan(SONNET, models=(GPT5,), prompt_tokens=300_000)
    assert pairs_of(p) == [(GPT5, "openai")]


# -- which filter is named --


def test_the_filter_that_removed_the_last_candidate_is_named() -> None:
    err = refused(LLAMA, provider={"only": ["cheapo"], "max_price": {"prompt": 0.01}})
    assert err.metadata["filter"] == "provider.max_price"
    err = refused(LLAMA, provider={"only": ["nobody"], "max_price": {"prompt": 0.01}})
    assert err.metadata["filter"] == "provider.only"


def test_when_every_model_is_emptied_the_first_models_reason_leads() -> None:
    err = refused(
        GPT5,
        models=(SONNET,),
        provider={"ignore": ["openai", "anthropic"], "only": ["openai", "anthropic"]},
    )
    assert err.message == f"no endpoint of '{GPT5}' left after provider.ignore"
    assert [m["model"] for m in err.metadata["models"]] == [GPT5, SONNET]


# -- sorting --


def test_sort_price_cheapest_first() -> None:
    assert providers_of(plan(LLAMA, provider={"sort": "price"})) == [
        "cheapo",
        "deepinfra",
        "together",
    ]


def test_sort_price_ties_go_to_the_faster_endpoint() -> None:
    p = plan(SONNET, provider={"sort": "price"})
    assert providers_of(p) == ["anthropic", "google-vertex/us-east5"]  # 60 tps vs unknown
    fast_vertex = {"google-vertex/us-east5:claude-sonnet-4-6": EndpointHealth(throughput_tps=90)}
    p = plan(SONNET, provider={"sort": "price"}, health=snapshot(fast_vertex))
    assert providers_of(p) == ["google-vertex/us-east5", "anthropic"]


def test_sort_throughput_uses_seeds_then_puts_unknown_last() -> None:
    assert providers_of(plan(LLAMA, provider={"sort": "throughput"})) == [
        "together",
        "deepinfra",
        "cheapo",
    ]


def test_sort_throughput_prefers_measurements_over_seeds() -> None:
    health = snapshot({"cheapo:llama-70b": EndpointHealth(throughput_tps=500)})
    p = plan(LLAMA, provider={"sort": "throughput"}, health=health)
    assert providers_of(p) == ["cheapo", "together", "deepinfra"]


def test_sort_latency_ascending_unknown_last() -> None:
    assert providers_of(plan(LLAMA, provider={"sort": "latency"})) == [
        "together",
        "deepinfra",
        "cheapo",
    ]
    health = snapshot({"deepinfra:llama-70b": EndpointHealth(latency_ms=100)})
    p = plan(LLAMA, provider={"sort": {"by": "latency"}}, health=health)
    assert providers_of(p) == ["deepinfra", "together", "cheapo"]


def test_nitro_sorts_by_throughput_whatever_the_request_says() -> None:
    p = plan(LLAMA + ":nitro", provider={"sort": "price"})
    assert providers_of(p) == ["together", "deepinfra", "cheapo"]
    assert p.requested_model == LLAMA + ":nitro"


def test_floor_sorts_by_price_whatever_the_request_says() -> None:
    p = plan(LLAMA + ":floor", provider={"sort": "throughput"})
    assert providers_of(p) == ["cheapo", "deepinfra", "together"]


def test_variant_sort_applies_to_its_own_model_only() -> None:
    p = plan(SONNET, models=(LLAMA + ":floor",), provider={"sort": "latency"})
    assert providers_of(p)[2:] == ["cheapo", "deepinfra", "together"]


def test_online_turns_on_web_search() -> None:
    assert plan(GPT5 + ":online").web_search is True
    assert plan(GPT5, models=(SONNET + ":online",)).web_search is True
    assert plan(GPT5, models=(SONNET,)).web_search is False


def test_partition_none_sorts_across_models() -> None:
    p = plan(GPT5, models=(LLAMA,), provider={"sort": {"by": "price", "partition": "none"}})
    assert pairs_of(p) == [
        (LLAMA, "cheapo"),
        (LLAMA, "deepinfra"),
        (LLAMA, "together"),
        (GPT5, "openai"),
    ]
    p = plan(GPT5, models=(LLAMA,), provider={"sort": "price"})
    assert pairs_of(p)[0] == (GPT5, "openai")


def test_legacy_route_sort_means_partition_none() -> None:
    p = plan(GPT5, models=(LLAMA,), provider={"sort": "price"}, route="sort")
    assert pairs_of(p)[0] == (LLAMA, "cheapo")


# -- default load balancing --


def cheap_and_dear() -> Catalog:
    base = build_catalog()
    m = model(
        "x/two", endpoint("openai", "a", "0.5", "0.5"), endpoint("anthropic", "b", "1.5", "1.5")
    )
    return Catalog(base.providers, {m.id: m})


def test_default_order_is_reproducible_for_a_seed() -> None:
    assert providers_of(plan(LLAMA, seed=7)) == providers_of(plan(LLAMA, seed=7))


def test_default_order_weights_by_inverse_square_price() -> None:
    # $1 vs $3 blended: the cheaper one leads 9 times in 10
    catalog = cheap_and_dear()
    runs = 4000
    cheap_first = sum(
        providers_of(plan("x/two", catalog=catalog, seed=s))[0] == "openai" for s in range(runs)
    )
    assert 0.88 < cheap_first / runs < 0.92


def test_default_order_still_explores_the_dearer_endpoint() -> None:
    catalog = cheap_and_dear()
    firsts = {providers_of(plan("x/two", catalog=catalog, seed=s))[0] for s in range(100)}
    assert firsts == {"openai", "anthropic"}


def test_free_endpoints_lead_the_default_order() -> None:
    base = build_catalog()
    m = model("x/f", endpoint("openai", "a", "0.01", "0.01"), endpoint("anthropic", "b", "0", "0"))
    catalog = Catalog(base.providers, {m.id: m})
    assert all(
        providers_of(plan("x/f", catalog=catalog, seed=s))[0] == "anthropic" for s in range(200)
    )


def test_recently_failing_endpoints_go_after_healthy_ones() -> None:
    health = snapshot({"cheapo:llama-70b": EndpointHealth(error_rate=0.2, requests=5)})
    for seed in range(30):
        assert providers_of(plan(LLAMA, health=health, seed=seed))[-1] == "cheapo"
    health = snapshot({"cheapo:llama-70b": EndpointHealth(consecutive_failures=1)})
    assert providers_of(plan(LLAMA, health=health))[-1] == "cheapo"


def test_failing_endpoints_are_ordered_by_how_badly_they_fail() -> None:
    health = snapshot(
        {
            "cheapo:llama-70b": EndpointHealth(consecutive_failures=3, error_rate=0.9),
            "deepinfra:llama-70b": EndpointHealth(consecutive_failures=1, error_rate=0.5),
        }
    )
    assert providers_of(plan(LLAMA, health=health)) == ["together", "deepinfra", "cheapo"]


# -- circuit breaker --

OPEN = EndpointHealth(consecutive_failures=5, state="open", open_until=100.0)


def test_open_circuit_in_cooldown_is_not_planned() -> None:
    p = plan(LLAMA, health=snapshot({"cheapo:llama-70b": OPEN}, now=50.0))
    assert "cheapo" not in providers_of(p)


def test_open_circuit_past_cooldown_is_planned_last_for_the_probe() -> None:
    health = snapshot({"cheapo:llama-70b": OPEN}, now=100.0)
    for sort in (None, "price", "throughput"):
        p = plan(LLAMA, provider={"sort": sort}, health=health)
        assert providers_of(p)[-1] == "cheapo"
    p = plan(LLAMA, provider={"order": ["cheapo"]}, health=health)
    assert providers_of(p)[-1] == "cheapo"


def test_half_open_with_a_probe_in_flight_is_not_planned() -> None:
    probing = EndpointHealth(state="half_open", open_until=130.0)
    p = plan(LLAMA, health=snapshot({"cheapo:llama-70b": probing}, now=110.0))
    assert "cheapo" not in providers_of(p)
    p = plan(LLAMA, health=snapshot({"cheapo:llama-70b": probing}, now=131.0))
    assert providers_of(p)[-1] == "cheapo"  # the probe never reported back: lease over


def test_every_circuit_open_is_a_503_with_retry_after() -> None:
    health = snapshot(
        {
            "openai:gpt-5": EndpointHealth(state="open", open_until=112.5),
        },
        now=100.0,
    )
    err = refused(GPT5, health=health)
    assert err.status == 503
    assert err.error_type == "provider_unavailable"
    assert err.message == f"all providers for {GPT5} are temporarily unavailable (circuit open)"
    assert err.headers == {"Retry-After": "13"}


def test_circuit_open_on_the_first_model_falls_back_to_the_next() -> None:
    health = snapshot({"openai:gpt-5": OPEN}, now=0.0)
    assert pairs_of(plan(GPT5, models=(SONNET,), health=health))[0][0] == SONNET


# -- auto --


def test_openrouter_auto_picks_the_first_served_candidate() -> None:
    p = plan("openrouter/auto")
    assert p.requested_model == "openrouter/auto"
    assert p.attempts[0].model.id == LLAMA
    # the other candidates follow as fallbacks
    assert [a.model.id for a in p.attempts][-1] == GPT5


def test_auto_with_an_image_picks_a_vision_model() -> None:
    p = plan("openrouter/auto", needs=frozenset({"image"}))
    assert p.attempts[0].model.id == SONNET
    assert LLAMA not in {a.model.id for a in p.attempts}


def test_auto_with_a_long_prompt_picks_a_model_that_fits() -> None:
    assert plan("openrouter/auto", prompt_tokens=300_000).attempts[0].model.id == GPT5


def test_auto_online_keeps_the_variant() -> None:
    p = plan("openrouter/auto:online")
    assert p.web_search is True


def test_route_auto_chooses_among_the_requested_models() -> None:
    p = plan(LLAMA, models=(GPT5,), route="auto", needs=frozenset({"image"}))
    assert [a.model.id for a in p.attempts] == [GPT5]
    p = plan(LLAMA, models=(GPT5,), route="auto")
    assert p.attempts[0].model.id == LLAMA


# -- combinations --


def test_all_filters_together() -> None:
    p = plan(
        LLAMA,
        models=(GPT5, SONNET),
        provider={
            "order": ["together"],
            "only": ["together", "deepinfra", "openai", "anthropic"],
            "ignore": ["anthropic"],
            "sort": "price",
            "data_collection": "deny",
            "require_parameters": True,
            "max_price": {"prompt": 2, "completion": 12},
            "quantizations": ["fp8", "unknown"],
        },
        used_parameters=frozenset({"tools", "temperature"}),
        prompt_tokens=9_000,
    )
    # deepinfra: trains; anthropic: ignored; vertex: not in only
    assert pairs_of(p) == [(LLAMA, "together"), (GPT5, "openai")]


def test_order_plus_sort_plus_failures() -> None:
    health = snapshot({"deepinfra:llama-70b": EndpointHealth(consecutive_failures=2)})
    p = plan(LLAMA, provider={"order": ["deepinfra"], "sort": "throughput"}, health=health)
    # order wins over health: the user asked for deepinfra first
    assert providers_of(p) == ["deepinfra", "together", "cheapo"]
