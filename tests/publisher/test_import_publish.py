"""Imported runs through validate and publish, and what ranks together in the exports.

The vLLM, GuideLLM and AIPerf files are the fixtures of ``tests/fixtures/imports`` (those
tools cannot run here); llama-bench's real output is tested in
``tests/collector/test_import_llama_bench.py``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import duckdb
import pytest

from bakeoff.jsonio import write_json
from collector.importers import ImportOptions, import_files
from publisher import publish as pipeline
from publisher.frontend.compile import Options, compile_run
from tests.synthetic import make_run

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "imports"
IMPORTS: list[tuple[str, list[str]]] = [
    ("vllm-bench", ["vllm-detailed.json"]),
    ("vllm-bench", ["vllm-summary.json"]),
    ("guidellm", ["guidellm-benchmarks.json"]),
    ("aiperf", ["profile_export_aiperf.json", "profile_export.jsonl"]),
    ("aiperf", ["profile_export_aiperf.json"]),
]


def _import_all(runs: Path, host: str = "h1") -> list[Path]:
    out = []
    for fmt, names in IMPORTS:
        options = ImportOptions(out_dir=runs, probe=False, host_label=host)
        out += [p for p, _ in import_files(fmt, [FIXTURES / n for n in names], options)]
    return out


def _publish(root: Path, runs: Path) -> duckdb.DuckDBPyConnection:
    config = pipeline.PublishConfig(
        runs_dir=runs,
        out_dir=root / "out",
        catalogue_path=root / "catalogue.json",
        allow_synthetic=True,
        jobs=1,
    )
    pipeline.publish(config)
    return duckdb.connect(str(root / "out" / "exports" / "bakeoff.duckdb"), read_only=True)


@pytest.mark.parametrize(
    ("fmt", "names"),
    [
        *IMPORTS,
        ("aiperf", ["aiperf-0.13/profile_export_aiperf.json", "aiperf-0.13/profile_export.jsonl"]),
    ],
)
def test_every_format_validates_for_publication(tmp_path: Path, fmt: str, names: list[str]) -> None:
    [(run, _)] = import_files(
        fmt, [FIXTURES / n for n in names], ImportOptions(out_dir=tmp_path, probe=False)
    )
    artifact = compile_run(run, Options(for_publication=True))
    assert [f.code for f in artifact.findings] == []
    assert artifact.tables is not None
    assert artifact.tables["aggregates"].num_rows > 0
    assert artifact.tables["runs"].column("source_tool").to_pylist() == [fmt]


def test_imported_runs_publish_with_summary_rows_and_aggregates(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    _import_all(runs)
    con = _publish(tmp_path, runs)
    rows = con.sql(
        "SELECT source_tool, statistics_source, definitions, n, ttft_p50_ms, "
        "tokens_per_sec_mean FROM cells ORDER BY source_tool, statistics_source"
    ).fetchall()
    by = {(r[0], r[1]): r for r in rows}
    # A summary-only file: n as the tool states it, and only mapped metrics filled.
    assert by[("vllm-bench", "summary")][3] == 4
    assert by[("vllm-bench", "summary")][4:] == (None, None)
    assert by[("guidellm", "summary")][4:] == (None, None)
    aiperf_summary = json.loads((FIXTURES / "profile_export_aiperf.json").read_text())
    assert by[("aiperf", "summary")][4] == aiperf_summary["time_to_first_token"]["p50"]
    # Per-request files: statistics computed from the call records.
    assert by[("aiperf", "calls")][5] is not None and by[("aiperf", "calls")][3] == 4
    assert by[("vllm-bench", "calls")][2] == "vllm-bench"
    [(n_stats,)] = con.execute("SELECT count(*) FROM aggregates").fetchall()
    assert n_stats == 6 + 6 + 7 + 5 + 5


def test_results_share_a_leaderboard_only_when_workload_and_definitions_match(
    tmp_path: Path,
) -> None:
    """vLLM's, AIPerf's and GuideLLM's fixtures all measured 32-token prompts, 8-token outputs
    on the completions API (vLLM and AIPerf with two requests in flight): the same workload
    id and shape. Only AIPerf's metrics follow the archive's definitions, so vLLM's run gets
    a leaderboard of its own although its workload is the same."""
    runs = tmp_path / "runs"
    _import_all(runs, host="h1")
    # The same AIPerf profile from a second host: same workload, same definitions.
    second = json.loads((FIXTURES / "profile_export_aiperf.json").read_text())
    second["benchmark_id"] = "second-host-run"
    (tmp_path / "h2").mkdir()
    write_json(tmp_path / "h2" / "profile_export_aiperf.json", second)
    options = ImportOptions(out_dir=runs, probe=False, host_label="h2")
    import_files("aiperf", [tmp_path / "h2" / "profile_export_aiperf.json"], options)
    # A native run with frozen prompts, a 512/64 length workload and open-loop rate levels.
    native = make_run(runs, seed=7, n_cells=1, calls_per_cell=6, with_load=True)
    con = _publish(tmp_path, runs)
    rows = con.sql(
        "SELECT DISTINCT source_tool, workload_id, definitions, workload_key FROM cells"
    ).fetchall()
    ids = {(tool or "bakeoff"): (wid, definitions) for tool, wid, definitions, _ in rows if tool}
    keys: dict[str, set[str]] = {}
    for tool, _, _, key in rows:
        keys.setdefault(tool or "bakeoff", set()).add(key)
    assert ids["aiperf"] == ("load:completions:32/8:c2", "bakeoff")
    assert ids["vllm-bench"] == ("load:completions:32/8:c2", "vllm-bench")
    assert ids["guidellm"] == ("load:completions:32/8:c1", "guidellm")
    # AIPerf's summary, its per-request records and the second host: one leaderboard.
    assert len(keys["aiperf"]) == 1
    [board] = con.execute(
        "SELECT count(DISTINCT system_id), sum(runs) FROM leaderboard WHERE workload_key = ?",
        [next(iter(keys["aiperf"]))],
    ).fetchall()
    # Three runs on one board; --no-probe gives every import its own system (a file does not
    # identify its machine), so three systems.
    assert board == (3, 3)
    # Same workload, vLLM's definitions: never on AIPerf's board, and never on a native one.
    assert keys["vllm-bench"].isdisjoint(keys["aiperf"])
    assert keys["bakeoff"].isdisjoint(keys["aiperf"] | keys["vllm-bench"] | keys["guidellm"])
    # The native run's length workload and its rate levels have keys of their own too.
    native_kinds = con.sql(
        "SELECT DISTINCT workload_kind, request_rate FROM cells WHERE source_tool IS NULL"
    ).fetchall()
    assert {("length", 1.0), ("length", 2.0), ("length", None)} <= set(native_kinds)
    vllm_boards = con.execute(
        "SELECT DISTINCT workload_key FROM leaderboard WHERE workload_key IN "
        "(SELECT workload_key FROM cells WHERE source_tool = 'aiperf')"
        " AND workload_key IN (SELECT workload_key FROM cells WHERE source_tool = 'vllm-bench')"
    ).fetchall()
    assert vllm_boards == []
    assert native.name in {r[0] for r in con.sql("SELECT run_id FROM runs").fetchall()}


def test_a_workload_whose_definitions_were_edited_is_refused(tmp_path: Path) -> None:
    [run] = [
        p
        for p, _ in import_files(
            "vllm-bench", [FIXTURES / "vllm-summary.json"], ImportOptions(tmp_path, probe=False)
        )
    ]
    md: dict[str, Any] = json.loads((run / "metadata.json").read_text())
    # Claiming the archive's definitions would put vLLM's TTFT on a bakeoff leaderboard.
    md["config"]["imported_workloads"][0]["definitions"] = "bakeoff"
    write_json(run / "metadata.json", md)
    codes = [f.code for f in compile_run(run).findings]
    assert codes == ["consistency.imported_workload"]


def test_statistics_of_an_unplanned_cell_are_refused(tmp_path: Path) -> None:
    [(run, _)] = import_files(
        "guidellm", [FIXTURES / "guidellm-benchmarks.json"], ImportOptions(tmp_path, probe=False)
    )
    md: dict[str, Any] = json.loads((run / "metadata.json").read_text())
    md["aggregates"][0]["cell_id"] = "elsewhere:openai:x"
    md["aggregates"][1]["workload_id"] = "guidellm:unknown"
    write_json(run / "metadata.json", md)
    codes = sorted(f.code for f in compile_run(run).findings)
    assert codes == ["consistency.unknown_workload", "consistency.unplanned_cell"]


def test_a_failed_vllm_request_is_a_failed_call_record_not_dropped(tmp_path: Path) -> None:
    doc = json.loads((FIXTURES / "vllm-detailed.json").read_text())
    doc["errors"][1] = "ClientConnectorError: connection reset"
    doc["output_lens"][1] = 0
    doc["completed"], doc["failed"] = 3, 1
    path = tmp_path / "vllm-failed.json"
    path.write_text(json.dumps(doc))
    [(run, metadata)] = import_files(
        "vllm-bench", [path], ImportOptions(out_dir=tmp_path / "runs", probe=False)
    )
    assert (metadata.summary.calls_total, metadata.summary.calls_ok) == (4, 3)
    artifact = compile_run(run, Options(for_publication=True))
    assert [f.code for f in artifact.findings] == []
    assert artifact.tables is not None
    [row] = artifact.tables["cells"].to_pylist()
    assert (row["n"], row["errors"], row["success_rate"]) == (4, 1, 0.75)
    calls = artifact.tables["calls"].to_pylist()
    assert calls[1]["error_kind"] == "other" and calls[1]["first_delta_ms"] is None


def test_an_imported_open_loop_level_carries_its_rate_in_cells(tmp_path: Path) -> None:
    """vLLM's Poisson level (``--request-rate 2``, no cap) lands on the cells row's
    ``request_rate``, where the site draws load levels; a closed loop keeps it null."""
    doc = json.loads((FIXTURES / "vllm-summary.json").read_text())
    doc["request_rate"], doc["max_concurrency"] = 2.0, None
    path = tmp_path / "vllm-rate.json"
    path.write_text(json.dumps(doc))
    options = ImportOptions(out_dir=tmp_path / "runs", probe=False)
    [(rate_run, _)] = import_files("vllm-bench", [path], options)
    [(closed_run, _)] = import_files("vllm-bench", [FIXTURES / "vllm-summary.json"], options)
    rows = {}
    for run in (rate_run, closed_run):
        artifact = compile_run(run, Options(for_publication=True))
        assert [f.code for f in artifact.findings] == []
        assert artifact.tables is not None
        [row] = artifact.tables["cells"].to_pylist()
        rows[run] = row
    assert rows[rate_run]["workload_id"] == "load:completions:32/8:r2"
    assert rows[rate_run]["request_rate"] == 2.0
    assert rows[closed_run]["request_rate"] is None
    assert rows[rate_run]["workload_key"] != rows[closed_run]["workload_key"]


def test_the_site_marks_imported_results(tmp_path: Path) -> None:
    """Leaderboard rows and run pages say an imported result came from another tool (its
    definitions are translated, and summary rows are not per-call data); a native run's
    pages never say so."""
    runs = tmp_path / "runs"
    imported = _import_all(runs, host="h1")
    native = make_run(runs, seed=7, n_cells=1, calls_per_cell=6)
    site = tmp_path / "site-docs"
    pipeline.publish(
        pipeline.PublishConfig(
            runs_dir=runs,
            out_dir=tmp_path / "out",
            catalogue_path=tmp_path / "catalogue.json",
            allow_synthetic=True,
            jobs=1,
            site_dir=site,
        )
    )
    boards = "".join(p.read_text() for p in (site / "leaderboards").rglob("*.md"))
    assert "imported from aiperf" in boards and "imported from vllm-bench" in boards
    assert "None tok" not in boards  # an imported summary states no token budget
    # --no-probe: the files do not say whether they ran in a container; never "no".
    systems = "".join(p.read_text() for p in (site / "systems").rglob("*.md"))
    assert re.search(r"Container</t[hd]>\s*<td>unknown<", systems), systems[:2000]
    run_files = {p.name: p.read_text() for p in site.rglob("*.js") if "/data/" in str(p)}

    def run_file(run_id: str) -> str:
        (text,) = [t for name, t in run_files.items() if run_id in name]
        return text

    assert "Imported from aiperf" in run_file(imported[-1].name)
    assert "Imported from" not in run_file(native.name)
