"""Site generation and the static build: escaping, determinism, strict build, weight, links."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag, urlsplit

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from publisher.cli_site import site as site_cli
from publisher.load import load_run
from publisher.samples import build_samples
from publisher.tables import samples_columns

from publisher import pipeline
from publisher.site import charts
from publisher.site.build import build_site
from publisher.site.escape import html_text, md_text, slug, title_text
from publisher.site.pages import MAX_SAMPLE_POINTS, SiteError, build_pages
from tests.publisher.test_site_browser import copy_site_project
from tests.publisher.test_site_data import (
    LONG_SAMPLES,
    XSS_CPU,
    XSS_HOST,
    XSS_MODEL,
    XSS_VERSION,
    make_tables,
)
from tests.synthetic import make_run

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


# --------------------------------------------------------------------------- history, samples


def _chart(generated: Path, src: str) -> dict[str, object]:
    return json.loads((generated / src.removeprefix("../")).read_text())  # type: ignore[no-any-return]


def test_history_regression_and_recovery_on_system_and_changes_pages(tmp_path: Path) -> None:
    tables, catalogue = make_tables(12)
    out = tmp_path / "generated"
    build_pages(tables, catalogue, out)
    first = min(tables["runs"], key=lambda r: str(r["run_id"]))
    sid = str(first["system_id"])
    points = sorted(
        (
            h
            for h in tables["history"]
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
    traces = {t["name"]: t for t in spec["data"]}  # type: ignore[attr-defined]
    assert {"tokens/s", "TTFT p50 ms", "regression", "improvement"} <= set(traces)
    assert any(str(regression["run_id"]) in t for t in traces["regression"]["text"])
    assert any(str(recovery["run_id"]) in t for t in traces["improvement"]["text"])
    assert spec["layout"]["xaxis"]["type"] == "date"  # type: ignore[index]
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
    tables, catalogue = make_tables(6)
    out = tmp_path / "generated"
    build_pages(tables, catalogue, out)
    first = min(str(r["run_id"]) for r in tables["runs"])
    doc = json.loads((out / "data" / "runs" / f"{first}.json").read_text())
    block = next(b for b in doc["blocks"] if b.get("title", "").startswith("Telemetry"))
    assert f"{LONG_SAMPLES} samples" in block["title"]
    names = {t["name"]: t for t in block["spec"]["data"]}
    assert {"system CPU %", "engine RSS GiB", "GPU power W (sum)", "GPU util % (mean)"} <= set(
        names
    )
    assert all(len(t["x"]) <= MAX_SAMPLE_POINTS for t in names.values())
    assert names["system CPU %"]["x"] == sorted(names["system CPU %"]["x"])
    assert (out / "data" / "runs" / f"{first}.json").stat().st_size < 100_000
    # a run without samples has no telemetry chart
    cpu_runs = {str(r["run_id"]) for r in tables["runs"]} - {
        str(s["run_id"]) for s in tables["samples"]
    }
    doc = json.loads((out / "data" / "runs" / f"{sorted(cpu_runs)[0]}.json").read_text())
    assert not any(b.get("title", "").startswith("Telemetry") for b in doc["blocks"])


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


def _publish_with_site(root: Path, runs: Path) -> None:
    """Publish ``runs`` with exports under ``root/out`` and page data under ``root/site``."""
    pipeline.publish(
        pipeline.PublishConfig(
            runs_dir=runs,
            out_dir=root / "out",
            catalogue_path=root / "catalogue.json",
            site_dir=root / "site" / "generated",
            allow_synthetic=True,
        )
    )


def _run_doc(root: Path, run_id: str) -> dict[str, Any]:
    """The page-data document of one run published by ``_publish_with_site``."""
    path = root / "site" / "generated" / "data" / "runs" / f"{run_id}.json"
    doc: dict[str, Any] = json.loads(path.read_text())
    return doc


def test_publish_exports_samples_and_draws_them(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    run_dir = make_run(runs, seed=2, n_cells=1, calls_per_cell=6, with_samples=True)
    (run_dir / "samples.jsonl").write_text(_gpu_samples(700), encoding="utf-8")
    make_run(runs, seed=5, n_cells=1, calls_per_cell=6)
    raw = load_run(run_dir)
    rows = build_samples(raw)
    assert len(rows) == 700 and [r["seq"] for r in rows[:3]] == [0, 1, 2]
    assert rows[0]["run_id"] == run_dir.name and rows[0]["gpu_count"] == 2
    assert rows[0]["gpu_power_w"] == 201.0 and rows[0]["gpu_temperature_c"] == 55.0
    assert rows[0]["gpu_util_percent"] == 50.0 and rows[0]["gpu_energy_j"] is None
    assert [c for c, _ in samples_columns()] == list(rows[0])
    _publish_with_site(tmp_path, runs)
    table = pq.read_table(tmp_path / "out" / "exports" / "samples.parquet")
    assert table.num_rows == 700
    assert str(table.schema.field("ts").type) == "timestamp[us]"
    assert table.column("gpu_power_w")[0].as_py() == 201.0
    doc = _run_doc(tmp_path, run_dir.name)
    block = next(b for b in doc["blocks"] if b.get("title", "").startswith("Telemetry"))
    assert "700 samples, mean of 2 per point" in block["title"]
    traces = {t["name"]: t for t in block["spec"]["data"]}
    assert len(traces["GPU power W (sum)"]["x"]) == 350
    assert traces["GPU power W (sum)"]["y"][0] == 201.0


def test_run_pages_chart_every_warm_call(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    for seed in range(3):
        make_run(runs, seed=seed, n_cells=2, calls_per_cell=7)
    _publish_with_site(tmp_path, runs)
    calls = pq.read_table(tmp_path / "out" / "exports" / "calls.parquet").to_pylist()
    for run_dir in sorted(runs.iterdir()):
        doc = _run_doc(tmp_path, run_dir.name)
        block = next(b for b in doc["blocks"] if b.get("title") == "TTFT distribution (warm calls)")
        charted = sorted(x for trace in block["spec"]["data"] for x in trace["x"])
        expected = sorted(
            c["first_delta_ms"]
            for c in calls
            if c["run_id"] == run_dir.name
            and c["phase"] == "warm"
            and c["first_delta_ms"] is not None
        )
        assert expected and charted == pytest.approx(expected)
