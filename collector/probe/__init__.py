"""The host probe behind ``bakeoff probe``: hardware identity, software versions and GPUs.

Every detector degrades to None plus a :class:`~collector.models.ProbeIssue`; the probe never
crashes on a missing tool or an unsupported field, and never reads host names, user names,
serial numbers or device UUIDs.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from collector.models import Gpu, Hardware, SystemHardware, SystemSoftware
from collector.probe import cpu, gpu_amd, gpu_apple, gpu_nvidia, gpu_torch, memory, system
from collector.probe.gpu_common import GpuReport
from collector.probe.identity import load_publisher_id, load_system_id
from collector.probe.table import format_table
from collector.probe.tools import CachingRunner, ProbeContext, Runner, run_tool

__all__ = ["format_table", "load_publisher_id", "load_system_id", "probe_host"]

_IMPORT_NVML: Any = object()
"""Default for ``nvml``: import pynvml if installed (tests pass a stand-in or None)."""


def probe_host(
    publisher_id: str | None = None,
    *,
    root: Path | None = None,
    runner: Runner | None = None,
    nvml: Any = _IMPORT_NVML,
    system_name: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Hardware:
    """Probe this host and return its validated hardware/software block.

    ``root``, ``runner``, ``nvml``, ``system_name`` and ``env`` exist for tests: a fake
    filesystem root, a command runner returning sample outputs, an NVML stand-in (None = no
    NVML), a pretend ``platform.system()`` and environment. Raises IdentityError/ConfigError
    when the system_id or config file is unusable.
    """
    ctx = ProbeContext(runner=CachingRunner(runner or run_tool))
    if root is not None:
        ctx.root = root
    if system_name is not None:
        ctx.system = system_name
    if env is not None:
        ctx.env = dict(env)

    hardware_block = SystemHardware(
        system_id=load_system_id(ctx.env),
        publisher_id=load_publisher_id(publisher_id, ctx.env),
        cpu_model=cpu.cpu_model(ctx),
        cpu_cores=(counts := cpu.cpu_counts(ctx))[0],
        cpu_threads=counts[1],
        architecture=cpu.architecture(),
        ram_total_gb=(ram := memory.ram_total_gb(ctx)),
        board_model=cpu.board_model(ctx),
        container=memory.container_limits(ctx),
    )

    reports = _detect_gpus(ctx, nvml, ram)
    gpus: list[Gpu] = []
    for report in reports:
        for gpu in report.gpus:
            # One global slot sequence: NVIDIA keeps its NVML order, other vendors follow.
            gpus.append(gpu.model_copy(update={"slot": len(gpus)}))
    if not gpus:
        tried = "; ".join(ctx.absent) or "no detector applies to this OS"
        ctx.issue("gpu", f"no GPU found ({tried})")

    software = SystemSoftware(
        os=system.os_name(ctx),
        kernel_version=system.kernel_version(ctx),
        python_version=system.python_version(),
        gpu_driver_version=_first(r.driver_version for r in reports),
        cuda_version=_first(r.cuda_version for r in reports),
        rocm_version=_first(r.rocm_version for r in reports),
        runner_version=system.runner_version(ctx),
    )
    hardware = Hardware(
        system_hardware=hardware_block,
        system_software=software,
        gpus=gpus,
        probe_issues=ctx.issues,
    )
    # Round-trip through validation so the block is exactly what metadata.json may hold.
    return Hardware.model_validate(hardware.model_dump(mode="json"))


def _detect_gpus(ctx: ProbeContext, nvml: Any, ram_gb: float | None) -> list[GpuReport]:
    """Run the detectors that apply to this OS; vendor tools first, torch last."""
    reports: list[GpuReport] = []
    if ctx.system == "Darwin":
        apple = gpu_apple.detect(ctx, ram_gb)
        if apple is not None:
            reports.append(apple)
    else:
        module = gpu_nvidia.load_nvml() if nvml is _IMPORT_NVML else nvml
        for report in (gpu_nvidia.detect(ctx, module, ram_gb), gpu_amd.detect(ctx)):
            if report is not None:
                reports.append(report)
    if not any(r.gpus for r in reports):
        fallback = gpu_torch.detect(ctx, ram_gb)
        if fallback is not None:
            reports.append(fallback)
    return reports


def _first(values: Any) -> str | None:
    """The first non-None value."""
    return next((v for v in values if v is not None), None)
