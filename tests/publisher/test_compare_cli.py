"""``bakeoff compare``: exit codes, messages, budget mode, gate files and the golden report."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bakeoff.cli import main
from bakeoff.resources import load_schema
from publisher.gates import load_budgets, load_tolerances
from tests.publisher.test_compare import lognormal, write_pair, write_run

GOLDEN = Path(__file__).parent / "golden" / "compare_report.json"


def bakeoff(*args: str) -> Result:
    """Run the ``bakeoff`` console script in-process."""
    return CliRunner().invoke(main, list(args))


def test_passing_comparison_exits_0_even_with_check(tmp_path: Path) -> None:
    base, cand = write_pair(tmp_path, 1.0, n=6)
    out = tmp_path / "report.json"
    res = bakeoff(
        "compare", str(base), str(cand), "--allow-synthetic", "--check", "--output", str(out)
    )
    assert res.exit_code == 0, res.output
    assert "PASSED" in res.output and "TTFT p50 (ms)" in res.output
    report = json.loads(out.read_text())
    assert report["passed"] is True
    assert set(report) >= {"config", "metrics", "regression_checks", "failure_diagnostics"}


def test_regression_exits_1_only_with_check(tmp_path: Path) -> None:
    base, cand = write_pair(tmp_path, 1.4, n=6)
    plain = bakeoff("compare", str(base), str(cand), "--allow-synthetic")
    assert plain.exit_code == 0, plain.output
    assert "FAILED" in plain.output and "REGRESSION" in plain.output
    gated = bakeoff("compare", str(base), str(cand), "--allow-synthetic", "--check")
    assert gated.exit_code == 1
    assert "what to do:" in gated.output


def test_missing_run_id_is_a_clear_error(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    res = bakeoff(
        "compare", "20260101T000000Z-deadbeef", "20260102T000000Z-deadbeef", "--runs", str(runs)
    )
    assert res.exit_code == 1
    assert "run '20260101T000000Z-deadbeef' not found" in res.output
    assert "--runs DIR" in res.output
    assert "Traceback" not in res.output


@pytest.mark.parametrize(
    "args",
    [
        ["only-one"],
        ["a", "b", "c"],
        ["--gate-mode", "budget", "a", "b"],
        ["--gate-mode", "fastest", "a", "b"],
        ["a", "b", "--budgets", "x.json"],
        ["--gate-mode", "budget", "a", "--tolerances", "x.json"],
    ],
)
def test_usage_errors_exit_2(args: list[str]) -> None:
    res = bakeoff("compare", *args)
    assert res.exit_code == 2, res.output


def test_invalid_run_is_refused_with_its_findings(tmp_path: Path) -> None:
    base, cand = write_pair(tmp_path, 1.0, n=5)
    res = bakeoff("compare", str(base), str(cand))  # synthetic runs without --allow-synthetic
    assert res.exit_code == 1
    assert "consistency.synthetic" in res.output
    assert f"run {base.name} failed validation" in res.output
    assert "--allow-synthetic" in res.output


def test_budget_mode_checks_the_candidate_alone(tmp_path: Path) -> None:
    cand = write_run(tmp_path / "c", lognormal(1, 100, 0.1, 6), [400.0] * 6)
    ok = bakeoff("compare", "--gate-mode", "budget", str(cand), "--allow-synthetic", "--check")
    assert ok.exit_code == 0, ok.output
    budgets = tmp_path / "budgets.json"
    budgets.write_text(
        json.dumps(
            {
                "schema_version": 1,
                "defaults": {"ttft_p50_ms": {"max": 1000.0}, "success_rate": {"min": 0.99}},
                "workloads": {"P-EASY": {"ttft_p50_ms": {"max": 50.0}}},
            }
        )
    )
    out = tmp_path / "budget.json"
    res = bakeoff(
        "compare",
        "--gate-mode",
        "budget",
        str(cand),
        "--allow-synthetic",
        "--check",
        "--budgets",
        str(budgets),
        "--output",
        str(out),
    )
    assert res.exit_code == 1, res.output
    assert "OVER BUDGET" in res.output
    report = json.loads(out.read_text())
    assert "regression_checks" not in report and report["config"]["baseline"] is None
    by_metric = {c["metric"]: c for c in report["budget_checks"]}
    assert by_metric["ttft_p50_ms"]["source"] == "workloads.P-EASY"
    assert by_metric["ttft_p50_ms"]["max"] == 50.0 and not by_metric["ttft_p50_ms"]["passed"]
    assert by_metric["success_rate"]["passed"]
    (diag,) = report["failure_diagnostics"]
    assert diag["kind"] == "budget" and diag["threshold"] == "<= 50.0"
    assert diag["observed"] == by_metric["ttft_p50_ms"]["observed"]
    assert diag["cell_id"] in diag["message"] and str(budgets) in diag["message"]


def test_gate_files_refuse_newer_versions_and_bad_content(tmp_path: Path) -> None:
    base, cand = write_pair(tmp_path, 1.0, n=5)
    newer = tmp_path / "tolerances.json"
    newer.write_text(json.dumps({"schema_version": 2, "metrics": {}}))
    res = bakeoff("compare", str(base), str(cand), "--allow-synthetic", "--tolerances", str(newer))
    assert res.exit_code == 1
    assert "schema_version 2, newer than this bakeoff understands" in res.output
    bad = tmp_path / "budgets.json"
    bad.write_text(json.dumps({"schema_version": 1, "defaults": {"ttft_p50_ms": {}}}))
    res = bakeoff(
        "compare", "--gate-mode", "budget", str(cand), "--allow-synthetic", "--budgets", str(bad)
    )
    assert res.exit_code == 1
    assert "defaults/ttft_p50_ms" in res.output and "max or min" in res.output


def test_bundled_gate_files_match_their_schemas() -> None:
    import jsonschema

    from bakeoff.resources import load_seed

    for name, seed in (("seed-tolerances", "tolerances.json"), ("seed-budgets", "budgets.json")):
        jsonschema.validate(load_seed(seed), load_schema(name))
    tols = load_tolerances()
    assert (tols.alpha, tols.min_n, tols.metrics.success_rate.min) == (0.05, 5, 0.95)
    assert tols.metrics.ttft_p50_ms.max_regression == 0.3
    assert load_budgets().defaults


def test_report_matches_golden_file(tmp_path: Path) -> None:
    """Regenerate with BAKEOFF_UPDATE_GOLDEN=1 after an intended change, then review the diff.

    One matched result 40% slower with one failed call (regressions + success rate), and one
    candidate cell without a baseline (unmatched).
    """
    base = write_run(tmp_path / "b", lognormal(1, 100, 0.1, 8), lognormal(2, 400, 0.1, 8))
    cand = write_run(
        tmp_path / "c",
        [x * 1.4 for x in lognormal(9, 100, 0.1, 8)],
        [x * 1.4 for x in lognormal(10, 400, 0.1, 8)],
        seed=12,
        profile="m2max",
        n_cells=2,
        errors=1,
        day=7,
    )
    out = tmp_path / "report.json"
    res = bakeoff("compare", str(base), str(cand), "--allow-synthetic", "--output", str(out))
    assert res.exit_code == 0, res.output
    text = out.read_text(encoding="utf-8")
    if os.environ.get("BAKEOFF_UPDATE_GOLDEN"):
        GOLDEN.write_text(text, encoding="utf-8")
    assert text == GOLDEN.read_text(encoding="utf-8")
    assert str(tmp_path) not in text
    report = json.loads(text)
    assert report["passed"] is False
    assert {d["kind"] for d in report["failure_diagnostics"]} == {"regression", "success_rate"}
    assert len(report["unmatched"]) == 1
