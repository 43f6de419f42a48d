"""What the GPU detectors share: their result type and the host-side interface hints."""

from __future__ import annotations

import platform
from dataclasses import dataclass, field
from pathlib import Path

from collector.models import Gpu
from collector.probe.tools import ProbeContext


@dataclass
class GpuReport:
    """One detector's findings: GPUs (slots numbered from 0) and vendor software versions."""

    source: str
    gpus: list[Gpu] = field(default_factory=list)
    driver_version: str | None = None
    cuda_version: str | None = None
    rocm_version: str | None = None


def is_wsl(ctx: ProbeContext) -> bool:
    """True under WSL2, where the GPU is a GPU-PV slice of the Windows host (``virtualized``)."""
    if ctx.system != "Linux":
        return False
    return ctx.path("/dev/dxg").exists() or "microsoft" in platform.release().lower()


def sysfs_pci_name(bus_id: str | None) -> str | None:
    """NVML/nvidia-smi bus id "00000000:01:00.0" → sysfs name "0000:01:00.0"."""
    if not bus_id:
        return None
    parts = bus_id.strip().lower().split(":")
    if len(parts) != 3:
        return None
    try:
        domain = int(parts[0], 16)
    except ValueError:
        return None
    return f"{domain:04x}:{parts[1]}:{parts[2]}"


def is_external_pci(ctx: ProbeContext, bus_id: str | None) -> bool:
    """True when the device sits behind a port the kernel marks removable (Thunderbolt/USB4).

    The kernel sets ``removable`` = "removable" on devices below an external-facing port
    (``pci_dev->external_facing``), which is how an eGPU enclosure appears in sysfs.
    """
    name = sysfs_pci_name(bus_id)
    if name is None or ctx.system != "Linux":
        return False
    link = ctx.path(f"/sys/bus/pci/devices/{name}")
    try:
        device = link.resolve(strict=True)
    except (OSError, RuntimeError):
        return False
    devices_root = ctx.path("/sys/devices").resolve()
    for level in [device, *device.parents]:
        if level == devices_root or devices_root not in level.parents:
            break
        if _read_flag(level / "removable") == "removable":
            return True
    return False


def _read_flag(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
