"""The query string of GET /models, /models/count and /models/user, parsed once and applied.

OpenRouter's defaults: only models that output text unless `output_modalities` says
otherwise (`all` lists everything, embeddings included); the whole list unless `limit`
or `offset` is given, when the official SDKs page with them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from switchboard.catalog.types import Model
from switchboard.errors import bad_request
from switchboard.routing.filters import supports

MAX_LIMIT = 1000
DEFAULT_LIMIT = 500


def _names(raw: str | None) -> frozenset[str]:
    return frozenset(p.strip().lower() for p in (raw or "").split(",") if p.strip())


def _int(query: dict[str, str], name: str, low: int, high: int | None) -> int | None:
    raw = query.get(name)
    if raw is None or raw == "" or raw == "null":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"{name} must be an integer, got {raw!r}", name) from None
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise bad_request(f"{name} must be {bound}", name)
    return value


@dataclass(frozen=True, slots=True)
class ModelQuery:
    output_modalities: frozenset[str] | None = frozenset({"text"})  # None: all
    input_modalities: frozenset[str] = frozenset()
    supported_parameters: frozenset[str] = frozenset()
    category: str | None = None
    search: str = ""
    offset: int | None = None
    limit: int | None = None

    @classmethod
    def parse(cls, query: dict[str, str], default_output: str = "text") -> ModelQuery:
        out = _names(query.get("output_modalities") or default_output)
        return cls(
            output_modalities=None if "all" in out else out,
            input_modalities=_names(query.get("input_modalities")),
            supported_parameters=_names(query.get("supported_parameters")),
            category=(query.get("category") or "").strip().lower() or None,
            search=(query.get("q") or query.get("search") or "").strip().lower(),
            offset=_int(query, "offset", 0, None),
            limit=_int(query, "limit", 1, MAX_LIMIT),
        )

    def matches(self, m: Model) -> bool:
        if self.output_modalities is not None and not self.output_modalities.intersection(
                m.output_modalities):
            return False
        if self.input_modalities and not self.input_modalities.issubset(m.input_modalities):
            return False
        if self.category is not None and self.category not in m.categories:
            return False
        if self.search and self.search not in m.id.lower() and self.search not in m.name.lower():
            return False
        # a parameter counts when some endpoint of the model translates it
        return all(any(supports(e, p) for e in m.endpoints) for p in self.supported_parameters)

    def lists_routers(self) -> bool:
        """openrouter/auto and /free join a text listing that filters only by name."""
        text = self.output_modalities is None or "text" in self.output_modalities
        return (text and not self.input_modalities and not self.supported_parameters
                and self.category is None)

    def select(self, models: Iterable[Model]) -> tuple[list[Model], int]:
        """(the requested page, the number of matches before paging)."""
        found = [m for m in models if self.matches(m)]
        if self.offset is None and self.limit is None:
            return found, len(found)
        start = self.offset or 0
        return found[start:start + (self.limit or DEFAULT_LIMIT)], len(found)
