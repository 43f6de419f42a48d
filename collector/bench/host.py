"""Host microbenchmarks: STREAM-style memory bandwidth and matrix-multiply throughput.

Memory kernels follow STREAM (McCalpin): ``copy`` a[i] = b[i] and ``triad`` a[i] = b[i] + s·c[i]
over float64 arrays of at least four times the last-level cache, counting 16 and 24 bytes per
element (each array access once, no write-allocate traffic). They run on one thread (one core)
and on one worker thread per usable CPU (all cores), each worker on its own contiguous slice
of the same arrays. Threads rather than processes: numpy releases the GIL inside its copy and
ufunc loops, so threads run the kernels in parallel without a process start-up, a numpy import
per worker or shared-memory plumbing, and their slices stay in one address space.

numpy has no fused multiply-add over arrays: ``b + s*c`` would write and re-read a temporary
as large as the arrays, moving 40 bytes per element where STREAM counts 24. The triad
therefore works in blocks small enough for the temporary to stay in cache.

Without numpy (it is the ``bench`` extra), a ``memoryview`` slice copy — a memcpy — measures
one-core copy bandwidth; the rest is recorded as not measured, with the reason.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from collector.bench.timing import MIB, BenchConfig, Budget, measure, measured, not_measured
from collector.models import BenchmarkResult, Hardware
from collector.probe.tools import ProbeContext, ToolFailure

NUMPY_HINT = "numpy is not installed: pip install 'bakeoff[bench]'"
_TRIAD_SCALAR = 3.0
_BARRIER_TIMEOUT_S = 120.0
_GROW_BELOW_S = 0.05  # a host matmul shorter than this is too small to keep a BLAS busy


# --------------------------------------------------------------------------- sizing


def last_level_cache_bytes(ctx: ProbeContext) -> int | None:
    """Sum of every distinct instance of the highest-level data cache; None when unknown."""
    if ctx.system == "Darwin":
        for key in ("hw.l3cachesize", "hw.l2cachesize"):
            try:
                value = int(ctx.runner(["sysctl", "-n", key]).strip() or 0)
            except (ToolFailure, ValueError):
                continue
            if value > 0:
                return value
        return None
    return _sysfs_llc(ctx.path("/sys/devices/system/cpu"))


def _sysfs_llc(cpu_root: Path) -> int | None:
    """Linux: caches of every CPU; the instances of the highest level, told apart by their CPUs."""
    instances: dict[tuple[int, str], int] = {}
    for index in sorted(cpu_root.glob("cpu[0-9]*/cache/index[0-9]*")):
        kind = _read(index / "type")
        if kind not in ("Data", "Unified"):
            continue
        level, size = _read(index / "level"), _parse_size(_read(index / "size"))
        shared = _read(index / "shared_cpu_list") or index.parent.parent.name
        if level is None or not level.isdigit() or size is None:
            continue
        instances[(int(level), shared)] = size
    if not instances:
        return None
    top = max(level for level, _ in instances)
    return sum(size for (level, _), size in instances.items() if level == top)


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None


def _parse_size(text: str | None) -> int | None:
    """sysfs cache sizes: '32768K', '1M', '512' (bytes)."""
    if not text:
        return None
    units = {"K": 1024, "M": MIB, "G": 1024 * MIB}
    scale = units.get(text[-1].upper(), 1)
    digits = text[:-1] if text[-1].upper() in units else text
    return int(digits) * scale if digits.isdigit() else None


def array_bytes(
    config: BenchConfig, llc: int | None, available: int | None
) -> tuple[int, str | None]:
    """Bytes of each of the three host arrays, and a note when memory forced them small.

    STREAM asks for at least 4× the last-level cache. The floor is higher (512 MiB) because
    ``copy`` is the C library's memcpy, which streams with non-temporal stores only above a
    threshold of its own (glibc: ¾ of the shared cache it derives from CPUID, 192 MiB on a
    host whose sysfs shows 32 MiB of L3); at 128 MiB that host copied at about half the rate
    it reached with 512 MiB in the same session. A ceiling measured too low would put real
    decode results above their roofline.
    """
    if config.array_bytes is not None:
        return config.array_bytes, None
    wanted = max(4 * (llc or 0), config.min_array_bytes)
    if available is None:
        return wanted, None
    cap = int(available * config.memory_fraction / 3) // MIB * MIB
    if cap >= wanted:
        return wanted, None
    size = max(cap, MIB)
    note = None
    if llc and size < 4 * llc:
        note = (
            f"host arrays capped at {size // MIB} MiB by available memory "
            f"({available // MIB} MiB), below 4× the last-level cache ({llc // MIB} MiB): "
            "memory rates may include cache hits"
        )
    return size, note


def usable_workers(hardware: Hardware) -> int:
    """Worker threads for "all cores": the CPUs this process may use, within a cgroup quota."""
    limits = hardware.system_hardware.container
    cpus = limits.usable_cpus or os.cpu_count() or 1
    if limits.cpu_quota:
        cpus = min(cpus, max(1, math.ceil(limits.cpu_quota)))
    return max(1, cpus)


def available_memory(hardware: Hardware) -> int | None:
    """Bytes available without swapping (psutil), within a container's memory limit."""
    try:
        available = int(psutil.virtual_memory().available)
    except (OSError, RuntimeError):
        return None
    # psutil sees the host's memory inside a container; the cgroup limit is what binds.
    limit = hardware.system_hardware.container.memory_limit_gb
    return min(available, int(limit * 1024**3)) if limit else available


# --------------------------------------------------------------------------- threads


class _Team:
    """Worker threads that run one kernel on their slices, started together by a barrier.

    ``run(inner)`` releases every worker at once, each calls its kernel ``inner`` times, and
    the time from the release to the last worker's finish is returned: the aggregate rate is
    all the bytes over that time, as an OpenMP STREAM measures it.
    """

    def __init__(self, kernels: list[Callable[[], None]]) -> None:
        self._kernels = kernels
        self._go = threading.Barrier(len(kernels) + 1, timeout=_BARRIER_TIMEOUT_S)
        self._done = threading.Barrier(len(kernels) + 1, timeout=_BARRIER_TIMEOUT_S)
        self._inner = 0
        self._stop = False
        self._error: BaseException | None = None
        self._threads = [
            threading.Thread(target=self._work, args=(k,), daemon=True, name=f"bench-{i}")
            for i, k in enumerate(kernels)
        ]
        for thread in self._threads:
            thread.start()

    def _work(self, kernel: Callable[[], None]) -> None:
        while True:
            self._go.wait()
            if self._stop:
                return
            try:
                for _ in range(self._inner):
                    kernel()
            except BaseException as exc:  # handed to the caller of run(); threads must not die
                self._error = exc
            self._done.wait()

    def run(self, inner: int) -> float:
        """Seconds for every worker to call its kernel ``inner`` times."""
        self._inner = inner
        self._go.wait()
        t0 = time.perf_counter()
        self._done.wait()
        seconds = time.perf_counter() - t0
        if self._error is not None:
            raise self._error
        return seconds

    def close(self) -> None:
        """Let the workers return, and wait for them."""
        self._stop = True
        with contextlib.suppress(threading.BrokenBarrierError):
            self._go.wait()
        for thread in self._threads:
            thread.join(timeout=_BARRIER_TIMEOUT_S)


def _slices(n: int, parts: int) -> list[slice]:
    """``parts`` contiguous slices covering range(n), sizes differing by at most one."""
    step, extra = divmod(n, parts)
    bounds = [0]
    for i in range(parts):
        bounds.append(bounds[-1] + step + (1 if i < extra else 0))
    return [slice(bounds[i], bounds[i + 1]) for i in range(parts)]


# --------------------------------------------------------------------------- numpy kernels


def _copy_kernel(np: Any, a: Any, b: Any) -> Callable[[], None]:
    def copy() -> None:
        np.copyto(a, b)

    return copy


def _triad_kernel(np: Any, a: Any, b: Any, c: Any, block: int) -> Callable[[], None]:
    """a = b + s·c in blocks: the temporary s·c of one block stays in cache."""
    tmp = np.empty(block, dtype=a.dtype)
    n = len(a)

    def triad() -> None:
        for start in range(0, n, block):
            stop = min(start + block, n)
            t = tmp[: stop - start]
            np.multiply(c[start:stop], _TRIAD_SCALAR, out=t)
            np.add(t, b[start:stop], out=a[start:stop])

    return triad


def _triad_block(llc: int | None, workers: int) -> int:
    """Elements per triad block: 1/16 of a worker's share of the LLC, 16 Ki–128 Ki elements."""
    share = (llc or 8 * MIB) // max(workers, 1) // 16
    return max(16 * 1024, min(share // 8, 128 * 1024))


def memory_results(
    np: Any,
    size: int,
    workers: int,
    llc: int | None,
    config: BenchConfig,
    budget: Budget,
) -> list[BenchmarkResult]:
    """copy and triad on one core and on ``workers`` threads over arrays of ``size`` bytes."""
    n = size // 8
    plan = [
        (kernel, per_element, scope, count)
        for kernel, per_element in (("copy", 16), ("triad", 24))
        for scope, count in (("one_core", 1), ("all_cores", workers))
    ]
    try:
        # np.full, not np.zeros or np.empty: every page is touched before the warm-up.
        a, b, c = np.full(n, 0.0), np.full(n, 1.0), np.full(n, 2.0)
    except MemoryError:
        why = f"not enough memory for three {size // MIB} MiB arrays"
        return [
            not_measured(why, **_memory_fields(k, count, size, _triad_block(llc, count), np, s))
            for k, _, s, count in plan
        ]
    results: list[BenchmarkResult] = []
    for kernel, per_element, scope, count in plan:
        block = _triad_block(llc, count)
        fields = _memory_fields(kernel, count, size, block, np, scope)
        if budget.exhausted():
            results.append(not_measured(_over_budget(budget), **fields))
            continue
        kernels = [
            _copy_kernel(np, a[part], b[part])
            if kernel == "copy"
            else _triad_kernel(np, a[part], b[part], c[part], block)
            for part in _slices(n, count)
        ]
        try:
            run, close = _runner(kernels)
        except RuntimeError as exc:  # "can't start new thread" under a tight thread limit
            results.append(not_measured(f"cannot start {count} threads: {exc}", **fields))
            continue
        try:
            rates = measure(run, per_element * n / 1e9, config)
        except (MemoryError, threading.BrokenBarrierError) as exc:
            results.append(not_measured(f"{type(exc).__name__}: {exc}", **fields))
            continue
        finally:
            close()
        results.append(measured(rates, **fields))
    return results


def _runner(kernels: list[Callable[[], None]]) -> tuple[Callable[[int], float], Callable[[], None]]:
    """A timed runner for one kernel per worker: in this thread for one, else a thread team."""
    if len(kernels) == 1:
        (kernel,) = kernels

        def run_here(inner: int) -> float:
            t0 = time.perf_counter()
            for _ in range(inner):
                kernel()
            return time.perf_counter() - t0

        return run_here, lambda: None
    team = _Team(kernels)
    return team.run, team.close


def _memory_fields(
    kernel: str, workers: int, size: int, block: int, np: Any, scope: str
) -> dict[str, object]:
    call = (
        "np.copyto(a, b)"
        if kernel == "copy"
        else f"a = b + 3.0·c in cached blocks of {block} elements (np.multiply, np.add)"
    )
    who = "one thread" if workers == 1 else f"{workers} threads, one contiguous slice each"
    return {
        "target": "host",
        "kernel": kernel,
        "scope": scope,
        "unit": "GB/s",
        "workers": workers,
        "size_bytes": size,
        "method": f"numpy {np.__version__} float64 {call}; {who}; {size // MIB} MiB per array",
    }


def _over_budget(budget: Budget) -> str:
    return f"skipped: the --bench time budget ({budget.total_s:g} s) was spent"


def matmul_results(
    np: Any, config: BenchConfig, budget: Budget, blas: str
) -> list[BenchmarkResult]:
    """fp64 and fp32 square matrix products through numpy's BLAS, on the BLAS's own threads."""
    results = []
    for precision, dtype in (("fp64", np.float64), ("fp32", np.float32)):
        fields: dict[str, object] = {
            "target": "host",
            "kernel": "matmul",
            "scope": "all_cores",
            "precision": precision,
            "unit": "GFLOP/s",
        }
        if budget.exhausted():
            results.append(not_measured(_over_budget(budget), method="np.matmul", **fields))
            continue
        n, product = _sized_product(np, dtype, config)
        fields["matrix_n"] = n
        fields["method"] = (
            f"np.matmul of two random {n}×{n} {precision} matrices into a preallocated output, "
            f"{blas} with its default threads; 2·n³ FLOP per product"
        )
        results.append(measured(measure(product, 2 * n**3 / 1e9, config), **fields))
    return results


def _sized_product(np: Any, dtype: Any, config: BenchConfig) -> tuple[int, Callable[[int], float]]:
    """The matrix order and a timed product: from 1024, doubled while one takes < 50 ms.

    Small products under-use a BLAS (threads start, blocks do not fill), so the order only
    grows; on a slow board 1024 may take a second per product, still within the budget.
    """
    rng = np.random.default_rng(0)
    n = config.matmul_n or 1024
    while True:
        a = rng.random((n, n)).astype(dtype)
        b = rng.random((n, n)).astype(dtype)
        out = np.empty((n, n), dtype=dtype)

        def product(inner: int, a: Any = a, b: Any = b, out: Any = out) -> float:
            t0 = time.perf_counter()
            for _ in range(inner):
                np.matmul(a, b, out=out)
            return time.perf_counter() - t0

        if config.matmul_n is not None or n * 2 > config.matmul_max_n:
            return n, product
        product(1)  # the first product pays the BLAS thread start-up
        if product(1) >= _GROW_BELOW_S:
            return n, product
        n *= 2


def blas_name(np: Any) -> str:
    """numpy's BLAS as 'name version' from its build configuration; 'BLAS' when unknown."""
    try:
        config = np.show_config(mode="dicts")
        blas = config["Build Dependencies"]["blas"]
        return f"{blas['name']} {blas.get('version', '')}".strip()
    except (TypeError, KeyError, AttributeError):  # numpy < 1.25 prints instead of returning
        return "BLAS"


# --------------------------------------------------------------------------- no numpy


def stdlib_copy_result(size: int, config: BenchConfig) -> BenchmarkResult:
    """One-core copy bandwidth without numpy: a memoryview slice assignment is a memcpy."""
    src = bytearray(size)
    dst = bytearray(size)
    src_view, dst_view = memoryview(src), memoryview(dst)

    def run(inner: int) -> float:
        t0 = time.perf_counter()
        for _ in range(inner):
            dst_view[:] = src_view
        return time.perf_counter() - t0

    try:
        rates = measure(run, 2 * size / 1e9, config)
    finally:
        src_view.release()
        dst_view.release()
    return measured(
        rates,
        target="host",
        kernel="copy",
        scope="one_core",
        unit="GB/s",
        workers=1,
        size_bytes=size,
        method=(
            f"standard library: memoryview slice copy (memcpy) of {size // MIB} MiB bytearrays; "
            "one thread; numpy not installed"
        ),
    )


def without_numpy(size: int, config: BenchConfig) -> list[BenchmarkResult]:
    """What the standard library can measure, and null rows with the reason for the rest."""
    results = [stdlib_copy_result(size, config)]
    why_threads = (
        f"{NUMPY_HINT} (the standard library's copy holds the GIL, so threads cannot run it "
        "in parallel)"
    )
    for kernel, scope, reason in (
        ("copy", "all_cores", why_threads),
        ("triad", "one_core", NUMPY_HINT),
        ("triad", "all_cores", NUMPY_HINT),
    ):
        results.append(
            not_measured(
                reason,
                target="host",
                kernel=kernel,
                scope=scope,
                unit="GB/s",
                method="numpy float64 arrays (not run)",
            )
        )
    for precision in ("fp64", "fp32"):
        results.append(
            not_measured(
                NUMPY_HINT,
                target="host",
                kernel="matmul",
                scope="all_cores",
                precision=precision,
                unit="GFLOP/s",
                method="np.matmul (not run)",
            )
        )
    return results
