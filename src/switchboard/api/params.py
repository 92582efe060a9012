"""The one parameter table: request field → catalog parameter name → dialects that translate it.

Everything else is derived from it: the names a request "uses" (for
`provider.require_parameters`), the capabilities routing may filter on, the
vocabulary `/models` publishes as `supported_parameters`, and what each dialect
may claim. Adding a parameter means adding one row here.
"""

from __future__ import annotations

from dataclasses import dataclass

ALL = frozenset({"openai", "anthropic", "gemini", "vertex", "cohere", "azure", "simulator"})
_GOOGLE = frozenset({"gemini", "vertex"})


@dataclass(frozen=True, slots=True)
class Param:
    field: str  # the request body field
    catalog: str  # its name in an endpoint's supported_parameters
    dialects: frozenset[str]  # dialects whose request builder carries it upstream
    # other catalog names that also satisfy it under require_parameters
    also: frozenset[str] = frozenset()
    # a provider capability routing may filter on (OpenRouter's published vocabulary)
    capability: bool = True


def _p(field: str, dialects: frozenset[str] | set[str], catalog: str | None = None,
       also: tuple[str, ...] = (), capability: bool = True) -> Param:
    return Param(field, catalog or field, frozenset(dialects), frozenset(also), capability)


_OPENAI_LIKE = {"openai", "azure"}
# fmt: off
TABLE: tuple[Param, ...] = (
    _p("temperature", ALL),
    _p("top_p", ALL),
    _p("top_k", {"openai", "anthropic", "cohere", *_GOOGLE}),
    _p("min_p", {"openai"}),
    _p("top_a", {"openai"}),
    _p("repetition_penalty", {"openai"}),
    _p("frequency_penalty", {"openai", "azure", "cohere", *_GOOGLE}),
    _p("presence_penalty", {"openai", "azure", "cohere", *_GOOGLE}),
    _p("max_tokens", ALL, also=("max_completion_tokens",)),
    _p("max_completion_tokens", ALL, catalog="max_tokens", also=("max_completion_tokens",)),
    _p("logit_bias", _OPENAI_LIKE),
    _p("logprobs", _OPENAI_LIKE),
    _p("top_logprobs", _OPENAI_LIKE),
    _p("seed", {"openai", "azure", "cohere", "simulator", *_GOOGLE}),
    _p("stop", ALL),
    _p("response_format", ALL, also=("structured_outputs",)),
    _p("structured_outputs", ALL, also=("response_format",)),
    _p("tools", ALL),
    _p("tool_choice", ALL),
    _p("parallel_tool_calls", {"openai", "azure", "anthropic", "simulator"}),
    _p("reasoning", ALL - {"simulator"}, also=("reasoning_effort", "include_reasoning")),
    _p("include_reasoning", {"openai", "anthropic", *_GOOGLE}, also=("reasoning",)),
    _p("reasoning_effort", {"openai", "anthropic", *_GOOGLE}, also=("reasoning",)),
    # OpenAI-only request fields, carried as they are to OpenAI-compatible upstreams
    _p("verbosity", {"openai"}),
    _p("prediction", {"openai"}),
    _p("web_search_options", {"openai"}),
    # translated where possible but never a routing capability (OpenRouter does not list them)
    _p("n", {"openai", "azure", "simulator", *_GOOGLE}, capability=False),
    _p("user", {"openai", "azure", "anthropic", "simulator"}, capability=False),
)
# fmt: on

BY_FIELD: dict[str, Param] = {p.field: p for p in TABLE}

# The capability names routing filters on and `/models` publishes.
CAPABILITIES: frozenset[str] = frozenset(
    name for p in TABLE if p.capability for name in (p.field, p.catalog)
)


def satisfying_names(name: str) -> frozenset[str]:
    """Catalog names any one of which means an endpoint honours `name`."""
    p = BY_FIELD.get(name)
    if p is None:
        return frozenset({name})
    return frozenset({p.field, p.catalog}) | p.also


def used_parameters(body: dict[str, object]) -> frozenset[str]:
    """The catalog names of the capabilities a request body actually uses (non-null fields)."""
    return frozenset(
        p.catalog for k, v in body.items() if v is not None and (p := BY_FIELD.get(k)) is not None
    )


def dialect_parameters(dialect: str) -> frozenset[str]:
    """Every name (field and catalog spelling) a dialect's request builder carries upstream."""
    return frozenset(
        name for p in TABLE if dialect in p.dialects for name in (p.field, p.catalog)
    )
