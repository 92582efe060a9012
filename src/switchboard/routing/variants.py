"""Model ids `vendor/model[:variant]...` and what each variant suffix means.

Two kinds of suffix exist. Catalog variants (`:free`, `:beta`, `:1m`, ...) are
models of their own, listed under their full id with their own endpoints.
Routing variants (`:nitro`, `:floor`, `:online`) apply to any model without
being listed: they are peeled off and change how that model is routed.
Suffixes combine (`meta-llama/llama-3.3-70b-instruct:free:online`).
"""

from __future__ import annotations

from dataclasses import dataclass

from switchboard.catalog.types import Catalog
from switchboard.errors import GatewayError

AUTO_MODEL = "openrouter/auto"
FREE_MODEL = "openrouter/free"  # a free model that supports the request
ROUTER_MODELS = frozenset({AUTO_MODEL, FREE_MODEL})

CATALOG_VARIANTS = frozenset({"free", "beta", "1m", "extended", "thinking"})
# routing variant -> the provider.sort it forces (None: no sort change)
ROUTING_VARIANTS: dict[str, str | None] = {"nitro": "throughput", "floor": "price", "online": None}
KNOWN_VARIANTS = CATALOG_VARIANTS | ROUTING_VARIANTS.keys()


@dataclass(frozen=True, slots=True)
class ModelRef:
    """A requested model id resolved against the catalog."""

    requested: str  # as the client wrote it
    model_id: str  # the catalog id, or AUTO_MODEL
    sort: str | None = None  # forced by :nitro / :floor; overrides provider.sort
    web_search: bool = False  # :online

    @property
    def is_auto(self) -> bool:
        return self.model_id == AUTO_MODEL

    @property
    def is_router(self) -> bool:
        """openrouter/auto or openrouter/free: the model is chosen per request."""
        return self.model_id in ROUTER_MODELS


def split_variant(model_id: str) -> tuple[str, str | None]:
    """Split the last `:variant` off a model id: 'a/b:nitro' -> ('a/b', 'nitro').

    Raises GatewayError(400) for a suffix that is not a known variant.
    """
    base, sep, suffix = model_id.rpartition(":")
    if not sep or not base or "/" in suffix:
        return model_id, None
    if suffix not in KNOWN_VARIANTS:
        raise GatewayError(
            400, f"unknown model variant ':{suffix}'", "bad_request", {"field": "model"}
        )
    return base, suffix


def resolve_model(catalog: Catalog, requested: str) -> ModelRef:
    """Find the catalog model behind `requested`, peeling routing variants from the right.

    The full id is looked up first, so a catalog entry whose id happens to contain
    a colon is never mistaken for a variant.
    """
    current = requested
    sort: str | None = None
    web_search = False
    while current not in ROUTER_MODELS and catalog.model(current) is None:
        base, variant = split_variant(current)
        if variant is None or variant in CATALOG_VARIANTS:
            raise GatewayError(404, f"model '{requested}' not found", "not_found")
        if variant == "online":
            web_search = True
        elif sort is None:  # the rightmost of :nitro/:floor wins
            sort = ROUTING_VARIANTS[variant]
        current = base
    return ModelRef(requested, current, sort, web_search)


def is_free_model(model_id: str) -> bool:
    return model_id.endswith(":free")
