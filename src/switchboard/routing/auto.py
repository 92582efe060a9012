"""`openrouter/auto` and `route: "auto"`: choose a model for the prompt.

OpenRouter classifies the prompt and ranks models by community usage; we have
neither, so the heuristic is small and predictable, and the admin steers it by
the order of `auto_router.candidates`:

1. Keep the candidates that meet every need of the request: an input modality
   ("image", "audio", "file") the model accepts, or a parameter ("tools",
   "response_format", ...) one of its endpoints supports.
2. Prefer models that some configured provider serves.
3. Prefer models whose context holds the prompt, in the configured order; a
   prompt too long for all of them goes to the largest context (middle-out may
   still make it fit).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from switchboard.catalog.types import Catalog, Model
from switchboard.errors import GatewayError
from switchboard.routing.filters import supports

MODALITY_NEEDS = frozenset({"image", "audio", "file", "video"})


def rank_auto_models(
    catalog: Catalog,
    needs: Collection[str],
    prompt_tokens: int,
    candidates: Sequence[str] | None = None,
) -> list[str]:
    """Every eligible candidate, best first (see the module docstring)."""
    pool = catalog.auto_candidates if candidates is None else candidates
    models = [m for mid in dict.fromkeys(pool) if (m := catalog.model(mid)) is not None]
    eligible = [m for m in models if all(_meets(m, need) for need in needs)]
    if not eligible:
        wanted = ", ".join(sorted(needs)) or "the request"
        raise GatewayError(
            404,
            f"no auto-router candidate model supports {wanted}",
            "no_endpoints",
            {"candidates": list(pool)},
        )

    def key(m: Model) -> tuple[bool, bool, int]:
        fits = m.context_length >= prompt_tokens
        served = any(
            (p := catalog.providers.get(e.provider)) is not None and p.configured
            for e in m.endpoints
        )
        return (not served, not fits, 0 if fits else -m.context_length)

    return [m.id for m in sorted(eligible, key=key)]


def choose_auto_model(
    catalog: Catalog,
    needs: Collection[str],
    prompt_tokens: int,
    candidates: Sequence[str] | None = None,
) -> str:
    return rank_auto_models(catalog, needs, prompt_tokens, candidates)[0]


def _meets(model: Model, need: str) -> bool:
    if need in MODALITY_NEEDS:
        return need in model.input_modalities
    return any(supports(e, need) for e in model.endpoints)
