import pytest

from switchboard.catalog.types import Catalog
from switchboard.errors import GatewayError
from switchboard.routing.variants import AUTO_MODEL, ModelRef, resolve_model, split_variant

from .conftest import build_catalog, endpoint, model


@pytest.mark.parametrize(
    ("model_id", "expected"),
    [
        ("openai/gpt-5", ("openai/gpt-5", None)),
        ("openai/gpt-5:nitro", ("openai/gpt-5", "nitro")),
        ("m/x:free:online", ("m/x:free", "online")),
        ("m/x:1m", ("m/x", "1m")),
        ("m/x:thinking", ("m/x", "thinking")),
        ("m/x:extended", ("m/x", "extended")),
        ("m/x:beta", ("m/x", "beta")),
        ("m/x:floor", ("m/x", "floor")),
        (":nitro", (":nitro", None)),  # no base: not a variant
        ("host:8080/model", ("host:8080/model", None)),  # the colon is before the slash
    ],
)
def test_split_variant(model_id: str, expected: tuple[str, str | None]) -> None:
    assert split_variant(model_id) == expected


def test_unknown_variant_is_a_400() -> None:
    with pytest.raises(GatewayError) as info:
        split_variant("openai/gpt-5:xyz")
    assert info.value.status == 400
    assert info.value.message == "unknown model variant ':xyz'"


def test_unknown_variant_on_a_known_model_is_a_400(catalog: Catalog) -> None:
    with pytest.raises(GatewayError) as info:
        resolve_model(catalog, "openai/gpt-5:turbo")
    assert (info.value.status, info.value.message) == (400, "unknown model variant ':turbo'")


def test_plain_model(catalog: Catalog) -> None:
    assert resolve_model(catalog, "openai/gpt-5") == ModelRef("openai/gpt-5", "openai/gpt-5")


def test_catalog_variants_are_looked_up_by_full_id(catalog: Catalog) -> None:
    ref = resolve_model(catalog, "meta-llama/llama-3.3-70b-instruct:free")
    assert ref.model_id == "meta-llama/llama-3.3-70b-instruct:free"
    assert resolve_model(catalog, "anthropic/claude-opus-4.7:1m").model_id == (
        "anthropic/claude-opus-4.7:1m"
    )


@pytest.mark.parametrize("variant", ["free", "beta", "1m", "thinking", "extended"])
def test_unlisted_catalog_variant_is_not_found(catalog: Catalog, variant: str) -> None:
    with pytest.raises(GatewayError) as info:
        resolve_model(catalog, f"openai/gpt-5:{variant}")
    assert info.value.status == 404
    assert info.value.error_type == "not_found"
    assert info.value.message == f"model 'openai/gpt-5:{variant}' not found"


@pytest.mark.parametrize(
    ("suffix", "sort", "web"),
    [(":nitro", "throughput", False), (":floor", "price", False), (":online", None, True)],
)
def test_routing_variants_apply_to_any_model(
    catalog: Catalog, suffix: str, sort: str | None, web: bool
) -> None:
    ref = resolve_model(catalog, "openai/gpt-5" + suffix)
    assert (ref.model_id, ref.sort, ref.web_search) == ("openai/gpt-5", sort, web)
    assert ref.requested == "openai/gpt-5" + suffix


def test_variants_combine(catalog: Catalog) -> None:
    ref = resolve_model(catalog, "meta-llama/llama-3.3-70b-instruct:free:online:nitro")
    assert ref.model_id == "meta-llama/llama-3.3-70b-instruct:free"
    assert (ref.sort, ref.web_search) == ("throughput", True)


def test_rightmost_sort_variant_wins(catalog: Catalog) -> None:
    assert resolve_model(catalog, "openai/gpt-5:nitro:floor").sort == "price"


def test_unknown_model_is_a_404(catalog: Catalog) -> None:
    for mid in ("nobody/nothing", "nobody/nothing:nitro"):
        with pytest.raises(GatewayError) as info:
            resolve_model(catalog, mid)
        assert (info.value.status, info.value.error_type) == (404, "not_found")
        assert info.value.message == f"model '{mid}' not found"


def test_auto_model_resolves_with_variants(catalog: Catalog) -> None:
    assert resolve_model(catalog, AUTO_MODEL).is_auto
    ref = resolve_model(catalog, AUTO_MODEL + ":online")
    assert ref.is_auto and ref.web_search


def test_catalog_id_with_a_colon_is_not_a_variant() -> None:
    base = build_catalog()
    odd = model("local/llama3:8b", endpoint("openai", "llama3:8b", "0", "0"))
    catalog = Catalog(base.providers, {**base.models, odd.id: odd})
    assert resolve_model(catalog, "local/llama3:8b").model_id == "local/llama3:8b"
    assert resolve_model(catalog, "local/llama3:8b:nitro").model_id == "local/llama3:8b"
