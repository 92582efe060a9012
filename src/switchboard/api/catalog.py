"""GET /models, /models/{author}/{slug}/endpoints and /providers in OpenRouter's shapes."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from switchboard.api.model_filters import DEFAULT_LIMIT, ModelQuery
from switchboard.api.router_listing import router_entries
from switchboard.billing.pricing import per_token_str
from switchboard.catalog.types import Endpoint, Model, Pricing
from switchboard.errors import GatewayError
from switchboard.routing.filters import CAPABILITIES
from switchboard.routing.variants import is_free_model, split_variant
from switchboard.web import Request, Response, json_response

if TYPE_CHECKING:
    from switchboard.app import Services

def _public(params: frozenset[str] | set[str]) -> list[str]:
    """OpenRouter's published parameter vocabulary only: its SDK rejects other names."""
    return sorted(p for p in params if p in CAPABILITIES)


def _pricing(p: Pricing, markup: Decimal) -> dict[str, str]:
    out = {
        "prompt": per_token_str(p.prompt, markup),
        "completion": per_token_str(p.completion, markup),
        # per image / per request / per search: shown in USD per unit, not per million
        "image": per_token_str(p.image * 1_000_000, markup),
        "request": per_token_str(p.request * 1_000_000, markup),
        "web_search": per_token_str(p.web_search * 1_000_000, markup),
        "internal_reasoning": per_token_str(
            p.internal_reasoning if p.internal_reasoning is not None else p.completion, markup),
    }
    if p.input_cache_read is not None:
        out["input_cache_read"] = per_token_str(p.input_cache_read, markup)
    if p.input_cache_write is not None:
        out["input_cache_write"] = per_token_str(p.input_cache_write, markup)
    return out


def _architecture(m: Model) -> dict[str, Any]:
    return {"modality": m.modality, "input_modalities": m.input_modalities,
            "output_modalities": m.output_modalities, "tokenizer": m.tokenizer,
            "instruct_type": m.instruct_type}


def _top_endpoint(m: Model) -> Endpoint:
    return m.endpoints[0]


def model_entry(m: Model, markup: Decimal, base_url: str) -> dict[str, Any]:
    top = _top_endpoint(m)
    params = _public(set().union(*(e.supported_parameters for e in m.endpoints)))
    defaults = {"temperature": None, "top_p": None, "frequency_penalty": None}
    defaults.update(m.default_parameters)
    return {
        "id": m.id,
        "canonical_slug": m.id,
        "hugging_face_id": m.hugging_face_id or "",
        "name": m.name,
        "created": m.created,
        "description": m.description,
        "context_length": m.context_length,
        "architecture": _architecture(m),
        "pricing": _pricing(top.pricing, markup),
        "top_provider": {"context_length": top.context_length,
                         "max_completion_tokens": top.max_completion_tokens,
                         "is_moderated": m.is_moderated},
        "per_request_limits": None,
        "supported_parameters": params,
        "default_parameters": defaults,
        "supported_voices": None,
        "links": {"details": f"{base_url}/models/{m.id}/endpoints"},
    }


def model_listing(req: Request, query: ModelQuery, models: Iterable[Model], markup: Decimal,
                  extra: list[dict[str, Any]] | None = None) -> Response:
    """OpenRouter's list shape, paged when the query asks: data, total_count, links.next.
    `extra` entries (the routers) follow the catalog's models."""
    base = "/api/v1"  # relative, as OpenRouter gives it: right behind any proxy
    everything = [model_entry(m, markup, base) for m in models if query.matches(m)]
    everything += extra or []
    data, following = everything, None
    if query.offset is not None or query.limit is not None:
        start = query.offset or 0
        data = everything[start:start + (query.limit or DEFAULT_LIMIT)]
        shown = start + len(data)
        if query.limit is not None and shown < len(everything):
            following = f"{req.path}?offset={shown}&limit={query.limit}"
    return json_response(200, {"data": data, "total_count": len(everything),
                               "links": {"next": following}})


class CatalogHandler:
    def __init__(self, svc: Services) -> None:
        self.svc = svc
        self._models_body: bytes | None = None

    async def models(self, req: Request) -> Response:
        query = ModelQuery.parse(req.query)
        return model_listing(req, query, self.svc.catalog.models.values(),
                             self.svc.settings.markup, self._routers(query))

    def _routers(self, query: ModelQuery) -> list[dict[str, Any]]:
        """openrouter/auto and /free, listed (and paged) after the catalog's models."""
        if not query.lists_routers():
            return []
        return [r for r in router_entries(self.svc.catalog, "/api/v1")
                if query.search in r["id"] or query.search in r["name"].lower()]

    async def models_count(self, req: Request) -> Response:
        query = ModelQuery.parse(req.query)
        count = sum(1 for m in self.svc.catalog.models.values() if query.matches(m))
        count += len(self._routers(query))
        return json_response(200, {"data": {"count": count}})

    async def models_user(self, req: Request) -> Response:
        """The models the caller's account may use: under data_collection "deny", only
        those with an endpoint whose provider does not train on prompts (never `:free`)."""
        key = await self.svc.auth.key(req)
        deny = self.svc.account_policy(key.account_id) == "deny"
        providers = self.svc.catalog.providers
        usable = [m for m in self.svc.catalog.models.values()
                  if not deny or (not is_free_model(m.id) and any(
                      not providers[e.provider].trains_on_data for e in m.endpoints))]
        return model_listing(req, ModelQuery.parse(req.query), usable, self.svc.settings.markup)

    async def model(self, req: Request) -> Response:
        """One model by `author/slug`; a routing variant (`:nitro`) names its base model."""
        model_id = f"{req.path_params['author']}/{req.path_params['slug']}"
        m = self.svc.catalog.model(model_id)
        if m is None:
            base, variant = model_id, None
            with contextlib.suppress(GatewayError):  # an unknown suffix: simply not found
                base, variant = split_variant(model_id)
            m = self.svc.catalog.model(base) if variant else None
        if m is None:
            raise GatewayError(404, f"model '{model_id}' not found", "not_found")
        return json_response(200, {"data": model_entry(m, self.svc.settings.markup, "/api/v1")})

    async def endpoints(self, req: Request) -> Response:
        author, slug = req.path_params["author"], req.path_params["slug"]
        model_id = f"{author}/{slug}"
        m = self.svc.catalog.model(model_id)
        if m is None:
            raise GatewayError(404, f"model '{model_id}' not found", "not_found")
        markup = self.svc.settings.markup
        snapshot = self.svc.health.snapshot()
        eps = []
        for e in m.endpoints:
            provider = self.svc.catalog.providers[e.provider]
            health = snapshot.get(e.key)
            status = 0
            if not provider.configured:
                status = -5
            elif snapshot.circuit(e.key) == "blocked":
                status = -2
            elif health.recently_failed:
                status = -1
            latency = health.latency_ms if health.latency_ms is not None else e.latency_ms
            tps = health.throughput_tps if health.throughput_tps is not None else e.throughput_tps
            uptime = max(0.0, 100.0 * (1 - (health.error_rate or 0)))
            eps.append({
                "name": f"{provider.display_name} | {e.model}",
                "model_id": m.id, "model_name": m.name,
                "context_length": e.context_length,
                "pricing": _pricing(e.pricing, markup),
                "provider_name": provider.display_name,
                "provider_slug": provider.name,
                "tag": provider.name,
                "quantization": e.quantization,
                "max_completion_tokens": e.max_completion_tokens,
                "max_prompt_tokens": e.context_length,
                "supported_parameters": _public(e.supported_parameters),
                "status": status,
                "uptime_last_30m": uptime, "uptime_last_5m": uptime, "uptime_last_1d": uptime,
                "supports_implicit_caching": e.pricing.input_cache_read is not None,
                "supports_tool_choice": {
                    name: "tool_choice" in e.supported_parameters
                    for name in ("auto", "none", "required", "function")
                },
                "supports_diarization": False, "service_tier": None, "native_tools": {},
                "latency_last_30m": {"p50": latency, "p75": latency, "p90": latency,
                                     "p99": latency} if latency is not None else None,
                "throughput_last_30m": {"p50": tps, "p75": tps, "p90": tps, "p99": tps}
                if tps is not None else None,
            })
        return json_response(200, {"data": {
            "id": m.id, "name": m.name, "created": m.created, "description": m.description,
            "architecture": _architecture(m), "endpoints": eps,
        }})

    async def providers(self, req: Request) -> Response:
        data = [{
            "name": p.display_name, "slug": p.name,
            "privacy_policy_url": p.privacy_policy_url,
            "terms_of_service_url": p.terms_of_service_url,
            "status_page_url": p.status_page_url,
            "headquarters": None,
            # ISO country codes only: "eu", "multi" or "global" name no single country
            "datacenters": [p.region.upper()] if p.region and len(p.region) == 2
            and p.region.lower() != "eu" else [],
            "dialect": p.api, "region": p.region, "trains_on_data": p.trains_on_data,
            "retains_prompts": p.retains_prompts, "configured": p.configured,
        } for p in self.svc.catalog.providers.values()]
        return json_response(200, {"data": data})
