import pytest

from switchboard.catalog.types import Catalog
from switchboard.errors import GatewayError
from switchboard.routing.auto import choose_auto_model, rank_auto_models

from .conftest import build_catalog

LLAMA = "meta-llama/llama-3.3-70b-instruct"
SONNET = "anthropic/claude-sonnet-4.6"
GPT5 = "openai/gpt-5"


def test_plain_prompt_gets_the_first_candidate(catalog: Catalog) -> None:
    assert choose_auto_model(catalog, set(), 100) == LLAMA
    assert rank_auto_models(catalog, set(), 100) == [LLAMA, SONNET, GPT5]


def test_images_need_a_vision_model(catalog: Catalog) -> None:
    assert choose_auto_model(catalog, {"image"}, 100) == SONNET


def test_tools_need_a_tool_capable_endpoint(catalog: Catalog) -> None:
    assert choose_auto_model(catalog, {"tools"}, 100) == LLAMA  # together and deepinfra do
    assert choose_auto_model(catalog, {"tools", "image"}, 100) == SONNET


def test_long_prompt_gets_a_model_whose_context_holds_it(catalog: Catalog) -> None:
    assert choose_auto_model(catalog, set(), 150_000) == SONNET
    assert choose_auto_model(catalog, set(), 300_000) == GPT5


def test_prompt_too_long_for_all_gets_the_largest_context(catalog: Catalog) -> None:
    assert rank_auto_models(catalog, set(), 5_000_000) == [GPT5, SONNET, LLAMA]


def test_models_no_configured_provider_serves_come_last() -> None:
    base = build_catalog()
    catalog = Catalog(base.providers, base.models, ("azure-only/model", LLAMA))
    assert rank_auto_models(catalog, set(), 10) == [LLAMA, "azure-only/model"]


def test_unknown_candidates_are_skipped(catalog: Catalog) -> None:
    assert choose_auto_model(catalog, set(), 10, candidates=["nobody/x", GPT5]) == GPT5


def test_nothing_meets_the_needs_is_a_404(catalog: Catalog) -> None:
    with pytest.raises(GatewayError) as info:
        choose_auto_model(catalog, {"audio"}, 10)
    assert info.value.status == 404
    assert "audio" in info.value.message


def test_without_candidates_or_table_every_model_meeting_the_needs_is_a_candidate() -> None:
    """Regression: with `builtin_catalog: false` the candidate table was empty: every auto
    request was a 404."""
    base = build_catalog()
    ranked = rank_auto_models(Catalog(base.providers, base.models, ()), {"image"}, 10)
    assert set(ranked) == {GPT5, SONNET}
