"""GPUs on macOS from ``system_profiler SPHardwareDataType SPDisplaysDataType -json``.

Apple Silicon GPUs share the system RAM (``unified_memory``, interface ``soc_unified``, memory
= RAM); Intel Macs list discrete AMD or integrated Intel adapters with ``spdisplays_vram``.
``SPHardwareDataType`` carries private ids (``serial_number``, ``platform_UUID``,
``provisioning_UDID``) and ``spdisplays_ndrvs`` display serials: none of them is read.
"""

from __future__ import annotations

from typing import Any

from collector.models import Gpu, GpuVendor, InterfaceType
from collector.probe.cpu import system_profiler
from collector.probe.gpu_common import GpuReport
from collector.probe.tools import ProbeContext, clean, parse_bytes, parse_int, to_gib

_VENDORS = {
    "apple": GpuVendor.APPLE,
    "amd": GpuVendor.AMD,
    "ati": GpuVendor.AMD,
    "intel": GpuVendor.INTEL,
    "nvidia": GpuVendor.NVIDIA,
}


def _vendor(adapter: dict[str, Any]) -> GpuVendor:
    """``sppci_vendor`` ("sppci_vendor_Apple", "sppci_vendor_amd") → GpuVendor."""
    raw = clean(adapter.get("sppci_vendor")) or clean(adapter.get("spdisplays_vendor")) or ""
    key = raw.lower().removeprefix("sppci_vendor_").split()[0] if raw else ""
    return _VENDORS.get(key, GpuVendor.OTHER)


def detect(ctx: ProbeContext, ram_gb: float | None) -> GpuReport | None:
    """Display adapters from system_profiler; None when it is unavailable."""
    data = system_profiler(ctx)
    if data is None:
        ctx.issue("gpu.system_profiler", "system_profiler -json failed or printed no JSON")
        return None
    adapters = data.get("SPDisplaysDataType")
    report = GpuReport(source="system_profiler")
    if not isinstance(adapters, list):
        return report
    for index, adapter in enumerate(a for a in adapters if isinstance(a, dict)):
        report.gpus.append(_adapter(ctx, index, adapter, ram_gb))
    return report


def _adapter(ctx: ProbeContext, index: int, adapter: dict[str, Any], ram_gb: float | None) -> Gpu:
    vendor = _vendor(adapter)
    name = clean(adapter.get("sppci_model")) or clean(adapter.get("_name")) or "GPU"
    builtin = clean(adapter.get("sppci_bus")) == "spdisplays_builtin"
    unified = vendor in (GpuVendor.APPLE, GpuVendor.INTEL) and builtin
    if unified:
        memory = ram_gb
        interface = InterfaceType.SOC_UNIFIED
    else:
        vram = adapter.get("spdisplays_vram") or adapter.get("_spdisplays_vram")
        memory = to_gib(parse_bytes(vram, "mb"))
        # Thunderbolt enclosures are not told apart from internal PCIe cards here.
        interface = InterfaceType.PCIE if not builtin else InterfaceType.OTHER
        if memory is None:
            ctx.issue(f"gpu.{index}.memory_total_gb", "system_profiler reported no VRAM")
    family = clean(adapter.get("spdisplays_mtlgpufamilysupport"))
    return Gpu(
        slot=index,
        vendor=vendor,
        name=name,
        memory_total_gb=memory,
        unified_memory=unified,
        interface_type=interface,
        pcie_width_max=parse_int(adapter.get("spdisplays_pcie_width")) if not builtin else None,
        # "spdisplays_metal3" → "metal3": the Metal GPU family is Apple's architecture marker.
        architecture=family.removeprefix("spdisplays_") if family else None,
        cores=parse_int(adapter.get("sppci_cores")),
        source="system_profiler",
    )
