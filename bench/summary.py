"""Prints the issue's target figures from an anchor-bench JSON (the newest by default).

    .venv/bin/python bench/summary.py [results.json]
"""

from __future__ import annotations

import json
import os
import statistics
import sys
from pathlib import Path
from typing import Any


def latest() -> Path:
    home = Path(os.environ.get("BENCH_HOME", "/tmp/switchboard-bench"))
    results = Path(os.environ.get("OUT_DIR", home / "results"))
    return max(results.glob("anchors-*.json"), key=lambda p: p.stat().st_mtime)


def med(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else latest()
    runs: list[list[dict[str, Any]]] = json.loads(path.read_text())["runs"]
    by_name: dict[str, list[dict[str, Any]]] = {}
    for repeat in runs:
        for target in repeat:
            by_name.setdefault(target["name"], []).append(target)

    def metric(name: str, kind: str, conc: str, key: str) -> list[float]:
        out = []
        for t in by_name.get(name, []):
            v = (t.get(kind) or {}).get(conc, {}).get(key)
            if v is not None:
                out.append(float(v))
        return out

    direct_p50 = med(metric("direct", "http", "1", "p50_ms"))
    direct_ttfc1 = med(metric("direct", "stream", "1", "ttfc_p50_ms"))
    direct_ttfc32 = med(metric("direct", "stream", "32", "ttfc_p50_ms"))
    portkey_rps = med(metric("portkey", "http", "64", "rps"))
    print(f"results: {path}")
    print(f"{'target':<14} {'added p50 c=1':>14} {'RPS c=64':>9} {'CPU ms/req':>10} "
          f"{'+TTFC c=1':>10} {'+TTFC c=32':>11}")
    for name in by_name:
        if name == "direct":
            continue
        added = med(metric(name, "http", "1", "p50_ms")) - direct_p50
        rps = med(metric(name, "http", "64", "rps"))
        cpu = med(metric(name, "http", "16", "cpu_ms_per_req"))
        ttfc1 = med(metric(name, "stream", "1", "ttfc_p50_ms")) - direct_ttfc1
        ttfc32 = med(metric(name, "stream", "32", "ttfc_p50_ms")) - direct_ttfc32
        print(f"{name:<14} {added:>11.2f} ms {rps:>9.0f} {cpu:>10.3f} {ttfc1:>7.2f} ms "
              f"{ttfc32:>8.2f} ms")
    print("goals for switchboard: added p50 <= 0.5 ms; RPS c=64 >= 2x portkey"
          + (f" (= {2 * portkey_rps:.0f})" if portkey_rps == portkey_rps else "")
          + "; +TTFC <= 1 ms at c=1 and <= 5 ms at c=32; RSS <= 150 MB per worker")


if __name__ == "__main__":
    main()
