"""The request in progress: its id and what the hooks learn about it along the way.

A context variable carries it, so log lines and upstream calls deep in the executor can
name the request without every function passing it along.
"""

from __future__ import annotations

import secrets
from contextvars import ContextVar
from typing import Any

MAX_REQUEST_ID = 200


class RequestContext:
    __slots__ = ("attempt_span", "counted", "endpoint", "logged", "model", "provider",
                 "request_id", "span", "started")

    def __init__(self, request_id: str, endpoint: str, started: float) -> None:
        self.request_id = request_id
        self.endpoint = endpoint  # the route pattern, never the raw path (bounded labels)
        self.started = started
        self.model = ""
        self.provider = ""
        self.logged = False  # the settlement hook already wrote this request's line
        self.counted = False  # in the in-flight gauge (probes and scrapes are not)
        self.span: Any = None  # the request's OpenTelemetry span, when tracing is on
        self.attempt_span: Any = None  # the upstream attempt in flight, when tracing is on


current: ContextVar[RequestContext | None] = ContextVar("switchboard_request", default=None)


def request_id_from(header: str | None) -> str:
    """The client's X-Request-Id when it is printable ASCII of at most 200 characters;
    otherwise (absent, too long, control or non-ASCII characters) a fresh one. Never an error."""
    if header and len(header) <= MAX_REQUEST_ID and header.isascii() and header.isprintable():
        stripped = header.strip()
        if stripped:
            return stripped
    return new_request_id()


def new_request_id() -> str:
    return "req-" + secrets.token_hex(12)


def current_request_id() -> str | None:
    ctx = current.get()
    return ctx.request_id if ctx is not None else None
