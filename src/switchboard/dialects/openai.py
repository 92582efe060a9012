"""OpenAI Chat Completions: the native dialect of every OpenAI-compatible provider."""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson

from switchboard.api.params import dialect_parameters
from switchboard.catalog.types import ProviderInfo
from switchboard.dialects.base import UpstreamError, UpstreamRequest
from switchboard.dialects.errors import classify, parse_body
from switchboard.dialects.sse import MalformedRun, SSEDecoder

log = logging.getLogger("switchboard.dialects.openai")

SUPPORTED = dialect_parameters("openai")  # the one parameter table


def normalize_usage(usage: dict[str, Any] | None) -> dict[str, Any] | None:
    """Fill the detail objects billing reads, keeping whatever else the upstream sent."""
    if not usage:
        return usage
    prompt = int(usage.get("prompt_tokens") or 0)
    completion = int(usage.get("completion_tokens") or 0)
    out = dict(usage)
    out["prompt_tokens"] = prompt
    out["completion_tokens"] = completion
    out["total_tokens"] = int(usage.get("total_tokens") or prompt + completion)
    pdet = dict(usage.get("prompt_tokens_details") or {})
    pdet["cached_tokens"] = int(pdet.get("cached_tokens") or 0)
    pdet.setdefault("cache_write_tokens", int(pdet.get("cache_write_tokens") or 0))
    out["prompt_tokens_details"] = pdet
    cdet = dict(usage.get("completion_tokens_details") or {})
    cdet["reasoning_tokens"] = int(cdet.get("reasoning_tokens") or 0)
    out["completion_tokens_details"] = cdet
    return out


def _flatten_content(part: dict[str, Any]) -> None:
    """Some OpenAI-compatible providers (Mistral's magistral) send content as a list of
    text and thinking items; clients expect a string, and thinking as `reasoning`."""
    content = part.get("content")
    if not isinstance(content, list):
        return
    texts: list[str] = []
    thoughts: list[str] = []
    for item in content:
        if not isinstance(item, dict):
            continue
        if item.get("type") == "text":
            texts.append(str(item.get("text") or ""))
        elif item.get("type") == "thinking":
            inner = item.get("thinking")
            if isinstance(inner, list):
                thoughts += [str(t.get("text") or "") for t in inner if isinstance(t, dict)]
            elif isinstance(inner, str):
                thoughts.append(inner)
    part["content"] = "".join(texts)
    if thoughts:
        part["reasoning"] = (part.get("reasoning") or "") + "".join(thoughts)


def _normalize_choices(obj: dict[str, Any]) -> None:
    for choice in obj.get("choices") or ():
        if "native_finish_reason" not in choice:
            choice["native_finish_reason"] = choice.get("finish_reason")
        for key in ("delta", "message"):
            part = choice.get(key)
            if isinstance(part, dict) and isinstance(part.get("content"), list):
                _flatten_content(part)


def _error_status(err: dict[str, Any]) -> int:
    """An in-band error's HTTP status: Groq puts it in status_code and a name in code."""
    for key in ("status_code", "status", "code"):
        value = err.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and 400 <= value < 600:
            return value
    return 502


class OpenAIStream:
    """A single malformed event in an otherwise healthy stream is skipped (and logged); two
    in a row end the stream. Chunks read before a failure are returned first, the failure
    is raised on the next call, so nothing already received is lost."""

    def __init__(self) -> None:
        self._sse = SSEDecoder()
        self._malformed = MalformedRun()
        self.failure: UpstreamError | None = None

    def _events(self, events: list[Any]) -> list[dict[str, Any]]:
        if self.failure is not None:
            raise self.failure
        out: list[dict[str, Any]] = []
        for ev in events:
            data = ev.data
            if not data or data == "[DONE]":
                continue
            try:
                obj = orjson.loads(data)
            except orjson.JSONDecodeError:
                if self._malformed.skip(data):
                    continue
                return self._fail(out, UpstreamError(
                    502, "upstream sent unparseable stream chunks", "bad_gateway", data[:2000]))
            self._malformed.ok()
            if not isinstance(obj, dict):
                continue
            if obj.get("error"):  # in-band failure, with or without a choices stub
                err = obj["error"] if isinstance(obj["error"], dict) else {"message": obj["error"]}
                return self._fail(out, classify(
                    _error_status(err), str(err.get("message", "upstream error")), obj, {},
                    str(err.get("type") or "")))
            _normalize_choices(obj)
            if obj.get("usage"):
                obj["usage"] = normalize_usage(obj["usage"])
            out.append(obj)
        return out

    def _fail(self, out: list[dict[str, Any]], error: UpstreamError) -> list[dict[str, Any]]:
        if not out:
            raise error
        self.failure = error
        return out

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        return self._events(self._sse.feed(data))

    def close(self) -> list[dict[str, Any]]:
        return self._events(self._sse.close())


class OpenAIDialect:
    name = "openai"
    supported_parameters = SUPPORTED
    path = "/chat/completions"

    def url(self, provider: ProviderInfo, upstream_model: str) -> str:
        return provider.base_url.rstrip("/") + self.path

    def auth_headers(self, provider: ProviderInfo) -> dict[str, str]:
        return {"authorization": f"Bearer {provider.api_key}"} if provider.api_key else {}

    def build_request(
        self, provider: ProviderInfo, upstream_model: str, body: dict[str, Any], stream: bool
    ) -> UpstreamRequest:
        out = dict(body)
        out["model"] = upstream_model
        if stream:
            out["stream"] = True
            opts = dict(out.get("stream_options") or {})
            opts["include_usage"] = True  # billing needs the final usage chunk
            out["stream_options"] = opts
        else:
            out.pop("stream", None)
            out.pop("stream_options", None)
        headers = {"content-type": "application/json", **self.auth_headers(provider)}
        return UpstreamRequest(self.url(provider, upstream_model), headers, orjson.dumps(out))

    def parse_response(self, data: bytes) -> dict[str, Any]:
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise UpstreamError(502, "upstream returned an unparseable response", "bad_gateway",
                                data[:2000].decode("utf-8", "replace")) from None
        if not isinstance(obj, dict) or not isinstance(obj.get("choices"), list):
            if isinstance(obj, dict) and "error" in obj:
                err = obj["error"] if isinstance(obj["error"], dict) else {"message": obj["error"]}
                raise classify(_error_status(err), str(err.get("message")), obj, {})
            raise UpstreamError(502, "upstream response has no choices", "bad_gateway", obj)
        _normalize_choices(obj)
        obj["usage"] = normalize_usage(obj.get("usage"))
        obj.setdefault("created", int(time.time()))
        return obj

    def stream_translator(self) -> OpenAIStream:
        return OpenAIStream()

    def parse_error(self, status: int, data: bytes, headers: dict[str, str]) -> UpstreamError:
        raw = parse_body(data)
        message = f"upstream returned HTTP {status}"
        kind = None
        if isinstance(raw, dict):
            err = raw.get("error", raw)
            if isinstance(err, dict):
                message = str(err.get("message") or message)
                kind = str(err.get("type") or err.get("code") or "")
            elif isinstance(err, str):
                message = err
        elif isinstance(raw, str) and raw.strip():
            message = raw.strip()[:500]
        return classify(status, message, raw, headers, kind)
