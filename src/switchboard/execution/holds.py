"""The spending hold and the bounds it puts on what an answer may be charged.

The hold is the worst case over every attempt a plan may make: the prompt counted as an
upper bound, plus the output-token cap each dialect really sends upstream (a thinking
budget included), times the number of choices. Usage an upstream reports beyond those
bounds is clamped to them, so no answer can be charged more than was held.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from switchboard.billing.pricing import worst_case_pico
from switchboard.dialects.base import openai_output_cap
from switchboard.dialects.registry import Dialects
from switchboard.routing.planner import Attempt, Plan
from switchboard.tokens import conservative_prompt_tokens, count_images

# Beyond these, a count is nonsense whatever the model: clamped before any arithmetic.
MAX_TOKENS_PER_REQUEST = 100_000_000


@dataclass(slots=True)
class Bounds:
    """What one request may be charged for: its hold and the token caps behind it."""

    amount: int  # pico-USD held
    prompt_tokens: int  # upper bound on prompt tokens
    images: int
    output_caps: dict[str, int] = field(default_factory=dict)  # endpoint key -> output cap

    def output_cap(self, attempt: Attempt) -> int:
        return self.output_caps.get(attempt.endpoint.key, MAX_TOKENS_PER_REQUEST)


def choices(body: dict[str, Any]) -> int:
    n = body.get("n")
    return n if isinstance(n, int) and not isinstance(n, bool) and n > 1 else 1


def output_cap(dialects: Dialects, attempt: Attempt, body: dict[str, Any], prompt: int) -> int:
    """Output tokens the attempt's upstream may bill: the dialect's own rule, every choice."""
    ep = attempt.endpoint
    default = ep.max_completion_tokens or max(1, ep.context_length - prompt)
    dialect = dialects.get(attempt.provider.api)
    rule = getattr(dialect, "output_cap", None)
    cap = rule(body, default) if rule is not None else openai_output_cap(body, default)
    return min(MAX_TOKENS_PER_REQUEST, max(1, int(cap)) * choices(body))


def bounds_for(dialects: Dialects, plan: Plan, body: dict[str, Any], markup: Decimal,
               extra_pico: int = 0, extra_prompt_tokens: int = 0) -> Bounds:
    """`extra_prompt_tokens`: text still to be added to the prompt (web search results)."""
    messages = body.get("messages") or []
    prompt = min(MAX_TOKENS_PER_REQUEST,
                 conservative_prompt_tokens(messages, body.get("tools")) + extra_prompt_tokens)
    images = count_images(messages)
    bounds = Bounds(0, prompt, images)
    worst = 0
    for a in plan.attempts:
        cap = output_cap(dialects, a, body, prompt)
        bounds.output_caps[a.endpoint.key] = cap
        worst = max(worst, worst_case_pico(a.endpoint.pricing, prompt, cap, markup, images))
    bounds.amount = worst + extra_pico
    return bounds


def continuation_reserve(plan: Plan, bounds: Bounds, markup: Decimal) -> int:
    """What a continuation may add to a stream's worst case: the prompt once more, at the
    dearest prompt price of the plan (its output shares the original cap)."""
    return max(worst_case_pico(a.endpoint.pricing, bounds.prompt_tokens, 0, markup)
               for a in plan.attempts)


def fit_output(attempt: Attempt, prompt_tokens: int, want: int, budget_pico: int,
               markup: Decimal, images: int = 0) -> int:
    """The largest output cap ≤ `want` whose worst case fits in `budget_pico` (0: none)."""
    pricing = attempt.endpoint.pricing
    if worst_case_pico(pricing, prompt_tokens, want, markup, images) <= budget_pico:
        return want
    lo, hi = 0, want
    while lo < hi:  # worst_case_pico grows with the cap: bisect
        mid = (lo + hi + 1) // 2
        if worst_case_pico(pricing, prompt_tokens, mid, markup, images) <= budget_pico:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _count(v: Any) -> int:
    try:
        return max(0, int(v or 0))
    except (TypeError, ValueError, OverflowError):
        return 0


def clamp_usage(usage: dict[str, Any], prompt_cap: int,
                completion_cap: int) -> tuple[dict[str, Any], list[str]]:
    """Usage within what the request allowed; returns it and what had to be cut."""
    anomalies: list[str] = []
    out = dict(usage)
    prompt = _count(usage.get("prompt_tokens"))
    completion = _count(usage.get("completion_tokens"))
    if prompt > prompt_cap:
        anomalies.append(f"prompt_tokens {prompt} > bound {prompt_cap}")
        prompt = prompt_cap
    if completion > completion_cap:
        anomalies.append(f"completion_tokens {completion} > bound {completion_cap}")
        completion = completion_cap
    out["prompt_tokens"], out["completion_tokens"] = prompt, completion
    out["total_tokens"] = prompt + completion
    pdet = dict(usage.get("prompt_tokens_details") or {})
    for k in ("cached_tokens", "cache_write_tokens"):
        if k in pdet:
            pdet[k] = min(prompt, _count(pdet[k]))
    cdet = dict(usage.get("completion_tokens_details") or {})
    if "reasoning_tokens" in cdet:
        cdet["reasoning_tokens"] = min(completion, _count(cdet["reasoning_tokens"]))
    if pdet:
        out["prompt_tokens_details"] = pdet
    if cdet:
        out["completion_tokens_details"] = cdet
    return out, anomalies
