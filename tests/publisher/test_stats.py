"""stats: the batch statistics of metrics.md."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from publisher import stats


def test_percentile_is_numpy_linear() -> None:
    values = [1.0, 2.0, 3.0, 4.0, 10.0]
    assert stats.percentile(values, 50) == 3.0
    assert stats.percentile(values, 95) == pytest.approx(8.8)  # 4 + 0.8 * (10 - 4)
    assert stats.percentile([], 50) is None


def test_stddev_uses_n_minus_one() -> None:
    assert stats.stddev([2.0, 4.0]) == pytest.approx(np.sqrt(2.0))
    assert stats.stddev([5.0]) is None


def test_bootstrap_ci_is_deterministic_and_brackets_the_median() -> None:
    values = [float(v) for v in np.random.default_rng(1).lognormal(4, 0.3, 40)]
    low, high = stats.bootstrap_median_ci(values)
    assert (low, high) == stats.bootstrap_median_ci(values)
    assert low is not None and high is not None
    assert low <= float(np.median(values)) <= high
    assert stats.bootstrap_median_ci([]) == (None, None)
    assert stats.bootstrap_median_ci([7.0]) == (7.0, 7.0)


def test_iqr_outliers_counted() -> None:
    assert stats.iqr_outliers([10.0, 11.0, 12.0, 11.5, 10.5, 100.0]) == 1
    assert stats.iqr_outliers([1.0, 2.0, 3.0]) == 0


def test_aggregate_cells_groups_and_counts_errors() -> None:
    base = {"run_id": "r", "cell_id": "c", "workload_id": "P-EASY", "concurrency": 1}
    calls = [
        {
            **base,
            "phase": "cold",
            "first_delta_ms": 900.0,
            "total_duration_ms": 1500.0,
            "error": None,
            "started_at": "2026-01-01T00:00:00Z",
        },
        *[
            {
                **base,
                "phase": "warm",
                "first_delta_ms": 50.0 + i,
                "total_duration_ms": 500.0 + i,
                "tokens_per_sec": 100.0,
                "completion_tokens": 45,
                "error": None,
                "started_at": f"2026-01-01T00:00:0{i + 1}Z",
            }
            for i in range(4)
        ],
        {
            **base,
            "phase": "warm",
            "first_delta_ms": None,
            "total_duration_ms": None,
            "error": "timeout",
            "started_at": "2026-01-01T00:00:09Z",
        },
    ]
    rows = stats.aggregate_cells(calls)
    assert [r["phase"] for r in rows] == ["cold", "warm"]
    cold, warm = rows
    assert (cold["n"], cold["ttft_p50_ms"], cold["ttft_std_ms"]) == (1, 900.0, None)
    assert (warm["n"], warm["errors"], warm["success_rate"]) == (5, 1, 0.8)
    assert warm["ttft_p50_ms"] == 51.5
    assert warm["tokens_per_sec_mean"] == 100.0
    # 4 calls x 45 tokens between 00:00:01 and 00:00:04.503
    assert warm["aggregate_tokens_per_sec"] == pytest.approx(180 / 3.503)


@settings(settings.get_profile("publisher"), max_examples=100)
@given(st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=30))
def test_describe_orders_statistics(values: list[float]) -> None:
    d = stats.describe(values, "x")
    assert d["x_min"] <= d["x_p50"] <= d["x_p95"] <= d["x_max"]
    assert d["x_p50_ci_low"] <= d["x_p50_ci_high"]
    assert 0 <= d["x_outliers"] <= len(values)
