"""The built site in headless Debian Chromium: pages load cleanly, charts draw, XSS stays text.

Playwright drives /usr/bin/chromium (never a browser Playwright downloads). Screenshots of
each page type go to tests/artifacts/site/.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from publisher.site.build import build_site, make_server
from publisher.site.escape import slug
from publisher.site.pages import build_pages
from tests.publisher.test_site_data import XSS_CPU, XSS_HOST, XSS_MODEL, make_tables

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]
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

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"
    ),
]
playwright_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package")


def copy_site_project(dest: Path) -> Path:
    """Copy site/ (config, hand-written pages, overrides) without generated or built files."""
    src = REPO / "site"
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(src / "mkdocs.yml", dest / "mkdocs.yml")
    shutil.copytree(src / "overrides", dest / "overrides")
    shutil.copytree(
        src / "docs", dest / "docs", ignore=shutil.ignore_patterns("generated", "vendor")
    )
    return dest


@dataclass
class Site:
    base: str
    build: Path
    tables: dict[str, list[dict[str, object]]] = field(default_factory=dict)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = copy_site_project(tmp_path_factory.mktemp("site"))
    tables, catalogue = make_tables(12)
    build_pages(tables, catalogue, root / "docs" / "generated")
    # Instant navigation only treats links as internal when site_url matches the served
    # origin (Material maps sitemap URLs onto the current protocol and host, not the port),
    # so bind the port first and build for it.
    server = make_server(root / "build", "127.0.0.1", 0)
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    result = build_site(root, site_url=base)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Site(base, result.build_dir, tables)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@dataclass
class Watch:
    """Console errors, page errors, dialogs and off-host requests seen by a page."""

    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    external: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with playwright_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: object, site: Site) -> Iterator[tuple[object, Watch]]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    pg = context.new_page()
    watch = Watch()
    pg.on("console", lambda m: m.type == "error" and watch.errors.append(m.text))
    pg.on("pageerror", lambda e: watch.errors.append(str(e)))

    def on_dialog(d: object) -> None:
        watch.dialogs.append(d.message)  # type: ignore[attr-defined]
        d.dismiss()  # type: ignore[attr-defined]

    pg.on("dialog", on_dialog)

    def route(r: object) -> None:
        url = r.request.url  # type: ignore[attr-defined]
        if url.startswith(site.base) or url.startswith("data:") or url.startswith("blob:"):
            r.continue_()  # type: ignore[attr-defined]
        else:
            watch.external.append(url)
            r.abort()  # type: ignore[attr-defined]

    pg.route("**/*", route)
    try:
        yield pg, watch
    finally:
        context.close()


def _shot(pg: object, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]


def _charts_drawn(pg: object) -> int:
    """Number of visible chart containers that hold a plotly SVG."""
    return int(
        pg.evaluate(  # type: ignore[attr-defined]
            """() => [...document.querySelectorAll('.bo-chart')]
                 .filter(e => e.offsetWidth > 0 && e.querySelector('svg.main-svg')).length"""
        )
    )


def _first_href(build: Path, folder: str, exclude: str = "index.html") -> str:
    return sorted(
        p.name for p in (build / "generated" / folder).glob("*.html") if p.name != exclude
    )[0]


def _page_types(site: Site) -> dict[str, str]:
    run_id = sorted(str(r["run_id"]) for r in site.tables["runs"])[0]
    models = sorted((site.build / "generated" / "models").glob("img-src-x*.html"))
    return {
        "home": "index.html",
        "leaderboards": "generated/leaderboards/index.html",
        "leaderboard": "generated/leaderboards/" + _first_href(site.build, "leaderboards"),
        "systems": "generated/systems/index.html",
        "system": "generated/systems/" + _first_href(site.build, "systems"),
        "models": "generated/models/index.html",
        "model": "generated/models/" + models[0].name,
        "engines": "generated/engines/index.html",
        "engine": "generated/engines/" + _first_href(site.build, "engines"),
        "runs": "generated/runs/index.html",
        "run": f"generated/runs/view.html?id={run_id}",
        "methodology": "methodology.html",
        "data": "data.html",
        "contribute": "contribute.html",
    }


CHARTED = {"home", "leaderboard", "system", "model", "engine", "run"}


def test_every_page_type_loads_cleanly(page: tuple[object, Watch], site: Site) -> None:
    pg, watch = page
    for name, path in _page_types(site).items():
        pg.goto(site.base + path, wait_until="load")  # type: ignore[attr-defined]
        if name in CHARTED:
            pg.wait_for_selector(".bo-chart svg.main-svg", timeout=10_000)  # type: ignore[attr-defined]
            assert _charts_drawn(pg) >= 1, name
        if name == "runs":
            pg.wait_for_selector(".bo-runs table tbody tr", timeout=10_000)  # type: ignore[attr-defined]
        _shot(pg, name)
        assert watch.errors == [], (name, watch.errors)
    assert watch.dialogs == []
    assert watch.external == []


def test_xss_fixture_shows_as_text(page: tuple[object, Watch], site: Site) -> None:
    pg, watch = page
    types = _page_types(site)
    for name in ("model", "leaderboard", "run", "runs", "system", "home"):
        pg.goto(site.base + types[name], wait_until="load")  # type: ignore[attr-defined]
        pg.wait_for_timeout(300)  # type: ignore[attr-defined]
        assert pg.evaluate("document.querySelectorAll('article img, article script').length") == 0  # type: ignore[attr-defined]
    pg.goto(site.base + types["model"], wait_until="load")  # type: ignore[attr-defined]
    assert XSS_MODEL in pg.inner_text("article")  # type: ignore[attr-defined]
    pg.goto(site.base + types["run"], wait_until="load")  # type: ignore[attr-defined]
    pg.wait_for_selector(".bo-run h2")  # type: ignore[attr-defined]
    text = pg.inner_text("article")  # type: ignore[attr-defined]
    assert XSS_MODEL in text and XSS_HOST in text
    # every system page: one of them carries the hostile CPU model
    found = False
    for sys_page in sorted((site.build / "generated" / "systems").glob("*.html")):
        pg.goto(site.base + "generated/systems/" + sys_page.name)  # type: ignore[attr-defined]
        found = found or XSS_CPU in pg.inner_text("article")  # type: ignore[attr-defined]
    assert found
    # search renders indexed text as HTML; the hostile name must stay text there too
    pg.goto(site.base + "index.html", wait_until="load")  # type: ignore[attr-defined]
    pg.keyboard.press("/")  # type: ignore[attr-defined]
    pg.fill("input.md-search__input", "onerror")  # type: ignore[attr-defined]
    pg.wait_for_timeout(1500)  # type: ignore[attr-defined]
    _shot(pg, "search")
    assert pg.evaluate("document.querySelectorAll('.md-search-result img').length") == 0  # type: ignore[attr-defined]
    assert watch.dialogs == [], watch.dialogs
    assert watch.errors == [], watch.errors


def _wait_for_charts(pg: object, url_part: str) -> None:
    """Wait until the page at ``url_part`` (not the one being replaced) shows a drawn chart."""
    pg.wait_for_function(  # type: ignore[attr-defined]
        """(part) => location.href.includes(part) &&
             [...document.querySelectorAll('.bo-chart')]
               .some(e => e.offsetWidth > 0 && e.querySelector('svg.main-svg'))""",
        arg=url_part,
        timeout=10_000,
    )


def test_instant_navigation_keeps_charts_working(page: tuple[object, Watch], site: Site) -> None:
    pg, watch = page
    pg.goto(site.base + "index.html", wait_until="load")  # type: ignore[attr-defined]
    _wait_for_charts(pg, "index.html")
    pg.evaluate("window.__boMarker = 1")  # type: ignore[attr-defined]
    # Home → Leaderboards (tab) → a leaderboard → an engine: all without a full reload.
    pg.click("a.md-tabs__link:has-text('Leaderboards')")  # type: ignore[attr-defined]
    pg.wait_for_selector("table.bo-table")  # type: ignore[attr-defined]
    pg.click("table.bo-table tbody tr:first-child td:nth-child(2) a")  # type: ignore[attr-defined]
    _wait_for_charts(pg, "leaderboards/")
    leaderboard = pg.url  # type: ignore[attr-defined]
    assert not leaderboard.endswith("leaderboards/index.html")
    pg.click("table.bo-table tbody tr:first-child td:nth-child(2) a")  # type: ignore[attr-defined]
    _wait_for_charts(pg, "engines/")
    # plotly's own stylesheet survives the <head> swap (modebar floats over the chart)
    pg.wait_for_function(  # type: ignore[attr-defined]
        """() => [...document.querySelectorAll('.bo-chart .modebar')]
             .some(e => e.isConnected && getComputedStyle(e).position === 'absolute')""",
        timeout=5_000,
    )
    pg.go_back()  # type: ignore[attr-defined]
    _wait_for_charts(pg, leaderboard)
    assert pg.evaluate("window.__boMarker") == 1, "navigation reloaded the page"  # type: ignore[attr-defined]
    # A run page reached by instant navigation fetches its data and draws its charts.
    pg.click("table.bo-table tbody tr:first-child td:last-child a")  # type: ignore[attr-defined]
    pg.wait_for_selector(".bo-run .bo-chart svg.main-svg", timeout=10_000)  # type: ignore[attr-defined]
    assert pg.evaluate("window.__boMarker") == 1  # type: ignore[attr-defined]
    assert watch.errors == [], watch.errors


def test_charts_in_tabs_resize_when_shown(page: tuple[object, Watch], site: Site) -> None:
    pg, watch = page
    pg.goto(site.base + _page_types(site)["model"], wait_until="load")  # type: ignore[attr-defined]
    pg.wait_for_selector(".tabbed-set .bo-chart svg.main-svg")  # type: ignore[attr-defined]
    labels = pg.locator(".tabbed-set .tabbed-labels label")  # type: ignore[attr-defined]
    assert labels.count() >= 2
    labels.nth(1).click()
    pg.wait_for_timeout(500)  # type: ignore[attr-defined]
    widths = pg.evaluate(  # type: ignore[attr-defined]
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


def test_dark_palette_is_legible(page: tuple[object, Watch], site: Site) -> None:
    pg, watch = page
    pg.goto(site.base + "index.html", wait_until="load")  # type: ignore[attr-defined]
    pg.wait_for_selector(".bo-chart svg.main-svg")  # type: ignore[attr-defined]
    pg.click("form[data-md-component=palette] label:visible")  # type: ignore[attr-defined]
    pg.wait_for_timeout(500)  # type: ignore[attr-defined]
    assert pg.evaluate("document.body.getAttribute('data-md-color-scheme')") == "slate"  # type: ignore[attr-defined]
    fill = pg.evaluate(  # type: ignore[attr-defined]
        "getComputedStyle(document.querySelector('.bo-chart .xtitle')).fill"
    )
    # light axis text on the dark background
    rgb = [int(x) for x in fill[fill.index("(") + 1 : fill.index(")")].split(",")[:3]]
    assert sum(rgb) / 3 > 150, fill
    _shot(pg, "home-dark")
    assert watch.errors == []


def test_history_and_telemetry_charts_render(page: tuple[object, Watch], site: Site) -> None:
    pg, watch = page
    first = min(site.tables["runs"], key=lambda r: str(r["run_id"]))
    # The first system regresses in its second run and recovers in its third.
    pg.goto(site.base + f"generated/systems/{slug(first['system_id'])}.html", wait_until="load")  # type: ignore[attr-defined]
    pg.wait_for_selector("#history ~ .tabbed-set .bo-chart svg.main-svg", timeout=10_000)  # type: ignore[attr-defined]
    names = pg.evaluate(  # type: ignore[attr-defined]
        """() => { const c = [...document.querySelectorAll('.tabbed-set .bo-chart')]
                     .find(e => e.offsetWidth > 0 && e.querySelector('svg.main-svg'));
                   return c.data.map(t => t.name); }"""
    )
    assert {"tokens/s", "TTFT p50 ms", "regression", "improvement"} <= set(names), names
    # change markers are drawn as points of their own (triangles) in the SVG
    assert pg.locator(".bo-chart .scatterlayer path.point").count() > 4  # type: ignore[attr-defined]
    text = pg.inner_text("article")  # type: ignore[attr-defined]
    assert "▼ regression" in text and "▲ improvement" in text and "(recovered)" in text
    _shot(pg, "system-history")
    pg.locator("#history ~ .tabbed-set").first.screenshot(  # type: ignore[attr-defined]
        path=str(ARTIFACTS / "system-history-chart.png")
    )
    # The changes page is in the navigation and links back to systems and runs.
    pg.click("a.md-tabs__link:has-text('Changes')")  # type: ignore[attr-defined]
    pg.wait_for_selector("table.bo-table tbody tr")  # type: ignore[attr-defined]
    assert "changes.html" in pg.url  # type: ignore[attr-defined]
    assert pg.locator("table.bo-table .bo-regression").count() >= 1  # type: ignore[attr-defined]
    _shot(pg, "changes")
    # The run page draws CPU %, engine RSS and GPU power/util over time.
    pg.goto(site.base + f"generated/runs/view.html?id={first['run_id']}", wait_until="load")  # type: ignore[attr-defined]
    chart = ".bo-run .bo-chart[aria-label^='Telemetry'] svg.main-svg"
    pg.wait_for_selector(chart, timeout=10_000)  # type: ignore[attr-defined]
    traces = pg.evaluate(  # type: ignore[attr-defined]
        "document.querySelector(\".bo-chart[aria-label^='Telemetry']\").data.map(t => t.name)"
    )
    assert {"system CPU %", "engine RSS GiB", "GPU power W (sum)"} <= set(traces), traces
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pg.locator(".bo-chart[aria-label^='Telemetry']").screenshot(  # type: ignore[attr-defined]
        path=str(ARTIFACTS / "run-telemetry.png")
    )
    assert watch.errors == [], watch.errors
    assert watch.dialogs == [] and watch.external == []
