"""Cost of one request from the endpoint's prices and the usage: the single formula.

Money is Decimal here and integer pico-dollars (1e-12 USD) in storage, so every
price × tokens × (1 + markup) product is exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from switchboard.catalog.types import Pricing

MILLION = Decimal(1_000_000)
PICO = Decimal("1e-12")


def to_pico(usd: Decimal) -> int:
    return int((usd / PICO).to_integral_value())


def from_pico(pico: int) -> Decimal:
    return (Decimal(pico) * PICO).normalize() if pico else Decimal(0)


def usd_float(pico: Any) -> float:
    """For JSON bodies: the exact decimal as the shortest float that round-trips it.
    Accepts what databases return for money sums (int, Decimal, None)."""
    return float(from_pico(int(pico or 0)))


def usd_str(pico: int) -> str:
    d = from_pico(pico)
    return format(d, "f") if d else "0"


# Listed prices are rounded to 1e-12 USD per million tokens (1e-6 pico-dollars per token): far
# below any real price step, and enough to turn a catalog ratio such as 0.36/1.1, held to 28
# digits, back into the exact 0.36 it was written from.
_LISTED_STEP = Decimal("1e-12")


def listed_per_million(per_million: Decimal, markup: Decimal) -> Decimal:
    """What the caller sees and pays per million tokens (per unit for images and requests)."""
    return (per_million * (1 + markup)).quantize(_LISTED_STEP).normalize()


def per_token_str(per_million: Decimal, markup: Decimal) -> str:
    """The /models price string: USD per token with the markup, e.g. 3 → "0.0000033"."""
    d = (listed_per_million(per_million, markup) / MILLION).normalize()
    return format(d, "f") if d else "0"


@dataclass(frozen=True, slots=True)
class Cost:
    provider_pico: int  # what the provider charges us
    pico: int  # what the caller pays: provider cost × (1 + markup)
    prompt_pico: int  # provider cost of the prompt tokens (cost_details.upstream_*: no markup)
    completion_pico: int  # provider cost of the completion tokens

    @property
    def usd(self) -> Decimal:
        return from_pico(self.pico)


def compute_cost(
    pricing: Pricing,
    usage: dict[str, Any] | None,
    markup: Decimal,
    images: int = 0,
    web_searches: int = 0,
) -> Cost:
    usage = usage or {}
    # an upstream's counts are clamped into shape (parts within their whole, nothing
    # negative), so bad numbers can never turn a charge into a credit
    prompt = max(0, int(usage.get("prompt_tokens") or 0))
    completion = max(0, int(usage.get("completion_tokens") or 0))
    pdet = usage.get("prompt_tokens_details") or {}
    cached = min(prompt, max(0, int(pdet.get("cached_tokens") or 0)))
    written = min(prompt - cached, max(0, int(pdet.get("cache_write_tokens") or 0)))
    reasoning = int((usage.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0)
    reasoning = min(completion, max(0, reasoning))
    uncached = prompt - cached - written

    read_price = (
        pricing.input_cache_read if pricing.input_cache_read is not None else pricing.prompt
    )
    write_price = (
        pricing.input_cache_write if pricing.input_cache_write is not None else pricing.prompt
    )
    reason_price = (
        pricing.internal_reasoning if pricing.internal_reasoning is not None else pricing.completion
    )
    prompt_cost = (
        uncached * pricing.prompt + cached * read_price + written * write_price
    ) / MILLION
    completion_cost = (
        (completion - reasoning) * pricing.completion + reasoning * reason_price
    ) / MILLION
    fixed = pricing.request + images * pricing.image + web_searches * pricing.web_search
    provider = prompt_cost + completion_cost + fixed
    factor = 1 + markup
    return Cost(
        provider_pico=to_pico(provider),
        pico=to_pico(provider * factor),
        prompt_pico=to_pico(prompt_cost),
        completion_pico=to_pico(completion_cost),
    )


def worst_case_pico(
    pricing: Pricing, prompt_tokens: int, max_completion: int, markup: Decimal, images: int = 0
) -> int:
    """The spending hold: every prompt token and every completion token generated at the
    dearest rate its kind can be billed at (a cache write can cost more than a plain read)."""
    prompt_price = max(pricing.prompt, pricing.input_cache_read or 0,
                       pricing.input_cache_write or 0)
    provider = (
        (
            prompt_tokens * prompt_price
            + max_completion * max(pricing.completion, pricing.internal_reasoning or 0)
        )
        / MILLION
        + pricing.request
        + images * pricing.image
    )
    return to_pico(provider * (1 + markup))
