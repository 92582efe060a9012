"""POST /embeddings and GET /embeddings/models.

An embedding request is routed like chat (provider preferences, `models` fallbacks,
health, data policy), limited, held at its worst case, billed per input token with the
markup and recorded as a generation, through the same ledger and settlement as chat.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import TYPE_CHECKING, Any

from switchboard.api.catalog import model_listing
from switchboard.api.model_filters import ModelQuery
from switchboard.billing.pricing import compute_cost, usd_float, usd_str, worst_case_pico
from switchboard.dialects.embeddings import (
    Embedded,
    bad_vectors,
    embedding_dialect,
    supports_embeddings,
)
from switchboard.errors import GatewayError, bad_request
from switchboard.execution.accounting import RequestMeta
from switchboard.execution.outcome import Outcome
from switchboard.execution.service import new_generation_id
from switchboard.inbound.embeddings import (
    EmbeddingRequest,
    embedding_list,
    parse_embedding_request,
)
from switchboard.routing.planner import Attempt, Plan, RouteRequest, plan_route
from switchboard.routing.preferences import parse_preferences
from switchboard.tokens import text_tokens
from switchboard.web import Request, Response, json_response

if TYPE_CHECKING:
    from switchboard.api.chat import ChatHandler
    from switchboard.app import Services


@dataclasses.dataclass(frozen=True, slots=True)
class _Named:
    """What settlement reads of a request that never reached a model: its name."""

    model: str


def is_embedding_model(model: Any) -> bool:
    return "embeddings" in model.output_modalities


def _bound(ereq: EmbeddingRequest, context: int) -> int:
    """Prompt tokens at most: a token is at least one UTF-8 byte, and no input can exceed
    the model's context (the upstream refuses it)."""
    total = 0
    for item in ereq.inputs:
        n = len(item) if isinstance(item, list) else len(item.encode()) + 8
        total += min(n, context)
    return total


def _counted(ereq: EmbeddingRequest) -> int:
    """A fair count for upstreams that report no usage (Gemini)."""
    return sum(len(i) if isinstance(i, list) else text_tokens(i) for i in ereq.inputs)


class EmbeddingsHandler:
    def __init__(self, svc: Services, chat: ChatHandler) -> None:
        self.svc = svc
        self.accounts = svc.chat.accountant

    async def models(self, req: Request) -> Response:
        query = ModelQuery.parse({**req.query, "output_modalities": "embeddings"})
        return model_listing(req, query, self.svc.catalog.models.values(),
                             self.svc.settings.markup)

    def _plan(self, ereq: EmbeddingRequest, account_id: str) -> Plan:
        svc = self.svc
        route = RouteRequest(model=ereq.model, models=ereq.models,
                             preferences=parse_preferences(ereq.provider),
                             account_data_collection=svc.account_policy(account_id))
        plan = plan_route(svc.catalog, route, svc.health.snapshot(), svc.rng,
                          svc.settings.markup)
        not_embedding = [a.model.id for a in plan.attempts if not is_embedding_model(a.model)]
        if not_embedding:
            raise bad_request(f"model '{not_embedding[0]}' does not produce embeddings; "
                              "GET /api/v1/embeddings/models lists those that do", "model")
        usable = tuple(a for a in plan.attempts if supports_embeddings(a.provider.api) and (
            not ereq.tokens_given or embedding_dialect(a.provider.api).takes_tokens))
        if not usable:
            what = "token-array input" if ereq.tokens_given else "embeddings"
            raise GatewayError(404, f"no endpoint of '{plan.requested_model}' accepts {what}",
                               "not_found", {"field": "input" if ereq.tokens_given else "model"})
        return dataclasses.replace(plan, attempts=usable)

    async def create(self, req: Request) -> Response:
        svc = self.svc
        key = await svc.auth.inference_key(req)
        ereq = parse_embedding_request(await req.json(svc.settings.max_body_bytes))
        plan = self._plan(ereq, key.account_id)
        markup = svc.settings.markup
        hold = max(worst_case_pico(a.endpoint.pricing, _bound(ereq, a.endpoint.context_length),
                                   0, markup) for a in plan.attempts)
        await svc.limiter.check(key, plan)
        gen_id = new_generation_id()
        await svc.ledger.hold(gen_id, key, hold)
        outcome = Outcome(gen_id, time.monotonic(), int(time.time()), False)
        texts = [{"role": "user", "content": i if isinstance(i, str) else str(i)}
                 for i in ereq.inputs]
        named: Any = _Named(plan.requested_model)
        meta = RequestMeta(key, named, {"messages": texts}, req.headers, False)
        try:
            result: Embedded = await svc.executor.walk(
                plan, outcome, lambda a, _t0: self._embed_once(a, ereq))
        except BaseException as exc:
            if isinstance(exc, GatewayError):
                outcome.error = exc
            self.accounts.settle(outcome, meta)  # releases the hold: nothing was served
            raise
        attempt = outcome.served
        assert attempt is not None
        # never bill beyond what was held for: an upstream's count cannot exceed the bound
        prompt = min(result.prompt_tokens if result.prompt_tokens is not None
                     else _counted(ereq), _bound(ereq, attempt.endpoint.context_length))
        outcome.usage = {"prompt_tokens": prompt, "completion_tokens": 0, "total_tokens": prompt}
        outcome.usage_estimated = result.prompt_tokens is None
        outcome.cost = cost = compute_cost(attempt.endpoint.pricing, outcome.usage, markup)
        outcome.first_token_ms = int((time.monotonic() - outcome.started) * 1000)
        outcome.finish_reason = outcome.native_finish_reason = "stop"
        self.accounts.settle(outcome, meta)
        usage = {"prompt_tokens": prompt, "total_tokens": prompt, "cost": usd_float(cost.pico),
                 "is_byok": False,
                 "cost_details": {"upstream_inference_cost": usd_float(cost.provider_pico),
                                  "upstream_inference_prompt_cost": usd_float(cost.prompt_pico),
                                  "upstream_inference_completions_cost": 0}}
        body = embedding_list(result.vectors, ereq.encoding, gen_id, attempt.model.id,
                              attempt.provider.display_name, usage)
        headers = [
            (b"openrouter-provider", attempt.provider.name.encode()),
            (b"openrouter-model", attempt.model.id.encode()),
            (b"openrouter-cost", usd_str(cost.pico).encode()),
            (b"openrouter-provider-cost", usd_str(cost.provider_pico).encode()),
            (b"x-openrouter-latency-ms", str(outcome.first_token_ms).encode()),
            (b"x-generation-id", gen_id.encode()),
        ]
        return json_response(200, body, headers)

    async def _embed_once(self, attempt: Attempt, ereq: EmbeddingRequest) -> Embedded:
        executor = self.svc.executor
        provider, endpoint = attempt.provider, attempt.endpoint
        dialect = embedding_dialect(provider.api)
        request = dialect.build_request(provider, endpoint.model, ereq.inputs, ereq.options)
        t0 = time.monotonic()
        if getattr(dialect, "local", False):
            result: Embedded = dialect.embed(request)  # type: ignore[attr-defined]
        else:
            async with asyncio.timeout(provider.timeouts.first_token):
                resp = await executor.client.send(request, provider.timeouts.connect)
                try:
                    data = await resp.read()
                finally:
                    resp.release()
            if resp.status != 200:
                raise dialect.parse_error(resp.status, data, resp.headers)
            result = dialect.parse_response(data)
        if len(result.vectors) != len(ereq.inputs):
            raise bad_vectors(f"{provider.display_name} answered {len(result.vectors)} "
                              f"vectors for {len(ereq.inputs)} inputs", None)
        await executor.health.record_success(endpoint.key, (time.monotonic() - t0) * 1000, 0.0)
        return result
