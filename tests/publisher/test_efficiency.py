"""Roofline efficiency, its plausibility check, energy and cost per token, and the
microbenchmarks table: computed where their inputs exist, null with a reason where not."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from publisher import publish as pipeline
from publisher.errors import RunsInvalidError
from publisher.frontend.compile import Options, compile_run
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


def cells(run: Path, **options: Any) -> list[dict[str, Any]]:
    artifact = compile_run(run, Options(allow_synthetic=True, **options))
    assert artifact.tables is not None, artifact.findings
    rows: list[dict[str, Any]] = artifact.tables["cells"].to_pylist()
    return rows


def test_roofline_efficiency_is_decode_bytes_over_measured_bandwidth(tmp_path: Path) -> None:
    run = make_run(tmp_path, seed=3, profile="pi5", bench_gbs=20.0)
    for row in cells(run):
        expected = row["tokens_per_sec_mean"] * 247_000_000 / 20e9
        assert row["bandwidth_efficiency"] == pytest.approx(expected)
        assert row["roofline_reason"] is None and row["memory_bandwidth_gbs"] == 20.0


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"profile": "pi5"}, "no hardware microbenchmark"),
        ({"profile": "rtx4090", "bench_gbs": 20.0}, "a GPU host"),
    ],
)
def test_without_its_inputs_the_efficiency_is_null_with_a_reason(
    tmp_path: Path, kwargs: dict[str, Any], reason: str
) -> None:
    for row in cells(make_run(tmp_path, seed=3, **kwargs)):
        assert row["bandwidth_efficiency"] is None
        assert reason in row["roofline_reason"]


def test_a_mixture_of_experts_model_has_no_dense_roofline(tmp_path: Path) -> None:
    run = make_run(tmp_path, seed=3, profile="pi5", bench_gbs=20.0)
    md = json.loads((run / "metadata.json").read_text())
    for cell in md["cells"]:
        cell["model_expert_count"] = 8
    (run / "metadata.json").write_text(json.dumps(md))
    assert {r["roofline_reason"] for r in cells(run)} == {
        "a mixture-of-experts model reads only its active experts"
    }


def _claim_faster(run: Path, factor: float) -> None:
    """Edit the ledger so every call claims ``factor``× the decode rate it measured."""
    lines = [json.loads(x) for x in (run / "run.jsonl").read_text().splitlines()]
    for rec in lines:
        if rec["type"] == "call" and rec["tokens_per_sec"] is not None:
            decode = rec["total_duration_ms"] - rec["first_delta_ms"]
            rec["total_duration_ms"] = round(rec["first_delta_ms"] + decode / factor, 3)
            tokens = rec["completion_tokens"]
            rec["tokens_per_sec"] = tokens / (
                (rec["total_duration_ms"] - rec["first_delta_ms"]) / 1e3
            )
    (run / "run.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))


def test_a_run_claiming_ten_times_the_plausible_rate_is_flagged(tmp_path: Path) -> None:
    # 20 GB/s and a 247 MB model allow ~81 tokens/s; the pi5 profile decodes ~9-12 tokens/s,
    # so 10x the measured rate is about 1.3x the roofline.
    run = make_run(tmp_path, seed=3, profile="pi5", bench_gbs=20.0)
    _claim_faster(run, 10.0)
    artifact = compile_run(run, Options(allow_synthetic=True))
    flagged = [f for f in artifact.findings if f.code == "plausibility.roofline"]
    assert flagged and all(f.severity == "warning" for f in flagged)
    assert "GB/s read" in flagged[0].message and "20 GB/s this run measured" in flagged[0].message
    strict = compile_run(run, Options(allow_synthetic=True, for_publication=True))
    assert not strict.ok
    assert {f.severity for f in strict.findings if f.code == "plausibility.roofline"} == {"error"}
    runs = run.parent
    config = pipeline.PublishConfig(runs, tmp_path / "out", tmp_path / "c.json", None, True)
    with pytest.raises(RunsInvalidError):
        pipeline.publish(config)


def test_cost_and_energy_per_token(tmp_path: Path) -> None:
    run = make_run(tmp_path, seed=3, profile="pi5", cost_inputs=PRICES)
    for row in cells(run):
        hourly = 80.0 / (3.0 * 8766)
        per_token = hourly / 3600 / row["aggregate_tokens_per_sec"]
        per_token += row["joules_per_output_token"] / 3.6e6 * 0.3
        assert row["cost_per_million_tokens"] == pytest.approx(per_token * 1e6)
        assert (row["cost_currency"], row["cost_reason"]) == ("EUR", None)
        assert row["tokens_per_joule"] == pytest.approx(1 / row["joules_per_output_token"])
    for row in cells(make_run(tmp_path / "free", seed=3, profile="pi5")):
        assert row["cost_per_million_tokens"] is None and row["cost_currency"] is None
        assert "no prices stated" in row["cost_reason"]


def test_benchmarks_are_exported_and_the_latest_measured_wins_per_system(
    tmp_path: Path,
) -> None:
    runs = tmp_path / "runs"
    system = "33333333-2222-4333-8444-555555555555"
    day = lambda d: datetime(2026, 4, d, tzinfo=UTC)  # noqa: E731
    make_run(runs, seed=1, profile="pi5", system_id=system, bench_gbs=18.0, started_at=day(1))
    make_run(runs, seed=13, profile="pi5", system_id=system, bench_gbs=21.0, started_at=day(2))
    make_run(runs, seed=25, profile="pi5", system_id=system, started_at=day(3))  # no --bench
    pipeline.publish(
        pipeline.PublishConfig(runs, tmp_path / "out", tmp_path / "c.json", None, True)
    )
    exports = tmp_path / "out" / "exports"
    bench = pq.read_table(exports / "benchmarks.parquet")
    assert bench.num_rows == 8  # 4 results x 2 runs
    (system_row,) = pq.read_table(exports / "system_hardware.parquet").to_pylist()
    assert system_row["memory_bandwidth_gbs"] == 21.0
    assert system_row["matmul_fp32_gflops"] == 40.0
    assert system_row["benchmarks_run_id"] != system_row["snapshot_run_id"]
