"""The browser libraries the site ships, committed under ``site/docs/assets/vendor/``.

* ``plotly-cartesian.min.js`` — plotly.js's partial *cartesian* bundle (scatter, bar, box:
  every chart the site draws) from the npm package ``plotly.js-cartesian-dist-min``, at the
  plotly.js version the installed ``plotly`` Python package bundles (1.5 MB instead of the
  full bundle's 4.8 MB); loaded only by pages that draw a chart;
* ``iframe-worker/shim.js`` — Material's search runs in a Web Worker, which a page opened from
  ``file://`` may not start; this shim (by Material's author, the one its offline plugin uses)
  runs the worker in an iframe there, and does nothing over HTTP.

They are committed, not fetched at build time: the site then builds offline and on an
intranet, and a reviewer sees every byte that is served. ``site/vendor.json`` records each
file's package, version, npm integrity and sha256; the tests check the files against it and
the plotly.js version against the ``plotly`` package. To move to another version::

    python -m publisher.site.vendor            # npm pack, unpack, write the files and vendor.json
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from publisher.errors import SiteError

MANIFEST = "vendor.json"
PLOTLY_PACKAGE = "plotly.js-cartesian-dist-min"
PLOTLY_FILE = "docs/assets/vendor/plotly-cartesian.min.js"
SHIM_PACKAGE = "iframe-worker"
SHIM_VERSION = "1.0.4"
# npm package → {file in the package tarball: path under site/}
FILES = {
    PLOTLY_PACKAGE: {
        "package/plotly-cartesian.min.js": PLOTLY_FILE,
        "package/LICENSE": "docs/assets/vendor/plotly-cartesian.LICENSE.txt",
    },
    SHIM_PACKAGE: {
        "package/shim/index.js": "docs/assets/vendor/iframe-worker/shim.js",
        "package/LICENSE": "docs/assets/vendor/iframe-worker/LICENSE.txt",
    },
}
_VERSION = re.compile(r"plotly\.js(?: \([a-z -]+\))? v(\d+\.\d+\.\d+)")


def bundle_version(text: str) -> str | None:
    """The plotly.js version in a bundle's licence header (its first lines)."""
    match = _VERSION.search(text[:400])
    return match.group(1) if match else None


def python_plotly_version() -> str:
    """The plotly.js version the installed ``plotly`` package bundles."""
    try:
        path = Path(str(importlib.resources.files("plotly") / "package_data" / "plotly.min.js"))
        head = path.read_text(encoding="utf-8", errors="replace")[:400]
    except (ModuleNotFoundError, OSError) as exc:
        raise SiteError(
            "the plotly package is not installed; install it with: pip install 'bakeoff[publish]'"
        ) from exc
    version = bundle_version(head)
    if version is None:
        raise SiteError(f"no plotly.js version in the header of {path}")
    return version


def sha256(path: Path) -> str:
    """Hex sha256 of a file."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check(site_dir: Path) -> list[str]:
    """What is wrong with the vendored files of ``site_dir`` (empty when all is well)."""
    problems = []
    try:
        manifest = json.loads((site_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return [f"cannot read {site_dir / MANIFEST}: {exc}"]
    for package in manifest.get("packages", []):
        for _, entry in sorted(package["files"].items()):
            path = site_dir / entry["path"]
            if not path.is_file():
                problems.append(f"{path} is missing")
            elif sha256(path) != entry["sha256"]:
                problems.append(f"{path} differs from {package['npm']} {package['version']}")
    return problems


def _npm_pack(name: str, version: str, folder: Path) -> tuple[Path, dict[str, Any]]:
    """Download one package tarball with npm (which checks its integrity)."""
    proc = subprocess.run(
        ["npm", "pack", f"{name}@{version}", "--json", "--pack-destination", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise SiteError(f"npm pack {name}@{version} failed: {proc.stderr.strip()[-500:]}")
    info = json.loads(proc.stdout)[0]
    return folder / info["filename"], info


def update(site_dir: Path) -> dict[str, Any]:
    """Fetch the packages (plotly.js at the installed plotly package's version) and write the
    files and ``vendor.json``."""
    versions = {PLOTLY_PACKAGE: python_plotly_version(), SHIM_PACKAGE: SHIM_VERSION}
    packages = []
    with tempfile.TemporaryDirectory(prefix="bakeoff-vendor-") as tmp:
        for name, version in versions.items():
            tarball, info = _npm_pack(name, version, Path(tmp))
            files = {}
            with tarfile.open(tarball) as tar:
                for member, rel in FILES[name].items():
                    source = tar.extractfile(member)
                    if source is None:
                        raise SiteError(f"{member} is not a file in {tarball.name}")
                    data = source.read()
                    target = site_dir / rel
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(data)
                    files[member] = {"path": rel, "sha256": hashlib.sha256(data).hexdigest()}
            packages.append(
                {
                    "npm": name,
                    "version": version,
                    "integrity": info["integrity"],
                    "license": "MIT",
                    "files": files,
                }
            )
    manifest = {
        "about": "Browser libraries committed under site/docs/assets/vendor/; written by "
        "`python -m publisher.site.vendor` (see publisher/site/vendor.py).",
        "packages": packages,
    }
    (site_dir / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def main() -> None:
    """Refresh the vendored files of ``site/`` in this checkout."""
    site_dir = Path(__file__).resolve().parents[2] / "site"
    manifest = update(site_dir)
    for p in manifest["packages"]:
        print(f"{p['npm']} {p['version']}: {', '.join(f['path'] for f in p['files'].values())}")
    problems = check(site_dir)
    if problems:
        sys.exit("\n".join(problems))


if __name__ == "__main__":
    main()
