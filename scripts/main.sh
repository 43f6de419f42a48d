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
echo "site: $(pwd)/site/build/index.html"
