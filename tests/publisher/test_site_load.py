"""The site with load levels (issue 15) and efficiency, energy and cost (issue 17), through
the real pipeline: synthetic run directories (``tests.synthetic.make_run`` with ``with_load``,
``bench_gbs`` and ``cost_inputs``) published into generated pages.

Open-loop (rate) levels are labelled by their rate, never ``cNone`` and never ranked as if
one stream; issue 17's numbers show where known and say why where not.
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from publisher.site.pages.common import system_page
from publisher.site.pages.leaderboards import leaderboard_table
from publisher.site.pages.view import Entry, Workload
from tests.publisher.conftest import publish_with_site
from tests.publisher.test_site_data import read_data
from tests.synthetic import make_run

PRICES = {
    "currency": "EUR",
    "hardware_price": 80.0,
    "amortization_years": 3.0,
    "hourly_rate": None,
    "electricity_price_per_kwh": 0.3,
    "source": "shop page",
    "as_of": "2026-11-01",
}
SYSTEM = "0ad0ad0a-1111-4222-8333-444444444444"


def _day(d: int) -> datetime:
    return datetime(2026, 3, d, tzinfo=UTC)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two runs of one system (the second with --bench and prices) and one of another,
    all with a length workload and two open-loop levels."""
    root = tmp_path_factory.mktemp("load")
    runs = root / "runs"
    first = make_run(
        runs, seed=1, profile="pi5", system_id=SYSTEM, with_load=True, started_at=_day(1)
    )
    _cut_short(first / "run.jsonl")
    make_run(  # seed 13: the engines and models of seed 1, another run uuid
        runs,
        seed=13,
        profile="pi5",
        system_id=SYSTEM,
        with_load=True,
        bench_gbs=20.0,
        cost_inputs=PRICES,
        started_at=_day(2),
    )
    make_run(runs, seed=2, profile="rtx4090", with_load=True, started_at=_day(3))
    return publish_with_site(root, runs)


def _cut_short(ledger: Path) -> None:
    """The first open-loop call of the 1 req/s level ends at 60 of its 64 tokens (EOS): a
    call more than 1 % off its target, marked as the collector marks it."""
    lines = [json.loads(x) for x in ledger.read_text(encoding="utf-8").splitlines()]
    call = next(c for c in lines if c.get("request_rate") == 1.0)
    decode_ms = call["total_duration_ms"] - call["first_delta_ms"]
    call.update(
        completion_tokens=60,
        chunks=60,
        tokens_per_sec=60 / (decode_ms / 1000.0),
        tpot_ms=decode_ms / 59,
        finish_reason="stop",
        length_off_target=True,
    )
    ledger.write_text("".join(json.dumps(c) + "\n" for c in lines), encoding="utf-8")


def _texts(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): p.read_text(encoding="utf-8")
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.suffix in {".md", ".js", ".csv"}
    }


def _run_docs(generated: Path) -> list[dict[str, Any]]:
    return [read_data(p) for p in sorted((generated / "data" / "runs").glob("*.js"))]


def test_rate_levels_are_labelled_by_rate(generated: Path) -> None:
    """No page or data file writes ``cNone``; a rate level's result says ``1 req/s``."""
    for name, text in _texts(generated).items():
        assert "cNone" not in text, name
        assert "c None" not in text, name
    docs = _run_docs(generated)
    rated = [r for d in docs for r in d["results"] if r["request_rate"] is not None]
    assert rated
    assert {r["level"] for r in rated} == {"1 req/s", "2 req/s"}
    assert all(r["concurrency"] is None for r in rated)
    # a length workload's targets are in its results (the compare view labels them)
    assert all((r["input_tokens"], r["output_tokens"]) == (512, 64) for r in rated)
    assert not any(
        "input_tokens" in r for d in docs for r in d["results"] if r["workload_id"] != "L-512-64"
    )
    closed = [r for d in docs for r in d["results"] if r["request_rate"] is None]
    assert {r["level"] for r in closed} == {"c1"}
    table = next(b for b in docs[0]["blocks"] if b["kind"] == "results")
    assert ["level", "level", -1] in table["columns"]
    # the system's history names its rate levels by rate (the history table has no
    # request_rate yet: the site takes it from the cells of the same signature)
    page = system_page(SYSTEM).removesuffix(".html")
    system = (generated / "systems" / f"{page}.md").read_text(encoding="utf-8")
    tabs = re.findall(r'<label for="__tabbed_1_[0-9]+">([^<]*)</label>', system)
    assert any(re.match(r"L-512-64 [12] req/s · ", t) for t in tabs), tabs


def test_a_rate_level_is_ranked_by_its_aggregate_not_one_stream(generated: Path) -> None:
    """A null concurrency is not 1: an open-loop level's throughput is its aggregate."""
    for doc in _run_docs(generated):
        for r in doc["results"]:
            if r["request_rate"] is not None:
                assert r["aggregate_tokens_per_sec"] is not None
                assert r["throughput"] == r["aggregate_tokens_per_sec"], r
            else:
                assert r["throughput"] == r["tokens_per_sec_mean"], r


def test_rate_levels_are_curves_not_leaderboard_rows(generated: Path) -> None:
    """Leaderboards (pages, CSV files, the fastest-per-model list) hold closed-loop levels
    only; the length workload's closed-loop level ranks with its lengths in the label."""
    boards = generated / "data" / "leaderboards"
    for path in sorted(boards.glob("*.csv")):
        for row in csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))):
            assert row["concurrency"] != "", (path.name, row)  # a rate level has none
    index = (generated / "leaderboards" / "index.md").read_text(encoding="utf-8")
    assert "req/s" not in index
    assert "L-512-64 · 512/64 tok · c1" in index
    length_board = next(
        p.read_text(encoding="utf-8")
        for p in sorted((generated / "leaderboards").glob("*.md"))
        if "L-512-64" in p.read_text(encoding="utf-8") and p.name != "index.md"
    )
    assert "input 512 / output 64 tokens" in length_board


def test_efficiency_energy_and_cost_show_where_known_and_say_why_not(generated: Path) -> None:
    """The run with --bench and prices shows bandwidth efficiency and cost; the others show
    a dash whose tooltip gives the front end's reason, and a footnote lists the reasons."""
    pages = {
        p.name: p.read_text(encoding="utf-8")
        for p in sorted((generated / "leaderboards").glob("*.md"))
        if p.name != "index.md"
    }
    with_eff = [text for text in pages.values() if "BW eff." in text]
    assert with_eff, "no leaderboard shows bandwidth efficiency"
    text = with_eff[0]
    assert "tok/s/W" in text
    # one cost column per currency: costs in different currencies never rank together
    assert re.findall(r"<th[^>]*>([A-Z]{3}/M tok)</th>", text) == ["EUR/M tok"]
    assert re.search(r"<td>[0-9.]+%</td>", text), "efficiency as a percentage"
    # the other system has no --bench and no prices: a dash with the reason, and a footnote
    assert re.search(r'<span class="bo-null" title="[^"]*bench[^"]*">—</span>', text), text
    assert re.search(r'<span class="bo-null" title="[^"]*no prices stated[^"]*">—</span>', text)
    assert 'class="bo-note bo-unknown"' in text and "no prices stated" in text
    # every leaderboard CSV has the columns, the reasons included
    board = next(iter(sorted((generated / "data" / "leaderboards").glob("*.csv"))))
    header = board.read_text(encoding="utf-8").splitlines()[0].split(",")
    for column in (
        "input_tokens",
        "output_tokens",
        "tokens_per_joule",
        "energy_reason",
        "bandwidth_efficiency",
        "roofline_reason",
        "cost_per_million_tokens",
        "cost_currency",
        "cost_reason",
    ):
        assert column in header, column


def _blocks(doc: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {b["title"]: b for b in doc["blocks"] if b["kind"] == kind}


def _chart(generated: Path, page_text: str, title_start: str) -> dict[str, Any]:
    """The spec of the chart on a page whose aria-label starts with ``title_start``."""
    m = re.search(
        r'<div class="bo-chart" role="img" aria-label="'
        + re.escape(title_start)
        + r'[^"]*" data-src="\.\./(data/charts/[0-9a-f]+\.js)"',
        page_text,
    )
    assert m, title_start
    return read_data(generated / m.group(1))  # type: ignore[no-any-return]


def test_run_pages_draw_the_load_level_charts(generated: Path) -> None:
    """Each run page draws the InferenceX view (one point per level, a line per engine ·
    model and loop kind), requests/s and goodput against the offered rate with the SLO named
    and y = x drawn, TTFT p50/p99 against the rate, and client vs engine prefill."""
    for doc in _run_docs(generated):
        charts_ = _blocks(doc, "chart")
        titles = list(charts_)
        ix = charts_["Throughput vs interactivity (InferenceX view)"]["spec"]
        rated = [r for r in doc["results"] if r["request_rate"] is not None]
        lines = [t for t in ix["data"] if t["name"].endswith(" · rates")]
        assert len(lines) == len({r["cell_id"] for r in rated}), lines
        for line in lines:
            assert len(line["x"]) == 2  # 1 and 2 req/s
        table = _blocks(doc, "table")["Load levels"]
        heads = [c if isinstance(c, str) else c["title"] for c in table["columns"]]
        per_user = sorted(
            row[heads.index("tok/s/user")] for row in table["rows"] if row[2].endswith("req/s")
        )
        drawn = sorted(round(x, 1) for t in lines for x in t["x"])
        assert drawn == pytest.approx(per_user, abs=0.051)
        goodput = next(t for t in titles if t.startswith("Requests/s and goodput"))
        assert "SLO TTFT ≤ 200 ms, TPOT ≤ 50 ms" in goodput
        spec = charts_[goodput]["spec"]
        names = [t["name"] for t in spec["data"]]
        assert "offered" in names and any(n.endswith("goodput") for n in names), names
        assert any(n.endswith("req/s") for n in names), names
        ttft = charts_["TTFT vs offered request rate"]["spec"]
        assert {t["name"].rsplit(" · ", 1)[1] for t in ttft["data"]} == {"p50", "p99"}
        prefill = charts_["Prefill rate by input tokens (client vs engine)"]["spec"]
        assert {t["name"].rsplit(" · ", 1)[1] for t in prefill["data"]} == {"client", "engine"}
        assert {x for t in prefill["data"] for x in t["x"]} == {512}


def test_off_target_calls_get_a_badge_and_a_table(generated: Path) -> None:
    docs = {d["run_id"]: d for d in _run_docs(generated)}
    marked = [d for d in docs.values() if any(b["kind"] == "badge" for b in d["blocks"])]
    assert len(marked) == 1, "only the run with the cut-short call"
    badge = next(b for b in marked[0]["blocks"] if b["kind"] == "badge")
    assert badge["text"].startswith("1 call off target")
    table = _blocks(marked[0], "table")["Calls off target"]
    assert len(table["rows"]) == 1
    row = table["rows"][0]
    assert row[1] == "L-512-64 1 req/s" and row[6:8] == [60, 64]
    levels = _blocks(marked[0], "table")["Load levels"]
    heads = [c if isinstance(c, str) else c["title"] for c in levels["columns"]]
    counts = {(row[0], row[2]): row[heads.index("off target")] for row in levels["rows"]}
    assert sorted(counts.values()) == [0] * (len(counts) - 1) + [1], counts


def test_run_pages_state_efficiency_energy_and_cost_or_why_not(generated: Path) -> None:
    """The run with --bench and prices: a row per result with the efficiency and the cost in
    EUR. The others: the reasons, once each when nothing at all is known."""
    for doc in _run_docs(generated):
        blocks = {b.get("title"): b for b in doc["blocks"]}
        block = blocks["Efficiency, energy and cost"]
        if block["kind"] == "table":
            assert len(block["rows"]) == len(doc["results"])
            for row in block["rows"]:
                assert all(v for v in row), row  # never a bare blank
            text = json.dumps(block["rows"], ensure_ascii=False)
        else:
            assert block["kind"] == "kv"
            assert all(str(v).startswith("unknown: ") for _, v in block["rows"])
            text = json.dumps(block["rows"], ensure_ascii=False)
        if doc["started_at"].startswith("2026-03-02"):  # the run with --bench and prices
            assert block["kind"] == "table"
            assert all(re.fullmatch(r"[0-9.]+%", row[1]) for row in block["rows"])
            assert all(row[4].endswith(" EUR") for row in block["rows"])
        else:
            assert "no prices stated" in text and "bench" in text, text


def test_system_and_leaderboard_pages_draw_level_curves(generated: Path) -> None:
    """The system page has a "Load levels" section with the four charts; the length
    workload's leaderboard draws the InferenceX view across systems."""
    page = system_page(SYSTEM).removesuffix(".html")
    system = (generated / "systems" / f"{page}.md").read_text(encoding="utf-8")
    assert "## Load levels" in system
    ix = _chart(generated, system, "Throughput vs interactivity")
    # the system has no GPU (pi5): whole-system throughput, and its curves only
    assert ix["layout"]["yaxis"]["title"]["text"].startswith("output tokens/s, all streams")
    assert _chart(generated, system, "Requests/s and goodput")
    assert _chart(generated, system, "TTFT vs offered")
    assert _chart(generated, system, "Prefill rate")
    board = next(
        text
        for p in sorted((generated / "leaderboards").glob("*.md"))
        if "L-512-64" in (text := p.read_text(encoding="utf-8")) and p.name != "index.md"
    )
    spec = _chart(generated, board, "Throughput vs interactivity")
    systems = {t["name"].split(" · ")[0] for t in spec["data"] if t["name"] != "Pareto front"}
    assert len(systems) == 2, systems  # both hardware classes


def test_costs_in_two_currencies_are_two_columns() -> None:
    """A leaderboard whose runs state prices in EUR and USD gets a cost column per currency;
    a row's cost sits in its own currency's column, the other says where it is."""
    w = Workload("k1", "P-EASY", "prompt", 256, 0.0, 1)

    def entry(run: str, tps: float, cost: float | None, currency: str | None) -> Entry:
        row = {
            "model": "m",
            "engine": "ollama",
            "system_id": run,
            "system_label": run,
            "hardware_class": "cpu",
            "tokens_per_sec_mean": tps,
            "concurrency": 1,
            "run_id": run,
            "cost_per_million_tokens": cost,
            "cost_currency": currency,
            "cost_reason": None if cost is not None else "no prices stated",
        }
        return Entry(row, 1, w)

    html = leaderboard_table(
        [entry("a", 3.0, 0.5, "EUR"), entry("b", 2.0, 0.7, "USD"), entry("c", 1.0, None, None)],
        "../",
    )
    heads = re.findall(r"<th[^>]*>([^<]*)</th>", html)
    assert [h for h in heads if h.endswith("/M tok")] == [
        "EUR/M tok",
        "USD/M tok",
    ]
    rows = re.findall(r"<tr>(.*?)</tr>", html)[1:]
    eur, usd = heads.index("EUR/M tok"), heads.index("USD/M tok")
    cells = [re.findall(r"<td>(.*?)</td>", r) for r in rows]
    assert cells[0][eur] == "0.50" and 'title="stated in EUR"' in cells[0][usd]
    assert 'title="stated in USD"' in cells[1][eur] and cells[1][usd] == "0.70"
    assert (
        'title="no prices stated"' in cells[2][eur] and 'title="no prices stated"' in cells[2][usd]
    )
    assert "no prices stated (1)" in html
