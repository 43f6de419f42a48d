#!/usr/bin/env bash
# Set up everything the tests need and run the whole suite: lint, types, schemas, pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh dev,local
# Browser tests drive Debian's Chromium (never a browser a tool downloads itself).
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
      || echo "warning: could not install chromium; browser tests will be skipped" >&2
  else
    echo "note: install Debian's chromium (sudo apt-get install chromium) for the browser tests" >&2
  fi
fi
. .venv/bin/activate
ruff check bakeoff collector publisher tests benchmarks
ruff format --check bakeoff collector publisher tests benchmarks
mypy
python -m bakeoff.schemagen --check
# llama-bench for the importer tests, built from the llama-cpp-python sdist (cached per version
# in ~/.cache/bakeoff/tools; the first build on a machine takes minutes).
python tests/tools/llama_bench.py
python -m pytest "$@"
