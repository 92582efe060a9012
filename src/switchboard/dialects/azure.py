"""Azure OpenAI deployments: the OpenAI wire format behind Azure's URL scheme and auth.

The body and the answers are OpenAI Chat Completions; what differs is the URL
(`/openai/deployments/{deployment}/chat/completions?api-version=…`), the
`api-key` header, strictness about unknown request fields, and content-filter
errors. Self-contained on purpose: it shares no code with the OpenAI dialect so
that either can change without the other.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import orjson

from switchboard.api.params import dialect_parameters
from switchboard.catalog.types import ProviderInfo
from switchboard.dialects.base import UpstreamError, UpstreamRequest
from switchboard.dialects.errors import classify, parse_body, retry_after_seconds
from switchboard.dialects.sse import MalformedRun, SSEDecoder, SSEEvent

Chunk = dict[str, Any]

DEFAULT_API_VERSION = "2024-10-21"  # the GA version that supports stream_options

# Error codes Azure uses when its content filter refuses a prompt or an answer.
_CONTENT_FILTER_CODES = frozenset({"content_filter", "responsibleaipolicyviolation"})


def _bad_upstream(message: str, raw: Any = None) -> UpstreamError:
    return UpstreamError(502, message, "bad_gateway", raw)


def _usage(raw: Any) -> dict[str, Any] | None:
    """OpenAI usage with the detail counts billing reads always present."""
    if not isinstance(raw, dict):
        return None
    prompt = int(raw.get("prompt_tokens") or 0)
    completion = int(raw.get("completion_tokens") or 0)
    prompt_details = dict(raw.get("prompt_tokens_details") or {})
    prompt_details["cached_tokens"] = int(prompt_details.get("cached_tokens") or 0)
    prompt_details["cache_write_tokens"] = int(prompt_details.get("cache_write_tokens") or 0)
    completion_details = dict(raw.get("completion_tokens_details") or {})
    completion_details["reasoning_tokens"] = int(completion_details.get("reasoning_tokens") or 0)
    return {
        **raw,
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": int(raw.get("total_tokens") or prompt + completion),
        "prompt_tokens_details": prompt_details,
        "completion_tokens_details": completion_details,
    }


def _with_native_finish(choices: list[dict[str, Any]]) -> None:
    for choice in choices:
        choice.setdefault("native_finish_reason", choice.get("finish_reason"))


def _header(headers: dict[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def _retry_after(headers: dict[str, str]) -> float | None:
    seconds = retry_after_seconds(headers)
    if seconds is not None:
        return seconds
    millis = _header(headers, "retry-after-ms")  # Azure's finer-grained hint
    try:
        return max(0.0, float(millis) / 1000) if millis else None
    except ValueError:
        return None


def _error(status: int, raw: Any, headers: dict[str, str]) -> UpstreamError:
    """Azure error bodies: `{error: {code, message, innererror}}`, or API Management's
    `{statusCode, message}` for auth and quota failures in front of the model."""
    error = raw.get("error") if isinstance(raw, dict) else None
    codes: list[str] = []
    if isinstance(error, dict):
        message = str(error.get("message") or "")
        codes.append(str(error.get("code") or ""))
        inner = error.get("innererror")
        if isinstance(inner, dict):
            codes.append(str(inner.get("code") or ""))
    elif isinstance(raw, dict):
        message = str(raw.get("message") or error or "")
    else:
        message = str(raw).strip()
    message = message or f"Azure OpenAI answered HTTP {status}"
    retry = _retry_after(headers)
    # Azure's wording ("content management policy") escapes the generic word
    # match, so the code decides: a refusal must reach the client as a refusal.
    if any(code.lower() in _CONTENT_FILTER_CODES for code in codes):
        return UpstreamError(403, message, "content_policy", raw, retry, status)
    err = classify(status, message, raw, headers, kind=codes[0] if codes else None)
    if err.retry_after is None:
        err.retry_after = retry
    return err


def _base_url(provider: ProviderInfo) -> str:
    base = provider.base_url
    if "{resource}" in base:
        resource = provider.options.get("resource")
        if not resource:
            raise UpstreamError(
                500,
                f"provider {provider.name}: base_url names {{resource}}"
                " but options.resource is unset",
                "provider_misconfigured",
            )
        base = base.replace("{resource}", str(resource))
    base = base.rstrip("/")
    # tolerate a base_url copied with Azure's /openai suffix
    return base.removesuffix("/openai")


class AzureDialect:
    name = "azure"
    supported_parameters = dialect_parameters("azure")  # the one parameter table

    def build_request(
        self, provider: ProviderInfo, upstream_model: str, body: dict[str, Any], stream: bool
    ) -> UpstreamRequest:
        version = provider.options.get("api_version") or DEFAULT_API_VERSION
        url = (
            f"{_base_url(provider)}/openai/deployments/{quote(upstream_model, safe='')}"
            f"/chat/completions?api-version={quote(str(version), safe='')}"
        )
        # The deployment in the URL picks the model; Azure ignores or rejects `model`.
        payload = {k: v for k, v in body.items() if k != "model"}
        # Azure rejects unknown fields, so OpenRouter's `reasoning` object becomes
        # the OpenAI `reasoning_effort` it can express, or goes.
        reasoning = payload.pop("reasoning", None)
        if (
            isinstance(reasoning, dict)
            and reasoning.get("effort")
            and "reasoning_effort" not in payload
        ):
            payload["reasoning_effort"] = reasoning["effort"]
        if stream:
            payload["stream"] = True
            # usage arrives only when asked for; billing needs it on every stream
            payload["stream_options"] = {
                **(payload.get("stream_options") or {}),
                "include_usage": True,
            }
        else:
            payload.pop("stream", None)
            payload.pop("stream_options", None)  # Azure refuses it without stream
        headers = {
            "Content-Type": "application/json",
            "Accept": "text/event-stream" if stream else "application/json",
        }
        if provider.api_key:
            headers["api-key"] = provider.api_key
        return UpstreamRequest(url=url, headers=headers, body=orjson.dumps(payload))

    def parse_response(self, data: bytes) -> dict[str, Any]:
        try:
            doc = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise _bad_upstream("Azure OpenAI answered 200 with a body that is not JSON") from exc
        if not isinstance(doc, dict) or not isinstance(doc.get("choices"), list):
            raise _bad_upstream("Azure OpenAI answered 200 without choices", doc)
        _with_native_finish(doc["choices"])
        doc["usage"] = _usage(doc.get("usage"))
        doc.setdefault("system_fingerprint", None)
        return doc

    def stream_translator(self) -> AzureStreamTranslator:
        return AzureStreamTranslator()

    def parse_error(self, status: int, data: bytes, headers: dict[str, str]) -> UpstreamError:
        return _error(status, parse_body(data), headers)


class AzureStreamTranslator:
    """Sans-I/O: OpenAI-format SSE from Azure -> chunk dicts, usage split into its own chunk."""

    def __init__(self) -> None:
        self._sse = SSEDecoder()
        self._done = False  # saw [DONE]
        self._finished = False  # saw a finish_reason
        self._malformed = MalformedRun()

    def feed(self, data: bytes) -> list[Chunk]:
        return self._translate(self._sse.feed(data))

    def close(self) -> list[Chunk]:
        out = self._translate(self._sse.close())
        if not (self._done or self._finished):
            raise _bad_upstream("Azure OpenAI stream ended before a finish_reason")
        return out

    def _translate(self, events: list[SSEEvent]) -> list[Chunk]:
        out: list[Chunk] = []
        for event in events:
            data = event.data.strip()
            if self._done or not data:
                continue
            if data == "[DONE]":
                self._done = True
                continue
            try:
                chunk = orjson.loads(data)
            except orjson.JSONDecodeError as exc:
                if self._malformed.skip(data):
                    continue
                raise _bad_upstream(
                    "Azure OpenAI sent a stream event that is not JSON", data
                ) from exc
            self._malformed.ok()
            if not isinstance(chunk, dict):
                raise _bad_upstream("Azure OpenAI sent a stream event that is not an object", data)
            if chunk.get("error") and not chunk.get("choices"):
                raise _error(500, chunk, {})  # failed mid-stream; no HTTP status of its own
            out.extend(self._split(chunk))
        return out

    def _split(self, chunk: Chunk) -> list[Chunk]:
        choices = chunk.get("choices") or []
        usage = chunk.pop("usage", None)
        out: list[Chunk] = []
        # Choice-less chunks without usage (Azure's prompt_filter_results) carry
        # nothing a client reads, and a usage chunk must stay the only choices-[] chunk.
        if choices:
            _with_native_finish(choices)
            if any(c.get("finish_reason") for c in choices):
                self._finished = True
            out.append(chunk)
        if usage:
            out.append({**chunk, "choices": [], "usage": _usage(usage)})
        return out
