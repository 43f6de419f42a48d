"""Open-loop load: the Poisson arrival schedule of a rate level and the rates of a sweep.

Pure functions (standard library only); the runner sends the requests. Definitions are on the
methodology page ("Open-loop load").
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence


def arrival_offsets(n: int, rate: float, seed: int) -> list[float]:
    """When each of ``n`` requests of a level at ``rate`` requests/s is sent, in seconds after
    the level starts: the first at 0, then exponential gaps (a Poisson process) drawn from
    ``random.Random(seed)``, scaled so that their mean is exactly ``1 / rate``.

    The scaling conditions the process on its last arrival (the gaps keep their exponential
    shape, as uniform order statistics), so every level offers exactly its rate and two runs
    with the same seed send on the same schedule; one seed gives every rate the same pattern,
    stretched.
    """
    if n < 1 or not rate > 0 or not math.isfinite(rate):
        raise ValueError(f"need n ≥ 1 and a finite rate > 0, got n={n}, rate={rate}")
    if n == 1:
        return [0.0]
    rng = random.Random(seed)
    gaps = [rng.expovariate(1.0) for _ in range(n - 1)]
    scale = (n - 1) / rate / math.fsum(gaps)
    offsets = [0.0]
    elapsed = 0.0
    for gap in gaps:
        elapsed += gap * scale
        offsets.append(elapsed)
    return offsets


def request_rate(spans: Sequence[tuple[int, int]]) -> float | None:
    """Requests per second over ``(start_ns, end_ns)`` spans: their count ÷ (last end − first
    start); None when there is none or the span is not positive."""
    if not spans:
        return None
    first = min(s for s, _ in spans)
    last = max(e for _, e in spans)
    return len(spans) / ((last - first) / 1e9) if last > first else None


def sweep_rates(synchronous: float, saturated: float, levels: int) -> list[float]:
    """``levels`` request rates spaced evenly strictly between the synchronous rate (one
    request at a time) and the saturated rate (everything at once), each rounded to four
    significant digits. The saturated end is taken as at least 1.1 × the synchronous one, so
    that an engine that does not batch still gets levels that load it past one stream."""
    if levels < 1 or not synchronous > 0:
        raise ValueError(f"need levels ≥ 1 and a synchronous rate > 0, got {synchronous}")
    top = max(saturated, 1.1 * synchronous)
    step = (top - synchronous) / (levels + 1)
    return [_significant(synchronous + step * i, 4) for i in range(1, levels + 1)]


def _significant(value: float, digits: int) -> float:
    if value == 0:
        return 0.0
    return round(value, digits - 1 - math.floor(math.log10(abs(value))))
