"""Time the site build for a synthetic archive (default 1,000 runs).

    python benchmarks/site_build.py [--runs 1000] [--work DIR]

Builds the archive's tables directly (tests/publisher/test_site_data.make_site_input: Arrow
tables through the real archive stage), writes the pages with ``build_pages`` and renders
them with ``build_site`` (``mkdocs build --strict``) in benchmarks/.work/ (git-ignored).
Prints absolute times, page and data-file counts and the largest page, so the README's
numbers can be reproduced.
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
from tests.publisher.test_site_data import copy_site_project, make_site_input  # noqa: E402


def main() -> None:
    """Run the benchmark and print its numbers."""
    parser = argparse.ArgumentParser(description="Time the site build for a synthetic archive.")
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--work", type=Path, default=REPO / "benchmarks" / ".work" / "site")
    args = parser.parse_args()
    work = args.work
    if work.exists():
        shutil.rmtree(work)
    root = copy_site_project(work)

    t0 = time.perf_counter()
    site = make_site_input(args.runs)
    t1 = time.perf_counter()
    build_pages(site.archive, site.reader, root / "docs" / "generated")
    t2 = time.perf_counter()
    result = build_site(root)
    t3 = time.perf_counter()

    gen = root / "docs" / "generated"
    pages = sorted(result.build_dir.rglob("*.html"), key=lambda p: p.stat().st_size)
    md = len(list(gen.rglob("*.md")))
    run_files = len(list((gen / "data" / "runs").glob("*.js")))
    chart_files = len(list((gen / "data" / "charts").glob("*.js")))
    size = sum(p.stat().st_size for p in result.build_dir.rglob("*") if p.is_file())
    largest = pages[-1]
    cells = site.archive.tables["cells"].num_rows
    print(f"runs: {len(site.run_ids)}  cells rows: {cells}  calls: {site.large['calls'].num_rows}")
    print(f"generate tables:        {t1 - t0:6.1f} s")
    print(
        f"build_pages:            {t2 - t1:6.1f} s  ({md} Markdown, {run_files} run files, "
        f"{chart_files} chart files)"
    )
    print(f"mkdocs build --strict:  {t3 - t2:6.1f} s  ({len(pages)} HTML pages)")
    print(f"site build total:       {t3 - t1:6.1f} s")
    kb = largest.stat().st_size / 1024
    print(f"largest page: {largest.relative_to(result.build_dir)} {kb:.0f} KB")
    print(f"site size: {size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
