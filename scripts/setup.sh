#!/usr/bin/env bash
# Create .venv and install bakeoff with the given extras (default: dev,local).
# Idempotent: a second call only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-dev,local}"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e ".[${extras}]"
