"""A small pooled HTTP/1.1 client on asyncio protocols and httptools' C parser.

General-purpose clients spend more CPU per request than the rest of the gateway's hot
path together; this one does only what upstream calls need: one POST with a body,
keep-alive pooling per origin, streamed response bodies with back-pressure, and
prompt connection teardown when a caller abandons a response (which is how a client
disconnect cancels the upstream generation).
"""

from __future__ import annotations

import asyncio
import ssl
import zlib
from collections import deque
from typing import Any
from urllib.parse import urlsplit

import httptools

_HIGH_WATER = 1 << 20  # pause reading the socket beyond this many unread body bytes


class UpstreamConnectionError(ConnectionError):
    """Could not connect (kind "connect"), or the connection closed before an answer
    began (kind "reset")."""

    def __init__(self, message: str, kind: str = "connect") -> None:
        super().__init__(message)
        self.kind = kind


class _Connection(asyncio.Protocol):
    def __init__(self, pool: _Pool) -> None:
        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.response: Response | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.reused = False

    # -- transport callbacks ---------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(UpstreamConnectionError("unexpected protocol upgrade from upstream"))
        except httptools.HttpParserError as exc:
            self._fail(ConnectionResetError(f"malformed HTTP response from upstream: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        resp = self.response
        if resp is not None and not resp.complete:
            if resp.status == 0:
                resp._fail(UpstreamConnectionError(
                    "upstream closed the connection before answering", "reset"))
            elif "content-length" not in resp.headers and "chunked" not in resp.headers.get(
                "transfer-encoding", ""
            ):
                resp._finish()  # a body delimited by the connection closing
            else:
                resp._fail(ConnectionResetError("upstream closed the connection mid-response"))

    def pause_writing(self) -> None:  # the request body is small and written at once
        pass

    def resume_writing(self) -> None:
        pass

    # -- parser callbacks ------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.response is not None:
            self.response.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        resp = self.response
        if resp is not None:
            resp.status = self.parser.get_status_code()
            coding = resp.headers.get("content-encoding", "").strip().lower()
            if coding in ("gzip", "x-gzip", "deflate"):
                # we ask for identity, but a server may compress anyway
                wbits = 16 + zlib.MAX_WBITS if "gzip" in coding else zlib.MAX_WBITS
                resp._decoder = zlib.decompressobj(wbits)
            if not resp.headers_ready.done():
                resp.headers_ready.set_result(None)

    def on_body(self, body: bytes) -> None:
        if self.response is not None:
            self.response._feed(body)

    def on_message_complete(self) -> None:
        resp = self.response
        if resp is None:
            return
        resp.keep_alive = self.parser.should_keep_alive()
        resp._finish()

    # -- helpers ---------------------------------------------------------------------

    def _fail(self, exc: Exception) -> None:
        if self.response is not None:
            self.response._fail(exc)
        self.abort()

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()


class Response:
    """An upstream answer: status and headers first, then the body as it arrives."""

    def __init__(self, conn: _Connection, loop: asyncio.AbstractEventLoop) -> None:
        self._conn = conn
        self.status = 0
        self.headers: dict[str, str] = {}
        self.headers_ready: asyncio.Future[None] = loop.create_future()
        self.complete = False
        self.keep_alive = False
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._waiter: asyncio.Future[None] | None = None
        self._error: Exception | None = None
        self._loop = loop
        self._paused = False
        self._released = False
        self._decoder: Any = None

    # fed by the connection
    def _feed(self, data: bytes) -> None:
        if self._decoder is not None:
            try:
                data = self._decoder.decompress(data)
            except zlib.error as exc:
                self._fail(ConnectionResetError(f"corrupt compressed body from upstream: {exc}"))
                return
            if not data:
                return
        self._chunks.append(data)
        self._buffered += len(data)
        if self._buffered > _HIGH_WATER and not self._paused and self._conn.transport:
            self._paused = True
            self._conn.transport.pause_reading()
        self._wake()

    def _finish(self) -> None:
        self.complete = True
        self._wake()

    def _fail(self, exc: Exception) -> None:
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

    # used by callers
    async def readany(self) -> bytes:
        """The next piece of body; b"" at the end. Raises if the connection broke."""
        while not self._chunks:
            if self.complete:
                return b""
            if self._error is not None:
                raise self._error
            self._waiter = self._loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        data = self._chunks.popleft()
        self._buffered -= len(data)
        if self._paused and self._buffered < _HIGH_WATER // 2 and self._conn.transport:
            self._paused = False
            self._conn.transport.resume_reading()
        return data

    async def read(self) -> bytes:
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
            conn.pool.put(conn)
        else:
            conn.abort()  # an unread or broken answer: drop the connection (stops the upstream)

    close = release


class _Pool:
    def __init__(self, host: str, port: int, ssl_ctx: ssl.SSLContext | None, limit: int) -> None:
        self.host, self.port, self.ssl = host, port, ssl_ctx
        self.idle: deque[_Connection] = deque()
        self.limit = limit

    def put(self, conn: _Connection) -> None:
        if len(self.idle) < self.limit:
            self.idle.append(conn)
        else:
            conn.abort()

    def take(self) -> _Connection | None:
        while self.idle:
            conn = self.idle.pop()  # most recent first: least likely to have been closed
            if not conn.closed:
                return conn
        return None


class HTTP1Client:
    def __init__(self, max_idle_per_origin: int = 512) -> None:
        self._pools: dict[tuple[str, str, int], _Pool] = {}
        self._max_idle = max_idle_per_origin
        self._ssl: ssl.SSLContext | None = None
        self._targets: dict[str, tuple[_Pool, bytes, bytes]] = {}

    def _target(self, url: str) -> tuple[_Pool, bytes, bytes]:
        hit = self._targets.get(url)
        if hit is not None:
            return hit
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UpstreamConnectionError(f"unsupported upstream URL: {url!r}")
        tls = parts.scheme == "https"
        port = parts.port or (443 if tls else 80)
        key = (parts.scheme, parts.hostname, port)
        pool = self._pools.get(key)
        if pool is None:
            ctx = None
            if tls:
                if self._ssl is None:
                    self._ssl = ssl.create_default_context()
                ctx = self._ssl
            pool = self._pools[key] = _Pool(parts.hostname, port, ctx, self._max_idle)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        default_port = port == (443 if tls else 80)
        host = parts.hostname if default_port else f"{parts.hostname}:{port}"
        if len(self._targets) < 10_000:
            self._targets[url] = (pool, path.encode(), host.encode())
        return pool, path.encode(), host.encode()

    async def request(
        self, method: str, url: str, headers: dict[str, str], body: bytes,
        connect_timeout: float,
    ) -> Response:
        """Send the request; returns once the status line and headers have arrived."""
        pool, path, host = self._target(url)
        head = [method.encode(), b" ", path, b" HTTP/1.1\r\nhost: ", host,
                b"\r\naccept-encoding: identity\r\ncontent-length: ", str(len(body)).encode(),
                b"\r\n"]
        for name, value in headers.items():
            head += [name.encode("latin-1"), b": ", value.encode("latin-1"), b"\r\n"]
        head.append(b"\r\n")
        payload = b"".join(head) + body
        for _ in range(2):
            conn = pool.take()
            fresh = conn is None
            if conn is None:
                conn = await self._connect(pool, connect_timeout)
            loop = asyncio.get_running_loop()
            resp = Response(conn, loop)
            conn.response = resp
            assert conn.transport is not None
            conn.transport.write(payload)
            try:
                await resp.headers_ready
            except UpstreamConnectionError:
                # a pooled connection the server had closed while idle: retry once, fresh
                conn.response = None
                conn.abort()
                if fresh:
                    raise
                continue
            except BaseException:
                conn.response = None
                conn.abort()
                raise
            return resp
        raise UpstreamConnectionError("upstream closed the connection before answering", "reset")

    async def _connect(self, pool: _Pool, timeout: float) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                _, conn = await loop.create_connection(
                    lambda: _Connection(pool), pool.host, pool.port, ssl=pool.ssl,
                    server_hostname=pool.host if pool.ssl else None,
                )
        except TimeoutError:
            raise UpstreamConnectionError(
                f"connecting to {pool.host}:{pool.port} timed out after {timeout:g} s") from None
        except OSError as exc:
            raise UpstreamConnectionError(
                f"cannot connect to {pool.host}:{pool.port}: {exc.strerror or exc}") from None
        return conn

    async def close(self) -> None:
        for pool in self._pools.values():
            while pool.idle:
                pool.idle.pop().abort()
        self._pools.clear()
        self._targets.clear()
