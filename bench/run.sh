#!/usr/bin/env bash
# Runs the shared anchor benchmark with Switchboard added as a target and prints the table.
#   bash bench/run.sh                       # direct + switchboard (+ portkey if installed)
#   ONLY=direct,portkey,switchboard,litellm-1w REPEAT=2 bash bench/run.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SHARED="${SHARED:-$ROOT/../shared/bench}"
export BENCH_HOME=${BENCH_HOME:-${TMPDIR:-/tmp}/switchboard-bench}
mkdir -p "$BENCH_HOME"
export SWITCHBOARD_DATABASE_URL=sqlite:///$BENCH_HOME/sb-bench.db
export SWITCHBOARD_ADMIN_KEY=sk-sb-bench-admin
export MOCK_PORT=${MOCK_PORT:-18001}
cd "$ROOT"

# A real API key with credits, so authentication and accounting are part of what is measured.
if [ ! -s "$BENCH_HOME/sb-bench.key" ]; then
  rm -f "$BENCH_HOME"/sb-bench.db*
  .venv/bin/switchboard serve --port 18301 --config bench/switchboard.yaml >"$BENCH_HOME/sb-setup.log" 2>&1 &
  pid=$!
  until curl -sf http://127.0.0.1:18301/health >/dev/null; do sleep 0.2; done
  curl -s http://127.0.0.1:18301/api/v1/keys -H "Authorization: Bearer $SWITCHBOARD_ADMIN_KEY" \
    -H 'Content-Type: application/json' -d '{"name":"bench"}' \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])' >"$BENCH_HOME/sb-bench.key"
  curl -s http://127.0.0.1:18301/api/v1/credits/charge -H "Authorization: Bearer $SWITCHBOARD_ADMIN_KEY" \
    -H 'Content-Type: application/json' -d '{"amount": 1000000}' >/dev/null
  kill $pid; wait $pid || true
fi
export SB_BENCH_KEY=$(cat "$BENCH_HOME/sb-bench.key")

EXTRA_TARGETS="$ROOT/bench/targets.sh" bash "$SHARED/run_anchor_bench.sh" \
  --only "${ONLY:-direct,switchboard}" --repeat "${REPEAT:-1}" \
  --http-duration "${HTTP_DURATION:-6}" --stream-duration "${STREAM_DURATION:-5}" \
  --warmup "${WARMUP:-4}" "$@"
.venv/bin/python bench/summary.py
