#!/usr/bin/env bash
# Create .venv and install bakeoff with the given extras (default: dev,local).
# Idempotent: a second call only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-dev,local}"

# The 'local' extra builds llama-cpp-python (llama.cpp) from source: that needs a C and a C++
# compiler. cmake and ninja are not needed on the system: the build fetches them from PyPI when
# they are missing. Say so now rather than after minutes of a failing build.
needs_compiler() {
  case ",${extras}," in *,local,*) ;; *) return 1 ;; esac
  ! { [ -x .venv/bin/python ] && .venv/bin/python -c 'import llama_cpp' >/dev/null 2>&1; }
}
if needs_compiler; then
  cc_found="$(command -v cc || command -v gcc || command -v clang || true)"
  cxx_found="$(command -v c++ || command -v g++ || command -v clang++ || true)"
  if [ -z "${CC:-}${cc_found}" ] || [ -z "${CXX:-}${cxx_found}" ]; then
    echo "error: the 'local' extra builds llama-cpp-python from source and needs a C and a C++" >&2
    echo "  compiler (found: C ${cc_found:-none}, C++ ${cxx_found:-none}). Install one:" >&2
    echo "  Debian/Ubuntu: apt-get install build-essential   Fedora: dnf install gcc-c++" >&2
    echo "  macOS: xcode-select --install" >&2
    echo "  or set CC and CXX; or install without it: ./scripts/setup.sh dev" >&2
    exit 1
  fi
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e ".[${extras}]"
