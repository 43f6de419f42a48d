"""Build llama.cpp's ``llama-bench`` from the llama-cpp-python sdist the ``local`` extra installs.

    python tests/tools/llama_bench.py          # build once, print the binary's path
    python tests/tools/llama_bench.py --force  # rebuild

The importer tests run the real tool on the bundled GGUF, so it is built from the llama.cpp
sources vendored in the same llama-cpp-python release that serves the embedded engine (never a
downloaded binary, never another copy of llama.cpp): ``pip download`` fetches that version's
sdist, CMake configures ``vendor/llama.cpp`` with everything optional off and builds the one
target ``llama-bench`` (static, so the binary stands alone). The binary is cached per version
in ``$BAKEOFF_TOOLS_CACHE`` (default ``~/.cache/bakeoff/tools``) with the build's time in
``build.json``, so one machine builds it once. CMake comes from PyPI when the machine has none.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

PACKAGE = "llama-cpp-python"
TARGET = "llama-bench"
CMAKE_OPTIONS = (
    "-DCMAKE_BUILD_TYPE=Release",
    "-DBUILD_SHARED_LIBS=OFF",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_BUILD_SERVER=OFF",
    "-DLLAMA_BUILD_APP=OFF",
    "-DLLAMA_OPENSSL=OFF",
    "-DLLAMA_CURL=OFF",
    "-DGGML_NATIVE=ON",
)


class BuildError(RuntimeError):
    """llama-bench could not be built; the message says which step failed and its output."""


def cache_root() -> Path:
    """Where built tools are kept between test runs."""
    env = os.environ.get("BAKEOFF_TOOLS_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "bakeoff" / "tools"


def installed_version() -> str:
    """The llama-cpp-python version the ``local`` extra installed."""
    try:
        return importlib.metadata.version(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        raise BuildError(f"{PACKAGE} is not installed (pip install 'bakeoff[local]')") from None


def _run(cmd: list[str], cwd: Path | None, step: str) -> None:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-30:])
        raise BuildError(f"{step} failed (exit {proc.returncode}): {' '.join(cmd)}\n{tail}")


def _cmake(work: Path) -> str:
    found = shutil.which("cmake")
    if found:
        return found
    target = work / "cmake-pypi"
    _run(
        [sys.executable, "-m", "pip", "install", "-q", "--target", str(target), "cmake"],
        None,
        "installing cmake from PyPI",
    )
    return str(target / "bin" / "cmake")


def ensure_llama_bench(force: bool = False, jobs: int | None = None) -> Path:
    """The cached llama-bench binary for the installed llama-cpp-python, built when missing."""
    version = installed_version()
    home = cache_root() / f"llama-bench-{version}"
    binary = home / TARGET
    if binary.is_file() and not force:
        return binary
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="llama-bench-build-") as tmp:
        work = Path(tmp)
        _run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "-q",
                "--no-deps",
                # Only this package as an sdist: ":all:" would also build its build
                # dependencies (scikit-build-core, cmake, ninja) from source.
                "--no-binary",
                PACKAGE,
                f"{PACKAGE}=={version}",
                "-d",
                str(work),
            ],
            None,
            f"downloading the {PACKAGE} {version} sdist",
        )
        archives = sorted(work.glob("*.tar.gz"))
        if not archives:
            raise BuildError(f"pip download left no sdist of {PACKAGE} {version} in {work}")
        with tarfile.open(archives[0]) as tar:
            tar.extractall(work, filter="data")
        sources = next(work.glob("*/vendor/llama.cpp"), None)
        if sources is None:
            raise BuildError(f"the {PACKAGE} {version} sdist has no vendor/llama.cpp")
        build = work / "build"
        cmake = _cmake(work)
        _run([cmake, "-S", str(sources), "-B", str(build), *CMAKE_OPTIONS], None, "cmake configure")
        _run(
            [
                cmake,
                "--build",
                str(build),
                "--target",
                TARGET,
                "-j",
                str(jobs or os.cpu_count() or 2),
            ],
            None,
            f"building {TARGET}",
        )
        # build/bin/llama-bench; build/tools/llama-bench is a folder of the same name.
        built = next((p for p in build.rglob(TARGET) if p.is_file()), None)
        if built is None:
            raise BuildError(f"the build produced no {TARGET} binary under {build}")
        home.mkdir(parents=True, exist_ok=True)
        shutil.copy2(built, binary)
    record = {
        "package": PACKAGE,
        "version": version,
        "target": TARGET,
        "build_seconds": round(time.monotonic() - started, 1),
        "cmake_options": list(CMAKE_OPTIONS),
    }
    (home / "build.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return binary


def main() -> int:
    """Build (or find) the binary and print its path and how long the build took."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--force", action="store_true", help="rebuild even when cached")
    args = parser.parse_args()
    try:
        binary = ensure_llama_bench(force=args.force)
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    info = binary.parent / "build.json"
    took = json.loads(info.read_text())["build_seconds"] if info.is_file() else "?"
    print(f"{binary} (built in {took} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
