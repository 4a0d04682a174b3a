#!/usr/bin/env bash
# Benchmarks a built Pharos; builds nothing (`make bench` builds build/release first).
#
#   1. Load test: for each access-log setting (off, then on) starts `pharos serve` on a free port
#      with a fresh data directory, records idle RSS, runs wrk against /healthz while sampling RSS,
#      prints requests/s, p50/p99 latency and RSS idle/peak, then stops the server with SIGTERM.
#   2. Micro benchmarks: runs the Google Benchmark binary (pharos_bench).
#
# Environment (all optional):
#   BUILD_DIR=build/release   where pharos and pharos_bench are
#   DURATION=10s              wrk duration per variant
#   THREADS=2 CONNECTIONS=64  wrk -t / -c
#   ACCESS_LOG="off on"       which variants to run
#   MICRO=1                   0 skips the Google Benchmark run
#   BENCH_ARGS=...            extra arguments for pharos_bench (e.g. --benchmark_filter=Router)
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=${BUILD_DIR:-build/release}
DURATION=${DURATION:-10s}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-64}
ACCESS_LOG=${ACCESS_LOG:-off on}
MICRO=${MICRO:-1}
BENCH_ARGS=${BENCH_ARGS:-}
PHAROS="$BUILD_DIR/src/app/pharos"
BENCH="$BUILD_DIR/bench/pharos_bench"

die() {
  echo "bench: $*" >&2
  exit 1
}

[ -x "$PHAROS" ] || die "$PHAROS not found; build first: cmake --preset release && cmake --build --preset release"
if [ "$MICRO" != 0 ] && [ ! -x "$BENCH" ]; then
  die "$BENCH not found; build first (PHAROS_BUILD_BENCH=ON), or set MICRO=0"
fi
command -v wrk >/dev/null || die "wrk is not installed (scripts/setup.sh installs it)"
PHAROS=$(realpath "$PHAROS")

work=$(mktemp -d -t pharos-bench.XXXXXX)
server_pid=""
sampler_pid=""

stop_sampler() {
  if [ -n "$sampler_pid" ]; then
    kill "$sampler_pid" 2>/dev/null || true
    wait "$sampler_pid" 2>/dev/null || true
    sampler_pid=""
  fi
}

# SIGTERM, then up to 15 s (the shutdown grace is 10 s) before SIGKILL. Prints how it went.
stop_server() {
  [ -n "$server_pid" ] || return 0
  local pid=$server_pid
  server_pid=""
  kill -TERM "$pid" 2>/dev/null || true
  local start
  start=$(date +%s%N)
  for _ in $(seq 150); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "  server did not stop within 15 s of SIGTERM; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  local rc=0
  wait "$pid" 2>/dev/null || rc=$?
  echo "  server stopped on SIGTERM: exit $rc after $(( ($(date +%s%N) - start) / 1000000 )) ms"
}

cleanup() {
  stop_sampler
  stop_server >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rss_kb() {
  awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || true
}

mib() {
  awk -v kb="$1" 'BEGIN { printf "%.1f MiB", kb / 1024 }'
}

summary=()

# run_variant off|on
run_variant() {
  local mode=$1 flag
  [ "$mode" = on ] && flag=true || flag=false
  local dir="$work/$mode"
  mkdir -p "$dir/data"
  echo "== /healthz, access log $mode (log.access_log=$flag) =="
  # Started from an empty directory so no ./pharos.toml or ./.env is picked up.
  (cd "$dir" && exec "$PHAROS" serve --listen 127.0.0.1:0 --data "$dir/data" \
      --set "log.access_log=$flag") >"$dir/stdout" 2>"$dir/stderr" &
  server_pid=$!

  local port=""
  for _ in $(seq 100); do
    port=$(sed -nE 's|^Pharos .* listening on http://127\.0\.0\.1:([0-9]+) .*|\1|p' "$dir/stdout" |
             head -n1)
    [ -n "$port" ] && break
    if ! kill -0 "$server_pid" 2>/dev/null; then
      cat "$dir/stderr" >&2
      die "the server exited before listening"
    fi
    sleep 0.1
  done
  [ -n "$port" ] || { cat "$dir/stderr" >&2; die "no banner with the port within 10 s"; }
  local url="http://127.0.0.1:$port/healthz"
  echo "  server pid $server_pid on port $port"

  # One request proves it answers; then let it settle before the idle reading.
  local probe
  probe=$(wrk -t1 -c1 -d1s "$url" 2>&1) || die "wrk probe failed: $probe"
  sleep 0.5
  local idle
  idle=$(rss_kb "$server_pid")

  echo "$idle" >"$dir/peak"
  (
    peak=$idle
    while kill -0 "$server_pid" 2>/dev/null; do
      rss=$(rss_kb "$server_pid")
      if [ -n "$rss" ] && [ "$rss" -gt "$peak" ]; then
        peak=$rss
        echo "$peak" >"$dir/peak"
      fi
      sleep 0.1
    done
  ) &
  sampler_pid=$!

  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$url" >"$dir/wrk" 2>&1 ||
    { cat "$dir/wrk" >&2; die "wrk failed"; }
  stop_sampler
  local peak
  peak=$(cat "$dir/peak")

  local rps p50 p99 non2xx errors
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$dir/wrk")
  p50=$(awk '$1 == "50%" {print $2}' "$dir/wrk")
  p99=$(awk '$1 == "99%" {print $2}' "$dir/wrk")
  non2xx=$(awk -F': *' '/Non-2xx or 3xx responses/ {print $2}' "$dir/wrk")
  errors=$(grep -E '^ *Socket errors' "$dir/wrk" | sed 's/^ *//' || true)
  echo "  wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency $url"
  sed 's/^/    | /' "$dir/wrk"
  echo "  requests/s: $rps   p50: $p50   p99: $p99"
  echo "  RSS idle: $(mib "$idle")   peak under load: $(mib "$peak")"
  [ -z "$non2xx" ] || echo "  WARNING: $non2xx non-2xx responses"
  [ -z "$errors" ] || echo "  WARNING: $errors"

  stop_server
  local lines
  lines=$(grep -c '"msg":"request"' "$dir/stderr" || true)
  echo "  access-log lines written: $lines (the 1 s warm-up included)"
  summary+=("$(printf '%-14s %12s %10s %10s %12s %12s' "$mode" "$rps" "$p50" "$p99" \
    "$(mib "$idle")" "$(mib "$peak")")")
  echo
}

echo "pharos: $PHAROS ($("$PHAROS" version))"
echo "machine: $(nproc) CPUs, $(uname -sr); load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
for mode in $ACCESS_LOG; do
  case $mode in
    on | off) run_variant "$mode" ;;
    *) die "ACCESS_LOG takes 'on' and/or 'off', not '$mode'" ;;
  esac
done

echo "== summary: GET /healthz, wrk -t$THREADS -c$CONNECTIONS -d$DURATION =="
printf '%-14s %12s %10s %10s %12s %12s\n' "access log" "requests/s" "p50" "p99" "RSS idle" \
  "RSS peak"
for line in "${summary[@]}"; do echo "$line"; done
echo

if [ "$MICRO" != 0 ]; then
  echo "== micro benchmarks: $BENCH =="
  # shellcheck disable=SC2086  # BENCH_ARGS is a list of flags
  "$BENCH" $BENCH_ARGS
fi
