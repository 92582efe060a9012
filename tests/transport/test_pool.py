"""Per-origin connection cap with a waiting queue, idle expiry, and the Host header."""

from __future__ import annotations

import asyncio
import socket

import pytest

from switchboard.execution.http1 import HTTP1Client
from switchboard.execution.transport import TransportLimits, UpstreamConnectionError
from tests.transport.conftest import answer, read_request, serve


class CountingServer:
    """Answers every request after `delay_s`; counts sockets, open at once and in all."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self.open = 0
        self.peak = 0
        self.accepted = 0
        self.hosts: list[bytes] = []

    async def handler(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        self.open += 1
        self.peak = max(self.peak, self.open)
        try:
            while True:
                try:
                    req = await read_request(reader)
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                self.hosts += [line for line in req.split(b"\r\n")
                               if line.lower().startswith(b"host:")]
                await asyncio.sleep(self.delay_s)
                writer.write(answer(b"ok"))
                await writer.drain()
        finally:
            self.open -= 1


async def call(client: HTTP1Client, url: str) -> bytes:
    resp = await client.request("POST", url, {}, b"{}", 5)
    try:
        return await resp.read()
    finally:
        resp.release()


async def test_1000_concurrent_requests_share_the_capped_pool() -> None:
    up = CountingServer(delay_s=0.01)
    server, port = await serve(up.handler)
    client = HTTP1Client(TransportLimits(max_connections_per_origin=20))
    url = f"http://127.0.0.1:{port}/v1/chat"
    results = await asyncio.gather(*(call(client, url) for _ in range(1000)))
    assert results == [b"ok"] * 1000
    assert up.peak <= 20 and up.accepted <= 20  # queued callers reused the 20 sockets
    await client.close()
    server.close()


async def test_callers_over_the_cap_wait_their_turn() -> None:
    gate = asyncio.Event()
    order: list[int] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                req = await read_request(reader)
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            await gate.wait()
            order.append(int(req.rsplit(b"\r\n\r\n", 1)[1]))
            writer.write(answer(b"ok"))
            await writer.drain()

    server, port = await serve(handler)
    client = HTTP1Client(TransportLimits(max_connections_per_origin=1))
    url = f"http://127.0.0.1:{port}/x"

    async def numbered(i: int) -> None:
        resp = await client.request("POST", url, {}, str(i).encode(), 5)
        await resp.read()
        resp.release()

    tasks = [asyncio.create_task(numbered(i)) for i in range(5)]
    await asyncio.sleep(0.1)
    pool = next(iter(client._pools.values()))
    assert pool.open == 1 and len(pool.waiters) == 4  # one in flight, four queued
    gate.set()
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2, 3, 4]
    await client.close()
    server.close()


async def test_a_cancelled_waiter_gives_up_its_place() -> None:
    up = CountingServer(delay_s=0.2)
    server, port = await serve(up.handler)
    client = HTTP1Client(TransportLimits(max_connections_per_origin=1))
    url = f"http://127.0.0.1:{port}/x"
    first = asyncio.create_task(call(client, url))
    await asyncio.sleep(0.05)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):
            await call(client, url)  # waits behind `first` and gives up
    assert await first == b"ok"
    assert await call(client, url) == b"ok"  # the slot is still usable
    pool = next(iter(client._pools.values()))
    assert pool.open == 1 and not [w for w in pool.waiters if not w.done()]
    await client.close()
    server.close()


async def test_failed_connects_do_not_leak_slots() -> None:
    with socket.socket() as s:  # a port with nothing listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = HTTP1Client(TransportLimits(max_connections_per_origin=2))
    for _ in range(5):
        with pytest.raises(UpstreamConnectionError):
            await client.request("POST", f"http://127.0.0.1:{port}/x", {}, b"", 1)
    assert next(iter(client._pools.values())).open == 0
    await client.close()


async def test_idle_connections_expire() -> None:
    up = CountingServer()
    server, port = await serve(up.handler)
    client = HTTP1Client(TransportLimits(keepalive_expiry_s=0.2))
    url = f"http://127.0.0.1:{port}/x"
    await call(client, url)
    await call(client, url)
    assert up.accepted == 1  # reused while fresh
    await asyncio.sleep(0.4)
    pool = next(iter(client._pools.values()))
    assert not pool.idle and pool.open == 0  # the sweep closed it without any new request
    await call(client, url)
    assert up.accepted == 2
    await client.close()
    server.close()


async def test_an_expired_idle_connection_is_not_reused_even_before_the_sweep() -> None:
    up = CountingServer()
    server, port = await serve(up.handler)
    client = HTTP1Client(TransportLimits(keepalive_expiry_s=0.1))
    url = f"http://127.0.0.1:{port}/x"
    await call(client, url)
    pool = next(iter(client._pools.values()))
    pool.idle[0].idle_since -= 1  # as if idle for a second, the sweep not yet run
    await call(client, url)
    assert up.accepted == 2
    await client.close()
    server.close()


async def test_host_header_of_an_ipv6_origin_has_brackets() -> None:
    up = CountingServer()
    try:
        server, port = await serve(up.handler, host="::1")
    except OSError:
        pytest.skip("no IPv6 loopback here")
    client = HTTP1Client()
    assert await call(client, f"http://[::1]:{port}/v1/chat") == b"ok"
    assert up.hosts == [f"host: [::1]:{port}".encode()]
    await client.close()
    server.close()


async def test_host_header_omits_the_default_port() -> None:
    client = HTTP1Client()
    _, path, host = client._target("https://api.example.com:443/v1/messages?beta=true", None)
    assert (path, host) == (b"/v1/messages?beta=true", b"api.example.com")
    _, _, host = client._target("http://[2001:db8::1]/x", None)
    assert host == b"[2001:db8::1]"
    await client.close()
