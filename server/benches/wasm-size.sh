#!/usr/bin/env bash
# Prints the size of the release site's wasm bundle, raw and gzipped, and of its JS and CSS.
# Usage: server/benches/wasm-size.sh [SITE_DIR]   (./dev.sh bench builds the release first)
set -euo pipefail
site=${1:-target/site}
printf '%-28s %12s %12s\n' file raw gzip-9
for f in "$site"/pkg/*.wasm "$site"/pkg/*.js "$site"/pkg/*.css; do
  [ -f "$f" ] || continue
  printf '%-28s %12s %12s\n' "$(basename "$f")" "$(stat -c %s "$f")" "$(gzip -9 -c "$f" | wc -c)"
done
