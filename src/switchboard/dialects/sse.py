"""Sans-I/O Server-Sent Events decoder: bytes in at any boundary, events out."""

from __future__ import annotations

import logging
from dataclasses import dataclass

log = logging.getLogger("switchboard.dialects.sse")


@dataclass(slots=True)
class SSEEvent:
    event: str | None
    data: str


class SSEDecoder:
    def __init__(self) -> None:
        self._buf = b""
        self._event: str | None = None
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        self._buf += chunk
        out: list[SSEEvent] = []
        while True:
            nl = self._buf.find(b"\n")
            if nl < 0:
                break
            raw = self._buf[:nl]
            self._buf = self._buf[nl + 1 :]
            if raw.endswith(b"\r"):
                raw = raw[:-1]
            self._line(raw.decode("utf-8", "replace"), out)
        return out

    def close(self) -> list[SSEEvent]:
        out: list[SSEEvent] = []
        if self._buf:
            self._line(self._buf.decode("utf-8", "replace").rstrip("\r"), out)
            self._buf = b""
        self._line("", out)
        return out

    def _line(self, line: str, out: list[SSEEvent]) -> None:
        if not line:
            if self._data or self._event:
                out.append(SSEEvent(self._event, "\n".join(self._data)))
            self._event, self._data = None, []
            return
        if line.startswith(":"):
            return  # comment (keep-alive)
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value


class MalformedRun:
    """Tolerates one malformed event in an otherwise healthy stream: the first is skipped
    (and logged), a second in a row is a broken stream (the caller raises)."""

    __slots__ = ("_run",)

    def __init__(self) -> None:
        self._run = 0

    def skip(self, data: str) -> bool:
        """A malformed event arrived: True to skip it, False when the stream is broken."""
        self._run += 1
        if self._run == 1:
            log.warning("skipped a malformed stream event: %r", data[:200])
            return True
        return False

    def ok(self) -> None:
        self._run = 0
