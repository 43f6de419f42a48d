"""compare: synthetic run pairs with known truth get the right verdicts.

Run directories come from ``tests.synthetic.make_run`` (one warm call per cell), whose ledger is
then rewritten with the exact per-call samples a case needs; every written run is validated
against the schemas before it is compared.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from publisher import compare
from publisher.compare import CompareRequest, Pair, run_compare
from publisher.frontend.compile import Options, compile_run
from publisher.gates import METRICS, load_tolerances
from tests.synthetic import TIMEOUT_FAILURE, make_run

TOKENS = 50
START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _ts(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond:06d}Z"


def write_run(
    root: Path,
    ttft: Sequence[float],
    decode: Sequence[float],
    *,
    seed: int = 0,
    profile: str = "rtx4090",
    n_cells: int = 1,
    errors: int = 0,
    day: int = 0,
    system_id: str | None = None,
) -> Path:
    """A schema-valid synthetic run whose warm P-EASY calls have exactly these samples.

    ``ttft`` and ``decode`` are per-call milliseconds (total = ttft + decode, 50 tokens, so
    tokens/s follows); ``errors`` extra warm calls fail with a timeout. Same seed modulo 12
    → same engine and model, so runs with different profiles (host labels) still match.
    """
    run_dir = make_run(
        root,
        seed=seed,
        profile=profile,
        n_cells=n_cells,
        calls_per_cell=2,
        error_rate=0.0,
        started_at=START + timedelta(days=day),
        system_id=system_id,
    )
    lines = [json.loads(x) for x in (run_dir / "run.jsonl").read_text().splitlines()]
    meta, calls = lines[0], lines[1:]
    clock = START + timedelta(days=day, seconds=2)
    out: list[dict[str, Any]] = []
    for cell_id in meta["cells_planned"]:
        cold = next(c for c in calls if c["cell_id"] == cell_id and c["phase"] == "cold")
        warm = next(c for c in calls if c["cell_id"] == cell_id and c["phase"] == "warm")
        batch = [(cold, cold["first_delta_ms"], cold["total_duration_ms"] - cold["first_delta_ms"])]
        batch += [(warm, t, d) for t, d in zip(ttft, decode, strict=True)]
        batch += [(warm, None, None)] * errors
        for k, (template, t, d) in enumerate(batch):
            call = dict(template, run_idx=k, started_at=_ts(clock))
            if t is None or d is None:
                call.update(TIMEOUT_FAILURE)
                clock += timedelta(seconds=1)
            else:
                t, d = round(float(t), 3), round(float(d), 3)
                call.update(
                    first_delta_ms=t,
                    first_content_ms=t,
                    total_duration_ms=round(t + d, 3),
                    completion_tokens=TOKENS,
                    chunks=TOKENS,
                    error=None,
                    error_kind=None,
                    finish_reason="stop",
                    http_status=200,
                )
                total = call["total_duration_ms"]
                call["tokens_per_sec"] = TOKENS / ((total - t) / 1000.0)
                call["tpot_ms"] = (total - t) / (TOKENS - 1)
                clock += timedelta(milliseconds=total + 20)
            out.append(call)
    (run_dir / "run.jsonl").write_text(
        "".join(json.dumps(x, sort_keys=True) + "\n" for x in [meta, *out]), encoding="utf-8"
    )
    md = json.loads((run_dir / "metadata.json").read_text())
    ok = sum(1 for c in out if c["error"] is None)
    md["finished_at"] = md["updated_at"] = _ts(clock + timedelta(seconds=1))
    md["config"]["runs_per_cell"] = len(ttft) + errors
    md["summary"].update(calls_total=len(out), calls_ok=ok, calls_error=len(out) - ok)
    for cell in md["summary"]["cells"]:
        mine = [c for c in out if c["cell_id"] == cell["cell_id"]]
        cell.update(calls_total=len(mine), calls_ok=sum(1 for c in mine if c["error"] is None))
    for cell in md["run_hardware_metrics"]["cells"]:
        tokens = sum(c["completion_tokens"] or 0 for c in out if c["cell_id"] == cell["cell_id"])
        cell["output_tokens"] = tokens
        cell["joules_per_output_token"] = cell["energy_j"] / tokens
    (run_dir / "metadata.json").write_text(json.dumps(md, indent=2, sort_keys=True) + "\n")
    findings = compile_run(run_dir, Options(allow_synthetic=True)).findings
    assert [f.render() for f in findings if f.severity == "error"] == []
    return run_dir


def lognormal(seed: int, median: float, sigma: float, n: int) -> list[float]:
    """``n`` log-normal samples around ``median`` (deterministic)."""
    return [float(x) for x in np.random.default_rng(seed).lognormal(np.log(median), sigma, n)]


def write_pair(
    root: Path, ttft_factor: float, *, n: int = 20, sigma: float = 0.1, candidate_seed: int = 12
) -> tuple[Path, Path]:
    """Baseline and candidate runs; the candidate's latencies are scaled by ``ttft_factor``."""
    base = write_run(root / "b", lognormal(1, 100, sigma, n), lognormal(2, 400, sigma, n))
    cand = write_run(
        root / "c",
        [x * ttft_factor for x in lognormal(3, 100, sigma, n)],
        [x * ttft_factor for x in lognormal(4, 400, sigma, n)],
        seed=candidate_seed,
        profile="m2max",
        day=7,
    )
    return base, cand


def checks_of(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The regression checks by metric (for a report with one matched result)."""
    assert report["summary"]["matched"] == 1
    return {c["metric"]: c for c in report["regression_checks"]}


def _compare(base: Path, cand: Path) -> dict[str, Any]:
    return run_compare(CompareRequest((str(base), str(cand)), allow_synthetic=True))


def test_no_change_passes_without_flags(tmp_path: Path) -> None:
    report = _compare(*write_pair(tmp_path, 1.0))
    checks = checks_of(report)
    assert report["passed"] is True
    assert {c["status"] for c in checks.values()} == {"ok"}
    assert 0.9 < checks["ttft_p50_ms"]["ratio"] < 1.1
    assert checks["ttft_p50_ms"]["p_value"] is not None
    assert report["failure_diagnostics"] == []
    # matched by signature although the host labels (and so the cell ids) differ
    m = report["matched"][0]
    assert m["baseline_cell_id"] != m["candidate_cell_id"]


def test_forty_percent_slower_is_a_significant_regression(tmp_path: Path) -> None:
    report = _compare(*write_pair(tmp_path, 1.4))
    checks = checks_of(report)
    assert report["passed"] is False
    for metric in ("ttft_p50_ms", "total_p50_ms"):
        c = checks[metric]
        assert c["status"] == "regression" and c["passed"] is False
        assert c["p_value"] < 0.05 and c["low_n"] is False
        assert c["ratio_ci_low"] <= c["ratio"] <= c["ratio_ci_high"]
        assert c["ratio_ci_low"] > 1.0
    assert checks["success_rate"]["status"] == "ok"
    diags = {d["metric"]: d for d in report["failure_diagnostics"]}
    assert set(diags) == {"ttft_p50_ms", "total_p50_ms"}
    d = diags["ttft_p50_ms"]
    assert d["threshold"] == "ratio >= 1.3"
    assert d["observed"] == checks["ttft_p50_ms"]["candidate"]
    assert d["cell_id"].startswith("syn-m2max:") and d["baseline_cell_id"].startswith(
        "syn-rtx4090:"
    )
    assert "bakeoff run CELLS_FILE --runs 20" in d["hint"]
    assert "reference" not in d["hint"] and "§" not in d["hint"]
    assert "different systems" in d["hint"]


def test_forty_percent_faster_is_an_improvement_and_passes(tmp_path: Path) -> None:
    report = _compare(*write_pair(tmp_path, 0.6))
    checks = checks_of(report)
    assert report["passed"] is True
    assert checks["ttft_p50_ms"]["status"] == "improvement"
    assert checks["total_p50_ms"]["status"] == "improvement"
    assert checks["tokens_per_sec_mean"]["status"] == "improvement"  # 1/0.6 = +67%
    assert checks["ttft_p50_ms"]["p_value"] < 0.05
    assert report["summary"]["improvements"] == 3


def test_noisy_but_unchanged_is_not_flagged(tmp_path: Path) -> None:
    # Same wide distribution; the medians differ by more than 30% by chance.
    b_ttft = [50.0, 60.0, 70.0, 80.0, 100.0, 300.0, 400.0, 500.0]
    c_ttft = [40.0, 55.0, 65.0, 140.0, 150.0, 160.0, 450.0, 600.0]
    decode = [400.0] * 8
    base = write_run(tmp_path / "b", b_ttft, decode)
    cand = write_run(tmp_path / "c", c_ttft, decode, day=1)
    c = checks_of(_compare(base, cand))["ttft_p50_ms"]
    assert c["ratio"] >= 1.3  # beyond the threshold ...
    assert c["p_value"] >= 0.05  # ... but the test does not reject "no change"
    assert c["status"] == "not_significant" and c["passed"] is True


def test_too_few_samples_flag_on_threshold_alone(tmp_path: Path) -> None:
    report = _compare(*write_pair(tmp_path, 1.4, n=3))
    c = checks_of(report)["ttft_p50_ms"]
    assert c["n_baseline"] == c["n_candidate"] == 3
    assert c["low_n"] is True
    assert c["status"] == "regression"
    assert c["p_value"] is not None  # shown even though it does not decide
    assert report["passed"] is False
    assert "low n" in report["failure_diagnostics"][0]["message"]
    assert "low n, threshold only" in compare.render_text(report)


def test_success_rate_below_minimum_fails(tmp_path: Path) -> None:
    base = write_run(tmp_path / "b", lognormal(1, 100, 0.1, 10), [400.0] * 10)
    cand = write_run(tmp_path / "c", lognormal(1, 100, 0.1, 10), [400.0] * 10, errors=2, day=1)
    report = _compare(base, cand)
    c = checks_of(report)["success_rate"]
    assert c["candidate"] == pytest.approx(10 / 12, rel=1e-5)
    assert c["status"] == "below_minimum" and report["passed"] is False
    d = report["failure_diagnostics"][0]
    assert d["kind"] == "success_rate" and d["threshold"] == ">= 0.95"
    assert d["context"]["error_kinds"]["candidate"] == {"timeout": 2}
    assert "timeout: 2" in d["message"]


def test_unmatched_results_are_listed_never_compared(tmp_path: Path) -> None:
    base = write_run(tmp_path / "b", lognormal(1, 100, 0.1, 6), [400.0] * 6)
    # seed 12 + a second cell: cell 0 matches the baseline, cell 1 is another engine and model
    cand = write_run(
        tmp_path / "c", lognormal(2, 100, 0.1, 6), [400.0] * 6, seed=12, n_cells=2, day=1
    )
    report = _compare(base, cand)
    assert report["summary"]["matched"] == 1
    (u,) = report["unmatched"]
    assert u["side"] == "candidate"
    assert u["result"] not in {c["result"] for c in report["regression_checks"]}
    assert "no result with this workload" in u["reason"] or "different" in u["reason"]
    assert u["signature"] in compare.render_text(report)


def test_nothing_in_common_fails_with_a_diagnostic(tmp_path: Path) -> None:
    base = write_run(tmp_path / "b", [100.0] * 5, [400.0] * 5, seed=0)
    cand = write_run(tmp_path / "c", [100.0] * 5, [400.0] * 5, seed=1, day=1)
    report = _compare(base, cand)
    assert report["passed"] is False
    assert report["regression_checks"] == []
    assert [d["kind"] for d in report["failure_diagnostics"]] == ["no_match"]
    assert len(report["unmatched"]) == 2


def test_cell_selector_by_engine_and_model(tmp_path: Path) -> None:
    base = write_run(tmp_path / "b", [100.0] * 5, [400.0] * 5, n_cells=2)
    cand = write_run(tmp_path / "c", [100.0] * 5, [400.0] * 5, n_cells=2, day=1)
    full = _compare(base, cand)
    assert full["summary"]["matched"] == 2
    cell = full["matched"][0]["candidate_cell_id"]
    short = cell.partition(":")[2]  # engine:model, without the host label
    report = run_compare(
        CompareRequest((f"{base}:{short}", f"{cand}:{cell}"), allow_synthetic=True)
    )
    assert report["summary"]["matched"] == 1
    assert report["config"]["candidate"]["cell"] == cell
    with pytest.raises(compare.CompareError, match="is not in run"):
        run_compare(CompareRequest((f"{base}:nope:model", str(cand)), allow_synthetic=True))


def test_run_ids_resolve_through_the_archive(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    base = write_run(runs, [100.0] * 5, [400.0] * 5)
    cand = write_run(runs, [100.0] * 5, [400.0] * 5, seed=12, day=1)
    report = run_compare(
        CompareRequest((base.name, cand.name), runs_dir=runs, allow_synthetic=True)
    )
    assert report["config"]["baseline"]["run_id"] == base.name
    with pytest.raises(compare.RunNotFoundError, match=f"latest run ids there: {cand.name}"):
        compare.parse_ref("20990101T000000Z-00000000", runs)


def test_bootstrap_interval_is_deterministic_and_brackets_the_ratio() -> None:
    b, c = lognormal(1, 100, 0.3, 30), lognormal(2, 150, 0.3, 30)
    args = {"resamples": 2000, "seed": 7, "level": 0.95}
    low, high = compare.bootstrap_ratio_ci(b, c, "p50", **args)
    assert (low, high) == compare.bootstrap_ratio_ci(b, c, "p50", **args)
    assert low is not None and high is not None
    assert low < float(np.median(c) / np.median(b)) < high
    assert compare.bootstrap_ratio_ci([], c, "p50", **args) == (None, None)


def test_throughput_regression_uses_the_mean_and_lower_is_worse(tmp_path: Path) -> None:
    # Same TTFT, decode 1.6x slower → tokens/s 37.5% lower; total p50 up ~1.5x as well.
    ttft = lognormal(1, 100, 0.05, 10)
    base = write_run(tmp_path / "b", ttft, lognormal(2, 400, 0.05, 10))
    cand = write_run(tmp_path / "c", ttft, [x * 1.6 for x in lognormal(3, 400, 0.05, 10)], day=1)
    checks = checks_of(_compare(base, cand))
    tps = checks["tokens_per_sec_mean"]
    assert tps["statistic"] == "mean" and tps["better"] == "higher"
    assert tps["ratio"] < 0.7 and tps["status"] == "regression"
    assert tps["regression_threshold"] == 0.7 and tps["improvement_threshold"] == 1.3
    assert checks["ttft_p50_ms"]["status"] == "ok"


def test_threshold_is_inclusive() -> None:
    tols = load_tolerances()
    spec = METRICS["ttft_p50_ms"]

    def result(values: list[float]) -> compare.Result:
        return compare.Result(
            key="k",
            signature="s",
            workload_key="w",
            cell_id="h:e:m",
            engine="e",
            engine_version=None,
            model="m",
            model_digest=None,
            quantization=None,
            workload_id="P-EASY",
            max_tokens=64,
            temperature=0.0,
            concurrency=1,
            request_rate=None,
            n=len(values),
            errors=0,
            error_kinds={},
            samples={
                "first_delta_ms": values,
                "total_duration_ms": values,
                "tokens_per_sec": values,
            },
            cold_ttft_ms=None,
        )

    exactly = compare.relative_check(Pair(result([100.0] * 3), result([130.0] * 3)), spec, tols)
    below = compare.relative_check(Pair(result([100.0] * 3), result([129.0] * 3)), spec, tols)
    assert (exactly["status"], below["status"]) == ("regression", "ok")


def test_previous_picks_the_newest_earlier_run_of_the_same_system(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    write_run(runs, [100.0] * 5, [400.0] * 5, day=0)
    older = write_run(runs, [100.0] * 5, [400.0] * 5, day=1)
    write_run(runs, [100.0] * 5, [400.0] * 5, seed=12, profile="m2max", day=2)  # other system
    cand = write_run(tmp_path / "pr", [100.0] * 5, [400.0] * 5, day=3)
    write_run(runs, [100.0] * 5, [400.0] * 5, day=4)  # later: never a baseline
    request = CompareRequest(("previous", str(cand)), runs_dir=runs, allow_synthetic=True)
    report = run_compare(request)
    assert report["config"]["baseline"]["run_id"] == older.name
    first = write_run(tmp_path / "first", [100.0] * 5, [400.0] * 5, day=-1)
    with pytest.raises(compare.RunNotFoundError, match="no earlier comparable run of system"):
        run_compare(CompareRequest(("previous", str(first)), runs_dir=runs, allow_synthetic=True))


def test_open_loop_levels_are_results_of_their_own(tmp_path: Path) -> None:
    """Two rate levels of one workload (``concurrency`` null on both) are two results, each
    with its own calls, keyed and labelled by its rate; the old code merged them into one
    batch of both levels' calls under duplicate keys ``L-512-64/cNone/…``."""
    base = make_run(tmp_path / "b", seed=1, profile="rtx4090", with_load=True, error_rate=0.0)
    cand = make_run(tmp_path / "c", seed=1, profile="rtx4090", with_load=True, error_rate=0.0)
    report = _compare(base, cand)
    # identical runs, so no check may fail (not even a level whose batch is mis-assembled)
    assert report["summary"]["failed"] == 0, report["summary"]
    keys = [m["result"] for m in report["matched"]]
    assert len(keys) == len(set(keys)), keys
    assert not [k for k in keys if "cNone" in k], keys
    rated = [m for m in report["matched"] if m["request_rate"] is not None]
    # two cells × two rate levels (1 and 2 requests/s, four requests each)
    assert sorted({m["request_rate"] for m in rated}) == [1.0, 2.0]
    assert len(rated) == 4
    for m in rated:
        assert m["concurrency"] is None
        assert f"/r{m['request_rate']:g}/" in m["result"]
        assert report["metrics"][f"{m['result']}/n/candidate"] == 4
    ttft = {c["result"]: c for c in report["regression_checks"] if c["metric"] == "ttft_p50_ms"}
    assert all(ttft[m["result"]]["n_candidate"] == 4 for m in rated)
    assert "r1/" in compare.render_text(report)
