"""The upstream HTTP/1.1 client against raw socket servers that misbehave on purpose."""

from __future__ import annotations

import asyncio

import pytest

from switchboard.execution.http1 import HTTP1Client, UpstreamConnectionError
from tests.transport.conftest import Handler, read_request
from tests.transport.conftest import serve as serve_port


async def serve(handler: Handler) -> tuple[asyncio.AbstractServer, str]:
    server, port = await serve_port(handler)
    return server, f"http://127.0.0.1:{port}/v1/chat"


async def test_content_length_and_keep_alive_reuse() -> None:
    connections = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        while True:
            try:
                req = await read_request(reader)
            except asyncio.IncompleteReadError:
                return
            assert b"x-test: 1" in req and req.endswith(b'{"a":1}')
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello")
            await writer.drain()

    server, url = await serve(handler)
    client = HTTP1Client()
    for _ in range(3):
        resp = await client.request("POST", url, {"x-test": "1"}, b'{"a":1}', 2)
        assert resp.status == 200 and await resp.read() == b"hello"
        resp.release()
    assert connections == 1
    await client.close()
    server.close()


async def test_chunked_stream_arrives_in_pieces() -> None:
    gate = asyncio.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nfirst\r\n")
        await writer.drain()
        await gate.wait()
        writer.write(b"6\r\nsecond\r\n0\r\n\r\n")
        await writer.drain()

    server, url = await serve(handler)
    client = HTTP1Client()
    resp = await client.request("POST", url, {}, b"", 2)
    assert await resp.readany() == b"first"  # before the server has sent the rest
    gate.set()
    assert await resp.read() == b"second"
    resp.release()
    await client.close()
    server.close()


async def test_cut_mid_response_raises_a_reset() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npartial")
        await writer.drain()
        writer.close()

    server, url = await serve(handler)
    client = HTTP1Client()
    resp = await client.request("POST", url, {}, b"", 2)
    with pytest.raises(UpstreamConnectionError) as info:
        await resp.read()
    assert info.value.kind == "reset"
    await client.close()
    server.close()


async def test_close_delimited_body_ends_normally() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nall of it")
        await writer.drain()
        writer.close()

    server, url = await serve(handler)
    client = HTTP1Client()
    resp = await client.request("POST", url, {}, b"", 2)
    assert await resp.read() == b"all of it"
    resp.release()
    await client.close()
    server.close()


async def test_stale_pooled_connection_is_retried_on_a_fresh_one() -> None:
    """The server promised keep-alive but drops the idle socket only once the next request
    is on it (as a NAT or a restarted upstream does): the client must retry, fresh."""
    per_connection: list[int] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        per_connection.append(0)
        mine = len(per_connection) - 1
        while True:
            try:
                await read_request(reader)
            except asyncio.IncompleteReadError:
                return
            per_connection[mine] += 1
            if mine == 0 and per_connection[mine] == 2:
                writer.transport.abort()  # the second request on the first socket: dropped
                return
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
            await writer.drain()

    server, url = await serve(handler)
    client = HTTP1Client()
    for _ in range(2):
        resp = await client.request("POST", url, {}, b"", 2)
        assert resp.status == 200 and await resp.read() == b"ok"
        resp.release()
    assert per_connection == [2, 1]  # the second request reached the stale socket, then a new one
    await client.close()
    server.close()


async def test_a_fresh_connection_dropped_before_answering_is_not_retried() -> None:
    seen = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal seen
        await read_request(reader)
        seen += 1
        writer.transport.abort()

    server, url = await serve(handler)
    client = HTTP1Client()
    with pytest.raises(UpstreamConnectionError) as info:
        await client.request("POST", url, {}, b"", 2)
    assert info.value.kind == "reset" and seen == 1  # a new socket proves nothing was stale
    await client.close()
    server.close()


async def test_connection_refused_and_reset_before_answer() -> None:
    client = HTTP1Client()
    with pytest.raises(UpstreamConnectionError) as info:
        await client.request("POST", "http://127.0.0.1:9/x", {}, b"", 1)
    assert info.value.kind == "connect"

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.close()

    server, url = await serve(handler)
    with pytest.raises(UpstreamConnectionError) as info:
        await client.request("POST", url, {}, b"", 1)
    assert info.value.kind == "reset"
    await client.close()
    server.close()


async def test_abandoned_response_drops_the_connection() -> None:
    closed = asyncio.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n")
        await writer.drain()
        await reader.read()  # returns when the client hangs up
        closed.set()

    server, url = await serve(handler)
    client = HTTP1Client()
    resp = await client.request("POST", url, {}, b"", 2)
    assert await resp.readany() == b"abc"
    resp.close()
    await asyncio.wait_for(closed.wait(), 2)
    await client.close()
    server.close()
