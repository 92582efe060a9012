"""Upstream bodies are bounded: whole answers, single event-stream lines, headers, and
compressed answers after decompression (a gzip bomb must never inflate)."""

from __future__ import annotations

import asyncio
import gzip
import resource
import zlib

import brotli
import pytest

from switchboard.execution.http1 import HTTP1Client
from switchboard.execution.transport import (
    TransportLimits,
    UpstreamBodyTooLarge,
    UpstreamProtocolError,
)
from tests.transport.conftest import answer, fixed, read_request, serve

SMALL = TransportLimits(max_body_bytes=64 * 1024, max_line_bytes=1024)


async def fetch(handler, limits: TransportLimits = SMALL, stream: bool = False) -> bytes:  # type: ignore[no-untyped-def]
    server, port = await serve(handler)
    client = HTTP1Client(limits)
    try:
        resp = await client.request("POST", f"http://127.0.0.1:{port}/x", {}, b"{}", 2)
        try:
            if not stream:
                return await resp.read()
            out = b""
            while piece := await resp.readany():
                out += piece
            return out
        finally:
            resp.release()
    finally:
        await client.close()
        server.close()


@pytest.mark.parametrize(("coding", "pack"), [
    ("gzip", gzip.compress),
    ("deflate", zlib.compress),
    ("deflate", lambda b: zlib.compress(b, wbits=-15)),  # raw deflate, as some servers send
    ("br", brotli.compress),
])
async def test_compressed_answers_are_decoded(coding, pack) -> None:  # type: ignore[no-untyped-def]
    body = b'{"choices": []}' * 500
    got = await fetch(fixed(answer(pack(body), f"content-encoding: {coding}")))
    assert got == body


async def test_an_unknown_content_encoding_is_a_protocol_error() -> None:
    with pytest.raises(UpstreamProtocolError, match="zstd"):
        await fetch(fixed(answer(b"x", "content-encoding: zstd")))


async def test_a_corrupt_gzip_body_is_a_protocol_error() -> None:
    with pytest.raises(UpstreamProtocolError, match="corrupt"):
        await fetch(fixed(answer(b"\x1f\x8bnot gzip at all", "content-encoding: gzip")))


async def test_oversize_declared_body_fails_before_reading_it() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 10000000000\r\n\r\n")
        await writer.drain()
        await reader.read()

    with pytest.raises(UpstreamBodyTooLarge, match="max_body_mb"):
        await fetch(handler)


async def test_oversize_chunked_body_stops_at_the_cap() -> None:
    sent = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal sent
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
        piece = b"x" * 8192
        try:
            for _ in range(10_000):  # 80 MB if nobody stopped it
                writer.write(b"2000\r\n" + piece + b"\r\n")
                sent += len(piece)
                await writer.drain()
        except ConnectionError:
            return

    with pytest.raises(UpstreamBodyTooLarge):
        await fetch(handler)
    assert sent < 8 * 1024 * 1024  # the client hung up soon after the cap


def gzip_bomb(mib: int) -> bytes:
    """`mib` MiB of zeros, gzipped, built without ever holding them in memory."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(1024 * 1024)
    return b"".join(packer.compress(zeros) for _ in range(mib)) + packer.flush()


async def test_gzip_bomb_is_not_inflated() -> None:
    bomb = gzip_bomb(64)
    assert len(bomb) < 100_000
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(UpstreamBodyTooLarge):
        await fetch(fixed(answer(bomb, "content-encoding: gzip")),
                    TransportLimits(max_body_bytes=1024 * 1024))
    grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
    assert grown_kb < 24 * 1024  # peak memory grew by far less than the bomb's 64 MiB


async def test_brotli_bomb_is_not_inflated() -> None:
    bomb = brotli.compress(b"\0" * (64 * 1024 * 1024), quality=5)
    with pytest.raises(UpstreamBodyTooLarge):
        await fetch(fixed(answer(bomb, "content-encoding: br")),
                    TransportLimits(max_body_bytes=1024 * 1024))


def sse(*events: bytes) -> bytes:
    body = b"".join(b"data: " + e + b"\n\n" for e in events)
    return answer(body, "content-type: text/event-stream")


async def test_event_streams_are_capped_per_line_not_in_total() -> None:
    events = [b"y" * 900] * 200  # 180 KB in all, above the 64 KiB body cap; each line fits
    got = await fetch(fixed(sse(*events)), stream=True)
    assert got.count(b"\n\n") == 200


async def test_one_oversize_event_stream_line_fails() -> None:
    with pytest.raises(UpstreamBodyTooLarge, match="max_line_kb"):
        await fetch(fixed(sse(b"ok", b"z" * 5000, b"ok")), stream=True)


async def test_a_line_growing_across_many_pieces_is_caught() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                     b"transfer-encoding: chunked\r\n\r\n")
        try:
            for _ in range(100):
                writer.write(b"64\r\n" + b"a" * 100 + b"\r\n")
                await writer.drain()
                await asyncio.sleep(0.001)
        except ConnectionError:
            return

    with pytest.raises(UpstreamBodyTooLarge):
        await fetch(handler, stream=True)


async def test_huge_headers_are_refused() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\n")
        try:
            for i in range(10_000):
                writer.write(f"x-junk-{i}: {'j' * 100}\r\n".encode())
                await writer.drain()
        except ConnectionError:
            return

    with pytest.raises(UpstreamBodyTooLarge, match="headers"):
        await fetch(handler)


async def test_broken_chunked_framing_is_a_protocol_error() -> None:
    bad = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nnot-hex\r\nabc\r\n0\r\n\r\n"
    with pytest.raises(UpstreamProtocolError, match="malformed"):
        await fetch(fixed(bad))
