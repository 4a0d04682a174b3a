#!/usr/bin/env bash
# Pharos as the peer harness's "any gateway command":
#
#   GATEWAY=custom GW_CMD="bash $PWD/bench/gateway/pharos-gateway.sh" bash ../shared/bench/peer/run.sh
#
# run.sh sets GW_PORT and UPSTREAM (http://127.0.0.1:$MOCK_PORT/v1) and stops the PID it started,
# which is Pharos itself (this script ends in exec). Writes a pharos.toml routing the models the
# harness sends ("gpt-4o-mini", and "m" in its single-request checks) to UPSTREAM, into a fresh
# data directory (GW_PHAROS_DIR, default /tmp/pharos-peer-gateway, emptied at start).
# Environment: GW_PHAROS (the binary; default build/release/src/app/pharos of this checkout), RECORD_RUNS=true|false.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
GW_PHAROS_BIN=${GW_PHAROS:-$root/build/release/src/app/pharos}
dir=${GW_PHAROS_DIR:-/tmp/pharos-peer-gateway}
: "${GW_PORT:?set by the peer harness}" "${UPSTREAM:?set by the peer harness}"
rm -rf "$dir"
mkdir -p "$dir/data"
cat >"$dir/pharos.toml" <<EOF
[gateway.providers.mock]
base_url = "$UPSTREAM"

[gateway.models."gpt-4o-mini"]
targets = ["mock/gpt-4o-mini"]

[gateway.models."m"]
targets = ["mock/m"]
EOF
cd "$dir"
exec "$GW_PHAROS_BIN" serve --config "$dir/pharos.toml" --listen "127.0.0.1:$GW_PORT" --otlp-grpc-listen off \
  --data "$dir/data" --set log.access_log=false --set "gateway.record_runs=${RECORD_RUNS:-true}"
