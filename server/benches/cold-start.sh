#!/usr/bin/env bash
# Cold start: how long the release binary takes from exec to answering /readyz with a fresh data
# directory (migrations, the built-in broker's registration and first catalog sync included),
# and its resident memory once idle. Usage: server/benches/cold-start.sh BINARY
set -euo pipefail
bin=${1:?usage: cold-start.sh BINARY}
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
data=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$data"' EXIT
t0=$(date +%s%N)
QM_LOG_FORMAT=json RUST_LOG=warn "$bin" serve --listen "127.0.0.1:$port" --data-dir "$data" \
  --site-root "$(dirname "$bin")/site" >"$data/log" 2>&1 &
pid=$!
until curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; do
  kill -0 "$pid" 2>/dev/null || { cat "$data/log"; echo "the portal exited" >&2; exit 1; }
  sleep 0.01
done
t1=$(date +%s%N)
sleep 5
rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
printf '%-44s %10s\n' measure value
printf '%-44s %8d ms\n' "exec to /readyz 200 (fresh data dir)" $(((t1 - t0) / 1000000))
printf '%-44s %8d MB\n' "RSS idle, 5 s after ready" $((rss / 1024))
