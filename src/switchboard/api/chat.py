"""POST /chat/completions and /completions: parse, plan, hold, execute, settle, respond."""

from __future__ import annotations

import logging
import secrets
import string
import time
from typing import TYPE_CHECKING, Any

from switchboard.api.chat_request import ChatRequest, parse_chat_request
from switchboard.billing.pricing import to_pico, usd_str, worst_case_pico
from switchboard.errors import GatewayError, bad_request
from switchboard.execution.accounting import Accountant, RequestMeta, dump
from switchboard.execution.outcome import Outcome
from switchboard.execution.relay import StreamRelay
from switchboard.execution.shaping import (
    shape_completion,
    to_text_completion,
)
from switchboard.plugins.web_search import citations, query_of, with_results
from switchboard.routing.planner import Plan, RouteRequest, plan_route
from switchboard.routing.preferences import parse_preferences
from switchboard.store.repo import KeyRecord
from switchboard.tokens import (
    conservative_prompt_tokens,
    count_images,
)
from switchboard.transforms import apply_middle_out
from switchboard.web import (
    Request,
    Response,
    StreamResponse,
    json_response,
)

if TYPE_CHECKING:
    from switchboard.app import Services

log = logging.getLogger("switchboard.chat")
_ALPHABET = string.ascii_letters + string.digits


def new_generation_id() -> str:
    """`gen-<unix>-<20 base62 chars>` (≈119 random bits), like OpenRouter's ids."""
    n = int.from_bytes(secrets.token_bytes(15), "big")
    chars = []
    for _ in range(20):
        n, r = divmod(n, 62)
        chars.append(_ALPHABET[r])
    return f"gen-{int(time.time())}-" + "".join(chars)


def _legacy_to_chat(body: Any) -> Any:
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


class ChatHandler:
    def __init__(self, svc: Services) -> None:
        self.svc = svc
        self._plan_cache: dict[tuple[Any, ...], Plan] = {}
        self.accounts = Accountant(svc)
        self.relay = StreamRelay(svc, self.accounts)

    async def chat(self, req: Request) -> Response | StreamResponse:
        return await self._handle(req, legacy=False)

    async def completions(self, req: Request) -> Response | StreamResponse:
        return await self._handle(req, legacy=True)

    async def _handle(self, req: Request, legacy: bool) -> Response | StreamResponse:
        svc = self.svc
        key = await svc.auth.inference_key(req)
        raw = await req.json(svc.settings.max_body_bytes)
        if svc.presets is not None:  # "model": "@preset/<slug>"
            raw = await svc.presets.resolve(key, raw)
        creq = parse_chat_request(_legacy_to_chat(raw) if legacy else raw)
        images = count_images(creq.messages)
        plan = self._plan(creq, key, images)
        body = self._transform(creq, plan)
        web = plan.web_search or creq.web_plugin
        hold = self._hold_amount(creq, plan, body) + (self._search_pico() if web else 0)
        await svc.limiter.check(key, plan)
        gen_id = new_generation_id()
        await svc.ledger.hold(gen_id, key, hold)
        outcome = Outcome(gen_id, time.monotonic(), int(time.time()), creq.stream)
        outcome.images = images
        meta = RequestMeta(key, creq, body, req.headers, legacy)
        try:
            if web:
                body = meta.body = await self._search(creq, body, outcome)
            if creq.stream:
                return await self.relay.start(plan, outcome, meta, req.receive)
            result = await svc.executor.walk(
                plan, outcome, lambda a, _t0: svc.executor.complete_once(a, body))
        except BaseException as exc:
            if isinstance(exc, GatewayError):
                outcome.error = exc
            # every way out releases the hold; settling twice is a no-op in the ledger
            self.accounts.settle(outcome, meta)
            raise
        return self._respond(result, outcome, meta)

    # -- planning and money ----------------------------------------------------------

    def _plan(self, creq: ChatRequest, key: KeyRecord, images: int) -> Plan:
        svc = self.svc
        prefs = parse_preferences(creq.provider)
        needs = set()
        if images:
            needs.add("image")
        if creq.body.get("tools"):
            needs.add("tools")
        policy = svc.account_policy(key.account_id)
        snapshot = svc.health.snapshot()
        # A model served by one endpoint, with no routing fields, plans the same way every
        # time while that endpoint is healthy: reuse the plan instead of re-running filters.
        cache_key = None
        if creq.provider is None and not creq.models and creq.route is None:
            cache_key = (creq.model, creq.used_parameters, policy, frozenset(needs))
            cached = self._plan_cache.get(cache_key)
            if cached is not None:
                ep_key = cached.attempts[0].endpoint.key
                if snapshot.circuit(ep_key) == "closed" and not snapshot.get(
                        ep_key).recently_failed:
                    return cached
        route = RouteRequest(
            model=creq.model, models=creq.models, route=creq.route, preferences=prefs,
            used_parameters=creq.used_parameters,
            prompt_tokens=0,  # context fit is handled by middle-out or the upstream's own 400
            account_data_collection=policy,
            needs=frozenset(needs),
        )
        plan = plan_route(svc.catalog, route, snapshot, svc.rng, svc.settings.markup)
        if (plan.web_search or creq.web_plugin) and svc.web is None:
            raise GatewayError(400, "web search (:online, plugins: web) needs a web_search "
                               "engine in the config", "bad_request", {"field": "plugins"})
        if cache_key is not None and len(plan.attempts) == 1 and len(self._plan_cache) < 4096:
            self._plan_cache[cache_key] = plan
        return plan

    def _search_pico(self) -> int:
        conf = self.svc.settings.file.web_search
        return to_pico(conf.price_per_search * (1 + self.svc.settings.markup)) if conf else 0

    async def _search(self, creq: ChatRequest, body: dict[str, Any],
                      outcome: Outcome) -> dict[str, Any]:
        """Run the web plugin; a failed search answers without results and costs nothing."""
        assert self.svc.web is not None
        try:
            results = await self.svc.web.search(query_of(creq.messages), creq.web_max_results)
        except Exception as exc:
            log.warning("web search failed, answering without results: %s", exc)
            return body
        outcome.web_results = results
        return with_results(body, results) if results else body

    def _transform(self, creq: ChatRequest, plan: Plan) -> dict[str, Any]:
        first = plan.attempts[0].endpoint
        return apply_middle_out(creq.body, creq.messages, creq.transforms, first.context_length,
                                creq.max_tokens)

    def _hold_amount(self, creq: ChatRequest, plan: Plan, body: dict[str, Any]) -> int:
        messages = body.get("messages") or creq.messages
        prompt = conservative_prompt_tokens(messages, body.get("tools"))
        images = count_images(messages)
        worst = 0
        for a in plan.attempts:
            ep = a.endpoint
            cap = ep.max_completion_tokens or max(1, ep.context_length - prompt)
            completion = min(creq.max_tokens, cap) if creq.max_tokens else cap
            worst = max(worst, worst_case_pico(ep.pricing, prompt, completion,
                                               self.svc.settings.markup, images))
        return worst

    # -- non-streaming ---------------------------------------------------------------

    def _respond(self, result: dict[str, Any], outcome: Outcome, meta: RequestMeta) -> Response:
        attempt = outcome.served
        assert attempt is not None
        outcome.usage = result.get("usage")
        outcome.upstream_id = result.get("id")
        choices = result.get("choices") or [{}]
        outcome.finish_reason = choices[0].get("finish_reason")
        outcome.native_finish_reason = choices[0].get("native_finish_reason")
        msg = choices[0].get("message") or {}
        outcome.completion_text = msg.get("content") or ""
        if msg.get("tool_calls"):
            outcome.completion_text += dump(msg["tool_calls"])
        outcome.first_token_ms = int((time.monotonic() - outcome.started) * 1000)
        self.accounts.finish_cost(outcome, meta)
        self.accounts.settle(outcome, meta)
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
        return json_response(200, body, headers)

    # -- streaming -------------------------------------------------------------------
