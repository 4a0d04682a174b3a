#!/usr/bin/env bash
# Tokenizer throughput: Pharos (Google Benchmark) and npm tiktoken (WASM) on the same generated
# corpus, side by side, with the ratio. Expects build/release (cmake --build --preset release
# --target tokenizer_bench) and tests/compat/node_modules (scripts/setup.sh).
#   MB=8 ./bench/tokenizer/run.sh     # corpus size (default 4 MB); ROUNDS=5 for tiktoken's rounds
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bench=${TOKENIZER_BENCH:-$root/build/release/bench/tokenizer_bench}
[[ -x $bench ]] || { echo "missing $bench: cmake --build --preset release --target tokenizer_bench" >&2; exit 1; }
corpus=$(mktemp /tmp/pharos-tokenizer-corpus.XXXXXX)
out=$(mktemp /tmp/pharos-tokenizer-bench.XXXXXX)
trap 'rm -f "$corpus" "$out"' EXIT
python3 "$here/make_corpus.py" "${MB:-4}" > "$corpus"
echo "corpus: $(wc -c < "$corpus") bytes; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
TOKENIZER_CORPUS=$corpus "$bench" --benchmark_filter='^Encode/' \
  --benchmark_format=json > "$out"
node "$here/tiktoken_bench.mjs" "$corpus" cl100k_base o200k_base > "$out.node"
python3 - "$out" "$out.node" <<'PY'
import json, sys
ours = {b["name"].split("/")[1]: b for b in json.load(open(sys.argv[1]))["benchmarks"]}
print(f"{'encoding':<12} {'pharos tok/s':>14} {'tiktoken tok/s':>15} {'pharos MB/s':>12} {'tiktoken MB/s':>14} {'ratio':>6}")
for line in open(sys.argv[2]):
    t = json.loads(line)
    o = ours[t["encoding"]]
    ours_tps = o["tokens_per_second"]
    print(f"{t['encoding']:<12} {ours_tps:>14,.0f} {t['tokens_per_second']:>15,.0f} "
          f"{o['bytes_per_second'] / 1e6:>12.1f} {t['mb_per_second']:>14.1f} {ours_tps / t['tokens_per_second']:>5.1f}x")
PY
rm -f "$out.node"
