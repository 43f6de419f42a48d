"""Batch statistics, as defined in ``metrics.md``; small pure functions (``compare`` reuses them).

* Percentiles: numpy's default linear interpolation between closest ranks.
* Standard deviation: sample (n − 1); None for fewer than two values.
* Confidence: 95% bootstrap interval of the median, with a fixed seed (deterministic).
* Outliers: counted with the 1.5×IQR rule, never dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt

BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 20261123
CI_LEVEL = 0.95


def clean(values: Iterable[Any]) -> list[float]:
    """The numeric, non-null values of ``values`` as floats (bools excluded)."""
    return [float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)]


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0–100) by linear interpolation; None when empty."""
    if not values:
        return None
    return float(np.percentile(np.asarray(values, dtype=float), q))


def mean(values: Sequence[float]) -> float | None:
    """Arithmetic mean; None when empty."""
    return float(np.mean(values)) if values else None


def stddev(values: Sequence[float]) -> float | None:
    """Sample standard deviation (n − 1); None for fewer than two values."""
    return float(np.std(values, ddof=1)) if len(values) >= 2 else None


_ROW_BLOCK_ELEMENTS = 2_000_000  # resample rows are drawn in blocks of at most this many values


@cache
def median_ranks(
    n: int, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Ranks (into the sorted sample) of the two middle values of every bootstrap resample.

    A resample draws ``n`` ranks uniformly with replacement; its median is the mean of the
    sorted sample at the two returned ranks (the same rank twice for odd ``n``). The draws
    depend only on ``n`` and the seed, so they are computed once per sample size: the interval
    of a batch then costs a sort and a gather instead of ``resamples`` medians of ``n`` values.
    """
    rng = np.random.default_rng(seed)
    low = np.empty(resamples, dtype=np.intp)
    high = np.empty(resamples, dtype=np.intp)
    block = max(1, _ROW_BLOCK_ELEMENTS // max(n, 1))
    for start in range(0, resamples, block):
        rows = min(block, resamples - start)
        draws = np.sort(rng.integers(0, n, size=(rows, n)), axis=1)
        low[start : start + rows] = draws[:, (n - 1) // 2]
        high[start : start + rows] = draws[:, n // 2]
    low.flags.writeable = False
    high.flags.writeable = False
    return low, high


def bootstrap_median_ci(
    values: Sequence[float],
    *,
    resamples: int = BOOTSTRAP_RESAMPLES,
    level: float = CI_LEVEL,
    seed: int = BOOTSTRAP_SEED,
) -> tuple[float | None, float | None]:
    """Percentile-bootstrap interval of the median; same input, same interval."""
    if not values:
        return None, None
    data = np.sort(np.asarray(values, dtype=float))
    if len(data) == 1:
        return float(data[0]), float(data[0])
    return bootstrap_median_ci_sorted(
        data[np.newaxis, :], resamples=resamples, level=level, seed=seed
    )[0]


def bootstrap_median_ci_sorted(
    samples: npt.NDArray[np.float64],
    *,
    resamples: int = BOOTSTRAP_RESAMPLES,
    level: float = CI_LEVEL,
    seed: int = BOOTSTRAP_SEED,
) -> list[tuple[float, float]]:
    """``bootstrap_median_ci`` of each row of ``samples`` (rows sorted, all of one length ≥ 2).

    Vectorised across rows; gives the same intervals as calling ``bootstrap_median_ci`` per row.
    """
    low_rank, high_rank = median_ranks(samples.shape[1], resamples, seed)
    alpha = (1.0 - level) / 2.0
    out: list[tuple[float, float]] = []
    step = max(1, 4_000_000 // resamples)
    for start in range(0, samples.shape[0], step):
        chunk = samples[start : start + step]
        medians = (chunk[:, low_rank] + chunk[:, high_rank]) / 2.0
        bounds = np.percentile(medians, [100 * alpha, 100 * (1 - alpha)], axis=1)
        out.extend(zip(bounds[0].tolist(), bounds[1].tolist(), strict=True))
    return out


def iqr_outliers(values: Sequence[float], k: float = 1.5) -> int:
    """How many values lie outside [Q1 − k·IQR, Q3 + k·IQR]."""
    if len(values) < 4:
        return 0
    data = np.asarray(values, dtype=float)
    q1, q3 = np.percentile(data, [25, 75])
    spread = k * (q3 - q1)
    return int(np.count_nonzero((data < q1 - spread) | (data > q3 + spread)))


def describe(values: Sequence[float], prefix: str, unit: str = "") -> dict[str, Any]:
    """p50, p95, mean, std, min, max, CI of the median and outliers as ``<prefix>_<stat>``."""
    low, high = bootstrap_median_ci(values)
    return {
        f"{prefix}_p50{unit}": percentile(values, 50),
        f"{prefix}_p95{unit}": percentile(values, 95),
        f"{prefix}_mean{unit}": mean(values),
        f"{prefix}_std{unit}": stddev(values),
        f"{prefix}_min{unit}": min(values) if values else None,
        f"{prefix}_max{unit}": max(values) if values else None,
        f"{prefix}_p50_ci_low{unit}": low,
        f"{prefix}_p50_ci_high{unit}": high,
        f"{prefix}_outliers": iqr_outliers(values),
    }


def _parse_ts(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def aggregate_tokens_per_sec(calls: Sequence[Mapping[str, Any]]) -> float | None:
    """Σ completion tokens / (last end − first start) over successful calls, per second."""
    spans: list[tuple[datetime, datetime]] = []
    tokens = 0
    for c in calls:
        start = _parse_ts(c.get("started_at"))
        total = c.get("total_duration_ms")
        if start is None or total is None or c.get("error") is not None:
            continue
        spans.append((start, start + timedelta(milliseconds=float(total))))
        tokens += int(c.get("completion_tokens") or 0)
    if not spans:
        return None
    seconds = (max(e for _, e in spans) - min(s for s, _ in spans)).total_seconds()
    return tokens / seconds if seconds > 0 else None


GROUP_KEY = ("run_id", "cell_id", "workload_id", "concurrency", "phase")


def aggregate_batch(calls: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The statistics columns of one (run, cell, workload, concurrency, phase) batch."""
    ok = [c for c in calls if c.get("error") is None]
    n = len(calls)
    row: dict[str, Any] = {
        "n": n,
        "errors": n - len(ok),
        "success_rate": len(ok) / n if n else None,
    }
    ttft = describe(clean(c.get("first_delta_ms") for c in ok), "ttft", "_ms")
    total = describe(clean(c.get("total_duration_ms") for c in ok), "total", "_ms")
    total.pop("total_p50_ci_low_ms")
    total.pop("total_p50_ci_high_ms")
    row.update(ttft)
    row.update(total)
    tps = clean(c.get("tokens_per_sec") for c in ok)
    row["tokens_per_sec_mean"] = mean(tps)
    row["tokens_per_sec_p50"] = percentile(tps, 50)
    row["completion_tokens_mean"] = mean(clean(c.get("completion_tokens") for c in ok))
    row["itl_p50_ms"] = percentile(clean(c.get("itl_p50_ms") for c in ok), 50)
    row["aggregate_tokens_per_sec"] = aggregate_tokens_per_sec(calls)
    for metric in ("rouge1", "rouge2", "rougeL"):
        scores = clean(c.get(metric) for c in ok)
        row[f"{metric}_mean"] = mean(scores)
        row[f"{metric}_std"] = stddev(scores)
    return row


def _sort_key(key: tuple[Any, ...]) -> tuple[tuple[int, Any], ...]:
    # Numbers sort numerically, everything else as text; None first.
    return tuple(
        (0, "") if v is None else (1, v) if isinstance(v, int) else (2, str(v)) for v in key
    )


def aggregate_cells(calls: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per ``GROUP_KEY`` batch of call dicts (key columns + statistics), sorted."""
    groups: dict[tuple[Any, ...], list[Mapping[str, Any]]] = {}
    for c in calls:
        groups.setdefault(tuple(c.get(k) for k in GROUP_KEY), []).append(c)
    rows = []
    for key in sorted(groups, key=_sort_key):
        row = dict(zip(GROUP_KEY, key, strict=True))
        row.update(aggregate_batch(groups[key]))
        rows.append(row)
    return rows
