"""Render the MkDocs project: check the vendored libraries, add downloads, run
``mkdocs build --strict``.

Only this module knows the layout of ``site/``; ``pages.build_pages`` writes into
``site/docs/generated/`` and never runs MkDocs.
"""

from __future__ import annotations

import functools
import gzip
import http.server
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
from publisher.site import vendor
from publisher.site.pages import MARKER, MARKER_TEXT, build_empty, downloads_snippet

GENERATED = Path("docs/generated")


@dataclass(frozen=True)
class BuildResult:
    """What a site build produced and how long it took."""

    build_dir: Path
    pages: int
    seconds: float


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
    problems = vendor.check(site_dir)
    if problems:
        raise SiteError(
            "the vendored browser libraries are not as site/vendor.json records them:\n  "
            + "\n  ".join(problems)
            + "\nrestore them with `git checkout site/` or run `python -m publisher.site.vendor`"
        )
    generated = site_dir / GENERATED
    marker = generated / MARKER
    if not marker.exists():
        # Nothing published yet: an empty archive still builds.
        build_empty(generated)
    elif marker.read_text(encoding="utf-8") != MARKER_TEXT:
        raise SiteError(
            f"the pages in {generated} were written by another version of bakeoff; "
            "run `bakeoff publish` to write them again"
        )
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


# Text files a static host sends compressed (GitHub Pages, Netlify and nginx's gzip do).
COMPRESSED = {".html", ".js", ".css", ".json", ".xml", ".csv", ".txt", ".svg", ".map"}


class _StaticHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the built site as a static host would: text files gzip-compressed for clients
    that accept it, everything else as is; no request log."""

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        """Send a text file gzip-compressed when the client accepts gzip."""
        path = Path(self.translate_path(self.path))
        accepts = "gzip" in self.headers.get("Accept-Encoding", "")
        if not accepts or path.suffix not in COMPRESSED or not path.is_file():
            super().do_GET()
            return
        try:
            body = gzip.compress(path.read_bytes(), compresslevel=6, mtime=0)
        except OSError:
            super().do_GET()
            return
        self.send_response(200)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Vary", "Accept-Encoding")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def make_server(
    build_dir: Path, host: str = "127.0.0.1", port: int = 8000
) -> http.server.ThreadingHTTPServer:
    """A static file server for the built site (the caller runs and closes it)."""
    handler = functools.partial(_StaticHandler, directory=str(build_dir))
    return http.server.ThreadingHTTPServer((host, port), handler)
