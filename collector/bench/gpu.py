"""GPU microbenchmarks through PyTorch, when it is installed: bandwidth and matmul per device.

For each CUDA (or ROCm) device torch sees: device memory bandwidth (a device-to-device copy of
one buffer, counted as STREAM counts a copy: read plus write), host↔device bandwidth (a pinned
host buffer copied each way, counted once), and square matrix-multiply throughput in fp32,
fp16, bf16 and — on NVIDIA devices of compute capability 8.9 or later (Ada, Hopper, Blackwell),
the ones with fp8 tensor cores — fp8 (``torch._scaled_mm``). fp32 runs as torch's default sets
it (TF32 off unless the process turned it on; the method says which).

Each repetition is bracketed by ``torch.cuda.synchronize``: kernels are asynchronous, and the
clock must see them finish. The tensor-core generation is not measured here: the probe derives
it from the compute capability (``hardware.gpus[].tensor_core_generation``), and each result
names the slot of that row.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from collector.bench.timing import MIB, BenchConfig, Budget, measure, measured, not_measured
from collector.models import BenchmarkResult, Gpu

GIB = 1024 * MIB
TORCH_HINT = (
    "torch is not installed: install PyTorch with CUDA or ROCm support "
    "(https://pytorch.org/get-started/locally/) to measure GPU bandwidth and matmul"
)
_FP8_MIN_CC = (8, 9)

_Build = Callable[[], tuple[Callable[[int], float], float]]
"""Allocates a kernel's tensors; returns its timed runner and the work of one call."""


def gpu_results(
    torch: Any,
    gpus: list[Gpu],
    config: BenchConfig,
    budget: Budget,
    *,
    env: Mapping[str, str],
    clock: Callable[[], float] = time.perf_counter,
) -> tuple[list[BenchmarkResult], list[str]]:
    """Results for every device torch sees, and reasons for what could not be tried at all.

    ``clock`` is injectable so that a stand-in torch (tests) can make time pass as its
    operations "run".
    """
    cuda = torch.cuda
    try:
        available = bool(cuda.is_available())
        count = int(cuda.device_count()) if available else 0
    except Exception as exc:  # torch raises bare RuntimeErrors from a broken driver
        return [], [f"torch.cuda failed: {_why(exc)}"]
    if not available or count == 0:
        return [], ["torch sees no CUDA or ROCm device (torch.cuda.is_available() is False)"]
    try:
        props = [cuda.get_device_properties(i) for i in range(count)]
    except Exception as exc:
        return [], [f"torch.cuda.get_device_properties failed: {_why(exc)}"]
    names = [str(getattr(p, "name", "GPU")) for p in props]
    results: list[BenchmarkResult] = []
    for index in range(count):
        slot = _slot_for(index, names, gpus, env)
        results += _device_results(torch, index, props[index], slot, config, budget, clock)
    return results, []


def _device_results(
    torch: Any,
    index: int,
    props: Any,
    slot: int | None,
    config: BenchConfig,
    budget: Budget,
    clock: Callable[[], float],
) -> list[BenchmarkResult]:
    """Copies and matmuls on one device; each failure becomes a row with its reason."""
    cuda = torch.cuda
    name = str(getattr(props, "name", "GPU"))
    is_hip = getattr(getattr(torch, "version", None), "hip", None) is not None
    cc = (int(getattr(props, "major", 0)), int(getattr(props, "minor", 0)))
    device = f"cuda:{index}"
    base: dict[str, object] = {
        "target": "gpu",
        "gpu_slot": slot,
        "device_name": name,
        "scope": "device",
    }

    def timed(op: Callable[[], object]) -> Callable[[int], float]:
        def run(inner: int) -> float:
            cuda.synchronize(index)
            t0 = clock()
            for _ in range(inner):
                op()
            cuda.synchronize(index)
            return clock() - t0

        return run

    def attempt(fields: dict[str, object], build: _Build) -> BenchmarkResult:
        row = {**base, **fields}
        if budget.exhausted():
            return not_measured(
                f"skipped: the --bench time budget ({budget.total_s:g} s) was spent", **row
            )
        try:
            run, work = build()
            rates = measure(run, work, config)
            del run  # the runner holds the tensors: free them before empty_cache
            return measured(rates, **row)
        except Exception as exc:  # an out-of-memory or unsupported dtype is a result, not a crash
            return not_measured(f"{fields['method']} failed: {_why(exc)}", **row)
        finally:
            cuda.empty_cache()

    size = config.gpu_bytes or _buffer_bytes(cuda, index)
    results: list[BenchmarkResult] = []

    def device_copy() -> tuple[Callable[[int], float], float]:
        src = torch.empty(size, dtype=torch.uint8, device=device)
        dst = torch.empty(size, dtype=torch.uint8, device=device)
        return timed(lambda: dst.copy_(src)), 2 * size / 1e9

    def to_device() -> tuple[Callable[[int], float], float]:
        host = torch.empty(size, dtype=torch.uint8, pin_memory=True)
        dst = torch.empty(size, dtype=torch.uint8, device=device)
        return timed(lambda: dst.copy_(host, non_blocking=True)), size / 1e9

    def to_host() -> tuple[Callable[[int], float], float]:
        src = torch.empty(size, dtype=torch.uint8, device=device)
        host = torch.empty(size, dtype=torch.uint8, pin_memory=True)
        return timed(lambda: host.copy_(src, non_blocking=True)), size / 1e9

    mib = size // MIB
    for kernel, build, method in (
        ("copy", device_copy, f"dst.copy_(src) of a {mib} MiB device buffer; 2 bytes counted"),
        (
            "host_to_device",
            to_device,
            f"{mib} MiB from pinned host memory, copy_(non_blocking=True)",
        ),
        (
            "device_to_host",
            to_host,
            f"{mib} MiB into pinned host memory, copy_(non_blocking=True)",
        ),
    ):
        results.append(
            attempt({"kernel": kernel, "unit": "GB/s", "size_bytes": size, "method": method}, build)
        )

    n = config.gpu_matmul_n
    flags = getattr(getattr(getattr(torch, "backends", None), "cuda", None), "matmul", None)
    tf32 = bool(getattr(flags, "allow_tf32", False))
    for precision, dtype_name in (("fp32", "float32"), ("fp16", "float16"), ("bf16", "bfloat16")):
        dtype = getattr(torch, dtype_name)
        note = f" (TF32 {'on' if tf32 else 'off'})" if precision == "fp32" else ""

        def product(dtype: Any = dtype) -> tuple[Callable[[int], float], float]:
            a = torch.randn(n, n, dtype=dtype, device=device)
            b = torch.randn(n, n, dtype=dtype, device=device)
            out = torch.empty(n, n, dtype=dtype, device=device)
            return timed(lambda: torch.matmul(a, b, out=out)), 2 * n**3 / 1e9

        results.append(
            attempt(
                {
                    "kernel": "matmul",
                    "precision": precision,
                    "unit": "GFLOP/s",
                    "matrix_n": n,
                    "method": f"torch.matmul of two random {n}×{n} {precision} matrices{note}",
                },
                product,
            )
        )
    fp8_fields: dict[str, object] = {
        "kernel": "matmul",
        "precision": "fp8",
        "unit": "GFLOP/s",
        "matrix_n": n,
        "method": f"torch._scaled_mm of two {n}×{n} float8_e4m3fn matrices, bf16 output",
    }
    unsupported = _fp8_unsupported(torch, is_hip, cc)
    if unsupported is not None:
        results.append(not_measured(unsupported, **{**base, **fp8_fields}))
    else:

        def fp8_product() -> tuple[Callable[[int], float], float]:
            fp8 = torch.float8_e4m3fn
            a = torch.randn(n, n, dtype=torch.float16, device=device).to(fp8)
            # _scaled_mm wants its second operand column-major: a transposed row-major matrix.
            b = torch.randn(n, n, dtype=torch.float16, device=device).to(fp8).t()
            scale = torch.ones((), dtype=torch.float32, device=device)
            return (
                timed(
                    lambda: torch._scaled_mm(
                        a, b, scale_a=scale, scale_b=scale, out_dtype=torch.bfloat16
                    )
                ),
                2 * n**3 / 1e9,
            )

        results.append(attempt(fp8_fields, fp8_product))
    return results


def _fp8_unsupported(torch: Any, is_hip: bool, cc: tuple[int, int]) -> str | None:
    """Why fp8 matmul is not tried on this device, or None when it is."""
    if is_hip:
        return "fp8 matmul is measured on NVIDIA devices only (ROCm uses other fp8 formats)"
    if cc < _FP8_MIN_CC:
        return (
            f"no fp8 tensor cores: compute capability {cc[0]}.{cc[1]} is below 8.9 "
            "(Ada, Hopper and later have them)"
        )
    if not (hasattr(torch, "float8_e4m3fn") and hasattr(torch, "_scaled_mm")):
        return f"torch {getattr(torch, '__version__', '?')} has no float8_e4m3fn/_scaled_mm"
    return None


def _buffer_bytes(cuda: Any, index: int) -> int:
    """1 GiB, or an eighth of the free device memory when that is less (whole MiB)."""
    try:
        free = int(cuda.mem_get_info(index)[0])
    except Exception:  # older torch or a driver without the query: stay small
        return 256 * MIB
    return max(MIB, min(GIB, free // 8) // MIB * MIB)


def _slot_for(index: int, names: list[str], gpus: list[Gpu], env: Mapping[str, str]) -> int | None:
    """The probe slot of torch's device ``index``, when the match is certain; else None.

    A name found once among the probe's GPUs is that GPU. Identical GPUs (eight of one model)
    are matched by order only when torch sees all of them (no CUDA_VISIBLE_DEVICES) and they
    are all of one model: CUDA then orders them by PCI bus, as NVML does.
    """
    wanted = names[index].strip().lower()
    slots = [g.slot for g in gpus if g.name.strip().lower() == wanted]
    if len(slots) == 1:
        return slots[0]
    same_model = all(n.strip().lower() == wanted for n in names)
    if same_model and len(slots) == len(names) == len(gpus) and "CUDA_VISIBLE_DEVICES" not in env:
        return slots[index]
    return None


def _why(exc: BaseException) -> str:
    """Exception type and the first line of its message."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0][:200]}" if lines else type(exc).__name__


def torch_versions(torch: Any) -> dict[str, str]:
    """torch and its CUDA or ROCm runtime versions, for ``Benchmarks.libraries``."""
    versions = {"torch": str(getattr(torch, "__version__", "unknown"))}
    version = getattr(torch, "version", None)
    for key in ("cuda", "hip"):
        value = getattr(version, key, None)
        if value:
            versions[f"torch.{key}"] = str(value)
    return versions
