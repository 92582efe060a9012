"""A newcomer's stumbles: wrong base path, wrong key, a taken port, lost keys, test data."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import redis_guard
from tests.support import GatewayServer, free_port


@pytest.fixture()
def gw(tmp_path: Path) -> Any:
    g = GatewayServer("builtin_catalog: false\n", tmp_path)
    yield g
    g.stop()


def test_openai_base_path_gets_a_404_saying_where_the_api_lives(gw: GatewayServer) -> None:
    r = httpx.post(f"http://127.0.0.1:{gw.port}/v1/chat/completions", json={})
    assert r.status_code == 404
    message = r.json()["error"]["message"]
    assert "/api/v1/chat/completions" in message and "base URL" in message
    r = httpx.get(f"http://127.0.0.1:{gw.port}/models")
    assert r.status_code == 404 and "/api/v1/models" in r.json()["error"]["message"]
    r = httpx.get(f"http://127.0.0.1:{gw.port}/nothing/here")
    assert r.json()["error"]["message"] == "no such endpoint: GET /nothing/here"


def test_an_openrouter_key_gets_a_401_saying_which_key_is_expected(gw: GatewayServer) -> None:
    r = gw.http.post("/chat/completions", json={},
                     headers={"Authorization": "Bearer sk-or-v1-0123456789abcdef"})
    assert r.status_code == 401
    message = r.json()["error"]["message"]
    assert "OpenRouter key" in message and "sk-sb-v1-" in message
    r = gw.http.get("/credits", headers={"Authorization": "Bearer sk-sb-v1-nope"})
    assert r.status_code == 401 and r.json()["error"]["message"] == "Invalid API key"


def _serve(tmp_path: Path, port: int, **env_extra: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items()
           if not k.endswith("_API_KEY") and not k.startswith("SWITCHBOARD_")}
    env.update(SWITCHBOARD_DATA_DIR=str(tmp_path / "data"), **env_extra)
    return subprocess.Popen(
        [sys.executable, "-m", "switchboard.cli.main", "serve", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)


def test_a_taken_port_is_one_clear_line_and_no_listening_banner(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        proc = _serve(tmp_path, port)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "listening" not in out
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "already in use" in lines[0] and f"PORT={port + 1}" in lines[0]


def _wait_listening(proc: subprocess.Popen[str], port: int) -> str:
    """The stdout up to the banner; the port accepts connections once it is printed."""
    assert proc.stdout is not None
    seen = ""
    deadline = time.monotonic() + 60
    while "listening on" not in seen:
        line = proc.stdout.readline()
        assert line and time.monotonic() < deadline, seen
        seen += line
    # printed after the bind: a request right now is queued, not refused
    r = httpx.get(f"http://127.0.0.1:{port}/health", timeout=30)
    assert r.status_code in (200, 503)
    return seen


def _start_once(tmp_path: Path) -> tuple[int, str]:
    """Start `switchboard serve`, read its banner, stop it: (port, what it printed)."""
    port = free_port()
    proc = _serve(tmp_path, port)
    try:
        return port, _wait_listening(proc, port)
    finally:
        proc.terminate()
        proc.wait(30)


def test_first_start_prints_export_lines_and_a_restart_says_how_to_recover(
    tmp_path: Path
) -> None:
    port, out = _start_once(tmp_path)
    exports = dict(line.removeprefix("export ").split("=", 1)
                   for line in out.splitlines() if line.startswith("export "))
    assert set(exports) == {"SWITCHBOARD_ADMIN_KEY", "SWITCHBOARD_API_KEY",
                            "SWITCHBOARD_BASE_URL"}
    assert exports["SWITCHBOARD_BASE_URL"] == f"http://127.0.0.1:{port}/api/v1"
    assert exports["SWITCHBOARD_API_KEY"] in out.split("first API key")[1]

    _, again = _start_once(tmp_path)
    assert "export " not in again
    assert "SWITCHBOARD_ADMIN_KEY=" in again and "Lost the root key" in again


class FakeRedis:
    def __init__(self, keys: dict[str, str]) -> None:
        self.keys = keys

    def dbsize(self) -> int:
        return len(self.keys)

    def exists(self, key: str) -> int:
        return int(key in self.keys)

    def flushdb(self) -> None:
        self.keys.clear()

    def set(self, key: str, value: str) -> None:
        self.keys[key] = value


def test_redis_tests_never_wipe_data_they_did_not_create() -> None:
    foreign = FakeRedis({"someone:else": "1"})
    with pytest.raises(pytest.skip.Exception, match="did not create"):
        redis_guard.claim(foreign, "redis://127.0.0.1:6379/14")
    assert foreign.keys == {"someone:else": "1"}
    ours = FakeRedis({redis_guard.MARKER: "1", "sb:rl:x": "3"})
    redis_guard.claim(ours, "redis://127.0.0.1:6379/14")
    assert ours.keys == {redis_guard.MARKER: "1"}
    empty = FakeRedis({})
    redis_guard.claim(empty, "redis://127.0.0.1:6379/14")
    assert empty.keys == {redis_guard.MARKER: "1"}
