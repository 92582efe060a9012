"""A small pooled HTTP/1.1 client on asyncio protocols and httptools' C parser.

General-purpose clients spend more CPU per request than the rest of the gateway's hot
path together (bench/transport.py measures it); this one does only what upstream calls
need: one request with a body, keep-alive pooling per origin under a connection cap,
streamed response bodies with back-pressure and size caps, proxies and per-provider TLS,
and prompt connection teardown when a caller abandons a response (which is how a client
disconnect cancels the upstream generation).
"""

from __future__ import annotations

import asyncio
import zlib
from collections import deque
from collections.abc import Mapping
from urllib.parse import urlsplit

import brotli
import httptools

from switchboard.catalog.types import ProviderTLS
from switchboard.execution.decoding import Decoder, decoder_for
from switchboard.execution.pool import Pool, PoolMember
from switchboard.execution.proxy import ProxySettings
from switchboard.execution.tls import TLSContexts
from switchboard.execution.transport import (
    TransportLimits,
    UpstreamBodyTooLarge,
    UpstreamConnectionError,
    UpstreamProtocolError,
)

__all__ = ["HTTP1Client", "Response", "UpstreamConnectionError"]

_HIGH_WATER = 1 << 20  # pause reading the socket beyond this many unread body bytes
_DECODE_STEP = 256 * 1024  # most bytes one decompression step may produce


class _Connection(PoolMember):
    def __init__(self, pool: Pool[_Connection], limits: TransportLimits) -> None:
        super().__init__(pool)
        self.limits = limits
        self.transport: asyncio.Transport | None = None
        self.response: Response | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.header_bytes = 0

    # -- transport callbacks ---------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        resp = self.response
        if resp is None:  # bytes on an idle connection: its framing can no longer be trusted
            self.abort()
            return
        resp.seen_bytes = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(UpstreamProtocolError("unexpected protocol upgrade from upstream"))
        except httptools.HttpParserError as exc:
            cause = exc.__cause__ or exc.__context__  # a callback's own error, e.g. a cap
            if isinstance(cause, UpstreamConnectionError):
                self._fail(cause)
            else:
                self._fail(UpstreamProtocolError(f"malformed HTTP response from upstream: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.gone()
        resp = self.response
        if resp is not None and not resp.complete:
            if resp.status == 0:
                resp.fail(UpstreamConnectionError(
                    "upstream closed the connection before answering", "reset"))
            elif "content-length" not in resp.headers and "chunked" not in resp.headers.get(
                "transfer-encoding", ""
            ):
                resp.finish()  # a body delimited by the connection closing
            else:
                resp.fail(UpstreamConnectionError(
                    "upstream closed the connection mid-response", "reset"))

    def pause_writing(self) -> None:  # the request body is small and written at once
        pass

    def resume_writing(self) -> None:
        pass

    # -- parser callbacks ------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        resp = self.response
        if resp is None:
            return
        self.header_bytes += len(name) + len(value)
        if self.header_bytes > self.limits.max_header_bytes:
            raise UpstreamBodyTooLarge("upstream response headers are too large")
        resp.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        resp = self.response
        if resp is None:
            return
        self.header_bytes = 0
        resp.status = self.parser.get_status_code()
        resp.headers_complete()

    def on_body(self, body: bytes) -> None:
        if self.response is not None:
            self.response.feed(body)

    def on_message_complete(self) -> None:
        resp = self.response
        if resp is None:
            return
        resp.keep_alive = self.parser.should_keep_alive()
        resp.finish()

    # -- helpers ---------------------------------------------------------------------

    def _fail(self, exc: Exception) -> None:
        if self.response is not None:
            self.response.fail(exc)
        self.abort()

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()
        self.gone()


class Response:
    """An upstream answer: status and headers first, then the body as it arrives."""

    def __init__(
        self, conn: _Connection, loop: asyncio.AbstractEventLoop, limits: TransportLimits
    ) -> None:
        self._conn = conn
        self._limits = limits
        self.status = 0
        self.headers: dict[str, str] = {}
        self.headers_ready: asyncio.Future[None] = loop.create_future()
        self.complete = False
        self.keep_alive = False
        self.seen_bytes = False
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._waiter: asyncio.Future[None] | None = None
        self._error: Exception | None = None
        self._loop = loop
        self._paused = False
        self._released = False
        self._decoder: Decoder | None = None
        self._line_cap = 0  # an event stream read piece by piece: capped per line, not in total
        self._total = 0
        self._line = 0  # bytes since the last newline of an event stream

    # fed by the connection
    def headers_complete(self) -> None:
        h = self.headers
        try:
            self._decoder = decoder_for(h.get("content-encoding", ""))
        except ValueError as exc:
            self.fail(UpstreamProtocolError(str(exc)))
            return
        if h.get("content-type", "").startswith("text/event-stream"):
            self._line_cap = self._limits.max_line_bytes
        length = h.get("content-length", "")
        if (self._decoder is None and not self._line_cap and length.isdigit()
                and int(length) > self._limits.max_body_bytes):
            self.fail(self._too_large())
            return
        if not self.headers_ready.done():
            self.headers_ready.set_result(None)

    def feed(self, data: bytes) -> None:
        self._chunks.append(data)
        self._buffered += len(data)
        if self._buffered > _HIGH_WATER and not self._paused and self._conn.transport:
            self._paused = True
            self._conn.transport.pause_reading()
        self._wake()

    def finish(self) -> None:
        self.complete = True
        self._wake()

    def fail(self, exc: Exception) -> None:
        if self._error is None and not self.complete:
            self._error = exc
        if not self.headers_ready.done():
            self.headers_ready.set_exception(exc)
            self.headers_ready.exception()  # mark retrieved: the caller may be gone
        self._wake()

    def _wake(self) -> None:
        w = self._waiter
        if w is not None and not w.done():
            w.set_result(None)

    def _too_large(self) -> UpstreamBodyTooLarge:
        return UpstreamBodyTooLarge(
            f"upstream answer exceeds {self._limits.max_body_bytes} bytes (upstream.max_body_mb)")

    def _broken(self, exc: UpstreamConnectionError) -> UpstreamConnectionError:
        """Stop here: the rest of this body is unwanted, so is its connection."""
        self._error = exc
        self.complete = False
        self._chunks.clear()
        self._conn.abort()
        return exc

    def _count(self, data: bytes) -> None:
        cap = self._line_cap
        if cap:
            n = len(data)
            run = self._line + n
            if run <= cap:  # no line in here can be over the cap: only track the last one
                if data[-1] == 10:  # the usual event-stream piece ends with its newline
                    self._line = 0
                else:
                    nl = data.rfind(b"\n")
                    self._line = run if nl < 0 else n - nl - 1
                return
            self._scan_lines(data, cap)
            return
        self._total += len(data)
        if self._total > self._limits.max_body_bytes:
            raise self._broken(self._too_large())

    def _scan_lines(self, data: bytes, cap: int) -> None:
        run, start = self._line, 0
        while True:
            nl = data.find(b"\n", start)
            run += (len(data) if nl < 0 else nl) - start
            if run > cap:
                raise self._broken(UpstreamBodyTooLarge(
                    f"an upstream event-stream line exceeds {cap} bytes (upstream.max_line_kb)"))
            if nl < 0:
                break
            run, start = 0, nl + 1
        self._line = run

    def _next_raw(self) -> bytes:
        data = self._chunks.popleft()
        self._buffered -= len(data)
        if self._paused:
            self._resume()
        return data

    def _resume(self) -> None:
        if self._buffered < _HIGH_WATER // 2 and self._conn.transport:
            self._paused = False
            self._conn.transport.resume_reading()

    # used by callers
    async def readany(self) -> bytes:
        """The next piece of body; b"" at the end. Raises if the connection broke."""
        chunks = self._chunks
        if chunks and self._decoder is None:  # the common case, without the loop below
            data = chunks.popleft()
            self._buffered -= len(data)
            if self._paused:
                self._resume()
            self._count(data)
            return data
        while True:
            dec = self._decoder
            if dec is not None and dec.pending:
                data = self._decode(dec, b"")
            elif self._chunks:
                data = self._next_raw()
                if dec is not None:
                    data = self._decode(dec, data)
            elif self.complete:
                return b""
            elif self._error is not None:
                raise self._error
            else:
                self._waiter = self._loop.create_future()
                try:
                    await self._waiter
                finally:
                    self._waiter = None
                continue
            if data:
                self._count(data)
                return data

    def _decode(self, dec: Decoder, data: bytes) -> bytes:
        step = _DECODE_STEP
        if not self._line_cap:  # never inflate far past the body cap
            step = max(1, min(step, self._limits.max_body_bytes - self._total + 1))
        try:
            return dec.decode(data, step)
        except (zlib.error, brotli.error) as exc:
            raise self._broken(UpstreamProtocolError(
                f"corrupt compressed body from upstream: {exc}")) from None

    async def read(self) -> bytes:
        self._line_cap = 0  # buffered whole: the body cap applies, whatever the type
        parts = []
        while True:
            data = await self.readany()
            if not data:
                break
            parts.append(data)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def release(self) -> None:
        """Done with this response: reuse the connection if the answer was read whole."""
        if self._released:
            return
        self._released = True
        conn = self._conn
        conn.response = None
        if self.complete and self.keep_alive and not conn.closed:
            if self._paused and conn.transport is not None:
                conn.transport.resume_reading()
            conn.pool.give_back(conn)
        else:
            conn.abort()  # an unread or broken answer: drop the connection (stops the upstream)

    close = release


def _authority(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class HTTP1Client:
    """`origin_tls` maps (scheme, host, port) to that origin's TLS settings (the config's
    per-provider `tls`); an explicit `tls` argument to `request` wins over it."""

    def __init__(
        self,
        limits: TransportLimits | None = None,
        proxies: ProxySettings | None = None,
        origin_tls: Mapping[tuple[str, str, int], ProviderTLS] | None = None,
    ) -> None:
        self.limits = limits or TransportLimits()
        self.proxies = proxies or ProxySettings()
        self._origin_tls = dict(origin_tls or {})
        self._pools: dict[tuple[str, str, int, ProviderTLS | None], Pool[_Connection]] = {}
        self._tls = TLSContexts()
        self._targets: dict[object, tuple[Pool[_Connection], bytes, bytes]] = {}

    def _target(self, url: str, tls: ProviderTLS | None) -> tuple[Pool[_Connection], bytes, bytes]:
        cache_key: object = url if tls is None else (url, tls)
        hit = self._targets.get(cache_key)
        if hit is not None:
            return hit
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UpstreamConnectionError(f"unsupported upstream URL: {url!r}")
        secure = parts.scheme == "https"
        host = parts.hostname
        try:
            port = parts.port or (443 if secure else 80)
        except ValueError:
            raise UpstreamConnectionError(f"bad port in upstream URL: {url!r}") from None
        if tls is None:
            tls = self._origin_tls.get((parts.scheme, host, port))
        key = (parts.scheme, host, port, tls)
        pool = self._pools.get(key)
        if pool is None:
            try:
                proxy = self.proxies.for_origin(parts.scheme, host, port)
                ctx = self._tls.get(tls) if secure else None
            except (OSError, ValueError) as exc:
                raise UpstreamConnectionError(f"TLS settings for {host}: {exc}") from None
            pool = self._pools[key] = Pool(
                host, port, ctx, proxy, self.limits,
                lambda p: _Connection(p, self.limits),
            )
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        default_port = port == (443 if secure else 80)
        authority = f"[{host}]" if ":" in host else host
        if not default_port:
            authority = f"{authority}:{port}"
        if pool.proxy is not None and not secure:
            path = f"http://{authority}{path}"  # absolute form: the proxy forwards it
        entry = (pool, path.encode(), authority.encode())
        if len(self._targets) < 10_000:
            self._targets[cache_key] = entry
        return entry

    async def request(
        self, method: str, url: str, headers: dict[str, str], body: bytes,
        connect_timeout: float, tls: ProviderTLS | None = None,
    ) -> Response:
        """Send the request; returns once the status line and headers have arrived."""
        pool, path, host = self._target(url, tls)
        head = [method.encode(), b" ", path, b" HTTP/1.1\r\nhost: ", host,
                b"\r\naccept-encoding: identity\r\ncontent-length: ", str(len(body)).encode(),
                b"\r\n"]
        if pool.proxy is not None and pool.ssl is None and pool.proxy.authorization:
            head += [b"proxy-authorization: ", pool.proxy.authorization.encode(), b"\r\n"]
        for name, value in headers.items():
            head += [name.encode("latin-1"), b": ", value.encode("latin-1"), b"\r\n"]
        head.append(b"\r\n")
        payload = b"".join(head) + body
        loop = asyncio.get_running_loop()
        conn = pool.take_idle() or await pool.acquire(connect_timeout)
        for last_try in (False, True):
            reused = conn.uses > 0
            conn.uses += 1
            resp = Response(conn, loop, self.limits)
            conn.response = resp
            assert conn.transport is not None
            try:
                conn.transport.write(payload)
                await resp.headers_ready
            except UpstreamConnectionError as exc:
                conn.response = None
                conn.abort()
                if reused and not last_try and exc.kind == "reset" and not resp.seen_bytes:
                    # a pooled connection the server had closed while idle: once more, fresh
                    conn = await pool.acquire(connect_timeout, fresh=True)
                    continue
                raise
            except BaseException:
                conn.response = None
                conn.abort()
                raise
            return resp
        raise AssertionError("unreachable")

    async def close(self) -> None:
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()
        self._targets.clear()
