"""The statistics of bakeoff, written once and used by every command (standard library only).

The collector (``run.md``, inter-token latency of a call) and the publisher (the ``cells``
table, ``bakeoff compare``) both call these functions, so a number never depends on which
command computed it. Definitions (the methodology page of the site says the same):

* Percentile: linear interpolation between closest ranks — numpy's default method, computed
  with numpy's own formula, so the bits agree with ``numpy.percentile``.
* Mean: the correctly rounded sum (``math.fsum``) over n, so the result does not depend on the
  order of the values.
* Standard deviation: sample (n − 1); None for fewer than two values.
* Outliers: counted with the 1.5×IQR rule (quartiles by the percentile above), never dropped.
* Aggregate tokens/s: Σ completion tokens of the successful calls ÷ (last end − first start).
* Request throughput and goodput: successful calls, and successful calls that met every
  latency objective (``meets_slo``), ÷ the same span.

Every function returns None instead of a non-finite number: nothing downstream (JSON, the
site, comparisons) can hold one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence


def finite(value: float | None) -> float | None:
    """``value`` when it is a finite number, else None."""
    return value if value is not None and math.isfinite(value) else None


def percentile_sorted(ordered: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0–100) of already sorted values; None when empty.

    numpy's "linear" method: virtual index (n − 1)·q/100 between the two closest ranks, and
    numpy's ``_lerp`` (interpolating from the nearer end), so results match ``np.percentile``.
    """
    n = len(ordered)
    if n == 0:
        return None
    index = (n - 1) * (q / 100.0)
    lo = math.floor(index)
    hi = min(lo + 1, n - 1)
    lo = min(lo, n - 1)
    gamma = index - lo
    a, b = ordered[lo], ordered[hi]
    diff = b - a
    value = b - diff * (1.0 - gamma) if gamma >= 0.5 else a + diff * gamma
    return finite(value)


def percentile(values: Iterable[float], q: float) -> float | None:
    """The ``q``-th percentile (0–100) of ``values`` (any order); None when empty."""
    return percentile_sorted(sorted(values), q)


def _fsum_over(values: Sequence[float], n: float) -> float | None:
    """Σ values / n; when the sum itself overflows, Σ (value / n) — never an exception."""
    try:
        return finite(math.fsum(values) / n)
    except OverflowError:
        try:
            return finite(math.fsum(v / n for v in values))
        except OverflowError:
            return None


def mean(values: Sequence[float]) -> float | None:
    """Arithmetic mean (correctly rounded sum ÷ n); None when empty."""
    if not values:
        return None
    return _fsum_over(values, len(values))


def stddev(values: Sequence[float]) -> float | None:
    """Sample standard deviation (n − 1); None for fewer than two values."""
    n = len(values)
    if n < 2:
        return None
    m = _fsum_over(values, n)
    if m is None:
        return None
    squares = [(v - m) * (v - m) for v in values]
    variance = _fsum_over(squares, n - 1) if all(map(math.isfinite, squares)) else None
    return None if variance is None else finite(math.sqrt(variance))


def iqr_outliers_sorted(ordered: Sequence[float], k: float = 1.5) -> int:
    """How many of the sorted values lie outside [Q1 − k·IQR, Q3 + k·IQR] (0 for n < 4)."""
    if len(ordered) < 4:
        return 0
    q1, q3 = percentile_sorted(ordered, 25), percentile_sorted(ordered, 75)
    if q1 is None or q3 is None:
        return 0
    spread = k * (q3 - q1)
    low, high = q1 - spread, q3 + spread
    return sum(1 for v in ordered if v < low or v > high)


def describe(values: Iterable[float], prefix: str, unit: str = "") -> dict[str, float | int | None]:
    """p50, p95, mean, std, min, max and outliers of ``values`` as ``<prefix>_<stat><unit>``."""
    ordered = sorted(values)
    return {
        f"{prefix}_p50{unit}": percentile_sorted(ordered, 50),
        f"{prefix}_p95{unit}": percentile_sorted(ordered, 95),
        f"{prefix}_mean{unit}": mean(ordered),
        f"{prefix}_std{unit}": stddev(ordered),
        f"{prefix}_min{unit}": finite(ordered[0]) if ordered else None,
        f"{prefix}_max{unit}": finite(ordered[-1]) if ordered else None,
        f"{prefix}_outliers": iqr_outliers_sorted(ordered),
    }


def aggregate_tokens_per_sec(spans: Iterable[tuple[int, float, int]]) -> float | None:
    """Σ tokens ÷ (last end − first start) in seconds, over ``(start_us, duration_ms, tokens)``
    of the successful calls of a batch; None when there is none or the span is not positive."""
    first: float | None = None
    last: float | None = None
    tokens = 0
    for start_us, duration_ms, n in spans:
        start = start_us / 1e6
        end = start + duration_ms / 1e3
        first = start if first is None else min(first, start)
        last = end if last is None else max(last, end)
        tokens += n
    if first is None or last is None:
        return None
    seconds = last - first
    return finite(tokens / seconds) if seconds > 0 else None


def span_seconds(spans: Iterable[tuple[int, float]]) -> float | None:
    """Last end − first start in seconds over ``(start_us, duration_ms)`` of calls; None when
    there is none or the span is not positive."""
    first: float | None = None
    last: float | None = None
    for start_us, duration_ms in spans:
        start = start_us / 1e6
        end = start + duration_ms / 1e3
        first = start if first is None else min(first, start)
        last = end if last is None else max(last, end)
    if first is None or last is None or not last > first:
        return None
    return finite(last - first)


def per_second(count: int, seconds: float | None) -> float | None:
    """``count`` ÷ ``seconds``; None without a positive span."""
    return finite(count / seconds) if seconds else None


def meets_slo(
    ttft_ms: float | None,
    tpot_ms: float | None,
    completion_tokens: int | None,
    slo_ttft_ms: float | None,
    slo_tpot_ms: float | None,
) -> bool:
    """Whether one successful call met the latency objectives that are set: TTFT ≤
    ``slo_ttft_ms`` and TPOT ≤ ``slo_tpot_ms``. A call with at most one output token has no
    TPOT and meets that objective (vLLM counts its TPOT as 0); one whose TPOT is unknown for
    another reason (no token count) does not."""
    if slo_ttft_ms is not None and (ttft_ms is None or ttft_ms > slo_ttft_ms):
        return False
    if slo_tpot_ms is not None and tpot_ms is None:
        return completion_tokens is not None and completion_tokens <= 1
    return slo_tpot_ms is None or (tpot_ms is not None and tpot_ms <= slo_tpot_ms)
