"""The site with load levels (issue 15) and efficiency, energy and cost (issue 17), through
the real pipeline: synthetic run directories (``tests.synthetic.make_run`` with ``with_load``,
``bench_gbs`` and ``cost_inputs``) published into generated pages.

Open-loop (rate) levels are labelled by their rate, never ``cNone`` and never ranked as if
one stream; issue 17's numbers show where known and say why where not.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from publisher import publish as pipeline
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
    make_run(runs, seed=1, profile="pi5", system_id=SYSTEM, with_load=True, started_at=_day(1))
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
    pipeline.publish(
        pipeline.PublishConfig(
            runs_dir=runs,
            out_dir=root / "out",
            catalogue_path=root / "catalogue.json",
            site_dir=root / "site" / "generated",
            allow_synthetic=True,
        )
    )
    return root / "site" / "generated"


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
    closed = [r for d in docs for r in d["results"] if r["request_rate"] is None]
    assert {r["level"] for r in closed} == {"c1"}
    table = next(b for b in docs[0]["blocks"] if b["kind"] == "results")
    assert ["level", "level", -1] in table["columns"]


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
    assert "cost / M tok" in text and "tok/s per W" in text
    assert re.search(r'<td data-sort="[0-9.e+-]+">[0-9.,]+ EUR</td>', text), "cost with currency"
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
