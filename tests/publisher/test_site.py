"""Site generation and the static build: escaping, determinism, strict build, weight, links."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urldefrag, urlsplit

import pytest
from click.testing import CliRunner

from publisher.cli_site import site as site_cli
from publisher.site import charts
from publisher.site.build import build_site
from publisher.site.escape import html_text, md_text, slug, title_text
from publisher.site.pages import SiteError, build_pages
from tests.publisher.test_site_browser import copy_site_project
from tests.publisher.test_site_data import XSS_CPU, XSS_HOST, XSS_MODEL, XSS_VERSION, make_tables

HOSTILE = [XSS_MODEL, XSS_HOST, XSS_VERSION, XSS_CPU]
PAGE_LIMIT = 300 * 1024


def test_escape_helpers() -> None:
    assert html_text(XSS_MODEL) == "&lt;img src=x onerror=alert(1)&gt;"
    assert md_text("a|b*c_[d]`e`") == r"a\|b\*c\_\[d\]\`e\`"
    assert md_text("<b>&#x27;</b>") == r"&lt;b&gt;&amp;\#x27;&lt;/b&gt;"
    assert md_text("two\nlines") == "two lines"
    assert md_text(None) == ""
    assert re.fullmatch(r"[a-z0-9-]+", slug(XSS_MODEL))
    assert slug("a") != slug("A") and slug("") == slug("")
    assert "<" not in title_text(XSS_MODEL) and title_text(XSS_HOST) == "javascript:alert(2)"


def test_pareto_frontier() -> None:
    points = [(10.0, 5.0), (5.0, 3.0), (20.0, 9.0), (12.0, 4.0), (5.0, 1.0)]
    assert charts.pareto_frontier(points) == [(5.0, 3.0), (10.0, 5.0), (20.0, 9.0)]
    assert charts.pareto_frontier([]) == []


def test_build_pages_is_deterministic_and_escaped(tmp_path: Path) -> None:
    tables, catalogue = make_tables(8)
    a, b = tmp_path / "a" / "generated", tmp_path / "b" / "generated"
    build_pages(tables, catalogue, a)
    build_pages(tables, catalogue, b)
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    for rel in files:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    for md in a.rglob("*.md"):
        text = md.read_text()
        for bad in HOSTILE:
            assert bad not in text, (md, bad)
    # rebuilding over an earlier output replaces it
    build_pages({}, {}, a)
    assert not list((a / "data" / "runs").glob("*.json"))


def test_build_pages_refuses_foreign_directory(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.md").write_text("# mine\n")
    with pytest.raises(SiteError, match="refusing"):
        build_pages({}, {}, tmp_path / "docs")
    assert (tmp_path / "docs" / "index.md").exists()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = copy_site_project(tmp_path_factory.mktemp("site"))
    tables, catalogue = make_tables(30)
    build_pages(tables, catalogue, root / "docs" / "generated")
    exports = root / "exports"
    exports.mkdir()
    (exports / "runs.parquet").write_bytes(b"PAR1 not really parquet PAR1")
    result = build_site(root, exports_dir=exports)
    assert result.pages > 20
    return result.build_dir


def test_strict_build_page_weight_and_no_raw_hostile_strings(built: Path) -> None:
    pages = list(built.rglob("*.html"))
    for html in pages:
        size = html.stat().st_size
        assert size <= PAGE_LIMIT, (html, size)
        text = html.read_text()
        for bad in HOSTILE:
            assert bad not in text, (html, bad)


def test_no_external_assets(built: Path) -> None:
    """Scripts, styles, fonts and images are all local: the site works offline."""
    ref = re.compile(r"""<(?:script|link|img|iframe|source)\b[^>]*?(?:src|href)="([^"]+)\"""")
    for html in built.rglob("*.html"):
        for url in ref.findall(html.read_text()):
            if url.startswith(("http://", "https://", "//")):
                # only the canonical link and the sitemap point at site_url
                assert "bakeoff.example.org" in url, (html, url)
    assert (built / "assets" / "vendor" / "plotly.min.js").stat().st_size > 1_000_000
    css = "".join(p.read_text() for p in (built / "assets").rglob("*.css"))
    assert "fonts.googleapis" not in css and "fonts.gstatic" not in css


def test_internal_links_resolve(built: Path) -> None:
    href = re.compile(r'<a\b[^>]*?href="([^"#][^"]*)"')
    checked = 0
    for html in built.rglob("*.html"):
        if html.name == "404.html":  # served at any depth, so MkDocs writes root-absolute links
            continue
        for url in href.findall(html.read_text()):
            if urlsplit(url).scheme or url.startswith("//") or url.startswith("mailto:"):
                continue
            target = (html.parent / urldefrag(url)[0].split("?")[0]).resolve()
            assert target.exists(), (html.relative_to(built), url)
            checked += 1
    assert checked > 100


def test_search_index_covers_hubs_not_runs(built: Path) -> None:
    index = json.loads((built / "search" / "search_index.json").read_text())
    locations = {d["location"].split("#")[0] for d in index["docs"]}
    assert "methodology.html" in locations
    assert any(loc.startswith("generated/models/") for loc in locations)
    assert any(loc.startswith("generated/leaderboards/") for loc in locations)
    assert not any(loc.startswith("generated/runs/") for loc in locations)
    # bulky tables are marked data-search-exclude: no run ids from tables in the index
    text = json.dumps(index)
    assert "2026010" not in text
    assert len(text) < 300_000


def test_downloads_list_checksums(built: Path) -> None:
    data = (built / "data.html").read_text()
    assert "runs.parquet" in data
    assert re.search(r"<code>[0-9a-f]{64}</code>", data)
    assert (built / "generated" / "exports" / "runs.parquet").exists()


def test_methodology_has_every_metric_definition(built: Path) -> None:
    text = (built / "methodology.html").read_text()
    for term in ("first_delta_ms", "tokens_per_sec", "tpot_ms", "itl_p50_ms", "bootstrap", "IQR"):
        assert term in text


def test_cli_build_reports_errors_without_traceback(tmp_path: Path) -> None:
    result = CliRunner().invoke(site_cli, ["build", "--site-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "no mkdocs.yml" in result.output
