"""Holds bound every attempt: for any request, over every dialect, the output cap the hold is
computed from is at least what the built upstream request lets the provider bill."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from switchboard.billing.pricing import compute_cost, worst_case_pico
from switchboard.catalog.types import Endpoint, Model, Pricing, ProviderInfo
from switchboard.dialects.registry import Dialects
from switchboard.execution.holds import bounds_for, clamp_usage, output_cap
from switchboard.routing.planner import Attempt, Plan
from switchboard.tokens import conservative_prompt_tokens, prompt_tokens

DIALECTS = ("openai", "azure", "anthropic", "gemini", "cohere")
ENDPOINT_MAX = 8192
PRICING = Pricing(prompt=Decimal(3), completion=Decimal(15))

reasoning = st.one_of(
    st.none(),
    st.fixed_dictionaries({"max_tokens": st.integers(1, 64_000)}),
    st.fixed_dictionaries({"effort": st.sampled_from(["minimal", "low", "medium", "high"])}),
    st.fixed_dictionaries({"enabled": st.booleans()}),
)
bodies = st.fixed_dictionaries(
    {"messages": st.just([{"role": "user", "content": "hi"}])},
    optional={
        "max_tokens": st.integers(1, 100_000),
        "max_completion_tokens": st.integers(1, 100_000),
        "reasoning": reasoning,
        "reasoning_effort": st.sampled_from(["low", "medium", "high"]),
        "include_reasoning": st.booleans(),
        "n": st.integers(1, 8),
    },
).map(lambda b: {k: v for k, v in b.items() if v is not None})


def _attempt(api: str) -> Attempt:
    provider = ProviderInfo(name=api, display_name=api, api=api, base_url="https://x.test",
                            api_key="k", options={"api_version": "2024-10-21"})
    endpoint = Endpoint(provider=api, model="m", pricing=PRICING, context_length=200_000,
                        max_completion_tokens=ENDPOINT_MAX)
    model = Model(id=f"t/{api}", name="t", context_length=200_000, endpoints=(endpoint,))
    return Attempt(model=model, endpoint=endpoint, provider=provider)


def _sent_cap(api: str, sent: dict[str, Any], body: dict[str, Any]) -> int:
    """What the built request lets the provider bill, read back from the wire body."""
    n = body.get("n", 1)
    if api in ("openai", "azure"):
        cap = sent.get("max_completion_tokens") or sent.get("max_tokens") or ENDPOINT_MAX
        return int(cap) * int(sent.get("n") or 1)
    if api == "anthropic":
        return int(sent["max_tokens"])
    if api == "gemini":
        cfg = sent.get("generationConfig") or {}
        budget = (cfg.get("thinkingConfig") or {}).get("thinkingBudget") or 0
        out = cfg.get("maxOutputTokens") or ENDPOINT_MAX
        return (int(out) + max(0, int(budget))) * int(cfg.get("candidateCount") or 1)
    thinking = sent.get("thinking") or {}
    return (int(sent.get("max_tokens") or ENDPOINT_MAX) + int(thinking.get("token_budget") or 0)
            ) * (n if "n" in sent else 1)


@settings(max_examples=300, deadline=None)
@given(api=st.sampled_from(DIALECTS), body=bodies)
def test_the_hold_covers_what_the_built_request_allows(api: str, body: dict[str, Any]) -> None:
    dialects = Dialects()
    attempt = _attempt(api)
    req = dialects.get(api).build_request(attempt.provider, "m", body, False)
    sent = orjson.loads(req.body)
    cap = output_cap(dialects, attempt, body, 10)
    assert cap >= _sent_cap(api, sent, body)
    plan = Plan(attempts=(attempt,), web_search=False, requested_model=attempt.model.id)
    bounds = bounds_for(dialects, plan, body, Decimal("0.1"))
    worst_usage = {"prompt_tokens": bounds.prompt_tokens, "completion_tokens": cap}
    charged = compute_cost(PRICING, worst_usage, Decimal("0.1"))
    assert bounds.amount >= charged.pico
    assert bounds.amount == worst_case_pico(PRICING, bounds.prompt_tokens, cap, Decimal("0.1"))


@settings(max_examples=200, deadline=None)
@given(text=st.text(min_size=1, max_size=400))
def test_the_conservative_prompt_count_bounds_every_script(text: str) -> None:
    messages = [{"role": "user", "content": text}]
    bound = conservative_prompt_tokens(messages)
    assert bound >= len(text.encode("utf-8", "surrogatepass"))  # a token is at least a byte
    assert bound >= prompt_tokens(messages)


def test_scripts_that_cost_more_than_four_characters_a_token_are_bounded() -> None:
    for text in ("Привет, как дела?", "Γειά σου κόσμε", "مرحبا بالعالم", "नमस्ते दुनिया",
                 "สวัสดีชาวโลก"):
        bound = conservative_prompt_tokens([{"role": "user", "content": text * 50}])
        assert bound >= len(text.encode()) * 50  # even one token per byte is covered
        assert bound >= len(text) * 50 * 1.5


def test_file_and_audio_parts_count_toward_the_hold() -> None:
    blob = "A" * 1_000_000
    file_part = {"type": "file", "file": {"filename": "a.pdf", "file_data": blob}}
    audio = {"type": "input_audio", "input_audio": {"data": blob, "format": "wav"}}
    for part in (file_part, audio):
        assert conservative_prompt_tokens([{"role": "user", "content": [part]}]) >= 1_000_000


def test_usage_is_clamped_to_its_bounds() -> None:
    usage = {"prompt_tokens": 10**16, "completion_tokens": 10**9,
             "completion_tokens_details": {"reasoning_tokens": 10**12}}
    out, anomalies = clamp_usage(usage, 1000, 10)
    assert (out["prompt_tokens"], out["completion_tokens"], out["total_tokens"]) == (1000, 10, 1010)
    assert out["completion_tokens_details"]["reasoning_tokens"] == 10
    assert len(anomalies) == 2
    assert clamp_usage({"prompt_tokens": "x", "completion_tokens": -5}, 10, 10)[0][
        "completion_tokens"] == 0
