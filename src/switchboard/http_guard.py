"""uvicorn's httptools protocol with the limits it lacks: a header-read deadline, a cap on
the header block, a cap on connections still sending headers, and JSON error bodies.

Without these, a client that opens connections and sends its headers a byte at a
time (slowloris) holds a file descriptor each for ever, and enough of them make
every normal request fail; a 4 MiB header is read and handed to the app whole.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

_REASONS = {400: "Bad Request", 408: "Request Timeout",
            431: "Request Header Fields Too Large", 503: "Service Unavailable"}


@dataclass(frozen=True, slots=True)
class Limits:
    header_timeout_s: float = 10.0  # from connect (or the next request's first byte) to "\r\n\r\n"
    max_header_bytes: int = 64 * 1024  # request line + all header names and values
    # connections still sending their headers; past it the longest-waiting one is dropped,
    # so slow clients cannot use up the process's file descriptors
    max_pending: int = 512


class _Pending:
    """Connections that have not finished their headers, oldest first (one per server)."""

    def __init__(self) -> None:
        self.conns: dict[GuardedProtocol, None] = {}

    def add(self, conn: GuardedProtocol, cap: int) -> None:
        self.conns[conn] = None
        while len(self.conns) > cap:
            oldest = next(iter(self.conns))
            self.conns.pop(oldest)
            oldest.abort_slow()

    def discard(self, conn: GuardedProtocol) -> None:
        self.conns.pop(conn, None)


def error_bytes(status: int, message: str, error_type: str) -> bytes:
    """A complete HTTP/1.1 error response in SPEC §3's JSON shape, closing the connection."""
    body = orjson.dumps({"error": {"code": status, "message": message,
                                   "metadata": {"error_type": error_type}}})
    head = (f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
            "content-type: application/json\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n")
    return head.encode() + body


class _TooLarge(Exception):
    pass


class GuardedProtocol(HttpToolsProtocol):
    limits = Limits()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        state = self.server_state
        pending = getattr(state, "switchboard_pending", None)
        if pending is None:
            pending = _Pending()
            state.switchboard_pending = pending  # type: ignore[attr-defined]
        self._pending: _Pending = pending
        self._header_bytes = 0
        self._header_timer: asyncio.TimerHandle | None = None
        self._reject: tuple[int, str, str] | None = None

    # -- the header phase ---------------------------------------------------------------

    def _start_header_phase(self) -> None:
        self._header_bytes = 0
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(
                self.limits.header_timeout_s, self._header_timeout)
            self._pending.add(self, self.limits.max_pending)

    def _end_header_phase(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
        self._pending.discard(self)

    def _header_timeout(self) -> None:
        self._header_timer = None
        self._pending.discard(self)
        self._close_with(408, "request headers not received in time", "timeout")

    def abort_slow(self) -> None:
        """Dropped to make room: the longest-waiting connection still sending headers."""
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
        self._close_with(503, "too many connections still sending headers",
                         "provider_unavailable")

    def _close_with(self, status: int, message: str, error_type: str) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if self.cycle is None or self.cycle.response_complete:
            transport.write(error_bytes(status, message, error_type))
        transport.close()

    def _count(self, n: int) -> None:
        self._header_bytes += n
        if self._header_bytes > self.limits.max_header_bytes:
            self._reject = (431, f"request headers exceed {self.limits.max_header_bytes} bytes",
                            "request_header_fields_too_large")
            raise _TooLarge  # stops the parser; answered in send_400_response

    # -- uvicorn hooks ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_header_phase()

    def connection_lost(self, exc: Exception | None) -> None:
        self._end_header_phase()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._start_header_phase()

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._end_header_phase()
        super().on_headers_complete()

    def send_400_response(self, msg: str) -> None:
        status, message, error_type = self._reject or (
            400, "malformed HTTP request", "bad_request")
        self._end_header_phase()
        self.transport.write(error_bytes(status, message, error_type))
        self.transport.close()
