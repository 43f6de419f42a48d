"""``--bench``: short hardware microbenchmarks recorded in the hardware block.

What a decode roofline needs to know about a host: how fast its memory streams (STREAM copy
and triad, one core and all cores), how fast it multiplies matrices (fp64, fp32 through
numpy's BLAS) and, with PyTorch installed, the same for each GPU plus host↔device copies.
Opt-in and bounded (about 10–20 s on a small host, never past ``BenchConfig.total_budget_s``
before its last kernel starts); everything that could not be measured is a row with a reason
or a probe issue, never an exception. Method and counting rules: the methodology page,
"Hardware microbenchmarks".
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import Mapping
from typing import Any

from collector.bench import gpu, host
from collector.bench.timing import BenchConfig, Budget
from collector.guards import load_average
from collector.measure import utc_now
from collector.models import BenchmarkResult, Benchmarks, Hardware
from collector.probe.tools import ProbeContext

__all__ = ["DEFAULT_CONFIG", "BenchConfig", "run_benchmarks"]

DEFAULT_CONFIG = BenchConfig()

_IMPORT: Any = object()
"""Default for ``numpy``/``torch``: import the module when it is installed (tests pass one)."""


def run_benchmarks(
    hardware: Hardware,
    config: BenchConfig | None = None,
    *,
    numpy: Any = _IMPORT,
    torch: Any = _IMPORT,
    ctx: ProbeContext | None = None,
    env: Mapping[str, str] | None = None,
) -> Hardware:
    """Measure this host and return ``hardware`` with ``benchmarks`` and any new probe issues.

    ``numpy`` and ``torch`` are the modules to use: by default they are imported when
    installed; None means "not installed" (tests of the fallback paths pass None or a
    stand-in). ``ctx`` gives the filesystem root for the cache sizes (tests).
    """
    config = config or DEFAULT_CONFIG
    ctx = ctx or ProbeContext()
    env = os.environ if env is None else env
    np, numpy_problem = _load("numpy") if numpy is _IMPORT else (numpy, None)
    started_at = utc_now()
    load_start = load_average()
    budget = Budget(config.total_budget_s)
    llc = host.last_level_cache_bytes(ctx)
    size, note = host.array_bytes(config, llc, host.available_memory(hardware))
    if note:
        ctx.issue("bench.memory", note)
    libraries: dict[str, str] = {}
    results: list[BenchmarkResult] = []
    if np is None:
        ctx.issue(
            "bench.numpy",
            f"{numpy_problem or host.NUMPY_HINT}; only one-core copy bandwidth was measured "
            "(standard library)",
        )
        results += host.without_numpy(size, config)
    else:
        blas = host.blas_name(np)
        libraries.update({"numpy": str(np.__version__), "blas": blas})
        workers = host.usable_workers(hardware)
        results += host.memory_results(np, size, workers, llc, config, budget)
        results += host.matmul_results(np, config, budget, blas)
    results += _gpu_results(hardware, torch, config, budget, ctx, env, libraries)

    host_memory = [
        r
        for r in results
        if r.target == "host" and r.kernel in ("copy", "triad") and r.max is not None
    ]
    benchmarks = Benchmarks(
        started_at=started_at,
        wall_time_s=round(budget.elapsed(), 3),
        load_avg_start=load_start,
        memory_bandwidth_gbs=max((r.max for r in host_memory if r.max), default=None),
        memory_bandwidth_one_core_gbs=max(
            (r.max for r in host_memory if r.max and r.scope == "one_core"), default=None
        ),
        last_level_cache_bytes=llc,
        libraries=libraries,
        results=results,
    )
    updated = hardware.model_copy(
        update={"benchmarks": benchmarks, "probe_issues": [*hardware.probe_issues, *ctx.issues]}
    )
    # Round-trip through validation so the block is exactly what metadata.json may hold.
    return Hardware.model_validate(updated.model_dump(mode="json"))


def _gpu_results(
    hardware: Hardware,
    torch: Any,
    config: BenchConfig,
    budget: Budget,
    ctx: ProbeContext,
    env: Mapping[str, str],
    libraries: dict[str, str],
) -> list[BenchmarkResult]:
    """GPU rows when torch is there; a probe issue when GPUs were found but cannot be measured."""
    problem = None
    if torch is _IMPORT:
        # Importing torch costs seconds and a CUDA context: only when the probe found a GPU.
        torch, problem = _load("torch") if hardware.gpus else (None, None)
    if torch is None:
        if hardware.gpus:
            ctx.issue("bench.gpu", problem or gpu.TORCH_HINT)
        return []
    libraries.update(gpu.torch_versions(torch))
    results, problems = gpu.gpu_results(torch, hardware.gpus, config, budget, env=env)
    for problem in problems:
        ctx.issue("bench.gpu", problem)
    return results


def _load(name: str) -> tuple[Any, str | None]:
    """The module ``name`` if it imports; else None and, when it is installed but broken, why."""
    try:
        if importlib.util.find_spec(name) is None:
            return None, None
        return importlib.import_module(name), None
    except ValueError:  # sys.modules[name] is None: imports of it are blocked
        return None, None
    except ImportError as exc:
        if isinstance(exc, ModuleNotFoundError) and exc.name == name:
            return None, None
        return None, f"{name} is installed but cannot be imported ({exc})"
