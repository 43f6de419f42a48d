"""The built site in headless Debian Chromium, opened from disk (file://) and over HTTP: every
page type renders with no "Loading…" left and no console error, charts draw, pages stay
light, wide tables fit 1,400 px, systems are told apart, runs that are not comparable say
why, the compare view works from a shared link, and XSS stays text.

Playwright drives /usr/bin/chromium (never a browser Playwright downloads). Screenshots of
each page type go to tests/artifacts/site/.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from publisher.site.build import build_site, make_server
from publisher.site.escape import slug
from publisher.site.pages import build_pages
from publisher.site.pages.view import ArchiveView
from tests.publisher.test_site_data import (
    REPO,
    SMOKE_REASON,
    XSS_CPU,
    XSS_HOST,
    XSS_MODEL,
    SiteInput,
    copy_site_project,
    make_site_input,
)

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "tests" / "artifacts" / "site"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
WIDTH = 1400
# First view of a page, everything transferred (HTML, JS, CSS, data), as a static host sends it:
# text gzip-compressed. The uncompressed sizes are written to page-weight.txt beside them.
LIGHT_PAGE = 300 * 1024
CHART_PAGE = 1800 * 1024

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"
    ),
]
playwright_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package")


@dataclass
class Site:
    base: str
    file_base: str
    build: Path
    data: SiteInput

    def urls(self) -> list[str]:
        return [self.base, self.file_base]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = copy_site_project(tmp_path_factory.mktemp("site"))
    data = make_site_input(12)
    build_pages(data.archive, data.reader, root / "docs" / "generated")
    # Instant navigation only treats links as internal when site_url matches the served
    # origin (Material maps sitemap URLs onto the current protocol and host, not the port),
    # so bind the port first and build for it.
    server = make_server(root / "build", "127.0.0.1", 0)
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    result = build_site(root, site_url=base)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Site(base, result.build_dir.as_uri() + "/", result.build_dir, data)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@dataclass
class Watch:
    """Console errors, page errors, dialogs, off-site requests and bytes received."""

    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    external: list[str] = field(default_factory=list)
    received: dict[str, int] = field(default_factory=dict)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


def _open(browser: Any, site: Site) -> tuple[Any, Any, Watch]:
    context = browser.new_context(viewport={"width": WIDTH, "height": 900}, accept_downloads=True)
    pg = context.new_page()
    watch = Watch()
    pg.on("console", lambda m: m.type == "error" and watch.errors.append(m.text))
    pg.on("pageerror", lambda e: watch.errors.append(str(e)))

    def on_dialog(d: Any) -> None:
        watch.dialogs.append(d.message)
        d.dismiss()

    pg.on("dialog", on_dialog)

    def on_request(req: Any) -> None:
        url = req.url
        if not url.startswith((site.base, site.file_base, "data:", "blob:", "about:")):
            watch.external.append(url)

    def on_finished(req: Any) -> None:
        sizes = req.sizes()
        watch.received[req.url] = sizes["responseBodySize"] + sizes["responseHeadersSize"]

    pg.on("request", on_request)
    pg.on("requestfinished", on_finished)

    def route(r: Any) -> None:
        if r.request.url.startswith(site.base):
            r.continue_()
        else:
            r.abort()

    pg.route("http*://**/*", route)
    return context, pg, watch


@pytest.fixture
def page(browser: Any, site: Site) -> Iterator[tuple[Any, Watch]]:
    context, pg, watch = _open(browser, site)
    try:
        yield pg, watch
    finally:
        context.close()


def _shot(pg: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _first(build: Path, folder: str, exclude: str = "index.html") -> str:
    return sorted(
        p.name for p in (build / "generated" / folder).glob("*.html") if p.name != exclude
    )[0]


def _shared_systems(site: Site) -> tuple[str, str]:
    """Two systems with a workload signature in common (comparable results)."""
    view = ArchiveView.open(site.data.archive.tables, site.data.archive.catalogue)
    try:
        by_sig: dict[str, set[str]] = {}
        for e in view.all_entries():
            by_sig.setdefault(str(e.row["signature"]), set()).add(str(e.row["system_id"]))
    finally:
        view.close()
    pair = sorted(next(sorted(s) for s in by_sig.values() if len(s) > 1))
    return pair[0], pair[1]


def _page_types(site: Site) -> dict[str, str]:
    run_id = site.data.run_ids[0]
    models = sorted((site.build / "generated" / "models").glob("img-src-x*.html"))
    a, b = _shared_systems(site)
    return {
        "home": "index.html",
        "leaderboards": "generated/leaderboards/index.html",
        "leaderboard": "generated/leaderboards/" + _first(site.build, "leaderboards"),
        "systems": "generated/systems/index.html",
        "system": "generated/systems/" + _first(site.build, "systems"),
        "models": "generated/models/index.html",
        "model": "generated/models/" + models[0].name,
        "engines": "generated/engines/index.html",
        "engine": "generated/engines/" + _first(site.build, "engines"),
        "runs": "generated/runs/index.html",
        "run": f"generated/runs/view.html?id={run_id}",
        "compare": f"generated/compare.html?systems={a},{b}",
        "changes": "generated/changes.html",
        "methodology": "methodology.html",
        "data": "data.html",
        "contribute": "contribute.html",
    }


CHARTED = {"home", "leaderboard", "system", "model", "engine", "run", "compare"}


def _charts_drawn(pg: Any) -> int:
    """Number of visible chart containers that hold a plotly SVG."""
    return int(
        pg.evaluate(
            """() => [...document.querySelectorAll('.bo-chart')]
                 .filter(e => e.offsetWidth > 0 && e.querySelector('svg.main-svg')).length"""
        )
    )


def _settle(pg: Any, name: str) -> None:
    """Wait until a page of type ``name`` has drawn what it draws."""
    if name in CHARTED:
        pg.wait_for_selector(".bo-chart[data-drawn='1'] svg.main-svg", timeout=15_000)
        assert _charts_drawn(pg) >= 1, name
    if name == "runs":
        pg.wait_for_selector(".bo-runs table tbody tr", timeout=10_000)
    if name == "compare":
        pg.wait_for_selector(".bo-compare-result table tbody tr", timeout=10_000)
    pg.wait_for_function(
        """() => !document.querySelector('.bo-loading') &&
                 ![...document.querySelectorAll('.bo-chart')]
                    .some(e => e.getAttribute('data-drawn') === 'loading')""",
        timeout=10_000,
    )


@pytest.mark.parametrize("scheme", ["http", "file"])
def test_every_page_type_renders(page: tuple[Any, Watch], site: Site, scheme: str) -> None:
    """Every page renders, opened from disk as over HTTP: charts drawn, the run index and a run
    page filled in, nothing left "Loading…", no console error, nothing fetched off the site."""
    pg, watch = page
    base = site.base if scheme == "http" else site.file_base
    for name, path in _page_types(site).items():
        pg.goto(base + path, wait_until="load")
        _settle(pg, name)
        assert "Loading" not in pg.inner_text("article"), (scheme, name)
        assert pg.locator(".bo-error").count() == 0, (scheme, name)
        _shot(pg, f"{scheme}-{name}")
        assert watch.errors == [], (scheme, name, watch.errors)
    assert watch.dialogs == []
    assert watch.external == []


def test_search_works_from_disk(page: tuple[Any, Watch], site: Site) -> None:
    """Material's search (a Web Worker, run in an iframe from file://) finds a page."""
    pg, watch = page
    pg.goto(site.file_base + "index.html", wait_until="load")
    pg.keyboard.press("/")
    # from disk the index is read when search opens; Material says when it is ready
    pg.wait_for_function(
        """() => (document.querySelector('.md-search-result__meta') || {}).textContent
                 === 'Type to start searching'""",
        timeout=10_000,
    )
    pg.keyboard.type("methodology", delay=20)
    pg.wait_for_selector(".md-search-result__item", timeout=10_000)
    assert "Methodology" in pg.inner_text(".md-search-result")
    assert watch.errors == [], watch.errors


def test_page_weight(browser: Any, site: Site) -> None:
    """First view, nothing cached, served as a static host serves it (text gzip-compressed):
    a page without charts transfers at most 300 KB and never loads plotly.js; a page with
    charts at most 1.8 MB, loading the cartesian bundle (not the full one). The uncompressed
    sizes are written next to the screenshots."""
    lines = []
    for name, path in _page_types(site).items():
        context, pg, watch = _open(browser, site)
        try:
            pg.goto(site.base + path, wait_until="load")
            _settle(pg, name)
            pg.wait_for_load_state("networkidle")
            transferred = sum(watch.received.values())
            files = [site.build / urlsplit(u).path.lstrip("/") for u in watch.received]
            raw = sum(f.stat().st_size for f in files if f.is_file())
            plotly = [u for u in watch.received if "plotly" in u]
        finally:
            context.close()
        lines.append(f"{name}: {transferred / 1024:.0f} KB transferred, {raw / 1024:.0f} KB raw\n")
        if name in CHARTED:
            assert transferred <= CHART_PAGE, (name, transferred)
            assert plotly and all("plotly-cartesian.min.js" in u for u in plotly), plotly
        else:
            assert transferred <= LIGHT_PAGE, (name, transferred, sorted(watch.received.items()))
            assert plotly == [], (name, plotly)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "page-weight.txt").write_text("".join(lines))


def _overflow(pg: Any, selector: str) -> list[list[int]]:
    """[scrollWidth, clientWidth] of every table wrapper under ``selector`` that overflows."""
    result: list[list[int]] = pg.evaluate(
        """(sel) => [...document.querySelectorAll(sel + ' .bo-table-wrap')]
             .filter(w => w.offsetWidth > 0)
             .map(w => [w.scrollWidth, w.clientWidth])
             .filter(([s, c]) => s > c + 1)""",
        selector,
    )
    return result


def test_readable_at_1400_px(page: tuple[Any, Watch], site: Site) -> None:
    """At 1,400 px: no leaderboard or run-page table scrolls sideways (the last columns, latest
    run and ROUGE-L, are on screen), no result row wraps onto three lines, and plotly's
    toolbar sits above the plot area of every chart."""
    pg, watch = page
    types = _page_types(site)
    for name in ("leaderboard", "leaderboards", "system", "model", "changes"):
        pg.goto(site.base + types[name], wait_until="load")
        _settle(pg, name)
        assert _overflow(pg, "article") == [], name
    pg.goto(site.base + types["leaderboard"], wait_until="load")
    _settle(pg, "leaderboard")
    last = pg.evaluate(
        """() => { const t = document.querySelector('table.bo-table');
                   const th = [...t.querySelectorAll('thead th')].pop();
                   return [th.textContent, th.getBoundingClientRect().right,
                           t.closest('.bo-table-wrap').getBoundingClientRect().right]; }"""
    )
    assert last[0] == "latest" and last[1] <= last[2] + 1, last
    # a run with a summarization task (ROUGE-L) and concurrency (agg tokens/s)
    pg.goto(site.base + types["run"], wait_until="load")
    _settle(pg, "run")
    assert _overflow(pg, ".bo-run") == []
    heads = pg.evaluate(
        "[...document.querySelectorAll('.bo-run table.bo-table')[0].querySelectorAll('th')]"
        ".map(t => t.textContent)"
    )
    assert "ROUGE-L" in heads and "cell" not in heads
    tall = pg.evaluate(
        """() => { const t = document.querySelectorAll('.bo-run table.bo-table')[0];
                   const line = parseFloat(getComputedStyle(t).lineHeight) || 16;
                   return [...t.querySelectorAll('tbody td')]
                     .filter(td => td.getBoundingClientRect().height > 2.6 * line)
                     .map(td => td.textContent); }"""
    )
    assert tall == [], tall
    covered = pg.evaluate(
        """() => [...document.querySelectorAll('.bo-chart')].filter(c => {
                 const bar = c.querySelector('.modebar-container .modebar, .modebar');
                 const plot = c.querySelector('.nsewdrag');
                 if (!bar || !plot) return false;
                 return bar.getBoundingClientRect().bottom > plot.getBoundingClientRect().top + 1;
               }).map(c => c.getAttribute('aria-label'))"""
    )
    assert covered == [], covered
    pg.locator(".bo-chart[aria-label='Tokens/s per prompt']").screenshot(
        path=str(ARTIFACTS / "run-tokens-per-prompt.png")
    )
    assert watch.errors == []


def test_systems_of_one_hardware_class_are_told_apart(page: tuple[Any, Watch], site: Site) -> None:
    pg, watch = page
    pg.goto(site.base + "generated/systems/index.html", wait_until="load")
    names = pg.evaluate(
        """() => [...document.querySelectorAll('table.bo-table tbody tr td:first-child')]
             .map(td => [td.querySelector('a').textContent,
                         td.querySelector('.bo-sub').textContent])"""
    )
    classes = [hw for hw, _ in names]
    twins = {hw for hw in classes if classes.count(hw) > 1}
    assert twins, names
    for hw in twins:
        labels = [label for c, label in names if c == hw]
        assert len(set(labels)) == len(labels) > 1, labels
    # every point of the home scatter names its system when hovered
    pg.goto(site.base + "index.html", wait_until="load")
    _settle(pg, "home")
    hover = pg.evaluate(
        """() => { const c = [...document.querySelectorAll('.bo-chart')]
                     .find(e => e.offsetWidth > 0 && e.data);
                   return c.data.filter(t => t.mode && t.mode.startsWith('markers'))
                     .flatMap(t => t.hovertext); }"""
    )
    assert hover and len(set(hover)) == len(hover)
    # the twins' points each carry their own label
    for hw in twins:
        for label in {label for c, label in names if c == hw}:
            assert any(label in h for h in hover), (label, hover)
    assert watch.errors == []


def test_not_comparable_runs_are_browsable_and_say_why(page: tuple[Any, Watch], site: Site) -> None:
    pg, watch = page
    smoke, empty = site.data.smoke_run_id, site.data.empty_run_id
    for run_id in (smoke, empty):
        for base in site.urls():
            pg.goto(base + f"generated/runs/view.html?id={run_id}", wait_until="load")
            pg.wait_for_selector(".bo-run .bo-notice")
            notice = pg.inner_text(".bo-run .bo-notice")
            assert "Not comparable" in notice, notice
    pg.goto(site.base + f"generated/runs/view.html?id={smoke}", wait_until="load")
    pg.wait_for_selector(".bo-run .bo-notice")
    assert SMOKE_REASON in pg.inner_text(".bo-run .bo-notice")
    assert pg.locator(".bo-run a", has_text="Compare this run").count() == 0
    # the run index lists them, marked
    pg.goto(site.base + "generated/runs/index.html", wait_until="load")
    pg.wait_for_selector(".bo-runs table tbody tr")
    muted = pg.evaluate(
        "[...document.querySelectorAll('tr.bo-not-comparable td:first-child')]"
        ".map(td => td.textContent)"
    )
    assert sorted(muted) == sorted([smoke, empty])
    # the compare view refuses them, saying why
    pg.goto(site.base + f"generated/compare.html?runs={smoke}", wait_until="load")
    pg.wait_for_selector(".bo-compare .bo-warning")
    assert "not comparable" in pg.inner_text(".bo-compare .bo-warning")
    assert watch.errors == []


def _query(url: str) -> dict[str, list[str]]:
    return {k: v[0].split(",") for k, v in parse_qs(urlsplit(url).query).items()}


@pytest.mark.parametrize("scheme", ["http", "file"])
def test_compare_view_from_a_shared_link(page: tuple[Any, Watch], site: Site, scheme: str) -> None:
    """Two systems side by side (table and chart) from a link; adding a run and removing a
    system update the link; the link reopens the same comparison."""
    pg, watch = page
    base = site.base if scheme == "http" else site.file_base
    a, b = _shared_systems(site)
    pg.goto(base + f"generated/compare.html?systems={a},{b}", wait_until="load")
    _settle(pg, "compare")
    rows = pg.locator(".bo-compare-result table tbody tr").count()
    assert rows >= 1
    head = pg.evaluate(
        "[...document.querySelectorAll('.bo-compare-result thead th')].map(t => t.textContent)"
    )
    assert head[1:] == ["#1 tokens/s", "#1 TTFT p50 ms", "#2 tokens/s", "#2 TTFT p50 ms"]
    traces = pg.evaluate(
        "document.querySelector('.bo-compare-result .bo-chart').data.map(t => t.name)"
    )
    assert len(traces) == 2
    # add a run of a third system through the picker
    run = next(
        r for r in site.data.rows("runs") if r["comparable"] and r["system_id"] not in (a, b)
    )
    pg.fill(".bo-compare input[type=search]", run["run_id"])
    pg.click(".bo-compare-options button.bo-add")
    pg.wait_for_function(
        "() => document.querySelectorAll('.bo-compare-chosen .bo-chip').length === 3"
    )
    assert _query(pg.url) == {"systems": [a, b], "runs": [run["run_id"]]}
    _settle(pg, "compare")
    # remove the first system
    pg.click(".bo-compare-chosen .bo-chip:first-child .bo-remove")
    pg.wait_for_function(
        "() => document.querySelectorAll('.bo-compare-chosen .bo-chip').length === 2"
    )
    assert _query(pg.url) == {"systems": [b], "runs": [run["run_id"]]}
    shared = pg.url
    chosen = pg.inner_text(".bo-compare-chosen")
    pg.goto("about:blank")
    pg.goto(shared, wait_until="load")
    pg.wait_for_selector(".bo-compare-chosen .bo-chip")
    assert pg.inner_text(".bo-compare-chosen") == chosen
    _shot(pg, f"{scheme}-compare-three")
    assert watch.errors == [], watch.errors


def test_leaderboard_csv_downloads(page: tuple[Any, Watch], site: Site) -> None:
    pg, watch = page
    pg.goto(site.base + _page_types(site)["leaderboard"], wait_until="load")
    with pg.expect_download() as info:
        pg.click("a.bo-csv")
    path = info.value.path()
    text = Path(path).read_text()
    assert text.startswith("workload_key,workload_id,")
    rows = pg.locator("table.bo-table tbody tr").count()
    assert len(text.strip().splitlines()) == rows + 1
    assert watch.errors == []


def test_xss_fixture_shows_as_text(page: tuple[Any, Watch], site: Site) -> None:
    pg, watch = page
    types = _page_types(site)
    for name in ("model", "leaderboard", "run", "runs", "system", "home", "compare"):
        pg.goto(site.base + types[name], wait_until="load")
        _settle(pg, name)
        assert pg.evaluate("document.querySelectorAll('article img, article script').length") == 0
        assert (
            pg.evaluate(
                "[...document.querySelectorAll('article a')]"
                ".filter(a => a.getAttribute('href').trim().toLowerCase().startsWith('javascript'))"
                ".length"
            )
            == 0
        )
    pg.goto(site.base + types["model"], wait_until="load")
    assert XSS_MODEL in pg.inner_text("article")
    pg.goto(site.base + types["run"], wait_until="load")
    pg.wait_for_selector(".bo-run h2")
    text = pg.inner_text("article")
    assert XSS_MODEL in text and XSS_HOST in text
    # every system page: one of them carries the hostile CPU model
    found = False
    for sys_page in sorted((site.build / "generated" / "systems").glob("*.html")):
        pg.goto(site.base + "generated/systems/" + sys_page.name)
        found = found or XSS_CPU in pg.inner_text("article")
    assert found
    # search renders indexed text as HTML; the hostile name must stay text there too
    pg.goto(site.base + "index.html", wait_until="load")
    pg.keyboard.press("/")
    pg.fill("input.md-search__input", "onerror")
    pg.wait_for_timeout(1500)
    _shot(pg, "search")
    assert pg.evaluate("document.querySelectorAll('.md-search-result img').length") == 0
    assert watch.dialogs == [], watch.dialogs
    assert watch.errors == [], watch.errors


def _wait_for_charts(pg: Any, url_part: str) -> None:
    """Wait until the page at ``url_part`` (not the one being replaced) shows a drawn chart."""
    pg.wait_for_function(
        """(part) => location.href.includes(part) &&
             [...document.querySelectorAll('.bo-chart')]
               .some(e => e.offsetWidth > 0 && e.querySelector('svg.main-svg'))""",
        arg=url_part,
        timeout=10_000,
    )


def test_instant_navigation_keeps_charts_working(page: tuple[Any, Watch], site: Site) -> None:
    pg, watch = page
    pg.goto(site.base + "index.html", wait_until="load")
    _wait_for_charts(pg, "index.html")
    pg.evaluate("window.__boMarker = 1")
    # Home → Leaderboards (tab) → a leaderboard → an engine: all without a full reload.
    pg.click("a.md-tabs__link:has-text('Leaderboards')")
    pg.wait_for_selector("table.bo-table")
    pg.click("table.bo-table tbody tr:first-child td:nth-child(2) a")
    _wait_for_charts(pg, "leaderboards/")
    leaderboard = pg.url
    assert not leaderboard.endswith("leaderboards/index.html")
    pg.click("table.bo-table tbody tr:first-child td:nth-child(2) a")
    _wait_for_charts(pg, "engines/")
    # plotly's own stylesheet survives the <head> swap (modebar floats over the chart)
    pg.wait_for_function(
        """() => [...document.querySelectorAll('.bo-chart .modebar')]
             .some(e => e.isConnected && getComputedStyle(e).position === 'absolute')""",
        timeout=5_000,
    )
    pg.go_back()
    _wait_for_charts(pg, leaderboard)
    assert pg.evaluate("window.__boMarker") == 1, "navigation reloaded the page"
    # A run page reached by instant navigation loads its data and draws its charts.
    pg.click("table.bo-table tbody tr:first-child td:last-child a")
    pg.wait_for_selector(".bo-run .bo-chart svg.main-svg", timeout=10_000)
    assert pg.evaluate("window.__boMarker") == 1
    # and the compare view, from the system page's link
    pg.click(".bo-run a:has-text('System:')")
    pg.wait_for_selector("a:has-text('Compare with other systems')")
    pg.click("a:has-text('Compare with other systems')")
    pg.wait_for_selector(".bo-compare-chosen .bo-chip", timeout=10_000)
    assert pg.evaluate("window.__boMarker") == 1
    assert watch.errors == [], watch.errors


def test_charts_in_tabs_resize_when_shown(page: tuple[Any, Watch], site: Site) -> None:
    pg, watch = page
    pg.goto(site.base + _page_types(site)["model"], wait_until="load")
    pg.wait_for_selector(".tabbed-set .bo-chart svg.main-svg")
    labels = pg.locator(".tabbed-set .tabbed-labels label")
    assert labels.count() >= 2
    labels.nth(1).click()
    pg.wait_for_function(
        """() => [...document.querySelectorAll('.tabbed-block')]
             .filter(b => b.offsetWidth > 0)
             .every(b => b.querySelector('.bo-chart svg.main-svg'))""",
        timeout=10_000,
    )
    widths = pg.evaluate(
        """() => [...document.querySelectorAll('.tabbed-block')]
             .filter(b => b.offsetWidth > 0)
             .map(b => { const c = b.querySelector('.bo-chart');
                         const s = c && c.querySelector('svg.main-svg');
                         const w = s ? s.getBoundingClientRect().width : 0;
                         return [c ? c.clientWidth : 0, w]; })"""
    )
    assert len(widths) == 1
    container, svg = widths[0]
    assert container > 0 and abs(container - svg) <= 2, widths
    _shot(pg, "model-second-tab")
    assert watch.errors == []


def test_dark_palette_is_legible(page: tuple[Any, Watch], site: Site) -> None:
    pg, watch = page
    pg.goto(site.base + "index.html", wait_until="load")
    pg.wait_for_selector(".bo-chart svg.main-svg")
    pg.click("form[data-md-component=palette] label:visible")
    pg.wait_for_timeout(500)
    assert pg.evaluate("document.body.getAttribute('data-md-color-scheme')") == "slate"
    fill = pg.evaluate("getComputedStyle(document.querySelector('.bo-chart .xtitle')).fill")
    # light axis text on the dark background
    rgb = [int(x) for x in fill[fill.index("(") + 1 : fill.index(")")].split(",")[:3]]
    assert sum(rgb) / 3 > 150, fill
    _shot(pg, "home-dark")
    assert watch.errors == []


def test_history_and_telemetry_charts_render(page: tuple[Any, Watch], site: Site) -> None:
    pg, watch = page
    first = site.data.run(site.data.run_ids[0])
    # The first system regresses in its second run and recovers in its third.
    pg.goto(site.base + f"generated/systems/{slug(first['system_id'])}.html", wait_until="load")
    pg.wait_for_selector("#history ~ .tabbed-set .bo-chart svg.main-svg", timeout=10_000)
    names = pg.evaluate(
        """() => { const c = [...document.querySelectorAll('.tabbed-set .bo-chart')]
                     .find(e => e.offsetWidth > 0 && e.querySelector('svg.main-svg'));
                   return c.data.map(t => t.name); }"""
    )
    assert {"tokens/s", "TTFT p50 ms", "regression", "improvement"} <= set(names), names
    # change markers are drawn as points of their own (triangles) in the SVG
    assert pg.locator(".bo-chart .scatterlayer path.point").count() > 4
    text = pg.inner_text("article")
    assert "▼ regression" in text and "▲ improvement" in text and "(recovered)" in text
    _shot(pg, "system-history")
    # The changes page is in the navigation and links back to systems and runs.
    pg.click("a.md-tabs__link:has-text('Changes')")
    pg.wait_for_selector("table.bo-table tbody tr")
    assert "changes.html" in pg.url
    assert pg.locator("table.bo-table .bo-regression").count() >= 1
    _shot(pg, "changes")
    # The run page draws CPU %, engine RSS and GPU power/util over time.
    pg.goto(site.base + f"generated/runs/view.html?id={first['run_id']}", wait_until="load")
    chart = ".bo-run .bo-chart[aria-label^='Telemetry'] svg.main-svg"
    pg.wait_for_selector(chart, timeout=10_000)
    traces = pg.evaluate(
        "document.querySelector(\".bo-chart[aria-label^='Telemetry']\").data.map(t => t.name)"
    )
    assert {"system CPU %", "engine RSS GiB", "GPU power W (sum)"} <= set(traces), traces
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pg.locator(".bo-chart[aria-label^='Telemetry']").screenshot(
        path=str(ARTIFACTS / "run-telemetry.png")
    )
    assert watch.errors == [], watch.errors
    assert watch.dialogs == [] and watch.external == []


LEVEL_CHARTS = (
    "Throughput vs interactivity (InferenceX view)",
    "Requests/s and goodput vs offered rate",
    "TTFT vs offered request rate",
    "Prefill rate by input tokens (client vs engine)",
)


def _drawn_labels(pg: Any) -> list[str]:
    """aria-labels of the charts that hold a plotly SVG, once every visible one is drawn."""
    pg.wait_for_function(
        """() => [...document.querySelectorAll('.bo-chart')].filter(e => e.offsetWidth > 0)
                 .every(e => e.getAttribute('data-drawn') === '1')""",
        timeout=15_000,
    )
    labels: list[str] = pg.evaluate(
        """() => [...document.querySelectorAll('.bo-chart')]
             .filter(e => e.querySelector('svg.main-svg')).map(e => e.getAttribute('aria-label'))"""
    )
    return labels


def _length_board(site: Site) -> str:
    view = ArchiveView.open(site.data.archive.tables, site.data.archive.catalogue)
    try:
        w = next(
            w for w in view.workloads.values() if w.workload_id == "L-512-64" and w.concurrency == 1
        )
    finally:
        view.close()
    return "generated/leaderboards/" + w.page


@pytest.mark.parametrize("scheme", ["http", "file"])
def test_load_level_charts_draw(page: tuple[Any, Watch], site: Site, scheme: str) -> None:
    """A run with load levels draws the InferenceX view, goodput and TTFT against the
    offered rate and the prefill chart, shows the off-target badge and the marked call, and
    states efficiency, energy and cost or why not; the system page draws the same curves and
    the length workload's leaderboard its InferenceX view, from disk as over HTTP."""
    pg, watch = page
    base = site.base if scheme == "http" else site.file_base
    first = site.data.run_ids[0]
    pg.goto(base + f"generated/runs/view.html?id={first}", wait_until="load")
    _settle(pg, "run")
    labels = _drawn_labels(pg)
    for title in LEVEL_CHARTS:
        assert any(label.startswith(title) for label in labels), (title, labels)
    goodput = next(label for label in labels if label.startswith(LEVEL_CHARTS[1]))
    assert "SLO TTFT ≤ 200 ms, TPOT ≤ 50 ms" in goodput
    ix = pg.evaluate(
        """(t) => document.querySelector(`.bo-chart[aria-label="${t}"]`).data
                 .filter(d => d.name.endsWith(' · rates')).map(d => d.x.length)""",
        LEVEL_CHARTS[0],
    )
    assert ix and all(n == 2 for n in ix), ix
    assert "off target" in pg.inner_text(".bo-run .bo-badge")
    text = pg.inner_text(".bo-run")
    assert "Calls off target" in text and "L-512-64 1 req/s" in text
    assert "Efficiency, energy and cost" in text and "EUR" in text
    assert "cNone" not in text
    _shot(pg, f"{scheme}-run-levels")
    # another system's run says why its efficiency and cost are unknown
    other = next(
        r["run_id"]
        for r in site.data.rows("runs")
        if r["system_id"] != site.data.run(first)["system_id"] and r["comparable"]
    )
    pg.goto(base + f"generated/runs/view.html?id={other}", wait_until="load")
    _settle(pg, "run")
    text = pg.inner_text(".bo-run")
    assert "no --bench result in this run" in text and "no prices stated" in text
    # the system page's load-level section
    sid = site.data.run(first)["system_id"]
    pg.goto(base + f"generated/systems/{slug(sid)}.html", wait_until="load")
    _settle(pg, "system")
    labels = _drawn_labels(pg)
    for title in LEVEL_CHARTS:
        assert any(label.startswith(title) for label in labels), (title, labels)
    # the leaderboard: InferenceX view across systems, efficiency columns with reasons
    pg.goto(base + _length_board(site), wait_until="load")
    _settle(pg, "leaderboard")
    labels = _drawn_labels(pg)
    assert LEVEL_CHARTS[0] in labels, labels
    heads = pg.evaluate(
        "[...document.querySelector('table.bo-table').querySelectorAll('th')]"
        ".map(t => t.textContent)"
    )
    assert {"BW eff.", "tok/s/W", "EUR/M tok"} <= set(heads), heads
    reasons = pg.evaluate(
        "[...document.querySelectorAll('table.bo-table .bo-null')].map(s => s.title)"
    )
    assert "no prices stated" in reasons, reasons
    assert "no prices stated" in pg.inner_text(".bo-unknown")
    # sorting by tokens/s per watt puts the highest first (descending on the second click)
    column = heads.index("tok/s/W")
    header = pg.locator("table.bo-table th").nth(column)
    header.click()
    header.click()
    values = pg.evaluate(
        """(i) => [...document.querySelectorAll('table.bo-table tbody tr')]
                 .map(tr => tr.cells[i].textContent.trim())""",
        column,
    )
    numbers = [float(v.replace(",", "")) for v in values if v != "—"]
    assert numbers == sorted(numbers, reverse=True) and values[: len(numbers)] != [], values
    _shot(pg, f"{scheme}-leaderboard-levels")
    assert watch.errors == [], watch.errors
    assert watch.dialogs == [] and watch.external == []
