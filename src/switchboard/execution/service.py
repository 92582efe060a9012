"""The chat request service: one owner for a request's life, from hold to settlement.

`ChatService.run` parses and plans the request, admits it (limits, hold), walks the plan
and returns either the finished completion or the stream of chunks. Every way out of a
request ends in `RequestLife.settle`, which charges or releases the hold exactly once.
The API layer only turns the result into HTTP.
"""

from __future__ import annotations

import logging
import random
import secrets
import string
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from switchboard.api.chat_request import ChatRequest, parse_chat_request_async
from switchboard.api.routing_facts import routing_facts, uses_router
from switchboard.billing.ledger import Ledger
from switchboard.billing.pricing import to_pico, usd_str
from switchboard.catalog.types import Catalog
from switchboard.config import WebSearchConf
from switchboard.dialects.registry import Dialects
from switchboard.errors import GatewayError, bad_request
from switchboard.execution.accounting import Accountant, RequestMeta, dump
from switchboard.execution.executor import Executor
from switchboard.execution.holds import Bounds, bounds_for, choices, continuation_reserve
from switchboard.execution.outcome import Outcome
from switchboard.execution.shaping import shape_completion, to_text_completion
from switchboard.limits.limiter import Limiter
from switchboard.plugins.web_search import citations, query_of, with_results
from switchboard.routing.auto import SessionModels
from switchboard.routing.planner import Plan, RouteRequest, plan_route
from switchboard.routing.preferences import parse_preferences
from switchboard.store.account_settings import request_policy
from switchboard.store.repo import KeyRecord
from switchboard.tokens import count_images
from switchboard.transforms import middle_out

log = logging.getLogger("switchboard.chat")
_ALPHABET = string.ascii_letters + string.digits
# Room in the prompt bound for the text a web search adds, per result.
_WEB_RESULT_TOKENS = 4_000


def new_generation_id() -> str:
    """`gen-<unix>-<20 base62 chars>` (≈119 random bits), like OpenRouter's ids."""
    n = int.from_bytes(secrets.token_bytes(15), "big")
    chars = []
    for _ in range(20):
        n, r = divmod(n, 62)
        chars.append(_ALPHABET[r])
    return f"gen-{int(time.time())}-" + "".join(chars)


def legacy_to_chat(body: Any) -> Any:
    """A legacy /completions body as a chat request with one user message."""
    if not isinstance(body, dict):
        return body
    prompt = body.get("prompt")
    if isinstance(prompt, list) and all(isinstance(p, str) for p in prompt):
        prompt = "".join(prompt)
    if not isinstance(prompt, str):
        raise bad_request("prompt is required and must be a string", "prompt")
    out = {k: v for k, v in body.items() if k not in ("prompt", "suffix", "echo", "best_of")}
    out["messages"] = [{"role": "user", "content": prompt}]
    return out


@dataclass(slots=True)
class ChatCall:
    """One chat request as the API layer received it."""

    key: KeyRecord
    body: Any  # the parsed JSON body: an OpenAI chat request plus OpenRouter's fields
    headers: dict[str, str]
    receive: Any = None  # the ASGI receive callable, to notice a client that leaves
    legacy: bool = False  # POST /completions: text in, text_completion out


@dataclass(slots=True)
class ChatResult:
    headers: list[tuple[bytes, bytes]]
    body: dict[str, Any] | None = None  # a finished chat.completion (non-streaming)
    # streaming: chunk dicts as sent, None for a keep-alive tick; an in-band error chunk
    # (top-level "error") is the last event of a failed stream
    events: AsyncIterator[dict[str, Any] | None] | None = None
    disconnect: Any = None  # a running task that ends when the client leaves, if any


@dataclass(slots=True)
class RequestLife:
    """A request's state from its hold on; `settle` is its one way out."""

    outcome: Outcome
    meta: RequestMeta
    bounds: Bounds
    accountant: Accountant
    plan: Plan | None = None
    continue_on_break: bool = False  # may a stream that breaks half-way be continued?
    settled: bool = False

    def finish_cost(self) -> None:
        self.accountant.finish_cost(self.outcome, self.meta, self.bounds)

    def settle(self) -> None:
        if self.settled:
            return
        self.settled = True
        if self.outcome.served is not None and self.outcome.cost is None:
            self.finish_cost()
        self.accountant.settle(self.outcome, self.meta)


@dataclass
class ChatService:
    catalog: Catalog
    markup: Decimal
    ledger: Ledger
    limiter: Limiter
    health: Any
    executor: Executor
    accountant: Accountant
    account_policy: Callable[[str], str]
    web: Any = None  # the web search plugin, when configured
    web_conf: WebSearchConf | None = None
    rng: random.Random = field(default_factory=random.Random)
    keepalive_first_s: float = 2.0
    keepalive_every_s: float = 3.0
    continue_on_break: bool = True  # the config's default; a request may turn it off
    _plan_cache: dict[tuple[Any, ...], Plan] = field(default_factory=dict)
    auto_sessions: SessionModels = field(default_factory=SessionModels)  # openrouter/auto picks

    @property
    def dialects(self) -> Dialects:
        return self.executor.dialects

    async def run(self, call: ChatCall) -> ChatResult:
        raw = legacy_to_chat(call.body) if call.legacy else call.body
        creq = await parse_chat_request_async(raw)  # long conversations: off the loop
        images = count_images(creq.messages)
        plan = self._plan(creq, call.key, images, call.headers)
        body = await middle_out(creq.body, creq.messages, creq.transforms,
                                plan.attempts[0].endpoint.context_length, creq.max_tokens)
        web = plan.web_search or creq.web_plugin
        bounds = bounds_for(self.dialects, plan, body, self.markup,
                            self._search_pico() if web else 0,
                            creq.web_max_results * _WEB_RESULT_TOKENS if web else 0)
        continuing = (creq.stream and self.continue_on_break and len(plan.attempts) > 1
                      and parse_preferences(creq.provider).continue_on_break
                      and choices(body) == 1)
        if continuing:
            # a continuation sends the prompt a second time: hold for it too
            bounds.amount += continuation_reserve(plan, bounds, self.markup)
        await self.limiter.check(call.key, plan)
        gen_id = new_generation_id()
        await self.ledger.hold(gen_id, call.key, bounds.amount)
        outcome = Outcome(gen_id, time.monotonic(), int(time.time()), creq.stream)
        outcome.images = images
        outcome.auto_choice = plan.auto_choice
        life = RequestLife(outcome, RequestMeta(call.key, creq, body, call.headers, call.legacy),
                           bounds, self.accountant, plan, continuing)
        try:
            if web:
                body = life.meta.body = await self._search(creq, body, outcome)
            if creq.stream:
                from switchboard.execution.stream import open_stream_run

                # from here the stream's own exits settle the life
                return await open_stream_run(self, plan, life, call.receive)
            result = await self.executor.walk(
                plan, outcome, lambda a, _t0: self.executor.complete_once(a, body))
            return self._completed(result, life)
        except BaseException as exc:
            if isinstance(exc, GatewayError):
                outcome.error = exc
            life.settle()
            raise

    # -- planning and money ----------------------------------------------------------

    def _plan(self, creq: ChatRequest, key: KeyRecord, images: int,
              headers: Mapping[str, str]) -> Plan:
        needs = set()
        if images:
            needs.add("image")
        if creq.body.get("tools"):
            needs.add("tools")
        # a request's own provider.data_collection wins over the account's
        policy = request_policy(creq.provider, self.account_policy(key.account_id))
        snapshot = self.health.snapshot()
        # A model served by one endpoint, with no routing fields, plans the same way every
        # time while that endpoint is healthy: reuse the plan instead of re-running filters.
        facts = routing_facts(creq, key.account_id, headers, images, self.auto_sessions)
        cache_key = None
        if (creq.provider is None and not creq.models and creq.route is None
                and creq.transforms is None and not uses_router(creq)):
            cache_key = (creq.model, creq.used_parameters, policy, frozenset(needs))
            cached = self._plan_cache.get(cache_key)
            if cached is not None:
                ep_key = cached.attempts[0].endpoint.key
                if snapshot.circuit(ep_key) == "closed" and not snapshot.get(
                        ep_key).recently_failed:
                    return cached
        route = RouteRequest(
            model=creq.model, models=creq.models, route=creq.route,
            preferences=parse_preferences(creq.provider),
            used_parameters=creq.used_parameters,
            prompt_tokens=facts.prompt_tokens, context_strict=facts.context_strict,
            account_data_collection=policy,
            needs=frozenset(needs), auto=facts.auto,
        )
        plan = plan_route(self.catalog, route, snapshot, self.rng, self.markup)
        if plan.auto_choice is not None:
            self.auto_sessions.remember(facts.session, plan.auto_choice.model)
        if (plan.web_search or creq.web_plugin) and self.web is None:
            raise GatewayError(400, "web search (:online, plugins: web) needs a web_search "
                               "engine in the config", "bad_request", {"field": "plugins"})
        if cache_key is not None and len(plan.attempts) == 1 and len(self._plan_cache) < 4096:
            self._plan_cache[cache_key] = plan
        return plan

    def _search_pico(self) -> int:
        conf = self.web_conf
        return to_pico(conf.price_per_search * (1 + self.markup)) if conf else 0

    async def _search(self, creq: ChatRequest, body: dict[str, Any],
                      outcome: Outcome) -> dict[str, Any]:
        """Run the web plugin; a failed search answers without results and costs nothing."""
        assert self.web is not None
        try:
            results = await self.web.search(query_of(creq.messages), creq.web_max_results)
        except Exception as exc:
            log.warning("web search failed, answering without results: %r", exc)
            return body
        outcome.web_results = results
        return with_results(body, results) if results else body

    # -- non-streaming ---------------------------------------------------------------

    def _completed(self, result: dict[str, Any], life: RequestLife) -> ChatResult:
        outcome, meta = life.outcome, life.meta
        attempt = outcome.served
        assert attempt is not None
        outcome.usage = result.get("usage")
        outcome.upstream_id = result.get("id")
        choices = result.get("choices") or [{}]
        outcome.finish_reason = choices[0].get("finish_reason")
        outcome.native_finish_reason = choices[0].get("native_finish_reason")
        msg = choices[0].get("message") or {}
        content = msg.get("content")
        outcome.completion_text = content if isinstance(content, str) else ""
        if msg.get("tool_calls"):
            outcome.completion_text += dump(msg["tool_calls"])
        outcome.first_token_ms = int((time.monotonic() - outcome.started) * 1000)
        life.finish_cost()
        life.settle()
        body = shape_completion(result, outcome, attempt.model.id, attempt.provider.display_name)
        if outcome.web_results:
            for choice in body.get("choices") or ():
                msg = choice.get("message") or {}
                msg["annotations"] = [*(msg.get("annotations") or ()),
                                      *citations(outcome.web_results)]
        if meta.legacy:
            body = to_text_completion(body)
        cost = outcome.cost
        headers = [
            (b"openrouter-provider", attempt.provider.name.encode()),
            (b"openrouter-model", attempt.model.id.encode()),
            (b"openrouter-cost", usd_str(cost.pico if cost else 0).encode()),
            (b"openrouter-provider-cost", usd_str(cost.provider_pico if cost else 0).encode()),
            (b"x-openrouter-latency-ms",
             str(int((time.monotonic() - outcome.started) * 1000)).encode()),
            (b"x-generation-id", outcome.gen_id.encode()),
        ]
        return ChatResult(headers, body=body)
