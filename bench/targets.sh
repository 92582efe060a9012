# Sourced by ../shared/bench/run_anchor_bench.sh (EXTRA_TARGETS): Switchboard as a target.
SB_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target --model bench/gpt-4o-mini switchboard "http://127.0.0.1:18301/api/v1" "$GW_CPUS" \
  "cd '$SB_ROOT' && exec .venv/bin/switchboard serve --host 127.0.0.1 --port 18301 --workers 1 --config bench/switchboard.yaml" \
  "Authorization: Bearer $SB_BENCH_KEY"
# the same gateway on uvicorn instead of granian, for comparison
target --model bench/gpt-4o-mini switchboard-uv "http://127.0.0.1:18302/api/v1" "$GW_CPUS" \
  "cd '$SB_ROOT' && exec .venv/bin/switchboard serve --server uvicorn --host 127.0.0.1 --port 18302 --workers 1 --config bench/switchboard.yaml" \
  "Authorization: Bearer $SB_BENCH_KEY"
