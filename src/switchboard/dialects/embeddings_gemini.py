"""Gemini's batchEmbedContents: one request per call, vectors in input order, no usage."""

from __future__ import annotations

from typing import Any

import orjson

from switchboard.catalog.types import ProviderInfo
from switchboard.dialects.base import UpstreamError, UpstreamRequest
from switchboard.dialects.embeddings import Embedded, EmbedOptions, Inputs, bad_vectors
from switchboard.dialects.errors import parse_body

# OpenAI-style input types -> Gemini task types
_TASKS = {"search_query": "RETRIEVAL_QUERY", "search_document": "RETRIEVAL_DOCUMENT",
          "classification": "CLASSIFICATION", "clustering": "CLUSTERING"}


class GeminiEmbeddings:
    takes_tokens = False

    def build_request(self, provider: ProviderInfo, upstream_model: str, inputs: Inputs,
                      options: EmbedOptions) -> UpstreamRequest:
        base = (provider.base_url or "https://generativelanguage.googleapis.com").rstrip("/")
        requests = []
        for text in inputs:
            one: dict[str, Any] = {"model": f"models/{upstream_model}",
                                   "content": {"parts": [{"text": text}]}}
            if options.dimensions is not None:
                one["outputDimensionality"] = options.dimensions
            if options.input_type in _TASKS:
                one["taskType"] = _TASKS[options.input_type]
            requests.append(one)
        headers = {"content-type": "application/json"}
        if provider.api_key:
            headers["x-goog-api-key"] = provider.api_key
        return UpstreamRequest(f"{base}/v1beta/models/{upstream_model}:batchEmbedContents",
                               headers, orjson.dumps({"requests": requests}))

    def parse_response(self, data: bytes) -> Embedded:
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise bad_vectors("Gemini returned unparseable embeddings",
                              data[:2000].decode("utf-8", "replace")) from None
        rows = obj.get("embeddings") if isinstance(obj, dict) else None
        if not isinstance(rows, list):
            raise bad_vectors("Gemini embeddings answer has no embeddings", obj)
        vectors = [r.get("values") if isinstance(r, dict) else None for r in rows]
        if not all(isinstance(v, list) for v in vectors):
            raise bad_vectors("Gemini embeddings are not float lists", obj)
        return Embedded(vectors, None)  # type: ignore[arg-type]

    def parse_error(self, status: int, data: bytes, headers: dict[str, str]) -> UpstreamError:
        from switchboard.dialects.gemini import google_error

        return google_error(status, parse_body(data), headers)
