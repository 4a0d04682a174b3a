#!/usr/bin/env bash
# Benchmarks a built Pharos; builds nothing (`make bench` builds build/release first).
#
#   1. Load test: for each access-log setting (off, then on) starts `pharos serve` on a free port
#      with a fresh data directory, records idle RSS, runs wrk against /healthz while sampling RSS,
#      prints requests/s, p50/p99 latency and RSS idle/peak, then stops the server with SIGTERM.
#   2. Runs API ingest: for /api/v1/runs/multipart and /api/v1/runs/batch, a fresh server loaded by
#      bench/ingest_load (10-run LangSmith trees, 100 runs per request) for INGEST_DURATION seconds;
#      then the same rows inserted straight into SQLite by bench/sqlite_ceiling, plain and shaped
#      like the server's writer (a savepoint per request). Prints runs/s, the server's
#      CPU time per run, the rows found in its database, and HTTP/ceiling ratios.
#   3. Runs API queries: seeds QUERY_RUNS runs (default 1,000,000) straight into a data directory
#      with `sqlite_ceiling seed`, starts the server on it and times POST /api/v1/runs/query with
#      seven bodies (six filters, one plain root listing) and GET /api/v1/traces/{id} of
#      1,000-run traces (bench/query_load).
#   4. OTLP span ingest: the durable-append ceiling of this disk for the same bodies
#      (ingest_load --ceiling), then a fresh server loaded with OTLP/HTTP protobuf exports of 512
#      realistic GenAI spans (bench/otlp_gen.h) for OTLP_DURATION seconds: spans/s acknowledged
#      (durable in the span log), then, with the load stopped, the rate at which the backlog is
#      stored as runs (materialized, queryable) over OTLP_DRAIN seconds.
#   5. Gateway: bench/gateway/run.sh — wrk -> the peer harness's mock OpenAI upstream directly,
#      through Portkey's open-source gateway and through Pharos (gateway.record_runs on and off),
#      side by side in one run: requests/s at 64 connections, added p50/p99 at 1 connection,
#      added time to first byte of streams, RSS and CPU per request (details: bench/README.md).
#   6. Micro benchmarks: runs the Google Benchmark binary (pharos_bench).
#
# Environment (all optional):
#   BUILD_DIR=build/release   where pharos and pharos_bench are
#   DURATION=10s              wrk duration per variant
#   THREADS=2 CONNECTIONS=64  wrk -t / -c
#   ACCESS_LOG="off on"       which /healthz variants to run ("" runs none)
#   MICRO=1                   0 skips the Google Benchmark run
#   BENCH_ARGS=...            extra arguments for pharos_bench (e.g. --benchmark_filter=Router)
#   INGEST=1 QUERY=1 OTLP=1   0 skips the runs API ingest / query / OTLP benchmarks
#   GATEWAY=1                 0 skips the gateway benchmark (its GW_* settings: bench/gateway/run.sh;
#                             needs node, and ../shared/bench/peer/setup.sh for wrk and Portkey)
#   OTLP_DURATION=10          seconds of OTLP load (plus 1 s warm-up), and of the ceiling
#   OTLP_DRAIN=20             seconds the materialization rate is measured over after the load
#   INGEST_DURATION=10        seconds of load per endpoint (plus 1 s warm-up), and of the ceiling
#   INGEST_CONNECTIONS=8      ingest_load connections
#   INGEST_ENDPOINTS="multipart batch"
#   QUERY_RUNS=1000000        runs seeded for the query benchmark
#   QUERY_REQUESTS=200        requests per query (at most QUERY_MAX_SECONDS=30 s per query)
#   QUERY_DATA=DIR            keep the seeded data directory there and reuse it when it has the
#                             seed's env file (seeding 1,000,000 runs takes ~3 minutes)
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=${BUILD_DIR:-build/release}
DURATION=${DURATION:-10s}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-64}
ACCESS_LOG=${ACCESS_LOG-off on}
MICRO=${MICRO:-1}
BENCH_ARGS=${BENCH_ARGS:-}
INGEST=${INGEST:-1}
QUERY=${QUERY:-1}
OTLP=${OTLP:-1}
GATEWAY=${GATEWAY:-1}
OTLP_DURATION=${OTLP_DURATION:-10}
OTLP_DRAIN=${OTLP_DRAIN:-20}
INGEST_DURATION=${INGEST_DURATION:-10}
INGEST_CONNECTIONS=${INGEST_CONNECTIONS:-8}
INGEST_ENDPOINTS=${INGEST_ENDPOINTS:-multipart batch}
QUERY_RUNS=${QUERY_RUNS:-1000000}
QUERY_REQUESTS=${QUERY_REQUESTS:-200}
QUERY_MAX_SECONDS=${QUERY_MAX_SECONDS:-30}
QUERY_DATA=${QUERY_DATA:-}
PHAROS="$BUILD_DIR/src/app/pharos"
BENCH="$BUILD_DIR/bench/pharos_bench"
INGEST_LOAD="$BUILD_DIR/bench/ingest_load"
SQLITE_CEILING="$BUILD_DIR/bench/sqlite_ceiling"
QUERY_LOAD="$BUILD_DIR/bench/query_load"

die() {
  echo "bench: $*" >&2
  exit 1
}

[ -x "$PHAROS" ] || die "$PHAROS not found; build first: cmake --preset release && cmake --build --preset release"
if [ "$MICRO" != 0 ] && [ ! -x "$BENCH" ]; then
  die "$BENCH not found; build first (PHAROS_BUILD_BENCH=ON), or set MICRO=0"
fi
if [ "$INGEST" != 0 ] || [ "$QUERY" != 0 ]; then
  for tool in "$INGEST_LOAD" "$SQLITE_CEILING" "$QUERY_LOAD"; do
    [ -x "$tool" ] || die "$tool not found; build first (PHAROS_BUILD_BENCH=ON), or set INGEST=0 QUERY=0"
  done
fi
if [ -n "$ACCESS_LOG" ]; then
  command -v wrk >/dev/null || die "wrk is not installed (scripts/setup.sh installs it)"
fi
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
  (cd "$dir" && exec "$PHAROS" serve --listen 127.0.0.1:0 --otlp-grpc-listen off --data "$dir/data" \
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

if [ ${#summary[@]} -gt 0 ]; then
  echo "== summary: GET /healthz, wrk -t$THREADS -c$CONNECTIONS -d$DURATION =="
  printf '%-14s %12s %10s %10s %12s %12s\n' "access log" "requests/s" "p50" "p99" "RSS idle" \
    "RSS peak"
  for line in "${summary[@]}"; do echo "$line"; done
  echo
fi

# start_server DIR DATA [pharos serve flags...]: starts `pharos serve` from DIR (an empty directory,
# so no pharos.toml or .env is read) on a free port; sets server_pid and server_port.
server_port=""
start_server() {
  local dir=$1 data=$2
  shift 2
  mkdir -p "$dir"
  (cd "$dir" && exec "$PHAROS" serve --listen 127.0.0.1:0 --otlp-grpc-listen off --data "$data" "$@") \
    >"$dir/stdout" 2>"$dir/stderr" &
  server_pid=$!
  server_port=""
  for _ in $(seq 300); do
    server_port=$(sed -nE 's|^Pharos .* listening on http://127\.0\.0\.1:([0-9]+) .*|\1|p' \
                    "$dir/stdout" | head -n1)
    [ -n "$server_port" ] && return 0
    if ! kill -0 "$server_pid" 2>/dev/null; then
      cat "$dir/stderr" >&2
      die "the server exited before listening"
    fi
    sleep 0.1
  done
  cat "$dir/stderr" >&2
  die "no banner with the port within 30 s"
}

indent() {
  printf '%s\n' "$1" | sed 's/^/    | /'
}

# CPU time (user + system) of a process so far, in clock ticks.
cpu_ticks() {
  awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0
}

# Per-thread CPU ticks of a process: "tid ticks" lines.
thread_ticks() {
  local t
  for t in /proc/"$1"/task/*; do
    echo "${t##*/} $(awk '{print $14 + $15}' "$t/stat" 2>/dev/null || echo 0)"
  done | sort
}

# result_field LINE KEY: the value of KEY=... in a `RESULT ...` line.
result_field() {
  tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p" | head -n1
}

ingest_summary=()
ingest_ceiling=""
ingest_ceiling_cpu=""

run_ingest() {
  local hz
  hz=$(getconf CLK_TCK)
  echo "== runs API ingest: ${INGEST_CONNECTIONS} connections, ${INGEST_DURATION} s per endpoint =="
  local failed=0
  for endpoint in $INGEST_ENDPOINTS; do
    local dir="$work/ingest-$endpoint"
    start_server "$dir" "$dir/data"
    echo "  server pid $server_pid on port $server_port; POST /api/v1/runs/$endpoint"
    local before after out result
    before=$(cpu_ticks "$server_pid")
    thread_ticks "$server_pid" >"$dir/threads.before"
    out=$("$INGEST_LOAD" --url "http://127.0.0.1:$server_port" --endpoint "$endpoint" \
            --connections "$INGEST_CONNECTIONS" --duration "$INGEST_DURATION" --warmup 1) ||
      failed=1
    after=$(cpu_ticks "$server_pid")
    thread_ticks "$server_pid" >"$dir/threads.after"
    indent "$out"
    stop_server
    result=$(grep '^RESULT' <<<"$out" || true)
    local rps p50 p95 acked rows cpu_us
    rps=$(result_field "$result" runs_per_s)
    p50=$(result_field "$result" p50_ms)
    p95=$(result_field "$result" p95_ms)
    acked=$(result_field "$result" acked_runs)
    rows="?"
    if command -v sqlite3 >/dev/null; then
      rows=$(sqlite3 "$dir/data/pharos.db" 'SELECT count(*) FROM runs' 2>/dev/null || echo "?")
    fi
    cpu_us=$(awk -v t=$((after - before)) -v hz="$hz" -v n="${acked:-0}" \
               'BEGIN { if (n > 0) printf "%.0f", t / hz * 1e6 / n; else print "?" }')
    echo "  server CPU: $(awk -v t=$((after - before)) -v hz="$hz" 'BEGIN {printf "%.1f", t / hz}') s" \
         "for $acked acknowledged runs = ${cpu_us} us/run; rows in its database: $rows"
    # The busiest threads: one near INGEST_DURATION+1 s is a single-thread bottleneck (the writer).
    echo "  server threads over 0.1 s of CPU: $(join -a2 "$dir/threads.before" "$dir/threads.after" |
      awk -v hz="$hz" 'NF == 3 { d = $3 - $2 } NF == 2 { d = $2 }
                       d / hz >= 0.1 { printf "%.1f\n", d / hz }' | sort -rn | tr '\n' ' ')(seconds)"
    [ "$rows" = "?" ] || [ "$rows" = "$acked" ] ||
      echo "  WARNING: $acked runs acknowledged but $rows rows stored"
    ingest_summary+=("$(printf '%-22s %10s %12s %10s %10s' "HTTP $endpoint" "$rps" "$cpu_us" \
      "$p50" "$p95")")
    echo
  done

  echo "== SQLite ceiling: the same rows straight into SQLite, ${INGEST_DURATION} s each =="
  local variant args out result
  for variant in plain server-shaped; do
    # The server's connection pragmas (store/sqlite/database.cc), so neither side is handicapped.
    args=(--pragma cache_size=-65536 --pragma mmap_size=1073741824 --pragma temp_store=MEMORY)
    [ "$variant" = server-shaped ] && args+=(--job-savepoint)
    out=$("$SQLITE_CEILING" --duration "$INGEST_DURATION" --db "$work/ceiling-$variant/pharos.db" \
            "${args[@]}" 2>/dev/null)
    rm -rf "$work/ceiling-$variant"
    indent "$out"
    result=$(grep '^RESULT' <<<"$out" || true)
    if [ "$variant" = plain ]; then
      ingest_ceiling=$(result_field "$result" runs_per_s)
      ingest_ceiling_cpu=$(result_field "$result" cpu_us_per_run)
    fi
    ingest_summary+=("$(printf '%-22s %10s %12s %10s %10s' "ceiling $variant" \
      "$(result_field "$result" runs_per_s)" "$(result_field "$result" cpu_us_per_run)" "" "")")
  done
  echo
  return $failed
}

# metric_value PORT NAME: a sample of /metrics.
metric_value() {
  curl -s "http://127.0.0.1:$1/metrics" | awk -v n="$2" '$1 == n { print $2 }'
}

run_otlp() {
  echo "== OTLP span ingest: ${INGEST_CONNECTIONS} connections, 512-span protobuf exports =="
  local out result ceiling acked rps p50 p95 dir="$work/otlp" failed=0
  out=$("$INGEST_LOAD" --endpoint otlp --connections "$INGEST_CONNECTIONS" \
          --duration "$OTLP_DURATION" --ceiling "$work/otlp-ceiling")
  indent "$out"
  ceiling=$(result_field "$(grep '^RESULT' <<<"$out")" runs_per_s)
  # A backlog bound above what the run can send, so that the acknowledged rate is measured without
  # the back-pressure (503 + Retry-After) that the default 1 GiB bound applies after ~1.6 M spans.
  start_server "$dir" "$dir/data" --set log.access_log=false --set tracing.otlp_max_backlog=4GiB
  echo "  server pid $server_pid on port $server_port; POST /v1/traces"
  out=$("$INGEST_LOAD" --url "http://127.0.0.1:$server_port" --endpoint otlp \
          --connections "$INGEST_CONNECTIONS" --duration "$OTLP_DURATION" --warmup 1) || failed=1
  indent "$out"
  result=$(grep '^RESULT' <<<"$out" || true)
  rps=$(result_field "$result" runs_per_s)
  p50=$(result_field "$result" p50_ms)
  p95=$(result_field "$result" p95_ms)
  acked=$(result_field "$result" acked_runs)
  local m0 m1 backlog drain
  m0=$(metric_value "$server_port" pharos_otlp_spans_materialized_total)
  sleep "$OTLP_DRAIN"
  m1=$(metric_value "$server_port" pharos_otlp_spans_materialized_total)
  backlog=$(metric_value "$server_port" pharos_otlp_backlog_bytes)
  drain=$(awk -v a="$m0" -v b="$m1" -v s="$OTLP_DRAIN" 'BEGIN { printf "%.0f", (b - a) / s }')
  echo "  materialized after the load: $m0 of $acked acknowledged spans; then $drain spans/s" \
       "over ${OTLP_DRAIN} s; backlog left: $backlog bytes"
  stop_server
  otlp_summary=(
    "$(printf '%-34s %12s %8s %8s %8s' "durable append ceiling (disk)" "$ceiling" "" "" "100%")"
    "$(printf '%-34s %12s %8s %8s %8s' "OTLP/HTTP acknowledged (durable)" "$rps" "$p50" "$p95" \
        "$(awk -v a="$rps" -v b="$ceiling" 'BEGIN { if (b > 0) printf "%.0f%%", 100 * a / b }')")"
    "$(printf '%-34s %12s %8s %8s %8s' "materialized as runs (queryable)" "$drain" "" "" \
        "$(awk -v a="$drain" -v b="$ceiling" 'BEGIN { if (b > 0) printf "%.1f%%", 100 * a / b }')")"
  )
  echo
  return $failed
}

run_query() {
  local data dir="$work/query"
  if [ -n "$QUERY_DATA" ]; then
    data=$QUERY_DATA
  else
    data="$dir/data"
  fi
  mkdir -p "$data" "$dir"
  echo "== runs API queries: $QUERY_RUNS runs =="
  if [ -f "$data/bench-seed.env" ] && grep -qx "RUNS=$QUERY_RUNS" "$data/bench-seed.env"; then
    echo "  reusing the seeded data in $data"
  else
    rm -f "$data/pharos.db" "$data/pharos.db-wal" "$data/pharos.db-shm" "$data/bench-seed.env"
    "$SQLITE_CEILING" seed --db "$data/pharos.db" --runs "$QUERY_RUNS" --big-traces 10 \
      --big-size 1000 --env-out "$data/bench-seed.env" 2>&1 | grep -v '"msg":"applied schema' |
      sed 's/^/  /'
  fi
  # shellcheck disable=SC1091  # written by sqlite_ceiling seed
  . "$data/bench-seed.env"
  start_server "$dir" "$data"
  echo "  server pid $server_pid on port $server_port; session $SESSION_ID"
  local traces=() t rc=0
  for t in $TRACE_IDS; do traces+=(--trace "$t"); done
  "$QUERY_LOAD" --url "http://127.0.0.1:$server_port" --session "$SESSION_ID" --user "$USER_ID" \
    "${traces[@]}" --requests "$QUERY_REQUESTS" --max-seconds "$QUERY_MAX_SECONDS" \
    >"$dir/out" 2>&1 || rc=$?
  sed 's/^/    | /' "$dir/out" | grep -v '| RESULT'
  echo "  server RSS after the queries: $(mib "$(rss_kb "$server_pid")")"
  stop_server
  echo
  return $rc
}

runs_failed=0
if [ "$INGEST" != 0 ]; then
  run_ingest || runs_failed=1
  echo "== summary: runs API ingest =="
  echo "   ratio: runs/s as a share of the plain ceiling's; CPU ratio: the plain ceiling's CPU time"
  echo "   per run as a share of this line's (less sensitive to other load on the machine)"
  printf '%-22s %10s %12s %10s %10s %8s %10s\n' "" "runs/s" "CPU us/run" "p50 ms" "p95 ms" \
    "ratio" "CPU ratio"
  for line in "${ingest_summary[@]}"; do
    rps=$(cut -c23-33 <<<"$line" | tr -d ' ')
    cpu=$(cut -c34-46 <<<"$line" | tr -d ' ')
    ratio=$(awk -v a="$rps" -v b="$ingest_ceiling" 'BEGIN { if (b > 0) printf "%.0f%%", 100 * a / b }')
    cpu_ratio=$(awk -v a="$cpu" -v b="$ingest_ceiling_cpu" \
                  'BEGIN { if (a > 0) printf "%.0f%%", 100 * b / a }')
    echo "$line $(printf '%8s %10s' "$ratio" "$cpu_ratio")"
  done
  echo
fi
if [ "$QUERY" != 0 ]; then
  run_query || runs_failed=1
fi

if [ "$OTLP" != 0 ]; then
  otlp_summary=()
  run_otlp || runs_failed=1
  echo "== OTLP summary =="
  printf '%-34s %12s %8s %8s %8s\n' "path" "spans/s" "p50 ms" "p95 ms" "of disk"
  printf '%s\n' "${otlp_summary[@]}"
  echo
fi

if [ "$GATEWAY" != 0 ]; then
  # Its own script, so that it can also run alone; it starts and stops its own processes.
  BUILD_DIR="$BUILD_DIR" bash bench/gateway/run.sh || runs_failed=1
  echo
fi

if [ "$MICRO" != 0 ]; then
  echo "== micro benchmarks: $BENCH =="
  # shellcheck disable=SC2086  # BENCH_ARGS is a list of flags
  "$BENCH" $BENCH_ARGS
fi
exit $runs_failed
