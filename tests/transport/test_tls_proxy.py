"""TLS with a local CA (trustme), client certificates, and egress through a local proxy:
CONNECT tunnels for https, absolute-form requests for http, NO_PROXY."""

from __future__ import annotations

import asyncio
import base64
import ssl
from pathlib import Path

import pytest
import trustme

from switchboard.catalog.types import ProviderTLS
from switchboard.execution.http1 import HTTP1Client
from switchboard.execution.proxy import ProxySettings
from switchboard.execution.transport import UpstreamConnectionError
from tests.transport.conftest import answer, read_request, serve


class Upstream:
    """A keep-alive server answering `ok` and recording each request's head."""

    def __init__(self) -> None:
        self.heads: list[bytes] = []
        self.connections = 0

    async def handler(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        while True:
            try:
                req = await read_request(reader)
            except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
                return
            self.heads.append(req.split(b"\r\n\r\n")[0])
            writer.write(answer(b"ok"))
            await writer.drain()


class Proxy:
    """A tiny forward proxy. CONNECT to any host is tunnelled to `target_port` on the
    loopback, so a made-up host name proves the client never resolved it itself."""

    def __init__(self, target_port: int, auth: str | None = None) -> None:
        self.target_port = target_port
        self.auth = auth
        self.seen: list[bytes] = []

    async def handler(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return
        request_line = head.split(b"\r\n", 1)[0]
        self.seen.append(request_line)
        fields = dict(line.split(b": ", 1) for line in head.split(b"\r\n")[1:] if b": " in line)
        given = {k.lower(): v for k, v in fields.items()}.get(b"proxy-authorization")
        if self.auth and given != self.auth.encode():
            writer.write(b"HTTP/1.1 407 Proxy Authentication Required\r\ncontent-length: 0\r\n\r\n")
            await writer.drain()
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        if request_line.startswith(b"CONNECT "):
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        else:
            up_writer.write(head)  # absolute form passes through; the test upstream accepts it
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def server_ctx(ca: trustme.CA, *names: str, client_ca: bool = False) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*names).configure_cert(ctx)
    if client_ca:
        ca.configure_trust(ctx)
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def ca_file(ca: trustme.CA, tmp_path: Path) -> str:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


async def get(client: HTTP1Client, url: str, tls: ProviderTLS | None = None) -> bytes:
    resp = await client.request("POST", url, {}, b"{}", 3, tls)
    try:
        return await resp.read()
    finally:
        resp.release()


async def test_tls_with_a_private_ca(ca: trustme.CA, tmp_path: Path) -> None:
    up = Upstream()
    server, port = await serve(up.handler, ssl=server_ctx(ca, "127.0.0.1"))
    url = f"https://127.0.0.1:{port}/v1/chat"
    client = HTTP1Client()
    with pytest.raises(UpstreamConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
        await get(client, url)  # the system CAs do not know this one
    assert await get(client, url, ProviderTLS(ca_file=ca_file(ca, tmp_path))) == b"ok"
    assert await get(client, url, ProviderTLS(verify=False)) == b"ok"
    await client.close()
    server.close()


async def test_origin_tls_applies_a_providers_settings_by_origin(
    ca: trustme.CA, tmp_path: Path
) -> None:
    up = Upstream()
    server, port = await serve(up.handler, ssl=server_ctx(ca, "127.0.0.1"))
    tls = ProviderTLS(ca_file=ca_file(ca, tmp_path))
    client = HTTP1Client(origin_tls={("https", "127.0.0.1", port): tls})
    for _ in range(3):
        assert await get(client, f"https://127.0.0.1:{port}/v1/chat") == b"ok"
    assert up.connections == 1  # pooled over TLS too
    await client.close()
    server.close()


async def test_client_certificate_for_mutual_tls(ca: trustme.CA, tmp_path: Path) -> None:
    up = Upstream()
    server, port = await serve(up.handler, ssl=server_ctx(ca, "127.0.0.1", client_ca=True))
    url = f"https://127.0.0.1:{port}/v1/chat"
    cert = ca.issue_cert("switchboard-client")
    cert_file, key_file = tmp_path / "client.pem", tmp_path / "client.key"
    for blob in cert.cert_chain_pems:
        with cert_file.open("ab") as f:
            f.write(blob.bytes())
    cert.private_key_pem.write_to_path(str(key_file))
    client = HTTP1Client()
    anchor = ca_file(ca, tmp_path)
    with pytest.raises(UpstreamConnectionError):
        await get(client, url, ProviderTLS(ca_file=anchor))  # no certificate: refused
    mine = ProviderTLS(ca_file=anchor, cert_file=str(cert_file), key_file=str(key_file))
    assert await get(client, url, mine) == b"ok"
    await client.close()
    server.close()


async def test_https_goes_through_a_connect_tunnel(ca: trustme.CA, tmp_path: Path) -> None:
    up = Upstream()
    server, port = await serve(up.handler, ssl=server_ctx(ca, "api.upstream.test"))
    proxy = Proxy(port, auth="Basic " + base64.b64encode(b"me:s3cret").decode())
    proxy_server, proxy_port = await serve(proxy.handler)
    env = {"HTTPS_PROXY": f"http://me:s3cret@127.0.0.1:{proxy_port}"}
    client = HTTP1Client(proxies=ProxySettings.from_env(env))
    tls = ProviderTLS(ca_file=ca_file(ca, tmp_path))
    url = "https://api.upstream.test/v1/chat/completions"  # resolvable only by the proxy
    for _ in range(2):
        assert await get(client, url, tls) == b"ok"
    assert proxy.seen == [b"CONNECT api.upstream.test:443 HTTP/1.1"]  # one tunnel, reused
    assert up.heads[0].startswith(b"POST /v1/chat/completions HTTP/1.1\r\nhost: api.upstream.test")
    await client.close()
    server.close()
    proxy_server.close()


async def test_http_goes_to_the_proxy_in_absolute_form() -> None:
    up = Upstream()
    server, port = await serve(up.handler)
    proxy = Proxy(port)
    proxy_server, proxy_port = await serve(proxy.handler)
    client = HTTP1Client(proxies=ProxySettings.from_env({"http_proxy": f"127.0.0.1:{proxy_port}"}))
    assert await get(client, "http://models.internal:8000/v1/chat") == b"ok"
    assert proxy.seen == [b"POST http://models.internal:8000/v1/chat HTTP/1.1"]
    await client.close()
    server.close()
    proxy_server.close()


async def test_a_proxy_refusing_connect_is_a_connection_error() -> None:
    proxy = Proxy(9, auth="basic nope")
    proxy_server, proxy_port = await serve(proxy.handler)
    client = HTTP1Client(proxies=ProxySettings.from_env(
        {"HTTPS_PROXY": f"http://127.0.0.1:{proxy_port}"}))
    with pytest.raises(UpstreamConnectionError, match=r"refused CONNECT.*407"):
        await get(client, "https://api.upstream.test/v1/chat")
    assert next(iter(client._pools.values())).open == 0
    await client.close()
    proxy_server.close()


def test_no_proxy_rules() -> None:
    env = {"HTTPS_PROXY": "http://proxy:3128", "HTTP_PROXY": "http://proxy:3128",
           "NO_PROXY": "internal.corp, .svc,10.0.0.0/8,api.example.com:8443,[fd00::1]"}
    p = ProxySettings.from_env(env)
    proxied = [("https", "api.openai.com", 443), ("https", "api.example.com", 443),
               ("http", "notinternal.corp", 80), ("https", "11.0.0.1", 443)]
    direct = [("https", "internal.corp", 443), ("https", "a.b.internal.corp", 443),
              ("http", "x.svc", 80), ("http", "10.1.2.3", 80), ("https", "api.example.com", 8443),
              ("http", "fd00::1", 80), ("http", "127.0.0.1", 80), ("http", "localhost", 8000),
              ("http", "::1", 80)]
    for origin in proxied:
        assert p.for_origin(*origin) is not None, origin
    for origin in direct:
        assert p.for_origin(*origin) is None, origin
    everything = ProxySettings.from_env({**env, "no_proxy": "*"})
    assert everything.for_origin("https", "a.com", 443) is None
    assert ProxySettings.from_env({}).for_origin("https", "a.com", 443) is None


def test_lower_case_variables_win_and_all_proxy_fills_in() -> None:
    p = ProxySettings.from_env({"https_proxy": "http://low:1", "HTTPS_PROXY": "http://up:2",
                                "ALL_PROXY": "http://all:3"})
    assert p.https is not None and (p.https.host, p.https.port) == ("low", 1)
    assert p.http is not None and p.http.host == "all"


def test_unsupported_proxy_scheme_names_the_variable() -> None:
    with pytest.raises(ValueError, match="HTTPS_PROXY"):
        ProxySettings.from_env({"HTTPS_PROXY": "socks5://proxy:1080"})
