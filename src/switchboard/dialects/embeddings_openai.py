"""POST {base_url}/embeddings on OpenAI and every OpenAI-compatible host (Together,
DeepInfra, Nebius, Mistral, ...), and Azure OpenAI's deployment route."""

from __future__ import annotations

from typing import Any

import orjson

from switchboard.catalog.types import ProviderInfo
from switchboard.dialects.base import UpstreamError, UpstreamRequest
from switchboard.dialects.embeddings import Embedded, EmbedOptions, Inputs, bad_vectors


def parse_openai_vectors(data: bytes) -> Embedded:
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise bad_vectors("upstream returned unparseable embeddings",
                          data[:2000].decode("utf-8", "replace")) from None
    rows = obj.get("data") if isinstance(obj, dict) else None
    if not isinstance(rows, list):
        raise bad_vectors("upstream embeddings answer has no data", obj)
    ordered = sorted((r for r in rows if isinstance(r, dict)), key=lambda r: r.get("index", 0))
    vectors = [r.get("embedding") for r in ordered]
    if not all(isinstance(v, list) for v in vectors):
        raise bad_vectors("upstream embeddings are not float lists", obj)
    usage = obj.get("usage") or {}
    tokens = usage.get("prompt_tokens", usage.get("total_tokens"))
    return Embedded(vectors, int(tokens) if isinstance(tokens, int) else None)  # type: ignore[arg-type]


class OpenAIEmbeddings:
    takes_tokens = True

    def url(self, provider: ProviderInfo, upstream_model: str) -> str:
        return provider.base_url.rstrip("/") + "/embeddings"

    def auth_headers(self, provider: ProviderInfo) -> dict[str, str]:
        return {"authorization": f"Bearer {provider.api_key}"} if provider.api_key else {}

    def build_request(self, provider: ProviderInfo, upstream_model: str, inputs: Inputs,
                      options: EmbedOptions) -> UpstreamRequest:
        body: dict[str, Any] = {**options.extra, "model": upstream_model, "input": inputs,
                                "encoding_format": "float"}  # base64 is encoded here, not there
        if options.dimensions is not None:
            body["dimensions"] = options.dimensions
        if options.user:
            body["user"] = options.user
        headers = {"content-type": "application/json", **self.auth_headers(provider)}
        return UpstreamRequest(self.url(provider, upstream_model), headers, orjson.dumps(body))

    def parse_response(self, data: bytes) -> Embedded:
        return parse_openai_vectors(data)

    def parse_error(self, status: int, data: bytes, headers: dict[str, str]) -> UpstreamError:
        from switchboard.dialects.openai import OpenAIDialect

        return OpenAIDialect().parse_error(status, data, headers)


class AzureEmbeddings(OpenAIEmbeddings):
    def url(self, provider: ProviderInfo, upstream_model: str) -> str:
        version = provider.options.get("api_version") or "2024-10-21"
        base = provider.base_url.rstrip("/")
        return f"{base}/openai/deployments/{upstream_model}/embeddings?api-version={version}"

    def auth_headers(self, provider: ProviderInfo) -> dict[str, str]:
        return {"api-key": provider.api_key} if provider.api_key else {}


