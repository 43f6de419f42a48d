"""Last-resort GPU rows from PyTorch, only when torch has already set up CUDA in this process.

Importing torch takes seconds and ``torch.cuda`` calls create a CUDA context (hundreds of MiB
of device memory) — the probe never does either just to detect hardware. When an
engine running in this process has already initialised CUDA, its device properties are free.
"""

from __future__ import annotations

import importlib.util
import sys
from typing import Any

from collector.models import Gpu, GpuVendor, InterfaceType
from collector.probe.gpu_common import GpuReport
from collector.probe.gpu_nvidia import architecture_for_cc
from collector.probe.tools import ProbeContext, clean, to_gib


def detect(ctx: ProbeContext, ram_gb: float | None, torch: Any | None = None) -> GpuReport | None:
    """GPUs from an already-imported torch with CUDA/ROCm initialised; otherwise None."""
    torch = torch if torch is not None else sys.modules.get("torch")
    if torch is None:
        if importlib.util.find_spec("torch") is not None:
            ctx.absent.append("torch: installed but not imported (not loaded, to spare a context)")
        return None
    cuda = getattr(torch, "cuda", None)
    try:
        if cuda is None or not cuda.is_initialized():
            ctx.absent.append("torch: CUDA is not initialised in this process")
            return None
        count = int(cuda.device_count())
    except (RuntimeError, AttributeError) as exc:
        ctx.issue("gpu.torch", f"torch.cuda failed: {exc}")
        return None
    hip = clean(getattr(getattr(torch, "version", None), "hip", None))
    report = GpuReport(source="torch")
    for index in range(count):
        try:
            props = cuda.get_device_properties(index)
        except (RuntimeError, AssertionError) as exc:
            ctx.issue(f"gpu.{index}", f"torch.cuda.get_device_properties failed: {exc}")
            continue
        report.gpus.append(_gpu(index, props, hip is not None, ram_gb))
    return report


def _gpu(index: int, props: Any, is_hip: bool, ram_gb: float | None) -> Gpu:
    integrated = bool(getattr(props, "is_integrated", 0))
    major, minor = int(getattr(props, "major", 0)), int(getattr(props, "minor", 0))
    if is_hip:
        arch = clean(str(getattr(props, "gcnArchName", "")).split(":")[0])
        cc, tensor_gen = None, None
    else:
        arch, tensor_gen = architecture_for_cc(major, minor)
        cc = f"{major}.{minor}" if major else None
    total = getattr(props, "total_memory", None)
    return Gpu(
        slot=index,
        vendor=GpuVendor.AMD if is_hip else GpuVendor.NVIDIA,
        name=clean(getattr(props, "name", None)) or "GPU",
        memory_total_gb=ram_gb if integrated else to_gib(int(total) if total else None),
        unified_memory=integrated,
        interface_type=InterfaceType.SOC_UNIFIED if integrated else InterfaceType.UNKNOWN,
        compute_capability=cc,
        architecture=arch,
        tensor_core_generation=tensor_gen,
        cores=getattr(props, "multi_processor_count", None) or None,
        source="torch",
    )
