"""The one small interface every upstream dialect implements.

Translation is free of I/O: a dialect turns an OpenAI Chat Completions request
into the provider's HTTP request, the provider's answer back into an OpenAI
`chat.completion` dict, and a byte stream into OpenAI `chat.completion.chunk`
dicts. The executor does the networking.

Normalised usage (what billing reads), in every completion and final chunk:
    {"prompt_tokens", "completion_tokens", "total_tokens",
     "prompt_tokens_details": {"cached_tokens", "cache_write_tokens"},
     "completion_tokens_details": {"reasoning_tokens"}}
`prompt_tokens` includes cached reads and writes, as OpenAI counts it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from switchboard.catalog.types import ProviderInfo


@dataclass(slots=True)
class UpstreamRequest:
    url: str
    headers: dict[str, str]
    body: bytes
    method: str = "POST"


@dataclass(slots=True)
class UpstreamError(Exception):
    """A provider's failure, already mapped to the gateway's error model (SPEC §3)."""

    status: int  # the HTTP status the client should see for this failure class
    message: str
    error_type: str  # rate_limit_exceeded | context_length_exceeded | provider_overloaded | ...
    raw: Any = None  # the upstream's body (parsed JSON when possible, else text)
    retry_after: float | None = None
    upstream_status: int | None = None  # what the provider actually answered
    metadata: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status} {self.error_type}: {self.message}"


def requested_max_tokens(body: dict[str, Any]) -> int | None:
    """The client's output cap (`max_completion_tokens` beats `max_tokens`), if it sent one."""
    for k in ("max_completion_tokens", "max_tokens"):
        v = body.get(k)
        if isinstance(v, int) and not isinstance(v, bool) and v > 0:
            return v
    return None


def openai_output_cap(body: dict[str, Any], default: int) -> int:
    """Output tokens an OpenAI-style upstream may bill: the cap sent, else the endpoint's."""
    return requested_max_tokens(body) or default


class StreamTranslator(Protocol):
    """Sans-I/O: fed raw upstream bytes at any boundaries, yields OpenAI chunk dicts."""

    def feed(self, data: bytes) -> list[dict[str, Any]]: ...

    def close(self) -> list[dict[str, Any]]: ...


class Dialect(Protocol):
    name: str
    # OpenAI request fields this dialect really translates (catalog supported_parameters agree)
    supported_parameters: frozenset[str]

    def build_request(
        self, provider: ProviderInfo, upstream_model: str, body: dict[str, Any], stream: bool
    ) -> UpstreamRequest:
        """`body` is the OpenAI request with OpenRouter-only fields removed; do not mutate it."""
        ...

    def parse_response(self, data: bytes) -> dict[str, Any]:
        """Upstream 200 body -> OpenAI chat.completion dict; UpstreamError(502) if unparseable."""
        ...

    def stream_translator(self) -> StreamTranslator: ...

    def parse_error(self, status: int, data: bytes, headers: dict[str, str]) -> UpstreamError: ...
