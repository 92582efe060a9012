"""Upstream client benchmark: Switchboard's own HTTP/1.1 client against aiohttp's.

Both clients call the same local upstream, over plain TCP and over TLS, for whole JSON
answers and for SSE streams, at concurrency 1 and 32. Printed per case: requests/s, the
client process's CPU per request (what the gateway pays on its one core), and p50 latency.
The upstream runs in its own process pinned to CPU 0, the client on CPU 1.

    .venv/bin/python bench/transport.py                # about a minute
    .venv/bin/python bench/transport.py --seconds 5 --conc 1,32,128
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

JSON_BODY = (b'{"id":"chatcmpl-1","object":"chat.completion","created":1700000000,'
             b'"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant",'
             b'"content":"' + b"Hello there! " * 30 + b'"},"finish_reason":"stop"}],'
             b'"usage":{"prompt_tokens":12,"completion_tokens":90,"total_tokens":102}}')
_CHUNK = (b'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,'
          b'"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"word "},'
          b'"finish_reason":null}]}\n\n')
SSE_BODY = _CHUNK * 22 + b"data: [DONE]\n\n"
REQUEST = b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}'


# -- the upstream (a separate process) ---------------------------------------------------

class _Upstream(asyncio.Protocol):
    """Keep-alive HTTP/1.1: answers each request by its path (/json or /sse) at once."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.t: asyncio.Transport = transport  # type: ignore[assignment]
        self.buf = b""

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buf[:end].lower()
            found = re.search(rb"content-length: *(\d+)", head)
            length = int(found.group(1)) if found else 0
            if len(self.buf) < end + 4 + length:
                return
            self.buf = self.buf[end + 4 + length:]
            if b" /sse" in head[:64]:
                self.t.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                             b"transfer-encoding: chunked\r\n\r\n"
                             + b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in _sse_pieces())
                             + b"0\r\n\r\n")
            else:
                self.t.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                             b"content-length: %d\r\n\r\n%s" % (len(JSON_BODY), JSON_BODY))


def _sse_pieces() -> list[bytes]:
    return [_CHUNK] * 22 + [b"data: [DONE]\n\n"]


def serve(port: int, tls_port: int, cert: str, key: str) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        await loop.create_server(_Upstream, "127.0.0.1", port, backlog=1024)
        await loop.create_server(_Upstream, "127.0.0.1", tls_port, ssl=ctx, backlog=1024)
        print("ready", flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


# -- the clients -------------------------------------------------------------------------

Call = Callable[[str, bool], Awaitable[int]]


async def own_client(ca: str) -> tuple[Call, Callable[[], Awaitable[None]]]:
    from switchboard.catalog.types import ProviderTLS
    from switchboard.execution.http1 import HTTP1Client

    client = HTTP1Client()
    tls = ProviderTLS(ca_file=ca)
    headers = {"content-type": "application/json", "authorization": "Bearer sk-x"}

    async def call(url: str, stream: bool) -> int:
        resp = await client.request("POST", url, headers, REQUEST, 5,
                                    tls if url.startswith("https") else None)
        n = 0
        try:
            if stream:
                while data := await resp.readany():
                    n += len(data)
            else:
                n = len(await resp.read())
        finally:
            resp.release()
        return n

    return call, client.close


async def aiohttp_client(ca: str) -> tuple[Call, Callable[[], Awaitable[None]]]:
    import aiohttp

    ctx = ssl.create_default_context(cafile=ca)
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256, ssl=ctx))
    headers = {"content-type": "application/json", "authorization": "Bearer sk-x"}

    async def call(url: str, stream: bool) -> int:
        n = 0
        async with session.post(url, data=REQUEST, headers=headers) as resp:
            if stream:
                async for data in resp.content.iter_any():
                    n += len(data)
            else:
                n = len(await resp.read())
        return n

    return call, session.close


async def load(call: Call, url: str, stream: bool, conc: int, seconds: float
               ) -> tuple[float, float, float]:
    """requests/s, CPU microseconds per request, p50 latency in ms."""
    expect = len(SSE_BODY) if stream else len(JSON_BODY)
    for _ in range(50):  # warm up: connections, TLS sessions, caches
        assert await call(url, stream) == expect
    latencies: list[float] = []
    stop = time.monotonic() + seconds

    async def worker() -> None:
        while time.monotonic() < stop:
            t0 = time.perf_counter()
            n = await call(url, stream)
            latencies.append(time.perf_counter() - t0)
            assert n == expect, n

    cpu0, t0 = time.process_time(), time.monotonic()
    await asyncio.gather(*(worker() for _ in range(conc)))
    cpu, wall = time.process_time() - cpu0, time.monotonic() - t0
    count = len(latencies)
    return count / wall, cpu / count * 1e6, statistics.median(latencies) * 1000


async def run(args: argparse.Namespace, port: int, tls_port: int, ca: str) -> None:
    rows = []
    for name, make in (("own", own_client), ("aiohttp", aiohttp_client)):
        call, close = await make(ca)
        for scheme, p in (("plain", port), ("tls", tls_port)):
            base = f"{'https' if scheme == 'tls' else 'http'}://127.0.0.1:{p}"
            for mode in ("json", "sse"):
                for conc in args.conc:
                    rps, cpu_us, p50 = await load(call, f"{base}/{mode}", mode == "sse", conc,
                                                  args.seconds)
                    rows.append((name, scheme, mode, conc, rps, cpu_us, p50))
                    print(f"  {name:8} {scheme:5} {mode:4} c={conc:<4} {rps:8.0f} req/s "
                          f"{cpu_us:7.0f} us CPU/req  p50 {p50:6.2f} ms", file=sys.stderr)
        await close()
    print("| client | upstream | answer | c | req/s | client CPU µs/req | p50 ms |")
    print("|---|---|---|---|---|---|---|")
    for name, scheme, mode, conc, rps, cpu_us, p50 in rows:
        print(f"| {name} | {scheme} | {mode} | {conc} | {rps:.0f} | {cpu_us:.0f} | {p50:.2f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--conc", type=lambda s: [int(c) for c in s.split(",")], default=[1, 32])
    ap.add_argument("--port", type=int, default=18411)
    ap.add_argument("--serve", nargs=4, metavar=("PORT", "TLS_PORT", "CERT", "KEY"))
    args = ap.parse_args()
    if args.serve:
        serve(int(args.serve[0]), int(args.serve[1]), args.serve[2], args.serve[3])
        return
    import trustme  # a test extra: `pip install -e '.[test]'`

    tmp = Path(tempfile.mkdtemp(prefix="sb-transport-bench-"))
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1")
    cert, key, ca_file = tmp / "cert.pem", tmp / "key.pem", tmp / "ca.pem"
    leaf.cert_chain_pems[0].write_to_path(str(cert))
    leaf.private_key_pem.write_to_path(str(key))
    ca.cert_pem.write_to_path(str(ca_file))
    port, tls_port = args.port, args.port + 1
    upstream = subprocess.Popen(
        ["taskset", "-c", "0", sys.executable, __file__, "--serve", str(port), str(tls_port),
         str(cert), str(key)], stdout=subprocess.PIPE, text=True)
    try:
        assert upstream.stdout is not None and upstream.stdout.readline().strip() == "ready"
        if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
            os.sched_setaffinity(0, {1})
        try:
            import uvloop

            uvloop.install()  # as the gateway runs
        except ImportError:
            pass
        asyncio.run(run(args, port, tls_port, str(ca_file)))
    finally:
        upstream.terminate()
        upstream.wait()


if __name__ == "__main__":
    main()
