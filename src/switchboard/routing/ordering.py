"""The order in which one model's eligible endpoints are tried.

Everything is one sort key, most significant first:
  1. an endpoint whose circuit is open goes last (it is there only for the probe);
  2. providers named in provider.order, in that order;
  3. the rest: those that honour the request's tools/response_format first, then
     by provider.sort, or by default OpenRouter's load balancing — a random order
     weighted by 1/price², with endpoints that failed recently after the others.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from switchboard.routing.filters import SOFT_PARAMETERS, Candidate, provider_rank, supports
from switchboard.routing.health import HealthSnapshot
from switchboard.routing.preferences import ProviderPreferences

# Free endpoints would divide by zero; this floor (USD per million) makes them all but certain
# to come first without losing the randomness among several free ones.
PRICE_FLOOR = 1e-6

SortKey = Callable[[Candidate], tuple[Any, ...]]


def blended_price(c: Candidate) -> Decimal:
    return c.endpoint.pricing.prompt + c.endpoint.pricing.completion


def throughput(c: Candidate, health: HealthSnapshot) -> float | None:
    measured = health.get(c.endpoint.key).throughput_tps
    return measured if measured is not None else c.endpoint.throughput_tps


def latency(c: Candidate, health: HealthSnapshot) -> float | None:
    measured = health.get(c.endpoint.key).latency_ms
    return measured if measured is not None else c.endpoint.latency_ms


def metric(sort: str, health: HealthSnapshot) -> SortKey:
    """provider.sort as a key; unmeasured endpoints without a catalog seed sort last."""
    if sort == "price":

        def by_price(c: Candidate) -> tuple[Any, ...]:
            tps = throughput(c, health)
            return (blended_price(c), c.endpoint.pricing.request, tps is None, -(tps or 0.0))

        return by_price
    if sort == "latency":

        def by_latency(c: Candidate) -> tuple[Any, ...]:
            ms = latency(c, health)
            return (ms is None, ms or 0.0, blended_price(c))

        return by_latency

    # throughput, and "exacto": we have no tool-call quality data, speed is the closest signal
    def by_throughput(c: Candidate) -> tuple[Any, ...]:
        tps = throughput(c, health)
        return (tps is None, -(tps or 0.0), blended_price(c))

    return by_throughput


def load_balance(health: HealthSnapshot, rng: random.Random) -> SortKey:
    """OpenRouter's default: healthy endpoints in a random order weighted by 1/price².

    Sorting by log(u)/w descending (Efraimidis–Spirakis) is weighted sampling without
    replacement, so a $1 endpoint comes before a $3 one 9 times in 10. `sorted` calls a
    key once per item in list order, so a seeded rng gives a reproducible plan.
    """

    def key(c: Candidate) -> tuple[Any, ...]:
        h = health.get(c.endpoint.key)
        if h.recently_failed:
            return (True, h.consecutive_failures, h.error_rate, float(blended_price(c)))
        weight = 1.0 / max(float(blended_price(c)), PRICE_FLOOR) ** 2
        return (False, 0, 0.0, -math.log(1.0 - rng.random()) / weight)

    return key


def ranking(
    prefs: ProviderPreferences,
    sort: str | None,
    health: HealthSnapshot,
    rng: random.Random,
    used_parameters: frozenset[str],
) -> SortKey:
    """The full sort key (see the module docstring)."""
    order = prefs.order
    by_sort = metric(sort, health) if sort else None
    rest = by_sort or load_balance(health, rng)
    # with require_parameters the filter already removed these endpoints
    soft = frozenset() if prefs.require_parameters else used_parameters & SOFT_PARAMETERS

    def key(c: Candidate) -> tuple[Any, ...]:
        probe = health.circuit(c.endpoint.key) == "probe"
        pinned = provider_rank(order, c.provider)
        if pinned is not None:
            # several endpoints of one ordered provider: the sort (or catalog order) decides
            return (probe, pinned, False, by_sort(c) if by_sort else ())
        drops = any(not supports(c.endpoint, p) for p in soft)
        return (probe, len(order), drops, rest(c))

    return key


def order_candidates(
    candidates: list[Candidate],
    prefs: ProviderPreferences,
    sort: str | None,
    health: HealthSnapshot,
    rng: random.Random,
    used_parameters: frozenset[str],
) -> list[Candidate]:
    ordered = sorted(candidates, key=ranking(prefs, sort, health, rng, used_parameters))
    if not prefs.allow_fallbacks and not prefs.order:
        # no order to stay within: allow_fallbacks false means the primary endpoint only
        return ordered[:1]
    return ordered
