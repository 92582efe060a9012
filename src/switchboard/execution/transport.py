"""The upstream transport's interface: what the executor and plugins may rely on.

Every failure below the HTTP status line (refused, reset, timed-out connect, broken
framing, an oversize or undecodable body) is an `UpstreamConnectionError`, so callers can
count it as the upstream's failure with one `except`; anything else is a bug of ours.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from switchboard.catalog.types import ProviderTLS

MIB = 1024 * 1024


class UpstreamConnectionError(ConnectionError):
    """The upstream could not be reached or did not answer properly.

    `kind`: "connect" (no connection), "reset" (closed before or while answering),
    "protocol" (malformed HTTP, undecodable or oversize body).
    """

    def __init__(self, message: str, kind: str = "connect") -> None:
        super().__init__(message)
        self.kind = kind


class UpstreamProtocolError(UpstreamConnectionError):
    """The upstream answered, but not with HTTP we can accept (framing, encoding)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "protocol")


class UpstreamBodyTooLarge(UpstreamProtocolError):
    """The answer (after decompression) or one line of an event stream exceeded its cap."""


@dataclass(frozen=True, slots=True)
class TransportLimits:
    """Bounds that keep one upstream from exhausting sockets or memory (config `upstream:`)."""

    max_body_bytes: int = 64 * MIB  # a whole (non-event-stream) body, after decompression
    max_line_bytes: int = MIB  # one line of a text/event-stream body
    max_connections_per_origin: int = 256  # open sockets per origin; more callers queue
    keepalive_expiry_s: float = 15.0  # an idle pooled socket older than this is not reused
    max_header_bytes: int = 256 * 1024


class UpstreamResponse(Protocol):
    """Status and headers are there on return from `request`; the body streams after."""

    status: int
    headers: dict[str, str]  # lower-case names

    async def read(self) -> bytes: ...

    async def readany(self) -> bytes:
        """The next piece of the body, b"" at its end."""
        ...

    def release(self) -> None:
        """Done: a whole answer returns its connection to the pool, anything else drops it."""
        ...

    def close(self) -> None: ...


class Transport(Protocol):
    async def request(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        body: bytes,
        connect_timeout: float,
        tls: ProviderTLS | None = None,
    ) -> UpstreamResponse: ...

    async def close(self) -> None: ...
