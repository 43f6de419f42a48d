"""What every microbenchmark shares: its budget, how repetitions are timed, and its result row.

A kernel is timed as STREAM times it: one untimed warm-up (page faults, library start-up), then
repetitions, each reported as a rate (work ÷ seconds) so that min, median and max show the
spread. A repetition runs the kernel ``inner`` times back to back, ``inner`` chosen from the
warm-up so that a repetition lasts at least ``min_rep_s`` — a 1 ms kernel timed alone would
mostly measure the clock and the thread hand-off.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from collector.models import BenchmarkResult

MIB = 1024**2


@dataclass(frozen=True)
class BenchConfig:
    """Sizes and time budgets of ``--bench`` (tests pass tiny ones)."""

    array_bytes: int | None = None
    """Bytes of each host memory array; None: at least 4× the last-level cache (see host.py)."""
    min_array_bytes: int = 512 * MIB
    """Smallest automatic array, whatever the cache: see ``host.array_bytes`` for why."""
    memory_fraction: float = 0.25
    """At most this fraction of available memory goes to the host arrays (all three)."""
    matmul_n: int | None = None
    """Host matmul order; None: from 512, doubled until one product takes ``min_rep_s``."""
    matmul_max_n: int = 4096
    gpu_bytes: int | None = None
    """Bytes of each GPU buffer; None: 1 GiB or an eighth of the free device memory."""
    gpu_matmul_n: int = 4096
    min_reps: int = 5
    max_reps: int = 20
    kernel_budget_s: float = 1.2
    """Timed seconds one kernel may use after its warm-up (at least ``min_reps`` run anyway)."""
    min_rep_s: float = 0.02
    total_budget_s: float = 25.0
    """Kernels that would start after this many seconds are skipped with a reason."""


@dataclass
class Budget:
    """The wall-clock budget of one ``--bench``; kernels past it are recorded as skipped."""

    total_s: float
    clock: Callable[[], float] = time.perf_counter
    start: float = field(init=False)

    def __post_init__(self) -> None:
        self.start = self.clock()

    def elapsed(self) -> float:
        """Seconds since the benchmarks started."""
        return self.clock() - self.start

    def exhausted(self) -> bool:
        """True once the total budget is spent."""
        return self.elapsed() >= self.total_s


@dataclass(frozen=True)
class Rates:
    """Per-repetition rates of one kernel."""

    values: list[float]

    @property
    def median(self) -> float:
        """Median rate."""
        return statistics.median(self.values)


def measure(
    run: Callable[[int], float],
    work: float,
    config: BenchConfig,
) -> Rates:
    """Time ``run(inner)`` (seconds for ``inner`` kernel calls) and return rates of ``work``.

    ``work`` is what one kernel call does, in the result's unit numerator (GB or GFLOP).
    """
    warm = run(1)
    inner = max(1, math.ceil(config.min_rep_s / warm)) if warm > 0 else 1
    per_rep = max(warm * inner, 1e-9)
    reps = min(config.max_reps, max(config.min_reps, int(config.kernel_budget_s / per_rep)))
    # A clock that did not move (a stand-in, or a kernel below its resolution) counts as 1 ns.
    return Rates([work * inner / max(run(inner), 1e-9) for _ in range(reps)])


def measured(rates: Rates, **fields: object) -> BenchmarkResult:
    """A result row from measured rates (rounded to 3 decimals)."""
    return BenchmarkResult.model_validate(
        {
            **fields,
            "median": round(rates.median, 3),
            "min": round(min(rates.values), 3),
            "max": round(max(rates.values), 3),
            "repetitions": len(rates.values),
        }
    )


def not_measured(reason: str, **fields: object) -> BenchmarkResult:
    """A result row that says why it has no numbers."""
    return BenchmarkResult.model_validate(
        {**fields, "median": None, "min": None, "max": None, "repetitions": 0, "reason": reason}
    )
