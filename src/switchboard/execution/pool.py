"""Per-origin connection accounting: a cap on open sockets, a queue for the callers over
it, and expiry of idle keep-alive sockets.

Callers over the cap wait in order (back-pressure) for a connection to come back or for
a slot to free up; the wait itself has no deadline of its own, so the caller's request
deadline covers it. An idle socket older than `keepalive_expiry_s` is closed rather than
reused: a NAT or load balancer may have forgotten it, and a write into such a socket
hangs until the request's timeout instead of failing fast.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from switchboard.execution.dial import dial
from switchboard.execution.proxy import Proxy
from switchboard.execution.transport import TransportLimits, UpstreamConnectionError


class PoolMember(asyncio.Protocol):
    """What the pool needs of a connection: the base of the connection's protocol class."""

    transport: asyncio.Transport | None

    def __init__(self, pool: Pool[Any]) -> None:
        self.pool = pool
        self.closed = False
        self.uses = 0
        self.idle_since = 0.0
        self._counted = False  # holds one of the pool's slots, from dialled until gone

    def adopt(self) -> None:
        """Dialled: from now on it holds the slot its caller reserved."""
        if self.closed:
            raise UpstreamConnectionError("the upstream closed the connection at once", "reset")
        self._counted = True

    def gone(self) -> None:
        """Closed for whatever reason: give its slot back (once)."""
        if self._counted:
            self._counted = False
            self.pool.slot_freed()

    def abort(self) -> None:
        raise NotImplementedError


M = TypeVar("M", bound=PoolMember)


class Pool(Generic[M]):
    def __init__(
        self,
        host: str,
        port: int,
        ssl_ctx: ssl.SSLContext | None,
        proxy: Proxy | None,
        limits: TransportLimits,
        factory: Callable[[Pool[M]], M],
    ) -> None:
        self.host, self.port, self.ssl, self.proxy = host, port, ssl_ctx, proxy
        self.limit = limits.max_connections_per_origin
        self.expiry = limits.keepalive_expiry_s
        self.factory = factory
        self.idle: deque[M] = deque()  # oldest on the left
        self.open = 0  # connections holding a slot: connecting, busy or idle
        self.waiters: deque[asyncio.Future[M | None]] = deque()
        self._sweep: asyncio.TimerHandle | None = None
        self._closed = False

    async def acquire(self, connect_timeout: float, fresh: bool = False) -> M:
        """An idle connection (see `take_idle`, the synchronous fast path), a new one, or
        one handed over after waiting."""
        if not fresh:
            conn = self.take_idle()
            if conn is not None:
                return conn
        if self.open < self.limit and not self.waiters:
            self.open += 1
        else:
            handed = await self._wait()
            if handed is not None:
                return handed
            # else a slot was passed on to us
        try:
            return await dial(self, self.factory, connect_timeout)
        except BaseException:
            self.slot_freed()
            raise

    async def _wait(self) -> M | None:
        """A connection handed over by a finished caller, or None: a slot of our own."""
        if self._closed:
            raise UpstreamConnectionError("the upstream client is closed")
        fut: asyncio.Future[M | None] = asyncio.get_running_loop().create_future()
        self.waiters.append(fut)
        try:
            return await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():  # handed over just as we were cancelled
                conn = fut.result()
                if conn is None:
                    self.slot_freed()
                else:
                    self.give_back(conn)
            raise

    def take_idle(self) -> M | None:
        idle = self.idle
        while idle:
            conn = idle.pop()  # the most recent is the least likely to have been dropped
            if conn.closed:
                continue
            if asyncio.get_running_loop().time() - conn.idle_since >= self.expiry:
                conn.abort()
                while idle:  # everything to its left is older still
                    idle.popleft().abort()
                return None
            return conn
        return None

    def give_back(self, conn: M) -> None:
        """A connection whose answer was read whole: to the next waiter, or idle."""
        if self._closed or conn.closed:
            conn.abort()
            return
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        loop = asyncio.get_running_loop()
        conn.idle_since = loop.time()
        self.idle.append(conn)
        if self._sweep is None:
            self._sweep = loop.call_later(self.expiry + 0.05, self._expire)

    def slot_freed(self) -> None:
        """A connection went away: its slot passes to the first waiter, if any."""
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self.open -= 1

    def _expire(self) -> None:
        self._sweep = None
        loop = asyncio.get_running_loop()
        now = loop.time()
        idle = self.idle
        while idle and (idle[0].closed or now - idle[0].idle_since >= self.expiry):
            idle.popleft().abort()
        if idle:
            delay = idle[0].idle_since + self.expiry - now
            self._sweep = loop.call_later(max(delay, 0) + 0.05, self._expire)

    def close(self) -> None:
        self._closed = True
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None
        while self.idle:
            self.idle.pop().abort()
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_exception(UpstreamConnectionError("the upstream client is closed"))
