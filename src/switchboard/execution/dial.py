"""Opening one upstream connection: directly, through an HTTP proxy, or through a CONNECT
tunnel with TLS to the origin inside it. Every failure is an UpstreamConnectionError."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from switchboard.execution.transport import UpstreamConnectionError

if TYPE_CHECKING:
    from switchboard.execution.pool import Pool, PoolMember

M = TypeVar("M", bound="PoolMember")

_MAX_PROXY_HEAD = 16 * 1024


class _Tunnel(asyncio.Protocol):
    """Reads the proxy's answer to CONNECT; the TLS session then takes the socket over."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.answer: asyncio.Future[bytes] = loop.create_future()
        self._buf = b""

    def data_received(self, data: bytes) -> None:
        self._buf += data
        end = self._buf.find(b"\r\n\r\n")
        if end >= 0 and not self.answer.done():
            self.answer.set_result(self._buf[:end])
        elif len(self._buf) > _MAX_PROXY_HEAD and not self.answer.done():
            self.answer.set_exception(UpstreamConnectionError("proxy answer to CONNECT too long"))

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.answer.done():
            self.answer.set_exception(
                UpstreamConnectionError("the proxy closed the connection during CONNECT"))


async def _tunnel(pool: Pool[Any], conn: PoolMember, loop: asyncio.AbstractEventLoop) -> None:
    proxy = pool.proxy
    assert proxy is not None and pool.ssl is not None
    raw, tunnel = await loop.create_connection(lambda: _Tunnel(loop), proxy.host, proxy.port)
    try:
        authority = f"[{pool.host}]:{pool.port}" if ":" in pool.host else f"{pool.host}:{pool.port}"
        head = f"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n"
        if proxy.authorization:
            head += f"Proxy-Authorization: {proxy.authorization}\r\n"
        raw.write((head + "\r\n").encode("latin-1"))
        answer = await tunnel.answer
        status_line = answer.split(b"\r\n", 1)[0].decode("latin-1")
        fields = status_line.split(" ", 2)
        if len(fields) < 2 or fields[1] != "200":
            raise UpstreamConnectionError(
                f"proxy {proxy.host}:{proxy.port} refused CONNECT to {authority}: {status_line}")
        secure = await loop.start_tls(raw, conn, pool.ssl,  # type: ignore[arg-type]
                                      server_hostname=pool.host)
    except BaseException:
        raw.abort()
        raise
    if secure is None:
        raise UpstreamConnectionError("TLS over the proxy tunnel did not start")
    conn.transport = secure  # start_tls does not call connection_made


async def dial(pool: Pool[M], factory: Callable[[Pool[M]], M], timeout: float) -> M:
    loop = asyncio.get_running_loop()
    where = f"{pool.host}:{pool.port}"
    proxy = pool.proxy
    if proxy is not None:
        where += f" via proxy {proxy.host}:{proxy.port}"
    try:
        async with asyncio.timeout(timeout):
            if proxy is None:
                _, conn = await loop.create_connection(
                    lambda: factory(pool), pool.host, pool.port, ssl=pool.ssl,
                    server_hostname=pool.host if pool.ssl else None,
                )
            elif pool.ssl is None:  # plain http: requests go to the proxy in absolute form
                _, conn = await loop.create_connection(
                    lambda: factory(pool), proxy.host, proxy.port)
            else:
                conn = factory(pool)
                await _tunnel(pool, conn, loop)
    except UpstreamConnectionError:
        raise
    except TimeoutError:
        raise UpstreamConnectionError(
            f"connecting to {where} timed out after {timeout:g} s") from None
    except ssl.SSLError as exc:
        raise UpstreamConnectionError(
            f"TLS handshake with {pool.host}:{pool.port} failed: {exc.reason or exc}") from None
    except OSError as exc:
        raise UpstreamConnectionError(f"cannot connect to {where}: {exc.strerror or exc}") from None
    conn.adopt()
    return conn
