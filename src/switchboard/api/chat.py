"""POST /chat/completions and /completions: parse, plan, hold, execute, settle, respond."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import secrets
import string
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import orjson

from switchboard.api.chat_request import ChatRequest, parse_chat_request
from switchboard.billing.ledger import Settlement
from switchboard.billing.pricing import compute_cost, to_pico, usd_str, worst_case_pico
from switchboard.dialects.base import UpstreamError
from switchboard.errors import GatewayError, bad_request
from switchboard.execution.executor import _failure
from switchboard.execution.outcome import Outcome
from switchboard.execution.shaping import (
    chunk_to_text,
    shape_completion,
    to_text_completion,
    usage_body,
)
from switchboard.plugins.web_search import annotations, query_of, with_results
from switchboard.routing.planner import Attempt, Plan, RouteRequest, plan_route
from switchboard.routing.preferences import parse_preferences
from switchboard.store.repo import KeyRecord
from switchboard.tokens import (
    conservative_prompt_tokens,
    count_images,
    prompt_tokens,
    text_tokens,
)
from switchboard.transforms import apply_middle_out
from switchboard.web import (
    Request,
    Response,
    StreamResponse,
    error_response,
    json_response,
    sse,
    wait_disconnect,
)

if TYPE_CHECKING:
    from switchboard.app import Services

KEEPALIVE = b": OPENROUTER PROCESSING\n\n"
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


def _has_content(chunk: dict[str, Any]) -> bool:
    for c in chunk.get("choices") or ():
        d = c.get("delta") or {}
        if d.get("content") or d.get("tool_calls") or d.get("reasoning") or c.get("finish_reason"):
            return True
    return False


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

    async def chat(self, req: Request) -> Response | StreamResponse:
        return await self._handle(req, legacy=False)

    async def completions(self, req: Request) -> Response | StreamResponse:
        return await self._handle(req, legacy=True)

    async def _handle(self, req: Request, legacy: bool) -> Response | StreamResponse:
        svc = self.svc
        key = await svc.auth.inference_key(req)
        raw = await req.json(svc.settings.max_body_bytes)
        creq = parse_chat_request(_legacy_to_chat(raw) if legacy else raw)
        plan = self._plan(creq, key)
        body = self._transform(creq, plan)
        web = plan.web_search or creq.web_plugin
        hold = self._hold_amount(creq, plan, body) + (self._search_pico() if web else 0)
        await svc.limiter.check(key, plan)
        gen_id = new_generation_id()
        await svc.ledger.hold(gen_id, key, hold)
        outcome = Outcome(gen_id, time.monotonic(), int(time.time()), creq.stream)
        outcome.images = count_images(creq.messages)
        if web:
            body = await self._search(creq, body, outcome)
        meta = _RequestMeta(key, creq, body, req.headers, legacy)
        if creq.stream:
            return await self._stream(plan, outcome, meta, req.receive)
        try:
            result = await svc.executor.walk(
                plan, outcome, lambda a, _t0: svc.executor.complete_once(a, body))
        except BaseException as exc:
            if isinstance(exc, GatewayError):
                outcome.error = exc
            self._settle(outcome, meta)
            raise
        return self._respond(result, outcome, meta)

    # -- planning and money ----------------------------------------------------------

    def _plan(self, creq: ChatRequest, key: KeyRecord) -> Plan:
        svc = self.svc
        prefs = parse_preferences(creq.provider)
        needs = set()
        if count_images(creq.messages):
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

    def _finish_cost(self, outcome: Outcome, meta: _RequestMeta) -> None:
        attempt = outcome.served
        if attempt is None:
            return
        if not outcome.usage:
            # a cut or abandoned stream: count what was generated ourselves
            prompt = prompt_tokens(meta.body.get("messages") or [], meta.body.get("tools"))
            completion = text_tokens(outcome.completion_text)
            outcome.usage = {"prompt_tokens": prompt, "completion_tokens": completion,
                             "total_tokens": prompt + completion}
            outcome.usage_estimated = True
        pricing = attempt.endpoint.pricing
        conf = self.svc.settings.file.web_search
        if outcome.web_results and conf is not None and not pricing.web_search:
            pricing = dataclasses.replace(pricing, web_search=conf.price_per_search)
        outcome.cost = compute_cost(pricing, outcome.usage, self.svc.settings.markup,
                                    outcome.images, 1 if outcome.web_results else 0)

    def _settle(self, outcome: Outcome, meta: _RequestMeta) -> None:
        svc = self.svc
        attempt = outcome.served
        cost = outcome.cost.pico if outcome.cost else 0
        usage = outcome.usage or {}
        pdet = usage.get("prompt_tokens_details") or {}
        cdet = usage.get("completion_tokens_details") or {}
        store = svc.settings.file.logging.store_content
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
            "prompt_content": _dump(meta.body.get("messages")) if store and attempt else None,
            "completion_content": outcome.completion_text if store and attempt else None,
        }
        svc.ledger.settle(Settlement(outcome.gen_id, meta.key, cost, gen))

    # -- non-streaming ---------------------------------------------------------------

    def _respond(self, result: dict[str, Any], outcome: Outcome, meta: _RequestMeta) -> Response:
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
            outcome.completion_text += _dump(msg["tool_calls"])
        outcome.first_token_ms = int((time.monotonic() - outcome.started) * 1000)
        self._finish_cost(outcome, meta)
        self._settle(outcome, meta)
        body = shape_completion(result, outcome, attempt.model.id, attempt.provider.display_name)
        if outcome.web_results:
            for choice in body.get("choices") or ():
                msg = choice.get("message") or {}
                msg["annotations"] = [*(msg.get("annotations") or ()),
                                      *annotations(outcome.web_results)]
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

    async def _stream(self, plan: Plan, outcome: Outcome, meta: _RequestMeta,
                      receive: Any) -> Any:
        executor = self.svc.executor

        async def open_attempt(attempt: Attempt, _t0: float) -> tuple[Any, list[dict[str, Any]]]:
            it = await executor.open_stream(attempt, meta.body)
            buffered: list[dict[str, Any]] = []
            try:
                # hold back chunks until real content: until then, fallback is still invisible
                async for chunk in it:
                    buffered.append(chunk)
                    if _has_content(chunk):
                        break
            except BaseException:
                with contextlib.suppress(Exception):
                    await it.aclose()
                raise
            if not buffered:
                # a 200 with nothing we could read (not SSE, or empty): a bad answer, fall back
                raise UpstreamError(502, f"{attempt.provider.display_name} answered the stream "
                                    "with nothing parseable", "bad_gateway")
            return it, buffered

        task = asyncio.ensure_future(executor.walk(plan, outcome, open_attempt))
        # until the response starts, nothing else notices a client that leaves
        watcher = asyncio.ensure_future(wait_disconnect(receive))
        try:
            done, _ = await asyncio.wait({task, watcher}, timeout=self.svc.keepalive_first_s,
                                         return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            task.cancel()
            watcher.cancel()
            raise
        if watcher in done and not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
            outcome.cancelled = True
            self._settle(outcome, meta)
            raise asyncio.CancelledError
        done.discard(watcher)
        if done and task.exception() is not None:
            watcher.cancel()
            exc = task.exception()
            if isinstance(exc, GatewayError):
                outcome.error = exc
            self._settle(outcome, meta)
            if isinstance(exc, GatewayError):
                return error_response(exc)
            raise exc  # type: ignore[misc]
        headers = [(b"x-generation-id", outcome.gen_id.encode())]
        if done:
            served = outcome.served
            assert served is not None
            headers += [(b"openrouter-provider", served.provider.name.encode()),
                        (b"openrouter-model", served.model.id.encode())]
        # the same watcher keeps guarding the stream: one task fewer per request
        return StreamResponse(self._relay(task, outcome, meta), headers, disconnect=watcher)

    async def _relay(self, task: asyncio.Future[Any], outcome: Outcome,
                     meta: _RequestMeta) -> AsyncIterator[bytes]:
        svc = self.svc
        it: Any = None
        try:
            # the response starts only after keepalive_first_s without an answer: say so now,
            # then every keepalive_every_s until the upstream answers
            while not task.done():
                yield KEEPALIVE
                await asyncio.wait({task}, timeout=svc.keepalive_every_s)
            try:
                it, buffered = task.result()
            except GatewayError as exc:
                outcome.error = exc
                yield sse(self._error_chunk(outcome, exc, None))
                return
            attempt = outcome.served
            assert attempt is not None
            model_id, provider_name = attempt.model.id, attempt.provider.display_name
            for chunk in buffered:
                out = self._track(chunk, outcome, model_id, provider_name, meta)
                if out is not None:
                    yield out
            try:
                async for chunk in it:
                    out = self._track(chunk, outcome, model_id, provider_name, meta)
                    if out is not None:
                        yield out
            except Exception as exc:
                err = _failure(exc).error if not isinstance(exc, UpstreamError) else exc
                outcome.finish_reason = "error"
                outcome.cancelled = False
                gerr = GatewayError(err.status, err.message, err.error_type,
                                    {"provider": attempt.provider.name,
                                     "provider_name": attempt.provider.display_name,
                                     "raw": err.raw})
                self._finish_cost(outcome, meta)
                yield sse(self._error_chunk(outcome, gerr, attempt))
                return
            self._finish_cost(outcome, meta)
            await self._record_stream_health(attempt, outcome)
            final = {"id": outcome.gen_id, "object": "chat.completion.chunk",
                     "created": outcome.created, "model": model_id, "provider": provider_name,
                     "choices": [],
                     "usage": usage_body(outcome.usage, outcome.cost)}
            if meta.legacy:
                final = chunk_to_text(final)
            yield sse(final)
            yield b"data: [DONE]\n\n"
        except (asyncio.CancelledError, GeneratorExit):
            outcome.cancelled = True
            if not task.done():
                task.cancel()
            if outcome.served is not None and outcome.cost is None:
                self._finish_cost(outcome, meta)
            raise
        finally:
            if it is not None:
                with contextlib.suppress(BaseException):
                    await it.aclose()
            self._settle(outcome, meta)

    async def _record_stream_health(self, attempt: Attempt, outcome: Outcome) -> None:
        elapsed = time.monotonic() - outcome.started
        ttft = outcome.first_token_ms if outcome.first_token_ms is not None else elapsed * 1000
        tokens = int((outcome.usage or {}).get("completion_tokens") or 0)
        gen_s = max(1e-3, elapsed - ttft / 1000)
        await self.svc.health.record_success(attempt.endpoint.key, ttft, tokens / gen_s)

    def _track(self, chunk: dict[str, Any], outcome: Outcome, model_id: str,
               provider_name: str, meta: _RequestMeta) -> bytes | None:
        usage = chunk.pop("usage", None)
        if usage:
            outcome.usage = usage
        choices = chunk.get("choices")
        if not choices:
            return None  # usage-only chunks: we send our own, with the cost, at the end
        if outcome.upstream_id is None:
            outcome.upstream_id = chunk.get("id")
        kept = []
        for c in choices:
            d = c.get("delta") or {}
            has_delta = bool(d.get("content") or d.get("tool_calls") or d.get("reasoning"))
            index = c.get("index", 0)
            if c.get("finish_reason") and index in outcome.finished_choices and not has_delta:
                continue  # some upstreams repeat the finish on their usage chunk: send it once
            kept.append(c)
            if d.get("content") and isinstance(d["content"], str):
                if outcome.first_token_ms is None:
                    outcome.first_token_ms = int((time.monotonic() - outcome.started) * 1000)
                outcome.completion_text += d["content"]
            for call in d.get("tool_calls") or ():
                outcome.completion_text += (call.get("function") or {}).get("arguments") or ""
            if c.get("finish_reason"):
                if outcome.web_results and not outcome.annotated:
                    outcome.annotated = True
                    c["delta"] = {**d, "annotations": annotations(outcome.web_results)}
                outcome.finished_choices.add(index)
                outcome.finish_reason = c["finish_reason"]
                outcome.native_finish_reason = c.get("native_finish_reason") or c["finish_reason"]
            c.setdefault("native_finish_reason", c.get("finish_reason"))
        if not kept:
            return None
        chunk["choices"] = kept
        chunk["id"] = outcome.gen_id
        chunk["object"] = "chat.completion.chunk"
        chunk["created"] = outcome.created
        chunk["model"] = model_id
        chunk["provider"] = provider_name
        if "system_fingerprint" in chunk and chunk["system_fingerprint"] is None:
            del chunk["system_fingerprint"]  # the chunk schema allows a string or nothing
        if meta.legacy:
            chunk = chunk_to_text(chunk)
        return sse(chunk)

    def _error_chunk(self, outcome: Outcome, err: GatewayError,
                     attempt: Attempt | None) -> dict[str, Any]:
        meta = dict(err.metadata)
        meta.setdefault("error_type", err.error_type or "provider_error")
        return {
            "id": outcome.gen_id, "object": "chat.completion.chunk", "created": outcome.created,
            "model": attempt.model.id if attempt else "",
            "provider": attempt.provider.display_name if attempt else None,
            "error": {"code": err.status, "message": err.message, "metadata": meta},
            "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "error",
                         "native_finish_reason": "error"}],
        }


class _RequestMeta:
    __slots__ = ("body", "creq", "headers", "key", "legacy")

    def __init__(self, key: KeyRecord, creq: ChatRequest, body: dict[str, Any],
                 headers: dict[str, str], legacy: bool) -> None:
        self.key, self.creq, self.body, self.headers, self.legacy = (
            key, creq, body, headers, legacy)


def _dump(obj: Any) -> str:
    return orjson.dumps(obj).decode()
