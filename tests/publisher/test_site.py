"""Site generation and the static build: escaping, determinism, comparability, identity,
data files a page opened from disk can load, vendored libraries, strict build, links."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag, urlsplit

import pyarrow.dataset as ds
import pytest
from click.testing import CliRunner

from publisher.cli import site as site_cli
from publisher.errors import SiteError
from publisher.site import charts, vendor
from publisher.site.build import build_site
from publisher.site.escape import html_text, md_text, slug, title_text
from publisher.site.pages import MARKER, build_empty, build_pages
from publisher.site.pages.common import system_page
from publisher.site.pages.leaderboards import CSV_COLUMNS, leaderboard_csv
from publisher.site.pages.runs import MAX_SAMPLE_POINTS
from publisher.site.pages.view import ArchiveView, Entry, Workload
from tests.publisher.conftest import publish_with_site
from tests.publisher.test_site_data import (
    EMPTY_REASON,
    LONG_SAMPLES,
    REPO,
    SMOKE_REASON,
    XSS_CPU,
    XSS_HOST,
    XSS_MODEL,
    XSS_VERSION,
    SiteInput,
    copy_site_project,
    make_site_input,
    read_data,
)
from tests.synthetic import make_run

# Strings that must never appear unescaped; the hostile host label is harmless as text (it is
# shown in system labels) and must only never become a link target.
HOSTILE = [XSS_MODEL, XSS_VERSION, XSS_CPU]
HOSTILE_LINK = re.compile(r"(?:href|src)=[\"']?\s*javascript:", re.IGNORECASE)
PAGE_LIMIT = 300 * 1024


def _build(site: SiteInput, out: Path) -> Path:
    build_pages(site.archive, site.reader, out)
    return out


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
    site = make_site_input(8)
    a = _build(site, tmp_path / "a" / "generated")
    b = _build(make_site_input(8), tmp_path / "b" / "generated")
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    for rel in files:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    for md in a.rglob("*.md"):
        text = md.read_text()
        for bad in HOSTILE:
            assert bad not in text, (md, bad)
        assert not HOSTILE_LINK.search(text), md
    # rebuilding over an earlier output replaces it
    build_empty(a)
    assert not list((a / "data" / "runs").glob("*.js"))
    assert (a / MARKER).exists()


def test_build_pages_refuses_foreign_directory(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.md").write_text("# mine\n")
    with pytest.raises(SiteError, match="refusing"):
        build_empty(tmp_path / "docs")
    assert (tmp_path / "docs" / "index.md").exists()


def test_data_files_are_scripts_not_fetched(tmp_path: Path) -> None:
    """A page opened from file:// may load a <script> but not fetch() a file: every data file
    is a script that hands its payload to bakeoff.js, and bakeoff.js never fetches."""
    out = _build(make_site_input(4), tmp_path / "generated")
    data = sorted((out / "data").rglob("*"))
    assert [p for p in data if p.is_file() and p.suffix not in (".js", ".csv")] == []
    for path in (out / "data" / "runs.js", next((out / "data" / "charts").glob("*.js"))):
        key = path.relative_to(out / "data").with_suffix("").as_posix()
        assert path.read_text().startswith(f'__bakeoffData("{key}",')
        assert read_data(path)
    for md in out.rglob("*.md"):
        assert not re.search(r"data-src=\"[^\"]*\.json", md.read_text()), md
    script = (REPO / "site" / "docs" / "assets" / "bakeoff.js").read_text()
    assert "fetch(" not in script and "XMLHttpRequest" not in script


# --------------------------------------------------------------------------- comparability


def _generated(root: Path, prefixes: tuple[str, ...]) -> dict[str, bytes]:
    """The generated files under the given prefixes, plus every chart data file they use."""
    out: dict[str, bytes] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and rel.startswith(prefixes):
            out[rel] = path.read_bytes()
            for src in re.findall(r'data-src="(?:\.\./)*(data/charts/[^"]+)"', path.read_text()):
                out[src] = (root / src).read_bytes()
    return out


RANKINGS = ("leaderboards/", "models/", "engines/", "changes.md", "data/leaderboards/")


def test_not_comparable_runs_never_rank(tmp_path: Path) -> None:
    """A smoke run (newest, 10× faster) and an empty run leave every ranking, history chart
    and the change list byte for byte as they were; their run pages say why."""
    with_them = _build(make_site_input(16), tmp_path / "with")
    without = _build(make_site_input(16, not_comparable=False), tmp_path / "without")
    assert _generated(with_them, RANKINGS) == _generated(without, RANKINGS)
    site = make_site_input(16)
    sid = site.run(site.smoke_run_id)["system_id"]
    page = system_page(sid).removesuffix(".html") + ".md"
    # the system's history charts, change points and latest results (not its run list)
    ranked = [
        (root / "systems" / page).read_text().split("## History")[1].split("## Runs")[0]
        for root in (with_them, without)
    ]
    assert ranked[0] == ranked[1] and "## Latest results" in ranked[0]
    for run_id, reason in ((site.smoke_run_id, SMOKE_REASON), (site.empty_run_id, EMPTY_REASON)):
        doc = read_data(with_them / "data" / "runs" / f"{run_id}.js")
        assert doc["comparable"] is False and doc["comparable_reason"] == reason
        notice = doc["blocks"][0]
        assert notice["kind"] == "notice" and reason in notice["text"]
        assert not any(b.get("text") == "Compare this run with others" for b in doc["blocks"])
        # the system page lists it, with the reason
        assert f"no: {html_text(reason)}" in (with_them / "systems" / page).read_text()
    index = read_data(with_them / "data" / "runs.js")
    rows = {r[1]: dict(zip(index["columns"], r, strict=True)) for r in index["rows"]}
    assert rows[site.smoke_run_id]["comparable"] is False
    assert rows[site.smoke_run_id]["comparable_text"] == f"no: {SMOKE_REASON}"


def _smoke_run(runs: Path, system_id: str, when: datetime) -> Path:
    """A smoke run with warm calls (as older collectors recorded it): the same cells as seed 0
    on the same system, newer than the others, so it would replace their entries if it
    ranked. (A run that measured nothing is refused by publish, so the empty run is tested
    on tables above.)"""
    run_dir = make_run(
        runs,
        seed=0,
        system_id=system_id,
        started_at=when,
        run_id=when.strftime("%Y%m%dT%H%M%SZ-") + "5a0e5a0e",
        calls_per_cell=2,
    )
    path = run_dir / "metadata.json"
    md = json.loads(path.read_text())
    md["config"]["mode"] = "smoke"
    md["comparable"] = False
    md["comparable_reason"] = SMOKE_REASON
    md["run_uuid"] = "0b5e55ed-0000-4000-8000-000000000001"
    path.write_text(json.dumps(md, indent=2, sort_keys=True) + "\n")
    return run_dir


def test_published_smoke_run_never_ranks(tmp_path: Path) -> None:
    """The same through the real pipeline: a smoke run compiled from a run directory."""
    sid = "5a0e5a0e-1111-4222-8333-444444444444"
    runs = tmp_path / "runs"
    for day in (1, 2, 3):
        make_run(runs, seed=day, system_id=sid, started_at=datetime(2026, 3, day, tzinfo=UTC))
    make_run(runs, seed=0, system_id=sid, started_at=datetime(2026, 3, 4, tzinfo=UTC))
    before = _generated(publish_with_site(tmp_path / "a", runs), RANKINGS)
    smoke = _smoke_run(runs, sid, datetime(2026, 3, 9, tzinfo=UTC))
    after_root = publish_with_site(tmp_path / "b", runs)
    assert _generated(after_root, RANKINGS) == before
    doc = read_data(after_root / "data" / "runs" / f"{smoke.name}.js")
    assert doc["mode"] == "smoke" and doc["blocks"][0]["kind"] == "notice"
    assert doc["results"], "a smoke run keeps its results on its own page"


# --------------------------------------------------------------------------- identity


def test_rows_and_points_name_their_system(tmp_path: Path) -> None:
    """Two systems of the same hardware class never look identical: every leaderboard row and
    scatter point carries the system label (host label · system id prefix)."""
    site = make_site_input(16)
    out = _build(site, tmp_path / "generated")
    view = ArchiveView.open(site.archive.tables, site.archive.catalogue)
    twins: dict[str, set[str]] = {}
    for e in view.all_entries():
        twins.setdefault(e.system.hardware_class, set()).add(e.system.system_label)
    view.close()
    shared = next(c for c, labels in twins.items() if len(labels) > 1)
    found: set[str] = set()
    for md in (out / "leaderboards").glob("*.md"):
        text = md.read_text()
        rows = re.findall(
            r"<tr><td><a [^>]*>([^<]*)</a><br><span class=\"bo-sub\">([^<]*)</span>", text
        )
        found |= {label for hw, label in rows if hw == html_text(shared)}
        for src in re.findall(r'data-src="\.\./(data/charts/[^"]+)"', text):
            spec = read_data(out / src)
            texts = [t for trace in spec["data"] for t in trace.get("hovertext", [])]
            assert texts and all("·" in t for t in texts)
            assert len(set(texts)) == len(texts), "two points with the same hover text"
    assert found == {html_text(label) for label in twins[shared]}


def test_scatter_labels_points_when_few() -> None:
    points = [
        charts.Point(10.0 + i, 50.0 - i, "llamacpp", f"a·{i}\nengine", f"a·{i}") for i in range(3)
    ]
    spec = charts.throughput_latency(points, "tokens/s", show_labels=True)
    trace = spec["data"][0]
    assert trace["mode"] == "markers+text" and trace["text"] == ["a·0", "a·1", "a·2"]
    assert trace["hovertext"][0] == "a·0<br>engine"
    plain = charts.throughput_latency(points, "tokens/s")
    assert plain["data"][0]["mode"] == "markers" and "text" not in plain["data"][0]
    # the top margin leaves room for plotly's toolbar above the plot area
    assert spec["layout"]["margin"]["t"] >= 30


def test_bars_keep_repeated_labels_apart() -> None:
    spec = charts.bars(["x", "x", "y"], [1.0, 2.0, 3.0], "tokens/s")
    assert sorted(spec["data"][0]["y"]) == ["x", "x (2)", "y"]


# --------------------------------------------------------------------------- CSV


def _entry(model: str, tps: float, run: str) -> Entry:
    w = Workload("k1", "P-EASY", "prompt", 256, 0.0, 1)
    row = {
        "model": model,
        "engine": "ollama",
        "system_id": "s1",
        "system_label": "h·s1",
        "hardware_class": "cpu",
        "tokens_per_sec_mean": tps,
        "concurrency": 1,
        "run_id": run,
        "workload_key": "k1",
    }
    return Entry(row, 2, w)


def test_leaderboard_csv_has_every_row_fastest_first_and_no_formulas() -> None:
    text = leaderboard_csv([_entry("slow", 1.0, "r1"), _entry("=HYPERLINK(1)", 9.0, "r2")])
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == CSV_COLUMNS
    assert [r[CSV_COLUMNS.index("model")] for r in rows[1:]] == ["'=HYPERLINK(1)", "slow"]
    assert rows[1][CSV_COLUMNS.index("tokens_per_sec")] == "9.0"
    assert rows[1][CSV_COLUMNS.index("runs")] == "2"


def test_each_leaderboard_links_its_csv(tmp_path: Path) -> None:
    site = make_site_input(6)
    out = _build(site, tmp_path / "generated")
    boards = [p for p in (out / "leaderboards").glob("*.md") if p.name != "index.md"]
    assert boards
    for md in boards:
        href = re.search(r'href="\.\./(data/leaderboards/[^"]+\.csv)" download', md.read_text())
        assert href is not None, md
        rows = list(csv.reader(io.StringIO((out / href.group(1)).read_text())))
        assert rows[0] == CSV_COLUMNS and len(rows) > 1
        assert len(rows) - 1 == md.read_text().count("<tr><td>")
    assert "fastest-per-model.csv" in (out / "leaderboards" / "index.md").read_text()


# --------------------------------------------------------------------------- vendored libraries


def test_vendored_plotly_is_the_cartesian_bundle_of_the_plotly_package() -> None:
    site = REPO / "site"
    assert vendor.check(site) == []
    bundled = (site / vendor.PLOTLY_FILE).read_text()[:400]
    assert "cartesian" in bundled
    assert vendor.bundle_version(bundled) == vendor.python_plotly_version(), (
        "run `python -m publisher.site.vendor` to vendor the plotly.js the plotly package has"
    )
    assert (site / vendor.PLOTLY_FILE).stat().st_size < 1_700_000


def test_a_changed_vendored_file_stops_the_build(tmp_path: Path) -> None:
    root = copy_site_project(tmp_path / "site")
    (root / vendor.PLOTLY_FILE).write_text("alert(1)")
    version = vendor.python_plotly_version()
    assert vendor.check(root) == [
        f"{root / vendor.PLOTLY_FILE} differs from {vendor.PLOTLY_PACKAGE} {version}"
    ]
    with pytest.raises(SiteError, match="vendored"):
        build_site(root)


def test_pages_of_an_older_layout_are_not_rendered(tmp_path: Path) -> None:
    root = copy_site_project(tmp_path / "site")
    generated = root / "docs" / "generated"
    build_empty(generated)
    (generated / MARKER).write_text("Written by publisher.site.pages.build_pages.\n")
    with pytest.raises(SiteError, match="bakeoff publish"):
        build_site(root)


# --------------------------------------------------------------------------- the built site


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = copy_site_project(tmp_path_factory.mktemp("site"))
    _build(make_site_input(30), root / "docs" / "generated")
    exports = root / "exports"
    exports.mkdir()
    (exports / "runs.parquet").write_bytes(b"PAR1 not really parquet PAR1")
    (exports / "manifest.json").write_text(
        json.dumps({"files": [{"path": "runs.parquet", "bytes": 28, "sha256": "ab" * 32}]})
    )
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
        assert not HOSTILE_LINK.search(text), html


def test_no_external_assets_and_plotly_only_on_demand(built: Path) -> None:
    """Scripts, styles, fonts and images are all local: the site works offline. No page
    includes plotly.js: bakeoff.js loads it when a page draws a chart."""
    ref = re.compile(r"""<(?:script|link|img|iframe|source)\b[^>]*?(?:src|href)="([^"]+)\"""")
    for html in built.rglob("*.html"):
        for url in ref.findall(html.read_text()):
            if url.startswith(("http://", "https://", "//")):
                # only the canonical link and the sitemap point at site_url
                assert "bakeoff.example.org" in url, (html, url)
            assert "plotly" not in url, (html, url)
    assert (built / vendor.PLOTLY_FILE.removeprefix("docs/")).stat().st_size > 1_000_000
    assert not (built / "assets" / "vendor" / "plotly.min.js").exists()
    css = "".join(p.read_text() for p in (built / "assets").rglob("*.css"))
    assert "fonts.googleapis" not in css and "fonts.gstatic" not in css
    assert "unpkg.com" not in (built / "index.html").read_text()


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


def test_search_index_covers_hubs_not_runs_and_works_offline(built: Path) -> None:
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
    # search from file:// reads the index as a script (Material's offline plugin)
    assert (built / "search" / "search_index.js").read_text().startswith("var __index =")


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


# --------------------------------------------------------------------------- history, samples


def _chart(generated: Path, src: str) -> dict[str, Any]:
    data: dict[str, Any] = read_data(generated / src.removeprefix("../"))
    return data


def test_history_regression_and_recovery_on_system_and_changes_pages(tmp_path: Path) -> None:
    site = make_site_input(12)
    out = _build(site, tmp_path / "generated")
    first = site.run(site.run_ids[0])
    sid = str(first["system_id"])
    points = sorted(
        (
            h
            for h in site.rows("history")
            if h["system_id"] == sid
            and h["model"] == XSS_MODEL
            and h["engine"] == "ollama"
            and h["workload_id"] == "P-EASY"
            and h["concurrency"] == 1
        ),
        key=lambda h: int(h["seq"]),
    )
    assert [p["change"] for p in points][:3] == ["none", "regression", "improvement"]
    regression, recovery = points[1], points[2]
    assert "(recovered)" in str(recovery["change_detail"])
    text = (out / "systems" / f"{slug(sid)}.md").read_text()
    history = text[text.index("## History") : text.index("## Latest results")]
    for point in (regression, recovery):
        assert f'view.html?id={point["run_id"]}"' in history
        assert html_text(point["change_detail"]) in history
    assert "▼ regression" in history and "▲ improvement" in history
    assert XSS_MODEL not in text and html_text(XSS_MODEL) in history
    # the first tab charts that series: both change points are markers of their own
    src = re.search(r'data-src="([^"]+)"', history)
    assert src is not None
    spec = _chart(out, src.group(1))
    traces = {t["name"]: t for t in spec["data"]}
    assert {"tokens/s", "TTFT p50 ms", "regression", "improvement"} <= set(traces)
    assert any(str(regression["run_id"]) in t for t in traces["regression"]["text"])
    assert any(str(recovery["run_id"]) in t for t in traces["improvement"]["text"])
    assert spec["layout"]["xaxis"]["type"] == "date"
    # the changes page: newest first, both points, links to the system and run pages
    changes = (out / "changes.md").read_text()
    for point in (regression, recovery):
        assert f'href="runs/view.html?id={point["run_id"]}"' in changes
    assert f'href="systems/{slug(sid)}.html"' in changes
    assert changes.index(str(recovery["run_id"])) < changes.index(str(regression["run_id"]))
    times = re.findall(r"<tr><td>([0-9T:Z-]+)</td>", changes)
    assert times and times == sorted(times, reverse=True)


def test_history_chart_marks_every_change() -> None:
    pts = [
        charts.HistoryPoint(f"2026-01-0{d} 00:00:00", f"r{d}", 100.0, tps, change, detail)
        for d, tps, change, detail in [
            (1, 50.0, "none", ""),
            (2, 20.0, "regression", "tokens/s mean -60%"),
            (3, 50.0, "improvement", "tokens/s mean +150% (recovered)"),
            (4, 12.0, "regression", "<b>x</b>"),
        ]
    ]
    spec = charts.history(pts)
    marks = [t for t in spec["data"] if t["name"] == "regression"]
    assert len(marks) == 2 and [t["showlegend"] for t in marks] == [True, False]
    assert marks[0]["x"] == ["2026-01-02 00:00:00", "2026-01-04 00:00:00"]
    assert "&lt;b&gt;x&lt;/b&gt;" in marks[0]["text"][1]
    assert spec["layout"]["yaxis2"]["domain"][1] < spec["layout"]["yaxis"]["domain"][0]


def test_run_page_telemetry_is_downsampled(tmp_path: Path) -> None:
    site = make_site_input(6)
    out = _build(site, tmp_path / "generated")
    first = site.run_ids[0]
    doc = read_data(out / "data" / "runs" / f"{first}.js")
    block = next(b for b in doc["blocks"] if b.get("title", "").startswith("Telemetry"))
    assert f"{LONG_SAMPLES} samples" in block["title"]
    names = {t["name"]: t for t in block["spec"]["data"]}
    assert {"system CPU %", "engine RSS GiB", "GPU power W (sum)", "GPU util % (mean)"} <= set(
        names
    )
    assert all(len(t["x"]) <= MAX_SAMPLE_POINTS for t in names.values())
    assert names["system CPU %"]["x"] == sorted(names["system CPU %"]["x"])
    assert (out / "data" / "runs" / f"{first}.js").stat().st_size < 100_000
    # a run without samples has no telemetry chart
    sampled = set(site.large["samples"].column("run_id").to_pylist())
    other = sorted(set(site.run_ids) - sampled)[0]
    doc = read_data(out / "data" / "runs" / f"{other}.js")
    assert not any(b.get("title", "").startswith("Telemetry") for b in doc["blocks"])


def test_run_document_results_and_planned_cells(tmp_path: Path) -> None:
    """The run page's table and the compare view read the same warm results; the planned
    cells (with availability) are a table of their own; no column holds the long cell id."""
    site = make_site_input(4)
    out = _build(site, tmp_path / "generated")
    rid = site.run_ids[0]
    doc = read_data(out / "data" / "runs" / f"{rid}.js")
    warm = [c for c in site.rows("cells") if c["run_id"] == rid and c["phase"] == "warm"]
    assert len(doc["results"]) == len(warm)
    assert {r["signature"] for r in doc["results"]} == {c["signature"] for c in warm}
    table = next(b for b in doc["blocks"] if b["kind"] == "results")
    assert [c[1] for c in table["columns"]][:3] == ["engine", "model", "workload_id"]
    assert "cell_id" not in [c[1] for c in table["columns"]]
    planned = next(b for b in doc["blocks"] if b.get("title") == "Planned cells")
    assert len(planned["rows"]) == sum(1 for c in site.rows("run_cells") if c["run_id"] == rid)
    assert doc["system"]["system_label"] == site.run(rid)["system_label"]


def _gpu_samples(n: int) -> str:
    lines = []
    for i in range(n):
        sample = {
            "schema_version": 1,
            "t": i * 0.25,
            "ts": f"2026-03-01T10:{i // 240:02d}:{(i % 240) // 4:02d}.{25 * (i % 4):02d}Z",
            "cpu_percent": 20.0 + i % 10,
            "memory_used_gb": 4.0,
            "engine_pid": 99,
            "engine_rss_gb": 1.25,
            "engine_cpu_percent": 150.0,
            "cpu_energy_j": float(i),
            "gpus": [
                {
                    "index": g,
                    "util_percent": 40.0 + 20 * g,
                    "memory_used_gb": 3.0,
                    "power_w": 100.0 + g,
                    "temperature_c": 50.0 + 5 * g,
                    "energy_j": None,
                }
                for g in range(2)
            ],
        }
        lines.append(json.dumps(sample) + "\n")
    return "".join(lines)


def test_publish_draws_samples_and_every_warm_call(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    run_dir = make_run(runs, seed=2, n_cells=1, calls_per_cell=6, with_samples=True)
    (run_dir / "samples.jsonl").write_text(_gpu_samples(700), encoding="utf-8")
    for seed in (5, 6):
        make_run(runs, seed=seed, n_cells=2, calls_per_cell=7)
    generated = publish_with_site(tmp_path, runs)
    doc = read_data(generated / "data" / "runs" / f"{run_dir.name}.js")
    block = next(b for b in doc["blocks"] if b.get("title", "").startswith("Telemetry"))
    assert "700 samples, mean of 2 per point" in block["title"]
    traces = {t["name"]: t for t in block["spec"]["data"]}
    assert len(traces["GPU power W (sum)"]["x"]) == 350
    assert traces["GPU power W (sum)"]["y"][0] == 201.0
    exports = tmp_path / "out" / "exports"
    calls = ds.dataset(exports / "calls", format="parquet", partitioning="hive").to_table()
    calls_rows = calls.select(["run_id", "phase", "first_delta_ms"]).to_pylist()
    for run in sorted(runs.iterdir()):
        doc = read_data(generated / "data" / "runs" / f"{run.name}.js")
        block = next(b for b in doc["blocks"] if b.get("title") == "TTFT distribution (warm calls)")
        charted = sorted(x for trace in block["spec"]["data"] for x in trace["x"])
        expected = sorted(
            c["first_delta_ms"]
            for c in calls_rows
            if c["run_id"] == run.name and c["phase"] == "warm" and c["first_delta_ms"] is not None
        )
        assert expected and charted == pytest.approx(expected)


def test_benchmark_script_runs(tmp_path: Path) -> None:
    """benchmarks/site_build.py still runs on the current API (a tiny archive)."""
    import subprocess
    import sys

    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "site_build.py"),
            "--runs",
            "6",
            "--work",
            str(tmp_path / "work"),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "mkdocs build --strict" in proc.stdout
    shutil.rmtree(tmp_path / "work", ignore_errors=True)


def test_run_file_keys_stay_out_of_the_built_site(tmp_path: Path) -> None:
    """The keys that let a rebuild link unchanged run files sit beside the generated pages;
    MkDocs must not deploy them (a dot-file), and a rebuild reuses every unchanged file."""
    site = make_site_input(6, not_comparable=False)

    class KeyedReader:
        key = "rows v1"

        def __call__(self, table: str, run_id: str) -> Any:
            return site.reader(table, run_id)

    root = copy_site_project(tmp_path / "site")
    generated = root / "docs" / "generated"
    build_pages(site.archive, KeyedReader(), generated)
    keys = json.loads((generated / ".run-keys.json").read_text())
    assert sorted(keys) == sorted(site.archive.tables["runs"].column("run_id").to_pylist())
    inodes = {p.name: p.stat().st_ino for p in (generated / "data" / "runs").glob("*.js")}
    build_pages(site.archive, KeyedReader(), generated)  # previous = the folder itself
    assert inodes == {p.name: p.stat().st_ino for p in (generated / "data" / "runs").glob("*.js")}
    result = build_site(root)
    assert not list(result.build_dir.rglob(".run-keys.json"))
    assert len(list((result.build_dir / "generated" / "data" / "runs").glob("*.js"))) == 6
