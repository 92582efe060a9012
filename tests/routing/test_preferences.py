from decimal import Decimal
from typing import Any

import pytest

from switchboard.errors import GatewayError
from switchboard.routing.preferences import (
    DEFAULT_PREFERENCES,
    MaxPrice,
    ProviderPreferences,
    parse_preferences,
)


def refused(obj: Any) -> GatewayError:
    with pytest.raises(GatewayError) as info:
        parse_preferences(obj)
    assert info.value.status == 400
    assert info.value.error_type == "bad_request"
    return info.value


def test_absent_provider_object_gives_defaults() -> None:
    prefs = parse_preferences(None)
    assert prefs == ProviderPreferences() == DEFAULT_PREFERENCES
    assert prefs.allow_fallbacks is True
    assert prefs.data_collection == "allow"
    assert prefs.sort is None
    assert parse_preferences({}) == DEFAULT_PREFERENCES


@pytest.mark.parametrize("obj", [[], "openai", 3, True])
def test_provider_must_be_an_object(obj: Any) -> None:
    assert refused(obj).message == "provider must be an object"


def test_unknown_field_is_named() -> None:
    err = refused({"order": ["openai"], "foo": 1})
    assert err.message == "provider: unknown field 'foo'"
    assert err.metadata == {"field": "provider"}


def test_several_unknown_fields_are_all_named() -> None:
    assert refused({"zzz": 1, "aaa": 2}).message == "provider: unknown fields 'aaa', 'zzz'"


@pytest.mark.parametrize("name", ["order", "only", "ignore"])
def test_slug_lists(name: str) -> None:
    prefs = parse_preferences({name: ["openai", "Anthropic"]})
    assert getattr(prefs, name) == ("openai", "Anthropic")


@pytest.mark.parametrize("name", ["order", "only", "ignore"])
@pytest.mark.parametrize("bad", ["openai", [1], [""], {"a": 1}, [None]])
def test_slug_lists_refuse_wrong_types(name: str, bad: Any) -> None:
    err = refused({name: bad})
    assert err.message == f"provider.{name} must be a list of provider slugs"
    assert err.metadata == {"field": f"provider.{name}"}


@pytest.mark.parametrize(
    "name", ["allow_fallbacks", "require_parameters", "zdr", "enforce_distillable_text"]
)
def test_flags(name: str) -> None:
    assert getattr(parse_preferences({name: False}), name) is False
    assert getattr(parse_preferences({name: True}), name) is True
    assert refused({name: "false"}).message == f"provider.{name} must be true or false"
    assert refused({name: 0}).metadata == {"field": f"provider.{name}"}


@pytest.mark.parametrize("sort", ["price", "throughput", "latency", "exacto"])
def test_sort_string(sort: str) -> None:
    prefs = parse_preferences({"sort": sort})
    assert prefs.sort == sort
    assert prefs.sort_partition == "model"


def test_sort_object_form() -> None:
    prefs = parse_preferences({"sort": {"by": "price", "partition": "none"}})
    assert (prefs.sort, prefs.sort_partition) == ("price", "none")
    prefs = parse_preferences({"sort": {"by": "latency"}})
    assert (prefs.sort, prefs.sort_partition) == ("latency", "model")
    prefs = parse_preferences({"sort": {"partition": "none"}})
    assert (prefs.sort, prefs.sort_partition) == (None, "none")


@pytest.mark.parametrize(
    ("bad", "path"),
    [
        ("cheapest", "provider.sort"),
        (1, "provider.sort"),
        ({"by": "speed"}, "provider.sort.by"),
        ({"by": "price", "partition": "all"}, "provider.sort.partition"),
        ({"by": "price", "order": "asc"}, "provider.sort"),
    ],
)
def test_sort_refuses_bad_values(bad: Any, path: str) -> None:
    err = refused({"sort": bad})
    assert err.metadata == {"field": path}
    assert err.message.startswith(path)


def test_data_collection() -> None:
    assert parse_preferences({"data_collection": "deny"}).data_collection == "deny"
    assert parse_preferences({"data_collection": "allow"}).data_collection == "allow"
    err = refused({"data_collection": "never"})
    assert err.message == "provider.data_collection must be 'allow' or 'deny'"


def test_max_price_numbers_and_strings_become_exact_decimals() -> None:
    prefs = parse_preferences(
        {"max_price": {"prompt": 0.1, "completion": "2.5", "request": 0, "image": "0.004"}}
    )
    assert prefs.max_price == MaxPrice(
        prompt=Decimal("0.1"),
        completion=Decimal("2.5"),
        request=Decimal("0"),
        image=Decimal("0.004"),
    )


def test_max_price_fields_are_optional() -> None:
    assert parse_preferences({"max_price": {"prompt": 1}}).max_price == MaxPrice(prompt=Decimal(1))
    assert parse_preferences({"max_price": {}}).max_price == MaxPrice()
    assert parse_preferences({"max_price": {"prompt": None}}).max_price == MaxPrice()


@pytest.mark.parametrize("bad", [True, "cheap", [1], {"v": 1}, "NaN", "Infinity", -1, "-0.5"])
def test_max_price_refuses_non_prices(bad: Any) -> None:
    err = refused({"max_price": {"completion": bad}})
    assert err.metadata == {"field": "provider.max_price.completion"}
    assert err.message.startswith("provider.max_price.completion must be")


def test_max_price_refuses_unknown_fields_and_non_objects() -> None:
    assert refused({"max_price": {"tokens": 1}}).message == (
        "provider.max_price: unknown field 'tokens'"
    )
    assert refused({"max_price": 5}).message == "provider.max_price must be an object"


def test_quantizations_are_lower_cased() -> None:
    prefs = parse_preferences({"quantizations": ["FP8", "bf16"]})
    assert prefs.quantizations == ("fp8", "bf16")
    err = refused({"quantizations": "fp8"})
    assert err.message == "provider.quantizations must be a list of strings"


@pytest.mark.parametrize("name", ["preferred_min_throughput", "preferred_max_latency"])
def test_percentile_preferences_are_kept(name: str) -> None:
    assert getattr(parse_preferences({name: 50}), name) == 50.0
    assert getattr(parse_preferences({name: {"p50": 10, "p90": 2.5}}), name) == {
        "p50": 10.0,
        "p90": 2.5,
    }
    assert refused({name: {"p42": 1}}).metadata == {"field": f"provider.{name}"}
    assert refused({name: "fast"}).metadata == {"field": f"provider.{name}"}
    assert refused({name: True}).metadata == {"field": f"provider.{name}"}


def test_options_map_is_kept() -> None:
    assert parse_preferences({"options": {"openai": {"x": 1}}}).options == {"openai": {"x": 1}}
    assert refused({"options": []}).message == "provider.options must be an object"


def test_null_fields_mean_absent() -> None:
    # SDKs serialise unset optional fields as null
    obj = {k: None for k in ("order", "allow_fallbacks", "sort", "data_collection", "max_price")}
    assert parse_preferences(obj) == DEFAULT_PREFERENCES


def test_every_field_together() -> None:
    prefs = parse_preferences(
        {
            "order": ["anthropic", "openai"],
            "allow_fallbacks": False,
            "only": ["anthropic", "openai", "together"],
            "ignore": ["deepinfra"],
            "sort": {"by": "throughput"},
            "require_parameters": True,
            "data_collection": "deny",
            "max_price": {"prompt": "5", "completion": 20},
            "quantizations": ["fp8"],
            "zdr": True,
            "enforce_distillable_text": False,
            "preferred_min_throughput": {"p50": 20},
            "preferred_max_latency": 2,
        }
    )
    assert prefs == ProviderPreferences(
        order=("anthropic", "openai"),
        allow_fallbacks=False,
        only=("anthropic", "openai", "together"),
        ignore=("deepinfra",),
        sort="throughput",
        require_parameters=True,
        data_collection="deny",
        max_price=MaxPrice(prompt=Decimal(5), completion=Decimal(20)),
        quantizations=("fp8",),
        zdr=True,
        enforce_distillable_text=False,
        preferred_min_throughput={"p50": 20.0},
        preferred_max_latency=2.0,
    )


def test_preferences_are_immutable() -> None:
    prefs = parse_preferences({"order": ["openai"]})
    with pytest.raises(AttributeError):
        prefs.order = ()  # type: ignore[misc]
