"""The front end on length workloads and load levels: keys, goodput, prefill, the InferenceX
view, the rules that guard them, and the exports that carry them."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from bakeoff import stats
from bakeoff.jsonio import dumps_line
from publisher import publish as pipeline
from publisher.frontend.compile import Options, compile_run
from publisher.frontend.derive import workload_key
from tests.publisher.test_validate import codes, edit_ledger, edit_metadata
from tests.synthetic import make_run

ALLOW = Options(allow_synthetic=True)


@pytest.fixture
def load_run(tmp_path: Path) -> Path:
    return make_run(tmp_path / "runs", seed=3, n_cells=1, calls_per_cell=6, with_load=True)


def _calls(run: Path) -> list[dict[str, Any]]:
    lines = (run / "run.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["type"] == "call"]


def test_a_run_with_levels_and_lengths_compiles_to_level_rows(load_run: Path) -> None:
    """One cells row per open-loop level (concurrency null, its rate), the length workload's
    targets, and goodput, request throughput, tail latencies and tokens/s per user that
    recompute from the calls."""
    artifact = compile_run(load_run, ALLOW)
    assert artifact.ok and artifact.findings == (), artifact.findings
    assert artifact.tables is not None
    rows = artifact.tables["cells"].to_pylist()
    levels = {r["request_rate"]: r for r in rows if r["request_rate"] is not None}
    assert sorted(levels) == [1.0, 2.0]
    calls = _calls(load_run)
    for rate, row in levels.items():
        assert row["concurrency"] is None and row["workload_id"] == "L-512-64"
        assert (row["input_tokens"], row["output_tokens"]) == (512, 64)
        assert (row["slo_ttft_ms"], row["slo_tpot_ms"]) == (200.0, 50.0)
        assert row["workload_kind"] == "length" and row["off_target_calls"] == 0
        mine = [c for c in calls if c.get("request_rate") == rate]
        assert row["n"] == len(mine) == 4
        starts = [_us(c["started_at"]) for c in mine]
        span = max(s + c["total_duration_ms"] * 1e3 for s, c in zip(starts, mine, strict=True))
        seconds = (span - min(starts)) / 1e6
        good = [c for c in mine if c["first_delta_ms"] <= 200 and c["tpot_ms"] <= 50]
        assert row["requests_per_sec"] == pytest.approx(4 / seconds)
        assert row["goodput_requests_per_sec"] == pytest.approx(len(good) / seconds)
        assert row["slo_attainment"] == pytest.approx(len(good) / 4)
        tpot = sorted(c["tpot_ms"] for c in mine)
        assert row["tpot_p50_ms"] == pytest.approx((tpot[1] + tpot[2]) / 2)
        assert row["tokens_per_sec_per_user"] == pytest.approx(1000 / row["tpot_p50_ms"])
        assert row["start_lag_p99_ms"] == stats.percentile([c["start_lag_ms"] for c in mine], 99)
        assert row["prefill_tokens_per_sec_p50"] is not None
        assert row["server_prefill_tokens_per_sec_p50"] is not None
    sequential = [r for r in rows if r["workload_id"] == "L-512-64" and r["concurrency"] == 1]
    assert {r["phase"] for r in sequential} == {"cold", "warm"}
    keys = {r["workload_key"] for r in rows if r["workload_id"] == "L-512-64"}
    assert len(keys) == 3  # sequential, 1 req/s, 2 req/s: never ranked together


def _us(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1e6


def test_workload_keys_of_other_workloads_do_not_change() -> None:
    """A frozen prompt's key hashes exactly the five fields it always did (history and
    leaderboards keep their keys); a length workload and a rate level add theirs."""
    old = {
        "workload_id": "P-EASY",
        "workload_sha256": "9" * 64,
        "max_tokens": 64,
        "temperature": 0.0,
        "concurrency": 1,
    }
    expected = hashlib.sha256(dumps_line(old).rstrip("\n").encode()).hexdigest()[:16]
    assert workload_key("P-EASY", "9" * 64, 64, 0.0, 1) == expected
    length = workload_key("L-512-64", "9" * 64, 64, 0.0, 1, input_tokens=512, output_tokens=64)
    other = workload_key("L-512-64", "9" * 64, 64, 0.0, 1, input_tokens=256, output_tokens=64)
    assert len({expected, length, other}) == 3
    rate = workload_key("P-EASY", "9" * 64, 64, 0.0, None, request_rate=2.0)
    assert rate != workload_key("P-EASY", "9" * 64, 64, 0.0, None, request_rate=1.0)


def test_goodput_is_null_without_an_slo(tmp_path: Path, load_run: Path) -> None:
    edit_metadata(load_run, lambda md: md["config"].update(slo=None))
    artifact = compile_run(load_run, ALLOW)
    assert artifact.tables is not None
    for row in artifact.tables["cells"].to_pylist():
        assert row["goodput_requests_per_sec"] is None and row["slo_attainment"] is None
        assert row["slo_ttft_ms"] is None


def test_a_call_on_two_levels_or_none_is_refused(load_run: Path) -> None:
    def both(records: list[dict[str, Any]]) -> None:
        next(r for r in records if r.get("request_rate")).update(concurrency=4)

    edit_ledger(load_run, both)
    assert "consistency.level" in codes(load_run)


def test_a_rate_that_was_not_configured_is_refused_unless_swept(load_run: Path) -> None:
    def unknown(records: list[dict[str, Any]]) -> None:
        for r in records:
            if r.get("request_rate") == 2.0:
                r["request_rate"] = 3.0

    edit_ledger(load_run, unknown)
    assert "consistency.level" in codes(load_run)
    edit_metadata(load_run, lambda md: md["config"].update(sweep=True, sweep_levels=4))
    assert "consistency.level" not in codes(load_run)


def test_a_call_without_a_level_is_refused(load_run: Path) -> None:
    def neither(records: list[dict[str, Any]]) -> None:
        next(r for r in records if r.get("request_rate")).update(request_rate=None)

    edit_ledger(load_run, neither)
    assert "consistency.level" in codes(load_run)


def test_a_prefill_rate_that_does_not_recompute_is_refused(load_run: Path) -> None:
    def wrong(records: list[dict[str, Any]]) -> None:
        call = next(r for r in records if r.get("prefill_tokens_per_sec"))
        call["prefill_tokens_per_sec"] *= 2

    edit_ledger(load_run, wrong)
    assert "consistency.prefill_rate" in codes(load_run)


def test_length_marks_must_agree_with_the_achieved_lengths(load_run: Path) -> None:
    def short(records: list[dict[str, Any]]) -> None:
        call = next(r for r in records if r.get("target_prompt_tokens"))
        call.update(
            completion_tokens=40,
            tokens_per_sec=40 / ((call["total_duration_ms"] - call["first_delta_ms"]) / 1000),
            tpot_ms=(call["total_duration_ms"] - call["first_delta_ms"]) / 39,
        )  # ended early, still marked on target

    edit_ledger(load_run, short)
    assert "consistency.length_target" in codes(load_run)


def test_length_targets_must_be_the_configured_ones(load_run: Path) -> None:
    def other(records: list[dict[str, Any]]) -> None:
        next(r for r in records if r.get("target_prompt_tokens")).update(target_prompt_tokens=256)

    edit_ledger(load_run, other)
    assert "consistency.length_target" in codes(load_run)


def test_exports_carry_goodput_and_both_prefill_rates(tmp_path: Path, load_run: Path) -> None:
    config = pipeline.PublishConfig(
        runs_dir=load_run.parent,
        out_dir=tmp_path / "out",
        catalogue_path=tmp_path / "catalogue.json",
        site_dir=None,
        allow_synthetic=True,
    )
    pipeline.publish(config)
    cells = pq.read_table(tmp_path / "out" / "exports" / "cells.parquet").to_pylist()
    rated = [r for r in cells if r["request_rate"] is not None]
    assert len(rated) == 2 and all(r["goodput_requests_per_sec"] is not None for r in rated)
    calls_dir = tmp_path / "out" / "exports" / "calls"
    calls = pq.read_table(next(calls_dir.rglob("*.parquet"))).to_pylist()
    lengths = [c for c in calls if c["prompt_id"] == "L-512-64"]
    assert lengths and all(c["prefill_tokens_per_sec"] is not None for c in lengths)
    assert all(c["server_prefill_tokens_per_sec"] is not None for c in lengths)
