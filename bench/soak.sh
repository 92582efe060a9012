#!/usr/bin/env bash
# Memory soak: steady load (non-streaming and streaming mixed) for SOAK_S seconds,
# printing the gateway's RSS every 15 s. The set-up of bench/run.sh must have run once.
#   SOAK_S=300 bash bench/soak.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SHARED="${SHARED:-$ROOT/../shared/bench}"
export BENCH_HOME=${BENCH_HOME:-${TMPDIR:-/tmp}/switchboard-bench}
export SWITCHBOARD_DATABASE_URL=sqlite:///$BENCH_HOME/sb-bench.db SWITCHBOARD_ADMIN_KEY=sk-sb-bench-admin
export MOCK_PORT=${MOCK_PORT:-18001} MOCK_CHUNKS=20 MOCK_CHUNK_DELAY_MS=10
SOAK_S=${SOAK_S:-300}
KEY=$(cat "$BENCH_HOME/sb-bench.key")
cd "$ROOT"
taskset -c 0 "$BENCH_HOME/bench-venv/bin/python" "$SHARED/mock_upstream.py" --port "$MOCK_PORT" >/dev/null 2>&1 &
mock=$!
taskset -c 1 .venv/bin/switchboard serve --port 18301 --config bench/switchboard.yaml >/dev/null 2>&1 &
gw=$!
trap 'kill $mock $gw 2>/dev/null || true' EXIT
until curl -sf http://127.0.0.1:18301/health >/dev/null; do sleep 0.2; done
pid=$(pgrep -f "switchboard serve --port 18301" | head -1)
BENCH_MODEL=bench/gpt-4o-mini taskset -c 0 wrk -t1 -c32 -d"${SOAK_S}s" -s "$SHARED/post.lua" \
  -H "Authorization: Bearer $KEY" http://127.0.0.1:18301/api/v1/chat/completions >"$BENCH_HOME/soak-wrk.txt" &
load=$!
start=$(date +%s)
echo "elapsed_s rss_mb"
while kill -0 $load 2>/dev/null; do
  rss=$(awk '/VmRSS/ {print int($2/1024)}' /proc/$pid/status)
  echo "$(( $(date +%s) - start )) $rss"
  sleep 15
done
grep -E "Requests/sec|Non-2xx" "$BENCH_HOME/soak-wrk.txt" || true
