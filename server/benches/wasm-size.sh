#!/usr/bin/env bash
# Prints what a browser downloads from the release site, raw and gzipped: the main wasm bundle,
# the JS and CSS, then per screen what its first visit fetches (the main bundle plus the screen's
# split-off parts, as listed in the wasm-split manifest), and the whole split bundle.
# Usage: server/benches/wasm-size.sh [SITE_DIR]   (./dev.sh bench builds the release first)
set -euo pipefail
site=${1:-target/site}
exec python3 - "$site/pkg" <<'EOF'
import glob, gzip, json, os, sys

pkg = sys.argv[1]
gz = lambda path: len(gzip.compress(open(path, "rb").read(), 9))
raw = os.path.getsize

print(f"{'file':34} {'raw':>10} {'gzip-9':>10}")
fixed = [p for ext in ("wasm", "js", "css") for p in sorted(glob.glob(f"{pkg}/*.{ext}"))
         if not os.path.basename(p).startswith(("chunk_", "split_"))]
for p in fixed:
    print(f"{os.path.basename(p):34} {raw(p):10} {gz(p):10}")

manifests = glob.glob(f"{pkg}/__wasm_split_manifest*.json")
if not manifests:
    print("\nno wasm-split manifest: the bundle is not split")
    sys.exit(0)
main = [p for p in glob.glob(f"{pkg}/*.wasm") if not os.path.basename(p).startswith(("chunk_", "split_"))][0]
main_gz = gz(main)
parts = json.load(open(manifests[0]))
screens = {n: f for n, f in parts.items() if "_route_view" in n}
print(f"\nfirst visit of a screen: the main wasm ({main_gz} B gzipped) + the screen's parts, each file gzipped")
print(f"{'screen':16} {'files':>6} {'parts gz':>10} {'total gz':>10}")
for name in sorted(screens):
    files = [f"{pkg}/{f}.wasm" for f in screens[name]]
    size = sum(gz(f) for f in files)
    screen = name.strip("_").split("_route_view")[0]
    print(f"{screen:16} {len(files):6} {size:10} {main_gz + size:10}")
# `#[lazy(<screen>_<what>)]` functions (forms opened by a click): what opening one fetches beyond
# the parts of the screen its name starts with.
lazy = {n: f for n, f in parts.items() if n not in screens}
if lazy:
    print(f"\nopened within a screen (`#[lazy]`): the files it fetches beyond the screen's, gzipped")
    print(f"{'part':24} {'screen':12} {'files':>6} {'more gz':>10}")
    for name in sorted(lazy):
        home = next((s for s in screens if name.startswith(s.strip("_").split("_route_view")[0] + "_")), None)
        if home is None:
            sys.exit(f"{name}: no screen's name starts it (name lazy parts <screen>_<what>)")
        more = sorted(set(lazy[name]) - set(screens[home]))
        size = sum(gz(f"{pkg}/{f}.wasm") for f in more)
        screen = home.strip("_").split("_route_view")[0]
        print(f"{name.rsplit('_', 1)[0]:24} {screen:12} {len(more):6} {size:10}")
every = glob.glob(f"{pkg}/*.wasm")
print(f"\nall {len(every)} wasm files: {sum(raw(p) for p in every)} B raw, {sum(gz(p) for p in every)} B gzipped (each file)")
EOF
