"""Issue 15, findings 11 and 13 and the HTTP parts of 12: framing, headers, methods, slowloris.

All through a real server: raw sockets where an HTTP client would be too polite.
"""

from __future__ import annotations

import contextlib
import os
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson

from tests.support import GatewayServer, free_port


def _raw(port: int, data: bytes, timeout: float = 5.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not chunk:
                break
            out += chunk
        return out


def _split(response: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = response.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def test_framing_errors_are_json(gw: GatewayServer) -> None:
    status, headers, body = _split(_raw(gw.port, b"GARBAGE \x00\x01 nonsense\r\n\r\n"))
    assert status == 400
    assert headers["content-type"] == "application/json"
    assert orjson.loads(body)["error"]["code"] == 400


def test_huge_header_is_a_431_in_json(gw: GatewayServer, key: str) -> None:
    title = "t" * (4 * 1024 * 1024)
    request = (f"POST /api/v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
               f"Authorization: Bearer {key}\r\nX-Title: {title}\r\n"
               "Content-Length: 2\r\n\r\n{}").encode()
    status, headers, body = _split(_raw(gw.port, request))
    assert status == 431
    assert headers["content-type"] == "application/json"
    assert orjson.loads(body)["error"]["code"] == 431


def test_utf8_title_is_stored_as_sent(gw: GatewayServer, key: str) -> None:
    r = gw.http.post("/chat/completions", json={
        "model": "switchboard/echo", "messages": [{"role": "user", "content": "hi"}]},
        headers={"Authorization": f"Bearer {key}", "X-Title": "日本".encode()})
    assert r.status_code == 200, r.text
    g = gw.http.get("/generation", params={"id": r.json()["id"]},
                    headers={"Authorization": f"Bearer {key}"})
    assert g.status_code == 200, g.text
    assert g.json()["data"]["app_title"] == "日本"


def test_wrong_method_is_405_with_allow_and_head_works(gw: GatewayServer, key: str) -> None:
    r = gw.http.put("/chat/completions", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 405
    assert r.headers["allow"] == "POST"
    assert r.json()["error"]["code"] == 405
    r = gw.http.delete("/models")
    assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD"
    head = gw.http.head("/models")
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) > 0
    r = gw.http.head("/chat/completions")
    assert r.status_code == 405 and r.headers["allow"] == "POST"


def test_unknown_path_is_404_json(gw: GatewayServer) -> None:
    r = gw.http.get("/no/such/thing")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/json"


def _serve_with_fd_limit(tmp_path: Path, limit: int) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env["SWITCHBOARD_DATA_DIR"] = str(tmp_path / "data")
    env.pop("SWITCHBOARD_DATABASE_URL", None)
    env.pop("SWITCHBOARD_ADMIN_KEY", None)

    def lower_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

    proc = subprocess.Popen(
        [sys.executable, "-m", "switchboard.cli.main", "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=tmp_path,
        preexec_fn=lower_limit)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc, port
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not start")


def test_slowloris_does_not_stop_normal_requests(tmp_path: Path) -> None:
    """1,100 connections that never finish their headers, against a 1,024-descriptor
    process: normal requests still get through."""
    proc, port = _serve_with_fd_limit(tmp_path, 1024)
    slow: list[socket.socket] = []
    try:
        for _ in range(1100):
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=2)
                s.sendall(b"GET /api/v1/models HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                slow.append(s)
            except OSError:
                pass  # a refused or dropped slow connection is the point
        time.sleep(0.5)
        for s in slow[:200]:  # some of them keep trickling
            with contextlib.suppress(OSError):
                s.sendall(b"a")
        for _ in range(5):
            r = httpx.get(f"http://127.0.0.1:{port}/api/v1/models", timeout=5)
            assert r.status_code == 200
    finally:
        for s in slow:
            s.close()
        proc.terminate()
        proc.wait(15)


def test_silent_connection_is_closed_after_the_header_deadline(gw: GatewayServer) -> None:
    from switchboard.http_guard import GuardedProtocol

    with socket.create_connection(("127.0.0.1", gw.port), timeout=30) as s:
        s.sendall(b"GET /api/v1/models HTTP/1.1\r\nHost: x\r\n")  # and never the end
        t0 = time.monotonic()
        data = b""
        while chunk := s.recv(4096):
            data += chunk
        waited = time.monotonic() - t0
    assert waited < GuardedProtocol.limits.header_timeout_s + 3
    status, headers, _body = _split(data)
    assert status == 408 and headers["content-type"] == "application/json"
