"""`openrouter/auto`, `openrouter/free` and `route: "auto"`: choose a model for the prompt.

1. The pool: the request's `plugins: [{"id": "auto-router", "allowed_models": [...]}]`
   (wildcards allowed), else the config's `auto_router.candidates`, else every model of the
   per-task table that the catalog has, else every model in the catalog. `excluded_models`
   always wins.
2. Keep the models that meet every need of the request: an input modality ("image", ...) the
   model accepts, or a parameter ("tools", "response_format", ...) one of its endpoints supports.
3. Rank: models some configured provider serves first; then those whose context holds the
   prompt; then the order the task's table gives (classifier.py names the task), the pool's
   order breaking ties. A session (`session_id`) keeps the model it was first given while that
   model still meets the request's needs.
"""

from __future__ import annotations

import fnmatch
from collections import OrderedDict
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from switchboard.catalog.types import Catalog, Model
from switchboard.errors import GatewayError
from switchboard.routing.filters import supports
from switchboard.routing.variants import ROUTER_MODELS, is_free_model

MODALITY_NEEDS = frozenset({"image", "audio", "file", "video"})


@dataclass(frozen=True, slots=True)
class AutoOptions:
    """What the request says about the auto router (all optional)."""

    task: str | None = None  # from classifier.classify
    reason: str = ""
    allowed: tuple[str, ...] = ()  # plugin allowed_models patterns
    excluded: tuple[str, ...] = ()  # plugin excluded_models patterns
    sticky_model: str | None = None  # the model this session was given before


NO_AUTO = AutoOptions()


@dataclass(frozen=True, slots=True)
class AutoChoice:
    """The router's pick and why, for the generation record."""

    router: str  # openrouter/auto | openrouter/free | route:auto
    model: str
    task: str | None
    reason: str


def _matches(model_id: str, patterns: Collection[str]) -> bool:
    return any(fnmatch.fnmatchcase(model_id, p) for p in patterns)


def _pool(catalog: Catalog, candidates: Sequence[str] | None, opts: AutoOptions) -> list[str]:
    if candidates is not None:
        ids = list(candidates)
    elif opts.allowed:
        ids = [mid for mid in catalog.models if _matches(mid, opts.allowed)]
    elif catalog.auto_candidates:
        ids = list(catalog.auto_candidates)
    else:
        tabled = dict.fromkeys(mid for row in catalog.auto_tasks.values() for mid in row)
        ids = [mid for mid in tabled if mid in catalog.models] or list(catalog.models)
    ids = [mid for mid in dict.fromkeys(ids) if mid not in ROUTER_MODELS]
    return [mid for mid in ids if not _matches(mid, opts.excluded)]


def _served(catalog: Catalog, m: Model) -> bool:
    return any((p := catalog.providers.get(e.provider)) is not None and p.configured
               for e in m.endpoints)


def rank_auto_models(
    catalog: Catalog,
    needs: Collection[str],
    prompt_tokens: int,
    candidates: Sequence[str] | None = None,
    opts: AutoOptions = NO_AUTO,
) -> list[str]:
    """Every eligible model of the pool, best first (see the module docstring)."""
    pool = _pool(catalog, candidates, opts)
    return _rank(catalog, pool, needs, prompt_tokens, opts)


def rank_free_models(
    catalog: Catalog, needs: Collection[str], prompt_tokens: int, opts: AutoOptions = NO_AUTO
) -> list[str]:
    """`openrouter/free`: the free models (`:free` entries first, then other zero-priced ones)."""
    free = [m.id for m in catalog.models.values()
            if m.id not in ROUTER_MODELS and all(e.pricing.is_free for e in m.endpoints)
            and not _matches(m.id, opts.excluded)
            and (not opts.allowed or _matches(m.id, opts.allowed))]
    free.sort(key=lambda mid: not is_free_model(mid))
    return _rank(catalog, free, needs, prompt_tokens, opts)


def _rank(
    catalog: Catalog, pool: list[str], needs: Collection[str], prompt_tokens: int,
    opts: AutoOptions,
) -> list[str]:
    models = [m for mid in pool if (m := catalog.model(mid)) is not None]
    eligible = [m for m in models if all(_meets(m, need) for need in needs)]
    if not eligible:
        wanted = ", ".join(sorted(needs)) or "the request"
        raise GatewayError(
            404,
            f"No models match your request and model restrictions: no auto-router candidate "
            f"supports {wanted}",
            "no_endpoints",
            {"candidates": pool[:50]},
        )
    table = {mid: i for i, mid in enumerate(catalog.auto_tasks.get(opts.task or "", ()))}
    position = {mid: i for i, mid in enumerate(pool)}

    def key(m: Model) -> tuple[bool, bool, bool, int, int, int]:
        fits = prompt_tokens <= m.context_length
        return (
            not _served(catalog, m),
            m.id != opts.sticky_model,
            not fits,
            0 if fits else -m.context_length,  # too long for all: the largest context first
            table.get(m.id, len(table)),
            -m.context_length if opts.task == "long_context" else position[m.id],
        )

    return [m.id for m in sorted(eligible, key=key)]


def choose_auto_model(
    catalog: Catalog,
    needs: Collection[str],
    prompt_tokens: int,
    candidates: Sequence[str] | None = None,
    opts: AutoOptions = NO_AUTO,
) -> str:
    return rank_auto_models(catalog, needs, prompt_tokens, candidates, opts)[0]


def _meets(model: Model, need: str) -> bool:
    if need in MODALITY_NEEDS:
        return need in model.input_modalities
    return any(supports(e, need) for e in model.endpoints)


class SessionModels:
    """Which model each auto-routed session was given, so later turns stay on it (bounded LRU).

    Per process: with several instances a session may be re-chosen once per instance, which
    costs a prompt-cache miss, never a wrong answer.
    """

    def __init__(self, capacity: int = 50_000) -> None:
        self._capacity = capacity
        self._models: OrderedDict[str, str] = OrderedDict()

    def recall(self, session: str | None) -> str | None:
        if not session:
            return None
        model = self._models.get(session)
        if model is not None:
            self._models.move_to_end(session)
        return model

    def remember(self, session: str | None, model: str) -> None:
        if not session:
            return
        self._models[session] = model
        self._models.move_to_end(session)
        while len(self._models) > self._capacity:
            self._models.popitem(last=False)

