"""A small synchronous HTTP client for the gateway's API: JSON calls, SSE streams, typed errors.

The CLI is a short-lived, one-request-at-a-time program, so plain sync httpx is enough; the
errors it raises carry what the command needs to pick an exit code and a one-line message.
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

from switchboard.cli.connection import Connection

_USER_AGENT = "switchboard-cli"


@dataclass(eq=False)
class ApiError(Exception):
    """The gateway (or OpenRouter) answered with an error, as a status or as an SSE event."""

    status: int
    message: str
    metadata: dict[str, Any] = field(default_factory=dict)
    retry_after_s: float | None = None

    def __str__(self) -> str:
        return f"{self.status}: {self.message}"


@dataclass(eq=False)
class Unreachable(Exception):
    """No HTTP answer at all: refused, DNS failure, connect timeout."""

    url: str
    reason: str


@dataclass(eq=False)
class TransportFailure(Exception):
    """The connection broke or timed out after it was made."""

    message: str


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Retry-After is either delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def error_from_body(status: int, body: Any, retry_after: str | None = None) -> ApiError:
    """`{"error": {"code", "message", "metadata"}}` (SPEC §3, OpenRouter's shape) or anything."""
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, dict):
        code = err.get("code")
        message = str(err.get("message") or "").strip() or f"HTTP {status}"
        raw_meta = err.get("metadata")
        meta: dict[str, Any] = raw_meta if isinstance(raw_meta, dict) else {}
        if isinstance(code, int) and status == 200:
            status = code  # a mid-stream error event: its code is the real status
        return ApiError(status, message, meta, retry_after_seconds(retry_after))
    text = body if isinstance(body, str) else json.dumps(body)
    return ApiError(status, _one_line(text) or f"HTTP {status}", {},
                    retry_after_seconds(retry_after))


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _error_from_response(resp: httpx.Response) -> ApiError:
    try:
        body: Any = resp.json()
    except ValueError:
        body = resp.text
    err = error_from_body(resp.status_code, body, resp.headers.get("retry-after"))
    if not (isinstance(body, dict) and "error" in body) and resp.status_code == 404:
        # not our error shape: most likely a base URL without /api/v1
        err.message = (f"{resp.request.method} {resp.request.url} is not an API endpoint; "
                       "the base URL should end in /api/v1")
    return err


class SSEDecoder:
    """Sans-I/O server-sent-events decoder: fed lines, returns each event's data.

    Comment lines (`: OPENROUTER PROCESSING` keep-alives) and fields other than `data`
    are dropped; a blank line ends an event.
    """

    def __init__(self) -> None:
        self._data: list[str] = []

    def feed(self, line: str) -> str | None:
        if not line:
            return self.close()
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        if name == "data":
            self._data.append(value[1:] if value.startswith(" ") else value)
        return None

    def close(self) -> str | None:
        if not self._data:
            return None
        data, self._data = "\n".join(self._data), []
        return data


def decode_events(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    """JSON events up to `[DONE]`; an event carrying `error` is raised as ApiError."""
    decoder = SSEDecoder()
    for line in lines:
        data = decoder.feed(line)
        if data is None:
            continue
        if data.strip() == "[DONE]":
            return
        try:
            event = json.loads(data)
        except ValueError:
            raise ApiError(502, f"unparseable stream event: {_one_line(data, 120)}") from None
        if isinstance(event, dict) and event.get("error"):
            raise error_from_body(200, event)
        if isinstance(event, dict):
            yield event


@dataclass(slots=True)
class EventStream:
    headers: httpx.Headers
    events: Iterator[dict[str, Any]]


class ApiClient:
    def __init__(self, conn: Connection, *, read_timeout_s: float = 60.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.conn = conn
        headers = {"User-Agent": _USER_AGENT, "X-Title": "Switchboard CLI"}
        if conn.api_key:
            headers["Authorization"] = f"Bearer {conn.api_key}"
        # connect fails fast (exit 7); reads wait long because answers can be slow
        timeout = httpx.Timeout(read_timeout_s, connect=10.0)
        self._http = httpx.Client(base_url=conn.base_url + "/", headers=headers,
                                  timeout=timeout, transport=transport)

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def url(self, path: str) -> str:
        return f"{self.conn.base_url}/{path.lstrip('/')}"

    def request(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                body: Any = None) -> httpx.Response:
        with self._translated(path):
            resp = self._http.request(method, path.lstrip("/"), params=params, json=body)
        if resp.status_code >= 400:
            raise _error_from_response(resp)
        return resp

    def json(self, method: str, path: str, *, params: dict[str, Any] | None = None,
             body: Any = None) -> Any:
        resp = self.request(method, path, params=params, body=body)
        try:
            return resp.json()
        except ValueError:
            ctype = resp.headers.get("content-type", "?")
            raise ApiError(resp.status_code, f"expected JSON from {resp.request.url}, "
                           f"got {ctype}") from None

    def get(self, path: str, **params: Any) -> Any:
        return self.json("GET", path, params={k: v for k, v in params.items() if v is not None})

    @contextmanager
    def stream(self, path: str, body: Any) -> Iterator[EventStream]:
        """POST and decode the SSE answer.  Leaving the block closes the connection, which is
        how the gateway learns the client gave up and cancels the upstream call."""
        with self._translated(path), self._http.stream(
            "POST", path.lstrip("/"), json=body
        ) as resp:
            if resp.status_code >= 400:
                resp.read()
                raise _error_from_response(resp)
            yield EventStream(resp.headers, decode_events(resp.iter_lines()))

    @contextmanager
    def _translated(self, path: str) -> Iterator[None]:
        try:
            yield
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise Unreachable(self.url(path), _reason(exc)) from None
        except httpx.TimeoutException:
            raise TransportFailure(f"timed out waiting for {self.url(path)}") from None
        except httpx.TransportError as exc:
            raise TransportFailure(f"connection to {self.url(path)} broke: "
                                   f"{_reason(exc)}") from None


def _reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    # httpx wraps OSError text like "[Errno 111] Connection refused"
    return text.split("] ", 1)[-1] if text.startswith("[Errno") else text
