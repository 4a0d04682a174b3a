#!/usr/bin/env bash
# Runs every libFuzzer target of a fuzz build for FUZZ_SECONDS each (default 60).
#
#   ./fuzz/run.sh build/fuzz            (`make fuzz` builds build/fuzz and runs this)
#
# Each target fuzzes a working copy of its committed corpus (fuzz/corpus/<name>, never written
# to) in $FUZZ_OUT/corpus/<name>, which persists, so the next run continues from what this one
# found. Crashing inputs go to $FUZZ_OUT/crashes/<name>/; fuzz/README.md says how one becomes a
# corpus file. Exit status: non-zero when any target found a crash.
#
# Environment: FUZZ_SECONDS (60), FUZZ_OUT (<build>/fuzz-out), FUZZ_TARGETS (names, default all),
#              FUZZ_ARGS (extra libFuzzer flags, e.g. "-max_len=65536 -jobs=2").
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 BUILD_DIR   (a build with PHAROS_FUZZ=ON, e.g. build/fuzz)" >&2
  exit 2
fi
repo=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "$1" && pwd)
seconds=${FUZZ_SECONDS:-60}
out=${FUZZ_OUT:-$build/fuzz-out}
args=${FUZZ_ARGS:-}

targets=()
if [ -n "${FUZZ_TARGETS:-}" ]; then
  for name in $FUZZ_TARGETS; do targets+=("$name"); done
else
  for exe in "$build"/fuzz/fuzz_*; do
    [ -x "$exe" ] && targets+=("$(basename "$exe" | sed 's/^fuzz_//')")
  done
fi
if [ ${#targets[@]} -eq 0 ]; then
  echo "no fuzz_* executables in $build/fuzz: configure with PHAROS_FUZZ=ON (cmake --preset fuzz)" >&2
  exit 2
fi

# UBSan findings are crashes too, not just lines in the log.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1}

summary=()
failed=0
for name in "${targets[@]}"; do
  exe="$build/fuzz/fuzz_$name"
  seeds="$repo/fuzz/corpus/$name"
  [ -x "$exe" ] || { echo "missing $exe" >&2; exit 2; }
  [ -d "$seeds" ] || { echo "missing seed corpus $seeds" >&2; exit 2; }
  corpus="$out/corpus/$name"
  crashes="$out/crashes/$name"
  log="$out/logs/$name.log"
  mkdir -p "$corpus" "$crashes" "$(dirname "$log")"
  cp -n "$seeds"/* "$corpus"/ 2>/dev/null || true
  marker="$out/logs/.started-$name"
  touch "$marker"
  before=$(find "$crashes" -type f | wc -l)

  dict=()
  [ -f "$repo/fuzz/$name.dict" ] && dict=(-dict="$repo/fuzz/$name.dict")

  echo "== fuzz_$name: ${seconds}s on $corpus ($(find "$corpus" -type f | wc -l) inputs)"
  rc=0
  # shellcheck disable=SC2086  # FUZZ_ARGS is a list of flags
  "$exe" "$corpus" -max_total_time="$seconds" -print_final_stats=1 -timeout=10 \
    -rss_limit_mb=2048 -artifact_prefix="$crashes/" "${dict[@]}" $args >"$log" 2>&1 || rc=$?

  execs=$(awk '/^stat::number_of_executed_units/ {print $2}' "$log" | tail -n1)
  rate=$(awk '/^stat::average_exec_per_sec/ {print $2}' "$log" | tail -n1)
  added=$(awk '/^stat::new_units_added/ {print $2}' "$log" | tail -n1)
  rss=$(awk '/^stat::peak_rss_mb/ {print $2}' "$log" | tail -n1)
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -n1 | awk '{print $2}')
  after=$(find "$crashes" -type f | wc -l)
  status=ok
  if [ "$rc" -ne 0 ] || [ "$after" -gt "$before" ]; then
    status=CRASH
    failed=1
    echo "   CRASH (exit $rc). Log: $log"
    grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error)' "$log" | head -n 5 | sed 's/^/   /' || true
    echo "   reproducers (newest last):"
    find "$crashes" -type f -newer "$marker" -printf '     %p\n' | sort
    echo "   replay: $exe <file>   (see fuzz/README.md to add it to the corpus)"
  fi
  echo "   executions: ${execs:-?}  exec/s: ${rate:-?}  new inputs: ${added:-?}  coverage: ${cov:-?}  peak RSS: ${rss:-?} MB"
  summary+=("$(printf '%-18s %-6s %12s %8s %10s %10s' "$name" "$status" "${execs:-?}" \
    "${rate:-?}" "${added:-?}" "${cov:-?}")")
done

echo
printf '%-18s %-6s %12s %8s %10s %10s\n' target status executions exec/s new-inputs coverage
for line in "${summary[@]}"; do echo "$line"; done
echo "working corpora: $out/corpus   crashes: $out/crashes   logs: $out/logs"
exit $failed
