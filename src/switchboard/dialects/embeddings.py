"""The `embed` interface: one small translator per upstream embeddings API, free of I/O.

A translator turns the caller's inputs into the provider's HTTP request and its answer
into vectors in input order plus the prompt tokens it reports (None when it reports
none; the caller then counts them). Errors reuse the chat dialect's parser, since each
provider answers failures the same way on every route.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Protocol

from switchboard.catalog.types import ProviderInfo
from switchboard.dialects.base import UpstreamError, UpstreamRequest

Inputs = list[str] | list[list[int]]  # texts, or token arrays (OpenAI-compatible hosts only)


@dataclass(frozen=True, slots=True)
class EmbedOptions:
    dimensions: int | None = None
    user: str | None = None
    input_type: str | None = None  # Cohere's search_document / search_query / ...
    extra: dict[str, Any] = field(default_factory=dict)  # passed through to OpenAI-compatibles


@dataclass(frozen=True, slots=True)
class Embedded:
    vectors: list[list[float]]
    prompt_tokens: int | None


class EmbeddingDialect(Protocol):
    takes_tokens: bool  # whether token arrays may be sent as input

    def build_request(self, provider: ProviderInfo, upstream_model: str, inputs: Inputs,
                      options: EmbedOptions) -> UpstreamRequest: ...

    def parse_response(self, data: bytes) -> Embedded: ...

    def parse_error(self, status: int, data: bytes, headers: dict[str, str]) -> UpstreamError: ...


_MODULES = {
    "openai": ("switchboard.dialects.embeddings_openai", "OpenAIEmbeddings"),
    "azure": ("switchboard.dialects.embeddings_openai", "AzureEmbeddings"),
    "gemini": ("switchboard.dialects.embeddings_gemini", "GeminiEmbeddings"),
    "cohere": ("switchboard.dialects.embeddings_cohere", "CohereEmbeddings"),
    "simulator": ("switchboard.dialects.embeddings_simulator", "SimulatorEmbeddings"),
}


def supports_embeddings(api: str) -> bool:
    return api in _MODULES


def embedding_dialect(api: str) -> EmbeddingDialect:
    module, name = _MODULES[api]
    return getattr(importlib.import_module(module), name)()  # type: ignore[no-any-return]


def bad_vectors(message: str, raw: Any) -> UpstreamError:
    return UpstreamError(502, message, "bad_gateway", raw)
