"""Render the MkDocs project: vendor plotly.js, add downloads, run ``mkdocs build --strict``.

Only this module knows the layout of ``site/``; ``pages.build_pages`` writes into
``site/docs/generated/`` and never runs MkDocs.
"""

from __future__ import annotations

import functools
import http.server
import importlib.resources
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from publisher.errors import SiteError
from publisher.export import MANIFEST
from publisher.site.pages import MARKER, build_pages_from_rows, downloads_snippet

VENDOR_PLOTLY = Path("docs/assets/vendor/plotly.min.js")
GENERATED = Path("docs/generated")
HOME_SNIPPET = Path("_snippets/home.md")


@dataclass(frozen=True)
class BuildResult:
    """What a site build produced and how long it took."""

    build_dir: Path
    pages: int
    seconds: float


def plotly_source() -> Path:
    """The plotly.min.js shipped inside the installed ``plotly`` package."""
    try:
        path = Path(str(importlib.resources.files("plotly") / "package_data" / "plotly.min.js"))
    except ModuleNotFoundError as exc:
        raise SiteError(
            "the plotly package is not installed; install it with: pip install 'bakeoff[publish]'"
        ) from exc
    if not path.is_file():
        raise SiteError(f"plotly.min.js not found at {path}; reinstall plotly")
    return path


def vendor_assets(site_dir: Path) -> Path:
    """Copy plotly.min.js into the site's assets (once; skipped when already identical)."""
    src = plotly_source()
    dest = site_dir / VENDOR_PLOTLY
    if not dest.is_file() or dest.stat().st_size != src.stat().st_size:
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_suffix(".tmp")
        shutil.copyfile(src, tmp)
        os.replace(tmp, dest)
    return dest


def add_downloads(exports_dir: Path, generated_dir: Path) -> list[tuple[str, int, str]]:
    """Copy the export files the manifest lists into ``generated/exports/`` (partitioned
    datasets keep their folders) and list them with their size and sha256."""
    manifest_path = exports_dir / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        listed = [(str(f["path"]), int(f["bytes"]), str(f["sha256"])) for f in manifest["files"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SiteError(
            f"no readable {manifest_path} ({exc}); run `bakeoff publish` first"
        ) from exc
    dest = generated_dir / "exports"
    if dest.exists():
        shutil.rmtree(dest)
    files = []
    for rel, size, digest in [(MANIFEST, 0, ""), *listed]:
        src = exports_dir / rel
        if not src.is_file() or ".." in Path(rel).parts:
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, target)
        if rel != MANIFEST:
            files.append((f"exports/{rel}", size, digest))
    (generated_dir / "_snippets" / "downloads.md").write_text(
        downloads_snippet(files), encoding="utf-8"
    )
    return files


def build_site(
    site_dir: Path,
    *,
    build_dir: Path | None = None,
    exports_dir: Path | None = None,
    site_url: str | None = None,
) -> BuildResult:
    """Build the static site from ``site_dir`` (mkdocs.yml) into ``build_dir``.

    When no pages were generated yet, an empty archive is generated so the site still builds.
    Warnings fail the build (``--strict``).
    """
    site_dir = Path(site_dir).resolve()
    config = site_dir / "mkdocs.yml"
    if not config.is_file():
        raise SiteError(f"no mkdocs.yml in {site_dir}; pass --site-dir pointing at site/")
    build_dir = (build_dir or site_dir / "build").resolve()
    vendor_assets(site_dir)
    generated = site_dir / GENERATED
    if not (generated / MARKER).exists() or not (generated / HOME_SNIPPET).exists():
        # Nothing published yet (or pages from an older layout): an empty archive still builds.
        build_pages_from_rows({}, {}, generated)
    if exports_dir is not None:
        add_downloads(Path(exports_dir), generated)
    env = dict(os.environ)
    if site_url:
        env["BAKEOFF_SITE_URL"] = site_url if site_url.endswith("/") else site_url + "/"
    cmd = [sys.executable, "-m", "mkdocs", "build", "--strict", "--clean", "--quiet"]
    cmd += ["-f", str(config), "-d", str(build_dir)]
    start = time.perf_counter()
    # cwd=site_dir: pymdownx.snippets resolves its base_path against the working directory.
    proc = subprocess.run(cmd, cwd=site_dir, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        output = (proc.stdout + proc.stderr).strip().splitlines()
        raise SiteError(
            "mkdocs build --strict failed:\n  " + "\n  ".join(output[-30:] or ["(no output)"])
        )
    pages = sum(1 for _ in build_dir.rglob("*.html"))
    return BuildResult(build_dir=build_dir, pages=pages, seconds=seconds)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def make_server(
    build_dir: Path, host: str = "127.0.0.1", port: int = 8000
) -> http.server.ThreadingHTTPServer:
    """A static file server for the built site (the caller runs and closes it)."""
    handler = functools.partial(_QuietHandler, directory=str(build_dir))
    return http.server.ThreadingHTTPServer((host, port), handler)
