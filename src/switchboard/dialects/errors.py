"""Shared mapping from an upstream's HTTP failure to the gateway's error classes."""

from __future__ import annotations

from typing import Any

import orjson

from switchboard.dialects.base import UpstreamError

_POLICY_WORDS = ("content policy", "content_policy", "safety", "moderation", "flagged")
_CONTEXT_WORDS = (
    "context length", "context_length", "context window", "maximum context",
    "too many tokens", "prompt is too long", "input is too long", "exceeds the maximum",
)


def parse_body(data: bytes) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return data.decode("utf-8", "replace")


def retry_after_seconds(headers: dict[str, str]) -> float | None:
    for name in ("retry-after", "Retry-After"):
        value = headers.get(name)
        if value:
            try:
                return max(0.0, float(value))
            except ValueError:
                return None
    return None


def classify(
    status: int, message: str, raw: Any, headers: dict[str, str], kind: str | None = None
) -> UpstreamError:
    """Map an upstream status and message to (client status, error_type).

    `kind` is a provider-specific hint such as "overloaded_error" that refines the class.
    """
    low = message.lower()
    kind_low = (kind or "").lower()
    retry = retry_after_seconds(headers)
    if status in (400, 403) and any(w in low for w in _POLICY_WORDS):
        return UpstreamError(403, message, "content_policy", raw, retry, status)
    if status in (400, 413, 422) and any(w in low for w in _CONTEXT_WORDS):
        return UpstreamError(400, message, "context_length_exceeded", raw, retry, status)
    if status == 529 or "overloaded" in kind_low:
        return UpstreamError(503, message, "provider_overloaded", raw, retry, status)
    table = {
        400: (400, "bad_request"),
        401: (401, "provider_auth_error"),
        402: (402, "provider_payment_required"),
        403: (403, "forbidden"),
        404: (404, "not_found"),
        408: (408, "timeout"),
        413: (413, "payload_too_large"),
        422: (422, "bad_request"),
        429: (429, "rate_limit_exceeded"),
        504: (408, "timeout"),
    }
    if status in table:
        code, etype = table[status]
        return UpstreamError(code, message, etype, raw, retry, status)
    if status >= 500:
        return UpstreamError(502, message, "provider_unavailable", raw, retry, status)
    return UpstreamError(502, message, "bad_gateway", raw, retry, status)
