"""Per-request money and records: the cost once an answer is known, and its settlement.

Used by the chat service for plain and streamed answers alike, so both charge the same way.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import orjson

from switchboard.billing.ledger import Ledger, Settlement
from switchboard.billing.pricing import Cost, compute_cost
from switchboard.config import WebSearchConf
from switchboard.execution.holds import Bounds, clamp_usage
from switchboard.execution.outcome import Outcome, Segment
from switchboard.observability.context import current_request_id
from switchboard.routing.planner import Attempt
from switchboard.store.repo import now_iso
from switchboard.tokens import prompt_tokens, text_tokens

if TYPE_CHECKING:
    from switchboard.api.chat_request import ChatRequest
    from switchboard.store.repo import KeyRecord

log = logging.getLogger("switchboard.accounting")


class RequestMeta:
    """What the request carried that accounting needs: the key, the request, the headers."""

    __slots__ = ("body", "creq", "headers", "key", "legacy")

    def __init__(self, key: KeyRecord, creq: ChatRequest, body: dict[str, Any],
                 headers: dict[str, str], legacy: bool) -> None:
        self.key, self.creq, self.body, self.headers, self.legacy = (
            key, creq, body, headers, legacy)



class Accountant:
    """Prices an answer and hands its settlement to the ledger."""

    def __init__(self, ledger: Ledger, health: Any, markup: Decimal,
                 web_conf: WebSearchConf | None, store_content: Callable[[str], bool],
                 observer: Any = None) -> None:
        self.ledger = ledger
        self.observer = observer
        self.health = health
        self.markup = markup
        self.web_conf = web_conf
        self.store_content = store_content  # account id -> keep prompts and completions?

    def segment_cost(self, outcome: Outcome, meta: RequestMeta, bounds: Bounds,
                     attempt: Attempt, usage: dict[str, Any] | None,
                     first: bool) -> tuple[dict[str, Any], Cost]:
        """Usage (clamped, or estimated when the upstream sent none) and cost of what one
        upstream produced; the web search is charged with the first part only."""
        if not usage:
            # a cut or abandoned stream: count what was generated ourselves
            prompt = prompt_tokens(meta.body.get("messages") or [], meta.body.get("tools"))
            prompt += text_tokens(outcome.prefill_text)
            completion = text_tokens(outcome.segment_text)
            usage = {"prompt_tokens": prompt, "completion_tokens": completion,
                     "total_tokens": prompt + completion}
            outcome.usage_estimated = True
        # never charge for more output than the request allowed and was held for; a prompt
        # may count more than our bound (hidden tool prompts) but never beyond the context
        prompt_cap = max(bounds.prompt_tokens, attempt.endpoint.context_length)
        usage, anomalies = clamp_usage(usage, prompt_cap, bounds.output_cap(attempt))
        if anomalies:
            outcome.usage_anomalies += anomalies
            log.warning("usage from %s clamped for %s: %s", attempt.provider.name,
                        outcome.gen_id, "; ".join(anomalies))
        pricing = attempt.endpoint.pricing
        conf = self.web_conf
        web = first and bool(outcome.web_results)
        if web and conf is not None and not pricing.web_search:
            pricing = dataclasses.replace(pricing, web_search=conf.price_per_search)
        return usage, compute_cost(pricing, usage, self.markup, outcome.images, 1 if web else 0)

    def finish_cost(self, outcome: Outcome, meta: RequestMeta, bounds: Bounds) -> None:
        attempt = outcome.served
        if attempt is None:
            return
        if not outcome.segments and not outcome.usage:
            outcome.segment_text = outcome.completion_text
        usage, cost = self.segment_cost(outcome, meta, bounds, attempt, outcome.usage,
                                         not outcome.segments)
        if outcome.segments:
            parts = [*outcome.segments, Segment(attempt, usage, cost)]
            usage, cost = combine_usage([p.usage for p in parts]), sum_costs([p.cost
                                                                              for p in parts])
        outcome.usage, outcome.cost = usage, cost

    def settle(self, outcome: Outcome, meta: RequestMeta) -> None:
        attempt = outcome.served
        cost = outcome.cost.pico if outcome.cost else 0
        usage = outcome.usage or {}
        pdet = usage.get("prompt_tokens_details") or {}
        cdet = usage.get("completion_tokens_details") or {}
        store = self.store_content(meta.key.account_id)
        now = time.monotonic()
        gen = {
            "id": outcome.gen_id, "account_id": meta.key.account_id, "key_hash": meta.key.hash,
            "model": attempt.model.id if attempt else meta.creq.model,
            "provider": attempt.provider.name if attempt else None,
            "provider_name": attempt.provider.display_name if attempt else None,
            "endpoint_id": attempt.endpoint.key if attempt else None,
            "upstream_id": outcome.upstream_id, "cost": cost,
            "provider_cost": outcome.cost.provider_pico if outcome.cost else 0,
            "tokens_prompt": int(usage.get("prompt_tokens") or 0),
            "tokens_completion": int(usage.get("completion_tokens") or 0),
            "native_tokens_prompt": int(usage.get("prompt_tokens") or 0),
            "native_tokens_completion": int(usage.get("completion_tokens") or 0),
            "native_tokens_reasoning": int(cdet.get("reasoning_tokens") or 0),
            "native_tokens_cached": int(pdet.get("cached_tokens") or 0),
            "native_tokens_cache_write": int(pdet.get("cache_write_tokens") or 0),
            "num_media_prompt": outcome.images, "streamed": outcome.streamed,
            "cancelled": outcome.cancelled,
            "latency": outcome.first_token_ms if outcome.first_token_ms is not None
            else int((now - outcome.started) * 1000),
            "generation_time": int((now - outcome.started) * 1000),
            "finish_reason": outcome.finish_reason,
            "native_finish_reason": outcome.native_finish_reason,
            "origin": meta.headers.get("http-referer") or meta.headers.get("referer"),
            "app_title": meta.headers.get("x-title") or meta.headers.get("x-openrouter-title"),
            "status": 200 if attempt else (outcome.error.status if outcome.error else 499),
            "provider_responses": [a.as_dict() for a in outcome.attempts],
            "prompt_content": dump(meta.body.get("messages")) if store and attempt else None,
            "completion_content": outcome.completion_text if store and attempt else None,
            "request_id": current_request_id(),
            **_origin_fields(outcome, meta.headers),
            # when the request ended, not when a settlement batch was written
            "created_at": now_iso(),
        }
        self.ledger.settle(Settlement(outcome.gen_id, meta.key, cost, gen))
        if self.observer is not None:
            self.observer.request_finished(outcome, meta)

    async def record_stream_health(self, attempt: Attempt, outcome: Outcome) -> None:
        elapsed = time.monotonic() - outcome.started
        ttft = outcome.first_token_ms if outcome.first_token_ms is not None else elapsed * 1000
        tokens = int((outcome.usage or {}).get("completion_tokens") or 0)
        gen_s = max(1e-3, elapsed - ttft / 1000)
        await self.health.record_success(attempt.endpoint.key, ttft, tokens / gen_s)



def combine_usage(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One usage block for an answer several upstreams produced."""
    out: dict[str, Any] = {"prompt_tokens": 0, "completion_tokens": 0}
    pdet = {"cached_tokens": 0, "cache_write_tokens": 0}
    cdet = {"reasoning_tokens": 0}
    for u in parts:
        out["prompt_tokens"] += int(u.get("prompt_tokens") or 0)
        out["completion_tokens"] += int(u.get("completion_tokens") or 0)
        for k in pdet:
            pdet[k] += int((u.get("prompt_tokens_details") or {}).get(k) or 0)
        cdet["reasoning_tokens"] += int(
            (u.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0)
    out["total_tokens"] = out["prompt_tokens"] + out["completion_tokens"]
    out["prompt_tokens_details"], out["completion_tokens_details"] = pdet, cdet
    return out


def sum_costs(costs: list[Cost]) -> Cost:
    return Cost(sum(c.provider_pico for c in costs), sum(c.pico for c in costs),
                sum(c.prompt_pico for c in costs), sum(c.completion_pico for c in costs))


def dump(obj: Any) -> str:
    return orjson.dumps(obj).decode()


def _origin_fields(outcome: Outcome, headers: Mapping[str, str]) -> dict[str, Any]:
    """The caller's software (User-Agent, OpenRouter-Client: the SDK's self-identification)
    and the auto router's pick, for /generation."""
    choice = outcome.auto_choice
    return {
        "user_agent": (headers.get("user-agent") or "")[:512] or None,
        "client": (headers.get("openrouter-client") or headers.get("x-openrouter-client")
                   or "")[:256] or None,
        "router": choice.router if choice else None,
        "router_reason": (f"{choice.task}: {choice.reason}" if choice.task else choice.reason)
        if choice else None,
    }
