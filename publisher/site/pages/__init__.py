"""Generate the site's Markdown pages and data files from a built archive.

One module per page family: ``home`` (and the Data page's downloads), ``leaderboards``,
``systems``, ``names`` (models and engines), ``runs`` (run index and run pages), ``changes``
and ``compare``; ``view`` reads what they need from the archive's Arrow tables by DuckDB SQL;
``common`` holds the shared HTML helpers and the output folder.

Hub pages are static Markdown with raw HTML tables; charts, the run index and run pages are
drawn in the browser from ``.js`` data files under ``data/`` (loaded by ``<script>``, so the
site works opened from disk as well as over HTTP). Output is deterministic: the same archive
gives byte-identical files.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from publisher.errors import SiteError
from publisher.frontend import tables as table_defs
from publisher.site.pages.changes import changes_page
from publisher.site.pages.common import MARKER, MARKER_TEXT, Output
from publisher.site.pages.compare import COMPARE_PAGE
from publisher.site.pages.home import downloads_snippet, home_snippet
from publisher.site.pages.leaderboards import leaderboard_page, leaderboards_index
from publisher.site.pages.names import write_name_pages
from publisher.site.pages.runs import write_run_pages
from publisher.site.pages.systems import write_system_pages
from publisher.site.pages.view import ArchiveView

__all__ = ["MARKER", "MARKER_TEXT", "build_empty", "build_pages", "downloads_snippet"]

Reader = Callable[[str, str], pa.Table]


def build_pages(archive: Any, reader: Reader, out_dir: Path, previous: Path | None = None) -> None:
    """Write every generated page and data file of the site into ``out_dir``.

    ``archive`` is a built archive (``publisher.archive.build.Archive``: ``tables`` and
    ``catalogue``); ``reader(table, run_id)`` gives one run's rows of ``calls`` or
    ``samples`` (a reader with a ``key`` naming the version of those rows lets unchanged run
    files be reused). The output replaces ``out_dir`` atomically; an existing ``out_dir`` that
    this function did not write is refused. ``previous`` is the last generated folder (by
    default ``out_dir`` itself), whose unchanged run files are linked rather than rebuilt.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()) and not (out_dir / MARKER).exists():
        raise SiteError(
            f"{out_dir} exists and was not written by build_pages; refusing to replace it "
            "(pass an empty or generated directory, e.g. site/docs/generated)"
        )
    tmp = out_dir.with_name(out_dir.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    if previous is None and (out_dir / MARKER).exists():
        previous = out_dir
    if previous is not None and not (previous / MARKER).exists():
        previous = None
    view = ArchiveView.open(archive.tables, archive.catalogue)
    try:
        _generate(view, reader, Output(tmp), previous)
    finally:
        view.close()
    if out_dir.exists():
        old = out_dir.with_name(out_dir.name + ".old")
        if old.exists():
            shutil.rmtree(old)
        os.replace(out_dir, old)
        os.replace(tmp, out_dir)
        shutil.rmtree(old)
    else:
        os.replace(tmp, out_dir)


def _generate(view: ArchiveView, reader: Reader, out: Output, previous: Path | None) -> None:
    out.write(MARKER, MARKER_TEXT)
    out.write("_snippets/home.md", home_snippet(view, out))
    out.write("_snippets/downloads.md", downloads_snippet([]))
    out.write("leaderboards/index.md", leaderboards_index(view, out))
    for w in view.workloads.values():
        out.write(f"leaderboards/{w.name}.md", leaderboard_page(view, w, out))
    write_system_pages(view, out)
    write_name_pages(view, out)
    out.write("changes.md", changes_page(view))
    out.write("compare.md", COMPARE_PAGE)
    write_run_pages(view, reader, out, previous)


@dataclass(frozen=True)
class _EmptyArchive:
    tables: dict[str, pa.Table] = field(default_factory=dict)
    catalogue: dict[str, Any] = field(
        default_factory=lambda: {"runs": [], "systems": [], "models": [], "engines": []}
    )


def _no_rows(table: str, run_id: str) -> pa.Table:
    return table_defs.empty(table)


def build_empty(out_dir: Path) -> None:
    """The pages of an archive without runs (the site builds before anything is published)."""
    build_pages(_EmptyArchive(), _no_rows, out_dir)
