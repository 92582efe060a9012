"""`switchboard serve --workers 2 --log-format json` as real processes: every stderr line is
JSON (the HTTP server's own lines too), and /metrics sums what both workers counted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from tests.ops.support import Scrape
from tests.support import free_port


def test_two_workers_json_logs_and_summed_metrics(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.update(SWITCHBOARD_DATA_DIR=str(tmp_path / "data"),
               SWITCHBOARD_ADMIN_KEY="sk-sb-ops-admin-" + os.urandom(4).hex(),
               PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prom"))
    env.pop("SWITCHBOARD_DATABASE_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "switchboard.cli.main", "serve", "--port", str(port),
         "--workers", "2", "--log-format", "json", "--log-level", "info"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(proc.stderr or []), daemon=True).start()
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 40
        while time.time() < deadline:
            try:
                if httpx.get(f"{base}/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        for i in range(12):  # new connections: the kernel spreads them over both workers
            r = httpx.get(f"{base}/api/v1/models", headers={"X-Request-Id": f"multi-{i}"})
            assert r.status_code == 200
        scrape = Scrape(httpx.get(f"{base}/metrics").text)
        assert scrape.value("switchboard_requests_total", endpoint="/api/v1/models",
                            status="200") == 12
        assert scrape.value("switchboard_in_flight_requests") == 0
    finally:
        proc.terminate()
        proc.wait(30)
    time.sleep(0.2)
    parsed = [json.loads(line) for line in lines if line.strip()]  # every line is JSON
    assert len(parsed) == len([ln for ln in lines if ln.strip()])
    assert {p["request_id"] for p in parsed if p.get("msg") == "request"} >= {
        f"multi-{i}" for i in range(12)}
    assert any(p["logger"].startswith("uvicorn") for p in parsed)  # the server's own lines
