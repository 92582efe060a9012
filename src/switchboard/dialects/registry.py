"""Dialect name -> implementation. Dialect modules are imported lazily: each is independent."""

from __future__ import annotations

import importlib
from typing import Any

_MODULES = {
    "openai": ("switchboard.dialects.openai", "OpenAIDialect"),
    "anthropic": ("switchboard.dialects.anthropic", "AnthropicDialect"),
    "gemini": ("switchboard.dialects.gemini", "GeminiDialect"),
    "vertex": ("switchboard.dialects.vertex", "VertexDialect"),
    "cohere": ("switchboard.dialects.cohere", "CohereDialect"),
    "azure": ("switchboard.dialects.azure", "AzureDialect"),
    "simulator": ("switchboard.dialects.simulator", "SimulatorDialect"),
}


class Dialects:
    def __init__(self) -> None:
        self._cache: dict[str, Any] = {}

    def get(self, name: str) -> Any:
        dialect = self._cache.get(name)
        if dialect is None:
            module, cls = _MODULES[name]
            dialect = getattr(importlib.import_module(module), cls)()
            self._cache[name] = dialect
        return dialect
