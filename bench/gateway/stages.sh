#!/usr/bin/env bash
# What the gateway's stages cost, side by side in one run: wrk -> the peer harness's mock upstream,
# through two Pharos servers with run recording off (so only the stages differ):
#   minimal  routing and usage/cost accounting only (usage is always on)
#   stages   + input policy and output sanitizer (the seed's rules), + limits (max_cost_per_query,
#            a user budget reserved and settled per call, key rpm/tpm) + the exact cache (memory),
#            every request a different prompt so each one misses and is stored
# Cells (interleaved per round, each after a warm-up): wrk -t2 -c64 json and stream, requests/s;
# then exact-cache hits: the same request over one connection (wrk -t1 -c1) through the stages
# server, against the same request to the mock directly and through the minimal server.
#
# Environment: BUILD_DIR / PHAROS, PEER_DIR (../shared/bench/peer), ST_DURATION=10s,
# ST_WARMUP=2s, ST_C1_DURATION=5s, ST_REPEAT=2, ST_MOCK_PORT=18011, ST_OUT=DIR (keep outputs).
set -euo pipefail
cd "$(dirname "$0")/../.."
HERE=$(pwd)/bench/gateway
BUILD_DIR=${BUILD_DIR:-build/release}
PHAROS=$(realpath "${PHAROS:-$BUILD_DIR/src/app/pharos}")
PEER_DIR=$(realpath "${PEER_DIR:-../shared/bench/peer}")
ST_DURATION=${ST_DURATION:-10s}
ST_WARMUP=${ST_WARMUP:-2s}
ST_C1_DURATION=${ST_C1_DURATION:-5s}
ST_REPEAT=${ST_REPEAT:-2}
ST_MOCK_PORT=${ST_MOCK_PORT:-18011}
die() { echo "bench/gateway/stages.sh: $*" >&2; exit 1; }
[ -x "$PHAROS" ] || die "$PHAROS not found; build first"
[ -f "$PEER_DIR/mock-server.js" ] || die "the peer harness is not in $PEER_DIR"
command -v wrk >/dev/null || die "wrk is not installed (bash $PEER_DIR/setup.sh)"
work=${ST_OUT:-$(mktemp -d -t pharos-stages-bench.XXXXXX)}
mkdir -p "$work"
pids=()
cleanup() {
  for p in "${pids[@]:-}"; do [ -n "$p" ] && kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]:-}"; do [ -n "$p" ] && wait "$p" 2>/dev/null || true; done
  [ -n "${ST_OUT:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
wait_port() { for _ in $(seq 150); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }

echo "== gateway stages: minimal vs all stages on (record_runs off in both) =="
echo "  $(date -u +%Y-%m-%dT%H:%M:%SZ); $(nproc) CPUs; load average $(cut -d' ' -f1-3 /proc/loadavg); pharos $(git rev-parse --short HEAD)"
env MOCK_HOST=127.0.0.1 MOCK_PORT="$ST_MOCK_PORT" node "$PEER_DIR/mock-server.js" >"$work/mock.log" 2>&1 &
pids+=($!)
wait_port "$ST_MOCK_PORT" || die "the mock did not start"
declare -A URL PID
URL[direct]="http://127.0.0.1:$ST_MOCK_PORT"

start_pharos() { # name, extra TOML
  local name=$1 dir="$work/$1"
  mkdir -p "$dir/data"
  cat >"$dir/pharos.toml" <<TOML
$2

[gateway.providers.mock]
base_url = "http://127.0.0.1:$ST_MOCK_PORT/v1"

[gateway.models."gpt-4o-mini"]
targets = ["mock/gpt-4o-mini"]
TOML
  (cd "$dir" && exec "$PHAROS" serve --config "$dir/pharos.toml" --listen 127.0.0.1:0 \
     --otlp-grpc-listen off --data "$dir/data" --set log.access_log=false \
     --set gateway.record_runs=false) >"$dir/stdout" 2>"$dir/stderr" &
  pids+=($!)
  PID[$name]=$!
  local port=""
  for _ in $(seq 300); do
    port=$(sed -nE 's|^Pharos .* listening on http://127\.0\.0\.1:([0-9]+) .*|\1|p' "$dir/stdout" | head -n1)
    [ -n "$port" ] && break
    sleep 0.1
  done
  [ -n "$port" ] || { cat "$dir/stderr" >&2; die "pharos ($name) did not start"; }
  URL[$name]="http://127.0.0.1:$port"
}
start_pharos minimal ""
start_pharos stages '
[gateway]
policy = "seed"

[gateway.policies.seed.input]
max_chars = 1000
user_id_pattern = "^[a-zA-Z0-9_-]+$"
strip_chars = "<>{}"

[gateway.policies.seed.output]
forbidden_code = [{ language = "python", contains = "import os" }]

[cache]
enabled = true

[limits]
max_cost_per_query = 0.10
user_budget_usd = 1000000
key_rpm = 100000000
key_tpm = 4000000000'

JSONL="$work/results.jsonl"
: >"$JSONL"
run_wrk() { # label url stream same threads conns duration
  STREAM=$3 SAME=$4 wrk -t"$5" -c"$6" -d"$ST_WARMUP" -s "$HERE/stages.lua" "$2" >/dev/null
  STREAM=$3 SAME=$4 WRK_JSON_OUT="$JSONL" WRK_LABEL="$1" \
    wrk -t"$5" -c"$6" -d"$7" --latency -s "$HERE/stages.lua" "$2" >"$work/wrk-$1.txt"
}
for round in $(seq "$ST_REPEAT"); do
  for mode in json stream; do
    stream=$([ $mode = stream ] && echo 1 || echo 0)
    for t in minimal stages; do
      run_wrk "$t-$mode-r$round" "${URL[$t]}" "$stream" 0 2 64 "$ST_DURATION"
    done
  done
  for t in direct minimal stages; do
    run_wrk "$t-hit-r$round" "${URL[$t]}" 0 1 1 1 "$ST_C1_DURATION"
  done
done
curl -s "${URL[stages]}/metrics" | grep -E '^pharos_gateway_cache_total|^pharos_gateway_limit_refusals_total|^pharos_gateway_policy_total' | sed 's/^/  /' || true
node "$HERE/stages_summary.js" "$JSONL"
for t in minimal stages; do
  echo "  $t: peak RSS $(awk '/^VmHWM:/ {printf "%.1f MiB", $2 / 1024}' "/proc/${PID[$t]}/status")"
done
