"""Time the site build for a synthetic archive (default 1,000 runs).

    python benchmarks/site_build.py [--runs 1000]

Generates published-table rows directly (tests/publisher/test_site_data.make_tables), writes
the pages with ``build_pages`` and renders them with ``build_site`` (``mkdocs build
--strict``) in benchmarks/.work/ (git-ignored). Prints absolute times, page counts and the
largest page, so the README's numbers can be reproduced.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from publisher.site.build import build_site  # noqa: E402
from publisher.site.pages import build_pages  # noqa: E402
from tests.publisher.test_site_browser import copy_site_project  # noqa: E402
from tests.publisher.test_site_data import make_tables  # noqa: E402


def main() -> None:
    """Run the benchmark and print its numbers."""
    parser = argparse.ArgumentParser(description="Time the site build for a synthetic archive.")
    parser.add_argument("--runs", type=int, default=1000)
    args = parser.parse_args()
    work = REPO / "benchmarks" / ".work" / "site"
    if work.exists():
        shutil.rmtree(work)
    root = copy_site_project(work)

    t0 = time.perf_counter()
    tables, catalogue = make_tables(args.runs)
    t1 = time.perf_counter()
    build_pages(tables, catalogue, root / "docs" / "generated")
    t2 = time.perf_counter()
    result = build_site(root)
    t3 = time.perf_counter()

    gen = root / "docs" / "generated"
    pages = sorted(result.build_dir.rglob("*.html"), key=lambda p: p.stat().st_size)
    md = len(list(gen.rglob("*.md")))
    runs_json = len(list((gen / "data" / "runs").glob("*.json")))
    size = sum(p.stat().st_size for p in result.build_dir.rglob("*") if p.is_file())
    largest = pages[-1]
    print(f"runs: {args.runs}  cells rows: {len(tables['cells'])}  calls: {len(tables['calls'])}")
    print(f"generate rows:          {t1 - t0:6.1f} s")
    print(f"build_pages:            {t2 - t1:6.1f} s  ({md} Markdown, {runs_json} run JSON)")
    print(f"mkdocs build --strict:  {t3 - t2:6.1f} s  ({len(pages)} HTML pages)")
    print(f"site build total:       {t3 - t1:6.1f} s")
    kb = largest.stat().st_size / 1024
    print(f"largest page: {largest.relative_to(result.build_dir)} {kb:.0f} KB")
    print(f"site size: {size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
