#!/usr/bin/env bash
# Prints what a browser downloads from the release site, raw and gzipped: the main wasm bundle,
# the JS and CSS, then per page what its first visit fetches (an islands page: the main bundle and
# its lazy islands' parts; another: the main bundle, the full app's parts and the screen's, as
# listed in the wasm-split manifest), and the whole split bundle.
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
# The full app (router, shell, screens) is a part of its own, `hydrate_app`: a page that is not an
# islands page fetches it, then its screen's parts. Islands pages (app/src/lib.rs,
# `is_islands_path`: the catalog, a class page, the instances list, approvals, the admin
# overview, the audit log, login and password) hydrate their islands from the main wasm, plus the
# parts of their lazy islands (`#[island(lazy)]`, named `<island>_loader_…` in the manifest).
app = next((f for n, f in parts.items() if n.startswith("hydrate_app_")), [])
islands = {"catalog": ("/ and /catalog (islands)", []), "class": ("/catalog/{class} (islands)", []),
           "instances": ("/instances (islands)", ["instances_results"]),
           "approvals": ("/approvals (islands)", []),
           "admin": ("/admin (islands)", []), "audit": ("/admin/audit (islands)", []),
           "approvals": ("/approvals (islands)", []),
           "admin": ("/admin (islands)", []), "audit": ("/admin/audit (islands)", []),
           "login": ("/login (islands)", []), "password": ("/account/password (islands)", [])}
loaders = {n: f for n, f in parts.items() if "_loader_" in n}
app_gz = sum(gz(f"{pkg}/{f}.wasm") for f in app)
print(f"\nfirst visit of a page: the main wasm ({main_gz} B gzipped) + the parts it fetches, each file gzipped")
print(f"(a page that is not an islands page fetches the full app's {len(app)} parts, {app_gz} B, and its screen's)")
print(f"{'page':28} {'files':>6} {'parts gz':>10} {'total gz':>10}")
for name, (page, own) in islands.items():
    files = sorted({f for n, fs in loaders.items() if any(n.startswith(o + "_loader_") for o in own) for f in fs})
    if len(own) != len({n for n in loaders if any(n.startswith(o + "_loader_") for o in own)}):
        sys.exit(f"{page}: lazy islands {own} not all in the manifest")
    size = sum(gz(f"{pkg}/{f}.wasm") for f in files)
    print(f"{page:28} {len(files):6} {size:10} {main_gz + size:10}")
for name in sorted(screens):
    screen = name.strip("_").split("_route_view")[0]
    if screen in islands:
        continue
    files = sorted(set(screens[name]) | set(app))
    size = sum(gz(f"{pkg}/{f}.wasm") for f in files)
    print(f"{screen:28} {len(files):6} {size:10} {main_gz + size:10}")
# `#[lazy(<screen>_<what>)]` functions (forms opened by a click): what opening one fetches beyond
# the parts of the screen its name starts with.
lazy = {n: f for n, f in parts.items() if n not in screens and n not in loaders and not n.startswith("hydrate_app_")}
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
