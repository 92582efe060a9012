"""Provider preferences and model variants end to end (SPEC §3 "OpenRouter fields").

test/m1's endpoints (routing_support): a $1/$2, b $2/$4, c $3/$6, d $0.5/$1 (trains on data);
throughput seeds b 200 > c 100 > a 50, d none; seed: b and c; tools: c only.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.routing_support import (
    RoutingClient,
    attempts,
    error_of,
    fail,
    ok,
    reset_gateway,
    route,
    routing_gateway,
    script,
)
from tests.support import GatewayServer, MockUpstream

TOOLS = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]


@pytest.fixture(scope="module")
def gw(mock: MockUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayServer]:
    yield from routing_gateway(mock, tmp_path_factory.mktemp("routing-prefs"))


@pytest.fixture()
def client(gw: GatewayServer, upstream: MockUpstream) -> RoutingClient:
    reset_gateway(gw)
    return RoutingClient(gw, gw.new_key())


def served_by(
    client: RoutingClient, upstream: MockUpstream, model: str = "test/m1", **body: object
) -> str:
    r = client.chat(model, **body)
    assert r.status_code == 200, r.text
    provider = r.headers["OpenRouter-Provider"]
    assert attempts(upstream)[-1] == provider
    return provider


def no_endpoint(
    client: RoutingClient, upstream: MockUpstream, model: str = "test/m1", **body: object
) -> dict[str, object]:
    r = client.chat(model, **body)
    assert r.status_code == 404, r.text
    assert attempts(upstream) == []
    return error_of(r)


# -- order, only, ignore, allow_fallbacks ------------------------------------------------


def test_order_is_tried_first_then_the_rest(client: RoutingClient, upstream: MockUpstream) -> None:
    script(upstream, "c", fail(503))
    script(upstream, "a", fail(503))
    assert served_by(client, upstream, provider={"order": ["c", "a"]}) in ("b", "d")
    assert attempts(upstream)[:2] == ["c", "a"] and len(attempts(upstream)) == 3


def test_order_accepts_display_names(client: RoutingClient, upstream: MockUpstream) -> None:
    assert served_by(client, upstream, provider={"order": ["Cee"]}) == "c"
    assert attempts(upstream) == ["c"]


def test_only_restricts_every_attempt(client: RoutingClient, upstream: MockUpstream) -> None:
    assert served_by(client, upstream, provider={"only": ["b"]}) == "b"
    upstream.reset()
    upstream.default = lambda path, body: fail(503)
    r = client.chat(provider={"only": ["b"]})
    assert r.status_code == 502
    assert attempts(upstream) == ["b", "b"]


def test_ignore_excludes(client: RoutingClient, upstream: MockUpstream) -> None:
    assert served_by(client, upstream, provider={"ignore": ["a", "b", "d"]}) == "c"
    upstream.reset()
    assert served_by(client, upstream, provider={"ignore": ["d"], "sort": "price"}) == "a"


def test_allow_fallbacks_false_stays_within_order(
    client: RoutingClient, upstream: MockUpstream
) -> None:
    upstream.default = lambda path, body: fail(503)
    r = client.chat(provider={"order": ["a", "b"], "allow_fallbacks": False})
    assert r.status_code == 502
    assert attempts(upstream) == ["a", "b", "b"]  # c and d are never tried


def test_allow_fallbacks_false_without_order_uses_the_primary_endpoint_only(
    client: RoutingClient, upstream: MockUpstream
) -> None:
    upstream.default = lambda path, body: fail(503)
    r = client.chat(provider={"sort": "price", "allow_fallbacks": False})
    assert r.status_code == 502
    assert attempts(upstream) == ["d", "d"]


# -- sort and variants ---------------------------------------------------------------


def test_sort_price_walks_from_cheapest(client: RoutingClient, upstream: MockUpstream) -> None:
    for p in "dab":
        script(upstream, p, fail(503))
    assert served_by(client, upstream, provider={"sort": "price"}) == "c"
    assert attempts(upstream) == ["d", "a", "b", "c"]


def test_sort_throughput_walks_from_fastest(client: RoutingClient, upstream: MockUpstream) -> None:
    script(upstream, "b", fail(503))
    assert served_by(client, upstream, provider={"sort": "throughput"}) == "c"
    assert attempts(upstream) == ["b", "c"]


def test_nitro_sorts_by_throughput_and_floor_by_price(
    client: RoutingClient, upstream: MockUpstream
) -> None:
    r = client.chat("test/m1:nitro", provider={"sort": "price"})  # the variant wins
    assert r.status_code == 200 and r.headers["OpenRouter-Provider"] == "b"
    assert r.json()["model"] == "test/m1"
    script(upstream, "d", fail(503))
    r = client.chat("test/m1:floor")
    assert r.status_code == 200 and r.headers["OpenRouter-Provider"] == "a"
    assert attempts(upstream) == ["b", "d", "a"]


def test_unknown_variant_is_400(client: RoutingClient, upstream: MockUpstream) -> None:
    r = client.chat("test/m1:turbo")
    assert r.status_code == 400
    assert ":turbo" in error_of(r)["message"]
    assert client.chat("test/nope").status_code == 404
    assert attempts(upstream) == []


def test_free_model_is_served_at_no_cost(client: RoutingClient, upstream: MockUpstream) -> None:
    r = client.chat("test/m1:free")
    assert r.status_code == 200, r.text
    assert r.headers["OpenRouter-Provider"] == "a"
    assert r.json()["model"] == "test/m1:free"
    assert r.json()["usage"]["cost"] == 0
    assert upstream.hits("/a/v1/")[0]["body"]["model"] == "m1-free"


def test_recently_failed_endpoint_is_tried_last_by_default(
    client: RoutingClient, upstream: MockUpstream
) -> None:
    script(upstream, "a", fail(503))
    assert served_by(client, upstream, provider=route("a", "b")) == "b"
    for _ in range(5):  # the default order is random, weighted by price; a failure trumps it
        upstream.reset()
        assert served_by(client, upstream, provider={"only": ["a", "b"]}) == "b"
        assert attempts(upstream) == ["b"]


# -- data policy, parameters, price ----------------------------------------------------


def test_data_collection_deny_skips_providers_that_train(
    client: RoutingClient, upstream: MockUpstream
) -> None:
    assert served_by(client, upstream, provider={"sort": "price", "data_collection": "deny"}) == "a"
    assert attempts(upstream) == ["a"]
    upstream.reset()
    err = no_endpoint(client, upstream, "test/trainer", provider={"data_collection": "deny"})
    assert "provider.data_collection" in str(err["message"])


def test_data_collection_deny_with_a_free_model_is_404_saying_why(
    client: RoutingClient, upstream: MockUpstream
) -> None:
    err = no_endpoint(client, upstream, "test/m1:free", provider={"data_collection": "deny"})
    assert "free" in str(err["message"])


def test_require_parameters(client: RoutingClient, upstream: MockUpstream) -> None:
    # without it, the cheapest endpoint gets the seed it may ignore
    assert served_by(client, upstream, seed=7, provider={"sort": "price"}) == "d"
    assert upstream.requests[-1]["body"]["seed"] == 7
    upstream.reset()
    assert (
        served_by(client, upstream, seed=7, provider={"sort": "price", "require_parameters": True})
        == "b"
    )
    upstream.reset()
    assert (
        served_by(
            client, upstream, tools=TOOLS, provider={"sort": "price", "require_parameters": True}
        )
        == "c"
    )
    upstream.reset()
    err = no_endpoint(client, upstream, logit_bias={"1": 1}, provider={"require_parameters": True})
    assert "provider.require_parameters" in str(err["message"])


def test_max_price_compares_with_the_listed_price(
    client: RoutingClient, upstream: MockUpstream
) -> None:
    # listed prices carry the 10 % markup: a is $1.10/$2.20, b $2.20/$4.40
    assert (
        served_by(
            client, upstream, provider={"order": ["b", "c", "a"], "max_price": {"prompt": 1.5}}
        )
        == "a"
    )
    assert attempts(upstream) == ["a"]
    upstream.reset()
    assert (
        served_by(
            client,
            upstream,
            provider={"only": ["a"], "max_price": {"prompt": "1.1", "completion": 2.2}},
        )
        == "a"
    )
    upstream.reset()
    err = no_endpoint(client, upstream, provider={"only": ["a"], "max_price": {"prompt": 1.09}})
    assert "provider.max_price" in str(err["message"])


# -- bad preferences and empty routes -------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "names"),
    [
        ({"colour": "red"}, "colour"),
        ({"sort": "cheapest"}, "provider.sort"),
        ({"order": "a"}, "provider.order"),
        ({"allow_fallbacks": "no"}, "provider.allow_fallbacks"),
    ],
)
def test_bad_provider_object_is_400(
    client: RoutingClient, upstream: MockUpstream, provider: dict[str, object], names: str
) -> None:
    r = client.chat(provider=provider)
    assert r.status_code == 400
    assert names in error_of(r)["message"]
    assert attempts(upstream) == []


@pytest.mark.parametrize(
    ("provider", "filter_name"),
    [
        ({"only": ["zzz"]}, "provider.only"),
        ({"ignore": ["a", "b", "c", "d"]}, "provider.ignore"),
        ({"quantizations": ["fp8"]}, "provider.quantizations"),
    ],
)
def test_no_endpoint_left_is_404_naming_the_filter(
    client: RoutingClient, upstream: MockUpstream, provider: dict[str, object], filter_name: str
) -> None:
    err = no_endpoint(client, upstream, provider=provider)
    assert filter_name in str(err["message"])


def test_filtered_out_fallback_model_is_skipped(
    client: RoutingClient, upstream: MockUpstream
) -> None:
    # m2 has no endpoint on a: only the first model is planned, and its 503 is the answer
    script(upstream, "a", fail(503), fail(503))
    r = client.chat(models=["test/m2"], provider={"only": ["a"]})
    assert r.status_code == 502
    assert attempts(upstream) == ["a", "a"]


def test_models_fallback_when_the_first_model_has_no_endpoint(
    client: RoutingClient, upstream: MockUpstream
) -> None:
    script(upstream, "d", ok("trained"))
    r = client.chat("test/m2", models=["test/trainer"], provider={"only": ["d"]})
    assert r.status_code == 200, r.text
    assert r.json()["model"] == "test/trainer"
    assert r.headers["OpenRouter-Model"] == "test/trainer"


def test_default_order_prefers_the_cheaper_endpoint(
    client: RoutingClient, upstream: MockUpstream
) -> None:
    # weighted by 1/price²: a ($3 blended) comes before c ($9) 9 times in 10
    firsts = []
    for _ in range(20):
        upstream.reset()
        script(upstream, "a", fail(503))
        script(upstream, "c", fail(503))
        client.chat(provider={"only": ["a", "c"]})
        firsts.append(attempts(upstream)[0])
        reset_gateway(client.gw)  # the failures must not reorder the next request
    assert firsts.count("a") >= 12, firsts


def test_sort_latency_puts_measured_endpoints_first(
    client: RoutingClient, upstream: MockUpstream
) -> None:
    assert served_by(client, upstream, provider={"only": ["c"]}) == "c"  # c is now measured
    upstream.reset()
    assert served_by(client, upstream, provider={"sort": "latency"}) == "c"
    assert attempts(upstream) == ["c"]
