"""Google Gemini (AI Studio `generateContent`): OpenAI Chat Completions in, Gemini REST out.

Thought signatures. Gemini 3 rejects a replayed `functionCall` part that lost the
`thoughtSignature` it came with, and the OpenAI wire format has no place for one. We
carry them the way OpenRouter does: every signature in a response goes out in
`message.reasoning_details` as `{type: "reasoning.encrypted", data: <signature>,
id: <tool_call_id or null>, format: "google-gemini-v1", index}`, and is put back on the
matching part when that assistant message returns (Google's own OpenAI-compatible
spelling, `tool_calls[].extra_content.google.thought_signature`, is read too). A client
that drops `reasoning_details` still gets a request Gemini accepts: a model turn whose
function calls carry no signature gets Google's documented placeholder on its first
call, which switches the validator off for that turn. Signatures are not hidden in
tool-call ids: they run to kilobytes, and such an id breaks a later fallback to OpenAI
(ids of at most 40 characters) or Anthropic (a restricted id alphabet).
"""

from __future__ import annotations

import functools
import hashlib
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import orjson

from switchboard.catalog.types import ProviderInfo
from switchboard.dialects import gemini_request
from switchboard.dialects.base import UpstreamError, UpstreamRequest
from switchboard.dialects.errors import classify, parse_body
from switchboard.dialects.gemini_request import FORMAT, SUPPORTED, build_body
from switchboard.dialects.sse import SSEDecoder

_FINISH = {
    "STOP": "stop", "MAX_TOKENS": "length",
    **dict.fromkeys((
        "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY",
        "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION", "MODEL_ARMOR",
    ), "content_filter"),
}

# --- response --------------------------------------------------------------------------


def normalize_usage(meta: dict[str, Any]) -> dict[str, Any]:
    # Tool-use prompt tokens (grounding results fed back in) are billed as input.
    prompt = int(meta.get("promptTokenCount") or 0)
    prompt += int(meta.get("toolUsePromptTokenCount") or 0)
    reasoning = int(meta.get("thoughtsTokenCount") or 0)
    completion = int(meta.get("candidatesTokenCount") or 0) + reasoning
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {
            "cached_tokens": int(meta.get("cachedContentTokenCount") or 0),
            "cache_write_tokens": 0,
        },
        "completion_tokens_details": {"reasoning_tokens": reasoning},
    }


def finish_reason(native: str | None, has_tool_calls: bool) -> str:
    reason = _FINISH.get(native or "", "stop")
    return "tool_calls" if reason == "stop" and has_tool_calls else reason


def _call_id(response_id: str, candidate: int, n: int) -> str:
    # Derived from the response so a replayed stream yields the same ids, whatever its chunking.
    if not response_id:
        return f"call_{uuid.uuid4().hex[:24]}"
    return "call_" + hashlib.sha256(f"{response_id}:{candidate}:{n}".encode()).hexdigest()[:24]


class _Parts:
    """What one batch of a candidate's parts adds to the OpenAI message."""

    def __init__(self) -> None:
        self.text: list[str] = []
        self.reasoning: list[str] = []
        self.tool_calls: list[dict[str, Any]] = []
        self.details: list[dict[str, Any]] = []
        self.images: list[dict[str, Any]] = []

    def read(self, parts: list[dict[str, Any]], ids: Callable[[int], str], tool_index: int = 0,
             detail_index: int = 0) -> _Parts:
        """`ids(n)` names the candidate's n-th tool call when Gemini gave it no id."""
        for part in parts:
            sig = part.get("thoughtSignature")
            call_id: str | None = None
            if isinstance(part.get("functionCall"), dict):
                fc = part["functionCall"]
                n = tool_index + len(self.tool_calls)
                call_id = str(fc.get("id") or ids(n))
                self.tool_calls.append({
                    "index": n, "id": call_id, "type": "function",
                    "function": {"name": fc.get("name", ""),
                                 "arguments": orjson.dumps(fc.get("args") or {}).decode()},
                })
            elif part.get("thought"):
                if part.get("text"):
                    self.reasoning.append(part["text"])
            elif isinstance(part.get("text"), str):
                self.text.append(part["text"])
            elif isinstance(part.get("inlineData"), dict):  # image-output models
                blob = part["inlineData"]
                url = f"data:{blob.get('mimeType', 'image/png')};base64,{blob.get('data', '')}"
                self.images.append({"type": "image_url", "image_url": {"url": url}})
            if sig:
                self.details.append({"type": "reasoning.encrypted", "data": sig, "id": call_id,
                                     "format": FORMAT, "index": detail_index + len(self.details)})
        return self


def parse_completion(obj: dict[str, Any]) -> dict[str, Any]:
    """A GenerateContentResponse dict -> an OpenAI chat.completion dict."""
    response_id = str(obj.get("responseId") or "")
    choices: list[dict[str, Any]] = []
    for pos, cand in enumerate(obj.get("candidates") or ()):
        index = int(cand.get("index", pos))
        parts = (cand.get("content") or {}).get("parts") or []
        got = _Parts().read(parts, functools.partial(_call_id, response_id, index))
        text = "".join(got.text)
        message: dict[str, Any] = {
            "role": "assistant", "content": None if got.tool_calls and not text else text,
            "refusal": None, "reasoning": "".join(got.reasoning) or None,
        }
        if got.tool_calls:
            message["tool_calls"] = [{k: v for k, v in tc.items() if k != "index"}
                                     for tc in got.tool_calls]
        if got.details:
            message["reasoning_details"] = got.details
        if got.images:
            message["images"] = got.images
        native = cand.get("finishReason")
        choices.append({"index": index, "message": message, "logprobs": None,
                        "finish_reason": finish_reason(native, bool(got.tool_calls)),
                        "native_finish_reason": native})
    if not choices:
        blocked = (obj.get("promptFeedback") or {}).get("blockReason")
        if not blocked:
            raise UpstreamError(502, "upstream response has no candidates", "bad_gateway", obj)
        choices.append({"index": 0, "logprobs": None, "finish_reason": "content_filter",
                        "native_finish_reason": blocked,
                        "message": {"role": "assistant", "content": "", "refusal": None,
                                    "reasoning": None}})
    return {
        "id": response_id, "object": "chat.completion", "created": int(time.time()),
        "model": obj.get("modelVersion", ""), "system_fingerprint": None, "choices": choices,
        "usage": normalize_usage(obj.get("usageMetadata") or {}),
    }


# --- errors ----------------------------------------------------------------------------

_STATUS_FOR = {
    "UNAUTHENTICATED": 401, "PERMISSION_DENIED": 403, "NOT_FOUND": 404,
    "RESOURCE_EXHAUSTED": 429, "UNAVAILABLE": 503, "DEADLINE_EXCEEDED": 504,
}


def _retry_delay(details: list[Any]) -> float | None:
    for d in details:
        delay = d.get("retryDelay") if isinstance(d, dict) else None
        if isinstance(delay, str) and delay.endswith("s"):
            try:
                return float(delay[:-1])
            except ValueError:
                return None
    return None


def google_error(status: int, raw: Any, headers: dict[str, str]) -> UpstreamError:
    """Map a Google `{error: {code, message, status, details}}` body to the gateway's classes."""
    if isinstance(raw, list) and raw and isinstance(raw[0], dict):
        raw = raw[0]  # the non-SSE stream wraps its error in the JSON array
    err = raw.get("error") if isinstance(raw, dict) else None
    if not isinstance(err, dict):
        text = raw.strip()[:500] if isinstance(raw, str) and raw.strip() else ""
        return classify(status, text or f"upstream returned HTTP {status}", raw, headers)
    message = str(err.get("message") or f"upstream returned HTTP {status}")
    gstatus = str(err.get("status") or "")
    details = [d for d in err.get("details") or () if isinstance(d, dict)]
    reasons = {str(d.get("reason")) for d in details if d.get("reason")}
    low = message.lower()
    code = _STATUS_FOR.get(gstatus, status)
    if any(r.startswith("API_KEY") for r in reasons):
        code = 401  # Google answers 400 for a bad key; it is our credential, so fall back
    elif gstatus == "FAILED_PRECONDITION" and "location" in low:
        code = 403  # the region is refused; another provider may serve it
    if gstatus == "INVALID_ARGUMENT" and "token" in low and ("exceed" in low or "maximum" in low):
        error = UpstreamError(400, message, "context_length_exceeded", raw)
    else:
        error = classify(code, message, raw, headers, gstatus)
    error.upstream_status = status
    if error.retry_after is None:
        error.retry_after = _retry_delay(details)
    error.metadata = {"google_status": gstatus, **({"reasons": sorted(reasons)} if reasons else {})}
    return error


def inband_error(obj: dict[str, Any]) -> UpstreamError:
    """An error object inside a 200 answer: classed by the code it carries."""
    err = obj.get("error")
    code = err.get("code") if isinstance(err, dict) else None
    return google_error(code if isinstance(code, int) and code >= 400 else 502, obj, {})


def _load(data: bytes) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        raise UpstreamError(502, "upstream returned an unparseable response", "bad_gateway",
                            data[:2000].decode("utf-8", "replace")) from None


# --- stream ----------------------------------------------------------------------------


class _JSONObjects:
    """Cuts the top-level objects out of `[{...},\\r\\n{...}]` as it arrives.

    Scans bytes: the structural characters are ASCII and never occur inside a
    multi-byte UTF-8 sequence, so any split point is safe.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._pos = 0
        self._depth = 0
        self._in_string = False
        self._escaped = False
        self._start = -1

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        out: list[bytes] = []
        buf, i = self._buf, self._pos
        while i < len(buf):
            c = buf[i]
            if self._in_string:
                if self._escaped:
                    self._escaped = False
                elif c == 0x5C:  # backslash
                    self._escaped = True
                elif c == 0x22:  # quote
                    self._in_string = False
            elif c == 0x22 and self._depth:
                self._in_string = True
            elif c in (0x7B, 0x5B) and (self._depth or c == 0x7B):  # { always, [ inside objects
                if self._depth == 0:
                    self._start = i
                self._depth += 1
            elif c in (0x7D, 0x5D) and self._depth:
                self._depth -= 1
                if self._depth == 0:
                    out.append(bytes(buf[self._start : i + 1]))
                    del buf[: i + 1]
                    i, self._start = -1, -1
            i += 1
        if self._depth == 0:  # drop separators between objects
            buf.clear()
            i = 0
        self._pos = i
        return out


class GeminiStream:
    """Sans-I/O: SSE (`?alt=sse`) or JSON-array stream bytes -> OpenAI chunk dicts.

    An in-band `{"error": ...}` object raises UpstreamError, as a failed request would.
    """

    def __init__(self) -> None:
        self._mode: str | None = None  # "sse" or "json", from the first non-blank byte
        self._head = b""
        self._sse = SSEDecoder()
        self._json = _JSONObjects()
        self._id = ""
        self._model = ""
        self._created = int(time.time())
        self._started: list[int] = []
        self._finished: set[int] = set()
        self._tools: dict[int, int] = {}
        self._details: dict[int, int] = {}
        self._blocked: str | None = None
        self._usage: dict[str, Any] | None = None
        self._closed = False

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        if self._mode is None:
            self._head += data
            head = self._head.lstrip()
            if not head:
                return []
            self._mode = "json" if head[:1] in (b"[", b"{") else "sse"
            data, self._head = self._head, b""
        if self._mode == "sse":
            return self._frames(ev.data.encode() for ev in self._sse.feed(data))
        return self._frames(self._json.feed(data))

    def close(self) -> list[dict[str, Any]]:
        if self._closed:
            return []
        self._closed = True
        tail = self._sse.close() if self._mode == "sse" else []
        out = self._frames(ev.data.encode() for ev in tail)
        if self._blocked and not self._started:
            out.append(self._chunk(0, {"role": "assistant", "content": ""}))
            out.append(self._chunk(0, {}, "content_filter", self._blocked))
        for index in self._started:
            if index not in self._finished:
                reason = finish_reason(None, bool(self._tools.get(index)))
                out.append(self._chunk(index, {}, reason, None))
        if self._usage is not None:
            out.append({"id": self._id, "object": "chat.completion.chunk", "created": self._created,
                        "model": self._model, "choices": [], "usage": normalize_usage(self._usage)})
        return out

    def _chunk(self, index: int, delta: dict[str, Any], finish: str | None = None,
               native: str | None = None) -> dict[str, Any]:
        return {"id": self._id, "object": "chat.completion.chunk", "created": self._created,
                "model": self._model, "system_fingerprint": None,
                "choices": [{"index": index, "delta": delta, "finish_reason": finish,
                             "native_finish_reason": native, "logprobs": None}]}

    def _frames(self, frames: Iterable[bytes]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for frame in frames:
            if not frame.strip() or frame.strip() == b"[DONE]":
                continue
            obj = _load(frame)
            if isinstance(obj, dict):
                out.extend(self._response(obj))
        return out

    def _response(self, obj: dict[str, Any]) -> list[dict[str, Any]]:
        if "error" in obj:
            raise inband_error(obj)
        self._id = str(obj.get("responseId") or self._id)
        self._model = str(obj.get("modelVersion") or self._model)
        if obj.get("usageMetadata"):
            self._usage = obj["usageMetadata"]  # cumulative: the last one counts
        self._blocked = (obj.get("promptFeedback") or {}).get("blockReason") or self._blocked
        out: list[dict[str, Any]] = []
        for pos, cand in enumerate(obj.get("candidates") or ()):
            index = int(cand.get("index", pos))
            if index not in self._started:
                self._started.append(index)
                out.append(self._chunk(index, {"role": "assistant", "content": ""}))
            out.extend(self._candidate(index, cand))
        return out

    def _candidate(self, index: int, cand: dict[str, Any]) -> list[dict[str, Any]]:
        tools, details = self._tools.get(index, 0), self._details.get(index, 0)
        parts = (cand.get("content") or {}).get("parts") or []
        got = _Parts().read(parts, lambda n: _call_id(self._id, index, n), tools, details)
        self._tools[index] = tools + len(got.tool_calls)
        self._details[index] = details + len(got.details)
        delta: dict[str, Any] = {}
        if "".join(got.text):
            delta["content"] = "".join(got.text)
        if got.reasoning:
            delta["reasoning"] = "".join(got.reasoning)
        for key, value in (("tool_calls", got.tool_calls), ("reasoning_details", got.details),
                           ("images", got.images)):
            if value:
                delta[key] = value
        out = [self._chunk(index, delta)] if delta else []
        native = cand.get("finishReason")
        if native and index not in self._finished:
            self._finished.add(index)
            reason = finish_reason(native, bool(self._tools[index]))
            out.append(self._chunk(index, {}, reason, native))
        return out


# --- the dialect -----------------------------------------------------------------------


class GeminiDialect:
    name = "gemini"

    def output_cap(self, body: dict[str, Any], default: int) -> int:
        return gemini_request.output_cap(body, default)
    supported_parameters = SUPPORTED

    def url(self, provider: ProviderInfo, upstream_model: str, stream: bool) -> str:
        base = (provider.base_url or "https://generativelanguage.googleapis.com").rstrip("/")
        return f"{base}/v1beta/models/{upstream_model}:{self._method(stream)}"

    @staticmethod
    def _method(stream: bool) -> str:
        return "streamGenerateContent?alt=sse" if stream else "generateContent"

    def auth_headers(self, provider: ProviderInfo) -> dict[str, str]:
        return {"x-goog-api-key": provider.api_key} if provider.api_key else {}

    def build_request(
        self, provider: ProviderInfo, upstream_model: str, body: dict[str, Any], stream: bool
    ) -> UpstreamRequest:
        headers = {"content-type": "application/json", **self.auth_headers(provider)}
        return UpstreamRequest(self.url(provider, upstream_model, stream), headers,
                               orjson.dumps(build_body(body)))

    def parse_response(self, data: bytes) -> dict[str, Any]:
        obj = _load(data)
        if isinstance(obj, dict) and "error" in obj:
            raise inband_error(obj)
        if not isinstance(obj, dict):
            raise UpstreamError(502, "upstream response is not a JSON object", "bad_gateway", obj)
        return parse_completion(obj)

    def stream_translator(self) -> GeminiStream:
        return GeminiStream()

    def parse_error(self, status: int, data: bytes, headers: dict[str, str]) -> UpstreamError:
        return google_error(status, parse_body(data), headers)
