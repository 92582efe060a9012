"""What metrics, request logs and tracing add to a request's latency at concurrency 1.

Starts one real `switchboard serve` per variant against the shared bench mock upstream,
then measures them in interleaved rounds (so machine noise hits every variant alike) and
prints each variant's p50 and its difference from the baseline (metrics off, warnings only).

    .venv/bin/python bench/ops_overhead.py [--rounds 8] [--per-round 400] [--stream]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import yaml

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("SHARED", ROOT.parent / "shared" / "bench"))
if not SHARED.exists():
    SHARED = Path("/work/shared/bench")
ADMIN = "sk-sb-ops-bench-admin"

# name -> (config sections, log level)
VARIANTS: dict[str, tuple[dict[str, Any], str]] = {
    "baseline (metrics off)": ({"metrics": {"enabled": False}}, "warning"),
    "metrics on": ({}, "warning"),
    "metrics + info logs": ({}, "info"),
    "metrics + tracing": ({"tracing": {"otlp_endpoint": "SINK"}}, "warning"),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def otlp_sink() -> str:
    """Accepts OTLP/HTTP exports and drops them: tracing's cost without a collector's."""

    class Sink(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), Sink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{port}"


def wait_up(url: str, timeout_s: float = 60) -> None:
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} did not come up")


class Gateway:
    def __init__(self, name: str, sections: dict[str, Any], level: str, mock_port: int,
                 sink: str, tmp: Path) -> None:
        self.name = name
        self.port = free_port()
        conf = yaml.safe_load((ROOT / "bench" / "switchboard.yaml").read_text()
                              .replace("${MOCK_PORT:-18001}", str(mock_port)))
        for key, value in sections.items():
            if key == "tracing":
                value = {"otlp_endpoint": sink}
            conf[key] = value
        home = tmp / f"gw{self.port}"
        home.mkdir()
        (home / "sb.yaml").write_text(yaml.safe_dump(conf))
        env = {k: v for k, v in os.environ.items()
               if not k.endswith("_API_KEY") and not k.startswith("OTEL_")}
        env.update(SWITCHBOARD_DATABASE_URL=f"sqlite:///{home}/sb.db", SWITCHBOARD_ADMIN_KEY=ADMIN)
        self.proc = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "switchboard"), "serve", "--port", str(self.port),
             "--config", str(home / "sb.yaml"), "--log-level", level, "--log-format", "json"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{self.port}"
        wait_up(f"{base}/health")
        admin = {"Authorization": f"Bearer {ADMIN}"}
        key = httpx.post(f"{base}/api/v1/keys", json={"name": "bench"}, headers=admin).json()
        httpx.post(f"{base}/api/v1/credits/charge", json={"amount": 1000000}, headers=admin)
        self.client = httpx.Client(base_url=f"{base}/api/v1", timeout=30, headers={
            "Authorization": f"Bearer {key['key']}"})

    def run(self, n: int, stream: bool) -> list[float]:
        body = {"model": "bench/gpt-4o-mini", "stream": stream,
                "messages": [{"role": "user", "content": "hello"}]}
        out = []
        for _ in range(n):
            t0 = time.perf_counter()
            if stream:
                with self.client.stream("POST", "/chat/completions", json=body) as r:
                    for _chunk in r.iter_bytes():
                        pass
            else:
                r = self.client.post("/chat/completions", json=body)
            out.append(time.perf_counter() - t0)
            assert r.status_code == 200, r.status_code
        return out

    def stop(self) -> None:
        self.client.close()
        self.proc.terminate()
        self.proc.wait(30)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--per-round", type=int, default=400)
    ap.add_argument("--stream", action="store_true")
    args = ap.parse_args()
    mock_port = free_port()
    mock = subprocess.Popen([sys.executable, str(SHARED / "mock_upstream.py"), "--port",
                             str(mock_port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_up(f"http://127.0.0.1:{mock_port}/health")
    sink = otlp_sink()
    gateways: list[Gateway] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for name, (sections, level) in VARIANTS.items():
                gateways.append(Gateway(name, sections, level, mock_port, sink, Path(tmp)))
            for gw in gateways:
                gw.run(200, args.stream)  # warm-up
            per_round: dict[str, list[float]] = {gw.name: [] for gw in gateways}
            for _ in range(args.rounds):
                for gw in gateways:
                    per_round[gw.name].append(statistics.median(gw.run(args.per_round,
                                                                       args.stream)))
            base = per_round[gateways[0].name]
            kind = "stream" if args.stream else "non-streaming"
            print(f"{kind}, c=1, {args.rounds} rounds x {args.per_round} requests")
            print(f"{'variant':26} {'p50 ms':>8} {'added ms (median of rounds)':>28}")
            for gw in gateways:
                p50s = per_round[gw.name]
                added = statistics.median(a - b for a, b in zip(p50s, base, strict=True))
                print(f"{gw.name:26} {statistics.median(p50s) * 1000:8.3f} {added * 1000:28.3f}")
    finally:
        for gw in gateways:
            gw.stop()
        mock.terminate()


if __name__ == "__main__":
    main()
