#!/usr/bin/env bash
# Gateway benchmark, side by side in one run on one machine: wrk -> the mock OpenAI upstream
# directly, through Portkey's open-source gateway, and through Pharos (gateway.record_runs on, the
# default, and off). The mock, chat.lua and Portkey come from the peer harness
# (../shared/bench/peer: mock-server.js, chat.lua, loopback-listen.cjs; setup.sh installs wrk and
# Portkey into /tmp/portkey). Everything listens on 127.0.0.1; the script stops exactly the PIDs it
# started.
#
# Cells (each: a discarded warm-up, then a measured wrk run; targets interleaved per cell):
#   capacity   wrk -t2 -c64, json and stream: requests/s, CPU of the gateway and the mock, RSS
#   1 conn     wrk -t1 -c1, json and stream: p50/p99 latency; added = via gateway - direct
#   TTFB       curl, one keep-alive connection, GW_SAMPLES streamed requests per target in
#              GW_ROUNDS interleaved rounds: time to the first response byte (time_starttransfer);
#              the same for json requests (time_total). Pharos's x-pharos-overhead-ms is kept too.
# Then a summary: ratios (Pharos / direct, Pharos / Portkey), added latency, RSS, CPU per request.
#
# Environment (all optional):
#   BUILD_DIR=build/release         where src/app/pharos is (PHAROS=path overrides)
#   PEER_DIR=../shared/bench/peer   the peer harness (mock, wrk script, loopback preload)
#   PORTKEY_DIR=/tmp/portkey        Portkey install (setup.sh); missing -> Portkey cells skipped
#   GW_TARGETS="direct portkey pharos pharos-norecord"
#   GW_SCENARIOS="json stream"
#   GW_DURATION=10s GW_WARMUP=2s    per capacity cell; GW_C1_DURATION=5s per 1-connection cell
#   GW_REPEAT=2                     rounds of all wrk cells (interleaved); the summary takes medians
#   GW_CONNECTIONS=64 GW_THREADS=2  capacity cells
#   GW_SAMPLES=500 GW_ROUNDS=5      curl samples per target and mode (json, stream)
#   GW_MOCK_PORT=18001 GW_PORTKEY_PORT=18787
#   GW_DRAIN_MAX=60                 seconds to wait for Pharos's run recorder after a cell
#   GW_OUT=DIR                      keep raw outputs there (default: a temp dir, removed)
set -euo pipefail
cd "$(dirname "$0")/../.."
HERE=$(pwd)/bench/gateway

BUILD_DIR=${BUILD_DIR:-build/release}
PHAROS=${PHAROS:-$BUILD_DIR/src/app/pharos}
PEER_DIR=${PEER_DIR:-../shared/bench/peer}
PORTKEY_DIR=${PORTKEY_DIR:-/tmp/portkey}
GW_TARGETS=${GW_TARGETS:-direct portkey pharos pharos-norecord}
GW_SCENARIOS=${GW_SCENARIOS:-json stream}
GW_DURATION=${GW_DURATION:-10s}
GW_WARMUP=${GW_WARMUP:-2s}
GW_C1_DURATION=${GW_C1_DURATION:-5s}
GW_REPEAT=${GW_REPEAT:-2}
GW_CONNECTIONS=${GW_CONNECTIONS:-64}
GW_THREADS=${GW_THREADS:-2}
GW_SAMPLES=${GW_SAMPLES:-500}
GW_ROUNDS=${GW_ROUNDS:-5}
GW_MOCK_PORT=${GW_MOCK_PORT:-18001}
GW_PORTKEY_PORT=${GW_PORTKEY_PORT:-18787}
GW_DRAIN_MAX=${GW_DRAIN_MAX:-60}

die() {
  echo "bench/gateway/run.sh: $*" >&2
  exit 1
}

[ -x "$PHAROS" ] || die "$PHAROS not found; build first: cmake --preset release && cmake --build --preset release"
PHAROS=$(realpath "$PHAROS")
if [ ! -f "$PEER_DIR/mock-server.js" ] || [ ! -f "$PEER_DIR/chat.lua" ]; then
  die "the peer harness is not in $PEER_DIR (set PEER_DIR)"
fi
PEER_DIR=$(realpath "$PEER_DIR")
for tool in wrk node curl; do
  command -v "$tool" >/dev/null || die "$tool is not installed (bash $PEER_DIR/setup.sh installs wrk)"
done
PORTKEY_JS="$PORTKEY_DIR/node_modules/@portkey-ai/gateway/build/start-server.js"
if [[ " $GW_TARGETS " == *" portkey "* ]] && [ ! -f "$PORTKEY_JS" ]; then
  echo "Portkey is not installed in $PORTKEY_DIR (bash $PEER_DIR/setup.sh); skipping its cells"
  GW_TARGETS=$(tr ' ' '\n' <<<"$GW_TARGETS" | grep -vx portkey | tr '\n' ' ')
fi
for port in "$GW_MOCK_PORT" $([[ " $GW_TARGETS " == *" portkey "* ]] && echo "$GW_PORTKEY_PORT"); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    die "port $port on 127.0.0.1 is in use; set GW_MOCK_PORT / GW_PORTKEY_PORT"
  fi
done

if [ -n "${GW_OUT:-}" ]; then
  work=$GW_OUT
  mkdir -p "$work"
  keep=1
else
  work=$(mktemp -d -t pharos-gw-bench.XXXXXX)
  keep=0
fi

declare -A PID URL HEADERS
pids=()
sampler_pid=""
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  if [ -n "$sampler_pid" ]; then kill "$sampler_pid" 2>/dev/null || true; fi
  local p
  for p in "${pids[@]:-}"; do
    if [ -n "$p" ]; then kill -TERM "$p" 2>/dev/null || true; fi
  done
  for p in "${pids[@]:-}"; do
    [ -n "$p" ] || continue
    for _ in $(seq 150); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$p" 2>/dev/null; then kill -KILL "$p" 2>/dev/null || true; fi
    wait "$p" 2>/dev/null || true
  done
  [ "$keep" = 1 ] || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_port() { # port
  for _ in $(seq 150); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
busy_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8; exit}' /proc/stat; }  # all CPUs, not idle/iowait
mib() { awk -v kb="$1" 'BEGIN { printf "%.1f", kb / 1024 }'; }
metric_sum() { # port name: the sum of a metric's samples
  curl -s -m 2 "http://127.0.0.1:$1/metrics" |
    awk -v n="$2" '$1 == n || index($1, n "{") == 1 { s += $NF } END { printf "%.0f", s }'
}

echo "== gateway: direct vs Portkey vs Pharos (record_runs on/off) =="
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ); $(nproc) CPUs; $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'); $(uname -sr)"
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "pharos: $PHAROS ($("$PHAROS" --version 2>/dev/null || echo ?), its checkout at $(git -C "$(dirname "$PHAROS")" rev-parse --short HEAD 2>/dev/null || echo ?)); node $(node --version); $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2); $(curl --version | head -1 | cut -d' ' -f1-2)"
  if [[ " $GW_TARGETS " == *" portkey "* ]]; then
    echo "portkey: @portkey-ai/gateway $(node -p "require('$PORTKEY_DIR/node_modules/@portkey-ai/gateway/package.json').version") with @hono/node-server $(node -p "require('$PORTKEY_DIR/node_modules/@hono/node-server/package.json').version")"
  fi
  echo "targets: $GW_TARGETS; $GW_REPEAT rounds of wrk -t$GW_THREADS -c$GW_CONNECTIONS -d$GW_DURATION and -t1 -c1 -d$GW_C1_DURATION, each after a $GW_WARMUP warm-up; curl: $GW_SAMPLES samples per target and mode"
} | tee "$work/env.txt" | sed 's/^/  /'

# ---- the mock upstream
env MOCK_HOST=127.0.0.1 MOCK_PORT="$GW_MOCK_PORT" node "$PEER_DIR/mock-server.js" >"$work/mock.log" 2>&1 &
pids+=($!)
MOCK_PID=$!
wait_port "$GW_MOCK_PORT" || die "the mock did not start: $(cat "$work/mock.log")"
UPSTREAM="http://127.0.0.1:$GW_MOCK_PORT/v1"
URL[direct]="http://127.0.0.1:$GW_MOCK_PORT"
HEADERS[direct]=""
PID[direct]=""

# ---- Portkey
if [[ " $GW_TARGETS " == *" portkey "* ]]; then
  env NODE_ENV=production node --require "$PEER_DIR/loopback-listen.cjs" "$PORTKEY_JS" \
    --port="$GW_PORTKEY_PORT" --headless >"$work/portkey.log" 2>&1 &
  pids+=($!)
  PID[portkey]=$!
  URL[portkey]="http://127.0.0.1:$GW_PORTKEY_PORT"
  HEADERS[portkey]="x-portkey-provider: openai|x-portkey-custom-host: $UPSTREAM"
  wait_port "$GW_PORTKEY_PORT" || die "Portkey did not start: $(tail -5 "$work/portkey.log")"
fi

# ---- Pharos: one server per variant, each on a fresh data directory, from an empty directory
start_pharos() { # name, extra flags...
  local name=$1 dir="$work/$1"
  shift
  mkdir -p "$dir/data"
  cat >"$dir/pharos.toml" <<EOF
[gateway.providers.mock]
base_url = "$UPSTREAM"

[gateway.models."gpt-4o-mini"]
targets = ["mock/gpt-4o-mini"]
EOF
  (cd "$dir" && exec "$PHAROS" serve --config "$dir/pharos.toml" --listen 127.0.0.1:0 \
     --otlp-grpc-listen off --data "$dir/data" --set log.access_log=false "$@") \
    >"$dir/stdout" 2>"$dir/stderr" &
  pids+=($!)
  PID[$name]=$!
  local port=""
  for _ in $(seq 300); do
    port=$(sed -nE 's|^Pharos .* listening on http://127\.0\.0\.1:([0-9]+) .*|\1|p' "$dir/stdout" | head -n1)
    [ -n "$port" ] && break
    kill -0 "${PID[$name]}" 2>/dev/null || { cat "$dir/stderr" >&2; die "pharos ($name) exited"; }
    sleep 0.1
  done
  [ -n "$port" ] || die "pharos ($name): no banner within 30 s"
  URL[$name]="http://127.0.0.1:$port"
  HEADERS[$name]=""
}
[[ " $GW_TARGETS " == *" pharos "* ]] && start_pharos pharos
[[ " $GW_TARGETS " == *" pharos-norecord "* ]] && start_pharos pharos-norecord --set gateway.record_runs=false

# ---- correctness: the same answer through every target (JSON and SSE), then idle RSS
check_failed=0
for t in $GW_TARGETS; do
  out=$(node "$HERE/check.js" "${URL[$t]}" "${HEADERS[$t]}" 2>&1) || check_failed=1
  echo "  check $t (${URL[$t]}${PID[$t]:+, pid ${PID[$t]}}): $out"
done
[ "$check_failed" = 0 ] || echo "  WARNING: a correctness check failed (see above)"
sleep 0.5
declare -A IDLE
for t in $GW_TARGETS; do [ -n "${PID[$t]}" ] && IDLE[$t]=$(rss_kb "${PID[$t]}"); done

JSONL="$work/results.jsonl"
RES="$work/resources.jsonl"
: >"$JSONL"
: >"$RES"
HZ=$(getconf CLK_TCK)

# Waits until Pharos's run recorder has stored (or dropped) every recorded call; prints the wait.
drain_recorder() { # name
  local port=${URL[$1]##*:} calls recorded dropped start now
  start=$(date +%s%N)
  while :; do
    calls=$(metric_sum "$port" pharos_gateway_requests_total)
    recorded=$(metric_sum "$port" pharos_recorded_runs_total)
    dropped=$(metric_sum "$port" pharos_recorded_runs_dropped_total)
    now=$(date +%s%N)
    [ $((recorded + dropped)) -ge "$calls" ] && break
    if [ $(((now - start) / 1000000000)) -ge "$GW_DRAIN_MAX" ]; then
      echo "    run recorder still behind after ${GW_DRAIN_MAX} s: $recorded recorded, $dropped dropped of $calls calls"
      return
    fi
    sleep 0.2
  done
  echo "    run recorder caught up $(((now - start) / 1000000)) ms after the load (so far: $calls calls, $recorded runs recorded, $dropped dropped)"
}

# cell LABEL TARGET STREAM THREADS CONNECTIONS DURATION
cell() {
  local label=$1 t=$2 stream=$3 threads=$4 conns=$5 duration=$6 pid=${PID[$2]}
  STREAM=$stream WRK_HEADERS="${HEADERS[$t]}" \
    wrk -t"$threads" -c"$conns" -d"$GW_WARMUP" -s "$PEER_DIR/chat.lua" "${URL[$t]}" >/dev/null
  local g0=0 m0 b0 t0 g1=0 m1 b1 t1 peak
  if [ -n "$pid" ]; then
    g0=$(cpu_ticks "$pid")
    echo 0 >"$work/peak"
    (
      p=0
      while kill -0 "$pid" 2>/dev/null; do
        r=$(rss_kb "$pid")
        # Written then renamed: the sampler is killed at any moment and the file must stay whole.
        [ "${r:-0}" -gt "$p" ] && { p=$r; echo "$p" >"$work/peak.tmp"; mv "$work/peak.tmp" "$work/peak"; }
        sleep 0.1
      done
    ) &
    sampler_pid=$!
    # Per-thread CPU of Pharos, to see which threads do the work.
    [ -d "$work/$t" ] && for tid in /proc/"$pid"/task/*; do
      echo "${tid##*/} $(awk '{print $14 + $15}' "$tid/stat") $(cat "$tid/comm")"
    done | sort >"$work/$label.threads0"
  fi
  m0=$(cpu_ticks "$MOCK_PID"); b0=$(busy_ticks); t0=$(date +%s%N)
  STREAM=$stream WRK_HEADERS="${HEADERS[$t]}" WRK_JSON_OUT="$JSONL" WRK_LABEL="$label" \
    wrk -t"$threads" -c"$conns" -d"$duration" --latency -s "$PEER_DIR/chat.lua" "${URL[$t]}" \
    >"$work/wrk-$label.txt" 2>&1 || { cat "$work/wrk-$label.txt" >&2; die "wrk failed ($label)"; }
  t1=$(date +%s%N); b1=$(busy_ticks); m1=$(cpu_ticks "$MOCK_PID")
  peak=0
  if [ -n "$pid" ]; then
    g1=$(cpu_ticks "$pid")
    kill "$sampler_pid" 2>/dev/null || true
    wait "$sampler_pid" 2>/dev/null || true
    sampler_pid=""
    peak=$(cat "$work/peak" 2>/dev/null || true)
    [ -n "$peak" ] || peak=$(rss_kb "$pid")
    [ -d "$work/$t" ] && for tid in /proc/"$pid"/task/*; do
      echo "${tid##*/} $(awk '{print $14 + $15}' "$tid/stat") $(cat "$tid/comm")"
    done | sort >"$work/$label.threads1"
  fi
  local secs rps non2xx
  secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
  rps=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$work/wrk-$label.txt")
  non2xx=$(awk -F': *' '/Non-2xx or 3xx responses/ {print $2}' "$work/wrk-$label.txt")
  printf '{"label":"%s","secs":%s,"gw_cpu":%s,"mock_cpu":%s,"machine_cpu":%s,"rss_peak_kb":%s,"non2xx":%s}\n' \
    "$label" "$secs" "$(awk -v d=$((g1 - g0)) -v h="$HZ" 'BEGIN{print d/h}')" \
    "$(awk -v d=$((m1 - m0)) -v h="$HZ" 'BEGIN{print d/h}')" \
    "$(awk -v d=$((b1 - b0)) -v h="$HZ" 'BEGIN{print d/h}')" "$peak" "${non2xx:-0}" >>"$RES"
  printf '  %-30s %8s req/s  p50 %-8s p99 %-8s' "$label" "$rps" \
    "$(awk '$1 == "50%" {print $2}' "$work/wrk-$label.txt")" \
    "$(awk '$1 == "99%" {print $2}' "$work/wrk-$label.txt")"
  [ -n "$pid" ] && printf '  gateway %.2f cores, RSS peak %s MiB' \
    "$(awk -v d=$((g1 - g0)) -v h="$HZ" -v s="$secs" 'BEGIN{print d/h/s}')" "$(mib "$peak")"
  echo
  [ -z "$non2xx" ] || echo "    WARNING: $non2xx non-2xx responses"
  grep -q 'Socket errors' "$work/wrk-$label.txt" && echo "    WARNING: $(grep 'Socket errors' "$work/wrk-$label.txt" | sed 's/^ *//')"
  if [ -f "$work/$label.threads1" ]; then
    echo "    threads over 0.2 s of CPU: $(join "$work/$label.threads0" "$work/$label.threads1" |
      awk -v h="$HZ" '{ d = ($4 - $2) / h; if (d >= 0.2) printf "%s %.1f s\n", $3, d }' | sort -k2 -rn |
      tr '\n' ',' | sed 's/,$//; s/,/, /g')"
  fi
  if [ "$t" = pharos ]; then drain_recorder "$t"; fi
  return 0
}

echo
for round in $(seq "$GW_REPEAT"); do
  echo "-- round $round of $GW_REPEAT: capacity, wrk -t$GW_THREADS -c$GW_CONNECTIONS -d$GW_DURATION --"
  for sc in $GW_SCENARIOS; do
    s=0; [ "$sc" = stream ] && s=1
    for t in $GW_TARGETS; do
      cell "c$GW_CONNECTIONS-$sc-$t#$round" "$t" "$s" "$GW_THREADS" "$GW_CONNECTIONS" "$GW_DURATION"
    done
  done
  echo "-- round $round of $GW_REPEAT: one connection, wrk -t1 -c1 -d$GW_C1_DURATION --"
  for sc in $GW_SCENARIOS; do
    s=0; [ "$sc" = stream ] && s=1
    for t in $GW_TARGETS; do cell "c1-$sc-$t#$round" "$t" "$s" 1 1 "$GW_C1_DURATION"; done
  done
done

# ---- curl on one keep-alive connection: time to first byte (stream) and total time (json)
echo
echo "-- curl, one keep-alive connection, $GW_SAMPLES requests per target and mode in $GW_ROUNDS rounds --"
json_body='{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Say hello in one short sentence."}],"max_tokens":32,"temperature":0}'
stream_body=${json_body%\}}',"stream":true,"stream_options":{"include_usage":true}}'
per_round=$(((GW_SAMPLES + GW_ROUNDS - 1) / GW_ROUNDS))
samples() { # target mode round -> appends "target mode seconds overhead_ms status" lines
  local t=$1 mode=$2 body=$json_body fmt=time_total args=() h
  [ "$mode" = stream ] && { body=$stream_body; fmt=time_starttransfer; }
  IFS='|' read -r -a hs <<<"${HEADERS[$t]}"
  for h in "${hs[@]}"; do [ -n "$h" ] && args+=(-H "$h"); done
  local urls=()
  # One extra request first: it opens the connection and is dropped.
  for _ in $(seq 0 "$per_round"); do urls+=("${URL[$t]}/v1/chat/completions"); done
  curl -s -N -H 'content-type: application/json' -H 'authorization: Bearer sk-mock-key' "${args[@]}" \
    -d "$body" -w "%{stderr}$t $mode %{$fmt} %header{x-pharos-overhead-ms} %{http_code} %{num_connects}\n" \
    "${urls[@]}" 2>&1 >/dev/null | tail -n +2 >>"$work/curl.txt"
}
: >"$work/curl.txt"
for r in $(seq "$GW_ROUNDS"); do
  for mode in stream json; do
    for t in $GW_TARGETS; do samples "$t" "$mode" "$r"; done
  done
done
awk '{ n[$1 " " $2]++; if ($NF != 0) c[$1 " " $2]++; if ($(NF-1) != 200) e[$1 " " $2]++ }
     END { for (k in n) if (c[k] + e[k] > 0) printf "  WARNING: %s: %d new connections, %d non-200\n", k, c[k], e[k] }' \
  "$work/curl.txt"

# ---- run recorder: what Pharos stored
if [[ " $GW_TARGETS " == *" pharos "* ]]; then
  drain_recorder pharos
  if command -v sqlite3 >/dev/null; then
    echo "    runs in its database: $(sqlite3 "$work/pharos/data/pharos.db" 'SELECT count(*) FROM runs' 2>/dev/null || echo '?')" \
         "($(du -m "$work/pharos/data/pharos.db" | cut -f1) MB)"
  fi
  echo "    'recorder queue is full' log lines: $(grep -c 'recorder queue is full' "$work/pharos/stderr" || true)"
fi
declare -A HWM
for t in $GW_TARGETS; do [ -n "${PID[$t]}" ] && HWM[$t]=$(hwm_kb "${PID[$t]}"); done
rss_json="{"
for t in $GW_TARGETS; do
  [ -n "${PID[$t]}" ] && rss_json+="\"$t\":{\"idle_kb\":${IDLE[$t]},\"hwm_kb\":${HWM[$t]},\"anon_kb\":$(awk '/^RssAnon:/ {print $2}' "/proc/${PID[$t]}/status"),\"file_kb\":$(awk '/^RssFile:/ {print $2}' "/proc/${PID[$t]}/status")},"
done
rss_json="${rss_json%,}}"

echo
node "$HERE/summary.js" "$JSONL" "$RES" "$work/curl.txt" "$rss_json" "$GW_CONNECTIONS" | tee "$work/summary.txt"
[ "$keep" = 0 ] || echo "raw outputs in $work"
exit $check_failed
