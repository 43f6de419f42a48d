"""The statistics every command shares (``bakeoff.stats``) and the batch statistics of the
``cells`` table (``publisher.frontend.derive``)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bakeoff import stats
from publisher.frontend.derive import batch_statistics, median_ci

finite = st.floats(-1e12, 1e12, allow_nan=False, allow_infinity=False)


@settings(max_examples=300, deadline=None)
@given(st.lists(finite, min_size=1, max_size=60), st.sampled_from([0, 5, 25, 50, 75, 95, 99, 100]))
def test_percentile_equals_numpy_bit_for_bit(values: list[float], q: float) -> None:
    """One implementation, and it is numpy's "linear" method to the last bit."""
    assert stats.percentile(values, q) == float(np.percentile(np.asarray(values), q))


def test_percentile_is_linear_interpolation() -> None:
    values = [1.0, 2.0, 3.0, 4.0, 10.0]
    assert stats.percentile(values, 50) == 3.0
    assert stats.percentile(values, 95) == pytest.approx(8.8)  # 4 + 0.8 * (10 - 4)
    assert stats.percentile([], 50) is None


@settings(max_examples=200, deadline=None)
@given(st.lists(finite, min_size=1, max_size=40), st.randoms())
def test_mean_does_not_depend_on_order(values: list[float], rnd: object) -> None:
    shuffled = list(values)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert stats.mean(values) == stats.mean(shuffled)


def test_stddev_uses_n_minus_one() -> None:
    assert stats.stddev([2.0, 4.0]) == pytest.approx(math.sqrt(2.0))
    assert stats.stddev([5.0]) is None


def test_huge_values_give_none_never_an_exception() -> None:
    """A 1e308 duration once raised OverflowError in the statistics (and crashed publish)."""
    assert stats.mean([1e308, 1e308]) == 1e308  # the sum overflows; the mean does not
    assert stats.stddev([1e308, -1e308]) is None  # the variance does: no finite answer
    assert stats.percentile([1e308, -1e308], 50) is None  # b − a overflows: no finite value
    assert stats.percentile([1e308, 9e307], 50) == pytest.approx(9.5e307)
    assert stats.aggregate_tokens_per_sec([(0, 1e308, 10), (10**15, 5.0, 10)]) is not None
    assert stats.aggregate_tokens_per_sec([(0, 0.0, 10)]) is None


def test_iqr_outliers_counted() -> None:
    assert stats.iqr_outliers_sorted(sorted([10.0, 11.0, 12.0, 11.5, 10.5, 100.0])) == 1
    assert stats.iqr_outliers_sorted([1.0, 2.0, 3.0]) == 0


def test_median_ci_is_deterministic_and_brackets_the_median() -> None:
    values = sorted(float(v) for v in np.random.default_rng(1).lognormal(4, 0.3, 40))
    low, high = median_ci(values)
    assert (low, high) == median_ci(values)
    assert low is not None and high is not None
    assert low <= float(np.median(values)) <= high
    assert median_ci([]) == (None, None)
    assert median_ci([7.0]) == (7.0, 7.0)


def _call(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {
        "error": None,
        "first_delta_ms": None,
        "total_duration_ms": None,
        "tokens_per_sec": None,
        "completion_tokens": None,
        "itl_p50_ms": None,
        "rouge1": None,
        "rouge2": None,
        "rougeL": None,
        "started_us": None,
        "tpot_ms": None,
        "itl_p95_ms": None,
        "start_lag_ms": None,
        "prompt_tokens": None,
        "prefill_tokens_per_sec": None,
        "server_prefill_tokens_per_sec": None,
        "length_off_target": None,
    }
    return {**base, **fields}


def batch_of(calls: list[dict[str, object]]) -> dict[str, object]:
    """``batch_statistics`` of call dicts (columns built from them)."""
    names = [k for k in calls[0] if k != "started_us"]
    columns = {name: [c[name] for c in calls] for name in names}
    starts = [c["started_us"] for c in calls]
    return batch_statistics(columns, starts, range(len(calls)))  # type: ignore[arg-type]


def test_batch_statistics_count_errors_and_aggregate_rate() -> None:
    second = 10**6
    calls = [
        _call(
            first_delta_ms=50.0 + i,
            total_duration_ms=500.0 + i,
            tokens_per_sec=100.0,
            completion_tokens=45,
            started_us=(i + 1) * second,
        )
        for i in range(4)
    ]
    calls.append(_call(error="timeout", started_us=9 * second))
    row = batch_of(calls)
    assert (row["n"], row["errors"], row["success_rate"]) == (5, 1, 0.8)
    assert row["ttft_p50_ms"] == 51.5
    assert row["tokens_per_sec_mean"] == 100.0
    # 4 calls x 45 tokens between 1 s and 4.503 s
    assert row["aggregate_tokens_per_sec"] == pytest.approx(180 / 3.503)
    single = batch_of([_call(first_delta_ms=900.0, total_duration_ms=1500.0)])
    assert (single["n"], single["ttft_p50_ms"], single["ttft_std_ms"]) == (1, 900.0, None)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=30))
def test_statistics_are_ordered(values: list[float]) -> None:
    row = batch_of([_call(first_delta_ms=v, total_duration_ms=v + 1) for v in values])
    assert row["ttft_min_ms"] <= row["ttft_p50_ms"] <= row["ttft_p95_ms"] <= row["ttft_max_ms"]
    assert row["ttft_p50_ci_low_ms"] <= row["ttft_p50_ci_high_ms"]
    assert 0 <= row["ttft_outliers"] <= len(values)
