"""Content-Encoding decoders that never inflate more than asked for in one step.

A small compressed answer can expand a thousandfold (a "gzip bomb"), so a decoder is
driven by its reader: each `decode` returns at most `limit` bytes and keeps the rest of
its input for the next call, and the reader counts what came out against the body cap.
"""

from __future__ import annotations

import zlib
from typing import Protocol

import brotli


class Decoder(Protocol):
    def decode(self, data: bytes, limit: int) -> bytes:
        """Decompress `data` (may be b"") and return at most about `limit` bytes."""
        ...

    @property
    def pending(self) -> bool:
        """More output is ready without more input."""
        ...


class _Zlib:
    def __init__(self, wbits: int | None) -> None:
        self._wbits = wbits  # None: "deflate", zlib-wrapped or raw, told by its first bytes
        self._d: zlib._Decompress | None = None
        self._tail = b""

    def decode(self, data: bytes, limit: int) -> bytes:
        if self._tail:
            data = self._tail + data
        if self._d is None:
            if self._wbits is None and len(data) < 2:
                self._tail = data
                return b""
            self._d = zlib.decompressobj(self._wbits or _deflate_wbits(data))
        out = self._d.decompress(data, limit)
        self._tail = self._d.unconsumed_tail
        return out

    @property
    def pending(self) -> bool:
        return bool(self._tail) and self._d is not None


def _deflate_wbits(head: bytes) -> int:
    """RFC 9110 says zlib-wrapped, but some servers send a raw deflate stream."""
    cmf, flg = head[0], head[1]
    wrapped = cmf & 0x0F == 8 and (cmf << 8 | flg) % 31 == 0
    return zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS


class _Brotli:
    def __init__(self) -> None:
        self._d = brotli.Decompressor()
        self._held = b""  # input given while the decoder still had output to drain

    def decode(self, data: bytes, limit: int) -> bytes:
        if not self._d.can_accept_more_data():
            self._held += data
            return bytes(self._d.process(b"", output_buffer_limit=limit))
        if self._held:
            data, self._held = self._held + data, b""
        return bytes(self._d.process(data, output_buffer_limit=limit))

    @property
    def pending(self) -> bool:
        return bool(self._held) or not self._d.can_accept_more_data()


def decoder_for(content_encoding: str) -> Decoder | None:
    """None for identity; raises ValueError for an encoding we cannot read."""
    coding = content_encoding.strip().lower()
    if coding in ("", "identity"):
        return None
    if coding in ("gzip", "x-gzip"):
        return _Zlib(16 + zlib.MAX_WBITS)
    if coding == "deflate":
        return _Zlib(None)
    if coding == "br":
        return _Brotli()
    raise ValueError(f"unsupported content-encoding {content_encoding!r} from upstream")
