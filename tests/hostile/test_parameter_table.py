"""Issue 9's one parameter table: the parser, require_parameters, dialect support and the
catalog's supported_parameters all come from api/params.py."""

from __future__ import annotations

import pytest

from switchboard.api.chat_request import parse_chat_request
from switchboard.api.params import CAPABILITIES, TABLE, dialect_parameters
from switchboard.catalog.loader import build_catalog
from switchboard.dialects.registry import Dialects
from tests.support import GatewayServer

# OpenRouter's published supported_parameters vocabulary (reference: Model.supported_parameters)
OPENROUTER_VOCABULARY = {
    "temperature", "top_p", "top_k", "min_p", "top_a", "frequency_penalty", "presence_penalty",
    "repetition_penalty", "max_tokens", "max_completion_tokens", "logit_bias", "logprobs",
    "top_logprobs", "prediction", "seed", "response_format", "structured_outputs", "stop",
    "tools", "tool_choice", "parallel_tool_calls", "include_reasoning", "reasoning",
    "reasoning_effort", "web_search_options", "verbosity",
}


def test_capabilities_are_openrouters_vocabulary() -> None:
    assert CAPABILITIES == OPENROUTER_VOCABULARY


@pytest.mark.parametrize("dialect", sorted({d for p in TABLE for d in p.dialects}))
def test_each_dialect_claims_exactly_what_the_table_says(dialect: str) -> None:
    assert Dialects().get(dialect).supported_parameters == dialect_parameters(dialect)


def test_catalog_never_claims_what_the_dialect_does_not_carry() -> None:
    catalog = build_catalog()
    for model in catalog.models.values():
        for ep in model.endpoints:
            api = catalog.providers[ep.provider].api
            assert ep.supported_parameters <= dialect_parameters(api), (model.id, ep.provider)


@pytest.mark.parametrize("field", ["reasoning_effort", "verbosity", "prediction",
                                   "web_search_options"])
def test_newer_openai_fields_count_as_used_parameters(field: str) -> None:
    value = {"prediction": {"type": "content", "content": "x"},
             "web_search_options": {}}.get(field, "low")
    creq = parse_chat_request({"model": "m", "messages": [{"role": "user", "content": "x"}],
                               field: value})
    assert field in creq.used_parameters


def test_require_parameters_filters_on_verbosity(gateway: GatewayServer) -> None:
    """test/gpt's endpoints do not list verbosity: require_parameters must leave none."""
    key = gateway.new_key()
    r = gateway.http.post("/chat/completions", headers={"Authorization": f"Bearer {key}"}, json={
        "model": "test/gpt", "messages": [{"role": "user", "content": "hi"}],
        "verbosity": "low", "provider": {"require_parameters": True}})
    assert r.status_code == 404, r.text
    assert r.json()["error"]["metadata"]["filter"] == "provider.require_parameters"
    r = gateway.http.post("/chat/completions", headers={"Authorization": f"Bearer {key}"}, json={
        "model": "test/gpt", "messages": [{"role": "user", "content": "hi"}],
        "verbosity": "low"})
    assert r.status_code == 200, r.text  # without require_parameters it is passed through
