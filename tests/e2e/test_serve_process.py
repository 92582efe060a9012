"""`switchboard serve` as a real process: first start, simulator, graceful shutdown."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import openai

from tests.support import MockUpstream, free_port


def start(tmp_path: Path, *args: str, admin_key: str | None = None,
          ) -> tuple[subprocess.Popen[str], str, list[str]]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.pop("SWITCHBOARD_ADMIN_KEY", None)
    if admin_key:
        env["SWITCHBOARD_ADMIN_KEY"] = admin_key
    env["SWITCHBOARD_DATA_DIR"] = str(tmp_path / "data")
    env.pop("SWITCHBOARD_DATABASE_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "switchboard.cli.main", "serve", "--port", str(port), *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=tmp_path)
    lines: list[str] = []
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 30
    assert proc.stdout is not None
    while time.time() < deadline:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    threading.Thread(target=lambda: lines.extend(proc.stdout or []), daemon=True).start()
    time.sleep(0.3)
    return proc, base, lines


def test_first_start_prints_keys_and_serves_the_simulator(tmp_path: Path) -> None:
    proc, base, lines = start(tmp_path)
    try:
        out = "".join(lines)
        root = re.search(r"root admin key : (\S+)", out)
        first = re.search(r"first API key  : (sk-sb-v1-\S+)", out)
        assert root and first, out
        assert "simulator" in out
        client = openai.OpenAI(base_url=f"{base}/api/v1", api_key=first.group(1))
        resp = client.chat.completions.create(
            model="switchboard/echo", messages=[{"role": "user", "content": "你好"}])
        assert resp.choices[0].message.content == "你好"
        db = (tmp_path / "data" / "switchboard.db").read_bytes()
        assert first.group(1).encode() not in db and root.group(1).encode() not in db
    finally:
        proc.terminate()
        proc.wait(20)
    # a second start prints no keys: they were shown once
    proc, base, lines = start(tmp_path)
    try:
        assert "first API key" not in "".join(lines)
    finally:
        proc.terminate()
        proc.wait(20)


def test_sigterm_lets_an_in_flight_stream_finish(tmp_path: Path) -> None:
    proc, base, lines = start(tmp_path)
    key = re.search(r"first API key  : (sk-sb-v1-\S+)", "".join(lines))
    assert key
    received: list[str] = []
    started = threading.Event()

    def consume() -> None:
        with httpx.stream("POST", f"{base}/api/v1/chat/completions", timeout=30,
                          headers={"Authorization": f"Bearer {key.group(1)}"},
                          json={"model": "switchboard/echo", "stream": True,
                                "simulate": {"chunk_delay_ms": 150},
                                "messages": [{"role": "user", "content": "one two three four"}]},
                          ) as r:
            for line in r.iter_lines():
                started.set()
                received.append(line)

    t = threading.Thread(target=consume)
    t.start()
    # the stream is in flight (its first line arrived), however slow the machine is
    assert started.wait(20)
    proc.send_signal(signal.SIGTERM)
    t.join(30)
    proc.wait(30)
    assert "data: [DONE]" in received
    text = "".join(
        line for line in received if line.startswith("data: {") and '"content"' in line)
    assert "four" in text


def test_bad_config_stops_start_with_file_line_field(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("providers:\n  - name: x\n    api: telepathy\n")
    proc = subprocess.run(
        [sys.executable, "-m", "switchboard.cli.main", "serve", "--config", str(cfg),
         "--port", str(free_port())], capture_output=True, text=True, timeout=30,
        env={**os.environ, "SWITCHBOARD_DATA_DIR": str(tmp_path / "d")})
    assert proc.returncode == 2
    assert f"{cfg} line 3" in proc.stderr and "providers[0].api" in proc.stderr


def test_client_disconnect_reaches_the_upstream_through_the_real_server(
    tmp_path: Path, upstream: MockUpstream
) -> None:
    from tests.support import Reply, mock_config, openai_stream

    cfg = tmp_path / "sb.yaml"
    cfg.write_text(mock_config(upstream.url))
    upstream.script("/alpha/", Reply(sse=openai_stream([f"w{i} " for i in range(40)]),
                                     chunk_delay_s=0.1))
    proc, base, lines = start(tmp_path, "--config", str(cfg))
    try:
        key = re.search(r"first API key  : (sk-sb-v1-\S+)", "".join(lines))
        root = re.search(r"root admin key : (\S+)", "".join(lines))
        assert key and root
        httpx.post(f"{base}/api/v1/credits/charge", json={"amount": 5},
                   headers={"Authorization": f"Bearer {root.group(1)}"}).raise_for_status()
        with httpx.stream("POST", f"{base}/api/v1/chat/completions", timeout=30,
                          headers={"Authorization": f"Bearer {key.group(1)}"},
                          json={"model": "test/gpt", "stream": True,
                                "provider": {"only": ["alpha"]},
                                "messages": [{"role": "user", "content": "go"}]}) as r:
            for line in r.iter_lines():
                if '"content":"w' in line:
                    break  # leave after the first content chunk
        deadline = time.time() + 5
        while time.time() < deadline and not upstream.hits("/alpha/")[0]["disconnected"]:
            time.sleep(0.05)
        assert upstream.hits("/alpha/")[0]["disconnected"]
    finally:
        proc.terminate()
        proc.wait(20)


def test_admin_key_from_the_environment_still_gets_a_first_api_key(tmp_path: Path) -> None:
    proc, base, lines = start(tmp_path, admin_key="sk-sb-admin-from-env")
    try:
        out = "".join(lines)
        assert "root admin key" not in out and "sk-sb-admin-from-env" not in out
        first = re.search(r"first API key  : (sk-sb-v1-\S+)", out)
        assert first, out
        r = httpx.get(f"{base}/api/v1/accounts",
                      headers={"Authorization": "Bearer sk-sb-admin-from-env"})
        assert r.status_code == 200
    finally:
        proc.terminate()
        proc.wait(20)
