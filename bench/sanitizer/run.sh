#!/usr/bin/env bash
# Output sanitizer vs the seed's Python on the same 100 MB corpus, in the same run.
# Usage: bench/sanitizer/run.sh [BUILD_DIR=build/release] [MEGABYTES=100]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build/release}
mb=${2:-100}
corpus=$build/sanitizer-corpus-${mb}mb.txt
[ -f "$corpus" ] || python3 bench/sanitizer/gen_corpus.py "$corpus" "$mb"
cmake --build "$build" --target sanitizer_bench >/dev/null
ours=$("$build/bench/sanitizer_bench" "$corpus" 3)
seed=$(python3 bench/sanitizer/seed_sanitize.py "$corpus" 1)
full=$(python3 bench/sanitizer/full_sanitize.py "$corpus" 1)
echo "$ours"; echo "$seed"; echo "$full"
rate() { sed -n "s/^$1 \([0-9.]*\) MB\/s.*/\1/p" <<<"$2"; }
whole=$(rate pharos_whole "$ours")
stream=$(rate pharos_stream64 "$ours")
seedr=$(rate seed_python "$seed")
fullr=$(rate full_python "$full")
awk -v w="$whole" -v s="$stream" -v p="$seedr" -v f="$fullr" 'BEGIN {
  printf "ratio whole/seed_python   %.1fx (target >= 20x)\n", w / p
  printf "ratio stream64/seed_python %.1fx\n", s / p
  printf "ratio whole/full_python   %.1fx (same detectors in Python re)\n", w / f
}'
