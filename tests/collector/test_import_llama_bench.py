"""``bakeoff import llama-bench`` on real llama-bench output from this machine.

llama-bench is built once per machine from the llama-cpp-python sdist the ``local`` extra
installs (``tests/tools/llama_bench.py``; cached) and run on the bundled GGUF with each of
its output formats. The published cells must give llama-bench's own pp and tg rates.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import duckdb
import pytest

from collector.engines.managed import embedded_model
from collector.importers import ImportOptions, import_files
from collector.probe import probe_host
from publisher import publish as pipeline
from publisher.frontend.compile import Options, compile_run
from tests.collector.conftest import require_local_extra

pytestmark = pytest.mark.slow
FORMATS = ("json", "jsonl", "csv", "sql", "md")


@pytest.fixture(scope="session")
def llama_bench() -> Path:
    """The llama-bench binary (built on first use; skipped without a compiler, failed on CI)."""
    require_local_extra()
    from tests.tools.llama_bench import BuildError, ensure_llama_bench

    try:
        return ensure_llama_bench()
    except BuildError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI must build llama-bench: {exc}")
        pytest.skip(f"llama-bench could not be built here: {exc}")


@pytest.fixture(scope="session")
def outputs(llama_bench: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One real llama-bench run per output format on the bundled model (a few seconds each):
    json with prompt processing, generation, a pp+tg test and a second context depth."""
    model = embedded_model().path
    folder = tmp_path_factory.mktemp("llama-bench-out")
    out = {}
    for fmt in FORMATS:
        tests = (
            ["-p", "64", "-n", "16", "-pg", "32,8", "-d", "0,16"]
            if fmt == "json"
            else ["-p", "32", "-n", "8"]
        )
        proc = subprocess.run(
            [str(llama_bench), "-m", str(model), *tests, "-r", "2", "-t", "2", "-o", fmt],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        path = folder / f"lb.{fmt}"
        path.write_text(proc.stdout, encoding="utf-8")
        out[fmt] = path
    return out


def test_published_cells_give_llama_benchs_rates_with_this_hosts_hardware(
    outputs: dict[str, Path], tmp_path: Path, config_home: Path
) -> None:
    rows = json.loads(outputs["json"].read_text())
    runs = tmp_path / "runs"
    [(_, metadata)] = import_files(
        "llama-bench", [outputs["json"]], ImportOptions(out_dir=runs, host_label="this-host")
    )
    probed = probe_host()
    hw = metadata.hardware.system_hardware
    assert metadata.source is not None and metadata.source.hardware_source == "probe"
    assert hw.system_id == probed.system_hardware.system_id  # this host, not the file
    assert hw.cpu_model == probed.system_hardware.cpu_model and hw.architecture is not None
    assert metadata.source.hardware_recorded["cpu_info"] == rows[0]["cpu_info"]
    assert metadata.source.tool_version == f"b{rows[0]['build_number']}"
    pipeline.publish(
        pipeline.PublishConfig(
            runs_dir=runs, out_dir=tmp_path / "out", catalogue_path=tmp_path / "catalogue.json"
        )
    )
    con = duckdb.connect(str(tmp_path / "out" / "exports" / "bakeoff.duckdb"), read_only=True)
    cells = {
        wid: (prefill, decode, n, source)
        for wid, prefill, decode, n, source in con.sql(
            "SELECT workload_id, engine_prefill_tokens_per_sec, engine_decode_tokens_per_sec, n,"
            " statistics_source FROM cells"
        ).fetchall()
    }
    checked = 0
    for row in rows:
        depth = f"-d{row['n_depth']}" if row["n_depth"] else ""
        if row["n_gen"] == 0:
            prefill, decode, n, source = cells[f"llama-bench:pp{row['n_prompt']}{depth}"]
            assert prefill == pytest.approx(row["avg_ts"], rel=1e-3) and decode is None
        elif row["n_prompt"] == 0:
            prefill, decode, n, source = cells[f"llama-bench:tg{row['n_gen']}{depth}"]
            assert decode == pytest.approx(row["avg_ts"], rel=1e-3) and prefill is None
        else:  # pp+tg: neither rate, kept under llama-bench's own name
            wid = f"llama-bench:pp{row['n_prompt']}+tg{row['n_gen']}{depth}"
            prefill, decode, n, source = cells[wid]
            assert (prefill, decode) == (None, None)
            [(metric, mean)] = con.execute(
                "SELECT metric, mean FROM aggregates WHERE workload_id = ?", [wid]
            ).fetchall()
            assert metric == "llama-bench:avg_ts" and mean == pytest.approx(row["avg_ts"])
        assert (n, source) == (len(row["samples_ts"]), "summary")
        checked += 1
    assert checked == len(rows) == 6  # pp64, tg16, pp32+tg8 at depths 0 and 16
    # The leaderboard view ranks them by the engine-timed rates (they have no per-call rate).
    board = con.sql(
        "SELECT workload_id, engine_prefill_tokens_per_sec, engine_decode_tokens_per_sec,"
        " source_tool FROM leaderboard"
    ).fetchall()
    by_id = {wid: (pp, tg, tool) for wid, pp, tg, tool in board}
    tg_row = next(r for r in rows if r["n_prompt"] == 0 and not r["n_depth"])
    _, tg, tool = by_id[f"llama-bench:tg{tg_row['n_gen']}"]
    assert tool == "llama-bench" and tg == pytest.approx(tg_row["avg_ts"], rel=1e-3)
    [(system,)] = con.sql("SELECT system_id FROM system_hardware").fetchall()
    assert system == probed.system_hardware.system_id


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_output_format_imports_and_validates(
    outputs: dict[str, Path], tmp_path: Path, fmt: str
) -> None:
    [(run, metadata)] = import_files(
        "llama-bench", [outputs[fmt]], ImportOptions(out_dir=tmp_path, probe=False)
    )
    assert [f.code for f in compile_run(run, Options(for_publication=True)).findings] == []
    assert metadata.source is not None and metadata.source.files[0].format == fmt
    rates = {a.workload_id: a for a in metadata.aggregates}
    assert set(rates) >= {"llama-bench:pp32", "llama-bench:tg8"} or fmt == "json"
    for stat in metadata.aggregates:
        assert stat.mapped == ("+" not in stat.workload_id)
        assert stat.mean is not None and stat.mean > 0
        # Only json and jsonl list the repetitions (samples_ns); csv, sql and md do not.
        assert (stat.n is None) == (fmt in ("csv", "sql", "md"))
        assert (stat.n is None) == (stat.samples == [])
    if fmt in ("csv", "sql", "md"):
        assert any("no per-repetition samples" in note for note in metadata.source.notes)
    else:
        assert metadata.started_at < (metadata.finished_at or "")
    # The file records the model's path; the run keeps its file name only (the markdown
    # table names the model by llama.cpp's description instead).
    model = embedded_model().path
    expected = "gemma3 270M Q4_K - Medium" if fmt == "md" else model.name
    assert metadata.cells[0].model == expected
    assert str(model.parent) not in (run / "metadata.json").read_text()
