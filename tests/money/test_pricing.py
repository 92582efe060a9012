"""The cost formula and the hold, as properties: exact, never negative, and the hold is
always at least what the request can cost."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from switchboard.billing.pricing import compute_cost, to_pico, worst_case_pico
from switchboard.catalog.types import Pricing

MARKUP = Decimal("0.10")
price = st.decimals(min_value=0, max_value=100, places=4, allow_nan=False,
                    allow_infinity=False)
maybe_price = st.none() | price
tokens = st.integers(min_value=0, max_value=2_000_000)


@st.composite
def pricings(draw: st.DrawFn) -> Pricing:
    return Pricing(prompt=draw(price), completion=draw(price), image=draw(price),
                   request=draw(price), input_cache_read=draw(maybe_price),
                   input_cache_write=draw(maybe_price), internal_reasoning=draw(maybe_price))


@st.composite
def usages(draw: st.DrawFn) -> tuple[int, int, int, int, int]:
    prompt = draw(tokens)
    cached = draw(st.integers(0, prompt))
    written = draw(st.integers(0, prompt - cached))
    completion = draw(tokens)
    reasoning = draw(st.integers(0, completion))
    return prompt, cached, written, completion, reasoning


def usage_dict(prompt: int, cached: int, written: int, completion: int,
               reasoning: int) -> dict[str, object]:
    return {"prompt_tokens": prompt, "completion_tokens": completion,
            "prompt_tokens_details": {"cached_tokens": cached, "cache_write_tokens": written},
            "completion_tokens_details": {"reasoning_tokens": reasoning}}


@settings(max_examples=300, deadline=None)
@given(pricings(), usages(), st.integers(0, 5))
def test_cost_is_the_decimal_formula(p: Pricing, u: tuple[int, int, int, int, int],
                                     images: int) -> None:
    prompt, cached, written, completion, reasoning = u
    read = p.prompt if p.input_cache_read is None else p.input_cache_read
    write = p.prompt if p.input_cache_write is None else p.input_cache_write
    think = p.completion if p.internal_reasoning is None else p.internal_reasoning
    provider = ((prompt - cached - written) * p.prompt + cached * read + written * write
                + (completion - reasoning) * p.completion + reasoning * think
                ) / Decimal(1_000_000) + p.request + images * p.image
    cost = compute_cost(p, usage_dict(*u), MARKUP, images)
    assert cost.provider_pico == to_pico(provider)
    assert cost.pico == to_pico(provider * (1 + MARKUP))
    assert cost.pico >= cost.provider_pico >= 0


@settings(max_examples=300, deadline=None)
@given(pricings(), usages(), st.integers(0, 5))
def test_the_hold_covers_any_answer_within_its_bounds(
    p: Pricing, u: tuple[int, int, int, int, int], images: int
) -> None:
    """Whatever mix of cached, cache-written, reasoning and plain tokens the upstream
    reports, a request within the held prompt and completion sizes costs at most the hold."""
    prompt, _, _, completion, _ = u
    hold = worst_case_pico(p, prompt, completion, MARKUP, images)
    assert compute_cost(p, usage_dict(*u), MARKUP, images).pico <= hold


@settings(max_examples=200, deadline=None)
@given(pricings(), st.integers(-10**6, 10**6), st.integers(-10**6, 10**6),
       st.integers(-10**6, 10**6), st.integers(-10**6, 10**6))
def test_nonsense_usage_never_pays_the_caller(p: Pricing, prompt: int, completion: int,
                                              cached: int, reasoning: int) -> None:
    """An upstream's bad numbers (negative, or parts larger than the whole) never turn a
    charge into a credit."""
    u = {"prompt_tokens": prompt, "completion_tokens": completion,
         "prompt_tokens_details": {"cached_tokens": cached},
         "completion_tokens_details": {"reasoning_tokens": reasoning}}
    cost = compute_cost(p, u, MARKUP)
    assert cost.pico >= 0 and cost.provider_pico >= 0
