#!/usr/bin/env bash
# Installs what Pharos needs to build, run and test on Debian 12, and nothing that is already
# there. Safe to run again and again: `make run` and `make test` call it every time.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: build toolchain, libraries, and the tools the tests and benchmarks use.
packages=(
  build-essential cmake ninja-build ccache pkg-config git
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libssl-dev zlib1g-dev libsqlite3-dev sqlite3
  libfmt-dev libtomlplusplus-dev libcli11-dev libprotobuf-dev protobuf-compiler libgrpc++-dev protobuf-compiler-grpc
  libgtest-dev libgmock-dev libbenchmark-dev libre2-dev
  libhiredis-dev redis-server libjemalloc-dev
  curl wrk
  libhnswlib-dev
  python3  # src/tokens: converts npm tiktoken's rank files at build time
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$p")
done
# Node may come from elsewhere (nodesource bundles npm); only fall back to Debian's when absent.
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The compatibility tests drive Pharos with the real published clients, pinned by the lockfile.
if [ -f tests/compat/package-lock.json ]; then
  stamp=tests/compat/node_modules/.pharos-lock-stamp
  if [ ! -f "$stamp" ] || ! cmp -s tests/compat/package-lock.json "$stamp"; then
    echo "setup: npm ci in tests/compat"
    (cd tests/compat && npm ci --no-audit --no-fund --loglevel=error)
    cp tests/compat/package-lock.json "$stamp"
  fi
fi
