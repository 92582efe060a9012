"""Cohere's v2 /embed: float vectors and the billed input tokens."""

from __future__ import annotations

from typing import Any

import orjson

from switchboard.catalog.types import ProviderInfo
from switchboard.dialects.base import UpstreamError, UpstreamRequest
from switchboard.dialects.embeddings import Embedded, EmbedOptions, Inputs, bad_vectors


class CohereEmbeddings:
    takes_tokens = False

    def build_request(self, provider: ProviderInfo, upstream_model: str, inputs: Inputs,
                      options: EmbedOptions) -> UpstreamRequest:
        base = (provider.base_url or "https://api.cohere.com").rstrip("/")
        # Cohere v3+ models require an input type; documents are the usual thing embedded
        body: dict[str, Any] = {"model": upstream_model, "texts": inputs,
                                "input_type": options.input_type or "search_document",
                                "embedding_types": ["float"]}
        if options.dimensions is not None:
            body["output_dimension"] = options.dimensions
        headers = {"content-type": "application/json"}
        if provider.api_key:
            headers["authorization"] = f"Bearer {provider.api_key}"
        return UpstreamRequest(f"{base}/v2/embed", headers, orjson.dumps(body))

    def parse_response(self, data: bytes) -> Embedded:
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise bad_vectors("Cohere returned unparseable embeddings",
                              data[:2000].decode("utf-8", "replace")) from None
        embeddings = obj.get("embeddings") if isinstance(obj, dict) else None
        vectors = embeddings.get("float") if isinstance(embeddings, dict) else embeddings
        if not isinstance(vectors, list) or not all(isinstance(v, list) for v in vectors):
            raise bad_vectors("Cohere embeddings answer has no float vectors", obj)
        billed = ((obj.get("meta") or {}).get("billed_units") or {}).get("input_tokens")
        return Embedded(vectors, int(billed) if isinstance(billed, int | float) else None)

    def parse_error(self, status: int, data: bytes, headers: dict[str, str]) -> UpstreamError:
        from switchboard.dialects.cohere import CohereDialect

        return CohereDialect().parse_error(status, data, headers)
