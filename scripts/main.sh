#!/usr/bin/env bash
# The main job: set up, probe this host, benchmark it against the embedded local engine,
# validate, publish and build the site.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh publish,local
. .venv/bin/activate
bakeoff probe
bakeoff run "$@"
bakeoff validate
bakeoff publish
bakeoff site build --exports out/exports
# A file:// URL opens the site from disk (it works without a server); `bakeoff site serve`
# serves it on http://127.0.0.1:8000/ instead.
echo "site: $(python -c 'import pathlib; print(pathlib.Path("site/build/index.html").resolve().as_uri())')"
