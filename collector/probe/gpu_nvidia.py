"""NVIDIA GPUs: NVML (``nvidia-ml-py``, module ``pynvml``) first, ``nvidia-smi -q -x`` second.

NVML answers field by field; any one query may raise ``NVMLError_NotSupported`` (GeForce power
limits, GB10/Jetson memory) or ``FunctionNotFound`` (binding newer than the driver), so every
field has its own ``try`` and becomes None plus a probe issue. GPU UUIDs and
serials are never queried: nothing here needs to match devices across tools.

Compute capability → architecture and tensor-core generation (CUDA C++ Programming Guide,
"Compute Capabilities" table; NVIDIA architecture whitepapers for the tensor-core generation):

=========  ==============  =====  ==========================================================
CC         architecture    TC     examples
=========  ==============  =====  ==========================================================
3.x        Kepler          —      K80
5.x        Maxwell         —      M40
6.x        Pascal          —      P100, GTX 10xx
7.0, 7.2   Volta           1      V100, Jetson Xavier (7.2)
7.5        Turing          2      T4, RTX 20xx
8.0–8.7    Ampere          3      A100 (8.0), RTX 30xx / A10 (8.6), Jetson Orin (8.7)
8.9        Ada Lovelace    4      L4, L40S, RTX 40xx
9.0        Hopper          4      H100, H200, GH200 (Hopper's tensor cores are 4th gen too)
10.x       Blackwell       5      B200 (10.0), B300 (10.3)
11.x       Blackwell       5      Jetson Thor (11.0; 10.1 before CUDA 13)
12.x       Blackwell       5      RTX 50xx / RTX PRO 6000 (12.0), GB10 / DGX Spark (12.1)
=========  ==============  =====  ==========================================================
"""

from __future__ import annotations

import importlib
import re
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

from collector.models import Gpu, GpuVendor, InterfaceType
from collector.probe.gpu_common import GpuReport, is_external_pci, is_wsl
from collector.probe.tools import (
    ProbeContext,
    ToolFailure,
    clean,
    parse_bytes,
    parse_int,
    parse_number,
    to_gib,
)

_ARCH_TENSOR_GEN: dict[str, int | None] = {
    "kepler": None,
    "maxwell": None,
    "pascal": None,
    "volta": 1,
    "turing": 2,
    "ampere": 3,
    "ada lovelace": 4,
    "ada": 4,
    "hopper": 4,
    "blackwell": 5,
}

# Parts that only exist as SXM modules even though their names do not say so.
_SXM_NAME = re.compile(
    r"SXM|\bH[18]00 80GB HBM3\b|\bH200\b(?!.*NVL)|\bH20\b|\bB[23]00\b(?!.*(?:PCIe|NVL))"
)
# GPUs that share system RAM; NVML reports their memory as NotSupported.
_INTEGRATED_NAME = re.compile(r"\bGB10\b|\bOrin\b|\bThor\b|\bXavier\b|Jetson|nvgpu", re.IGNORECASE)

_NVML_ABSENT = {"NVMLError_LibraryNotFound", "NVMLError_DriverNotLoaded"}


def architecture_for_cc(major: int, minor: int) -> tuple[str | None, int | None]:
    """(architecture name, tensor-core generation) for a compute capability; see module doc."""
    name: str | None
    if major == 7:
        name = "Turing" if minor >= 5 else "Volta"
    elif major == 8:
        name = "Ada Lovelace" if minor >= 9 else "Ampere"
    else:
        name = {3: "Kepler", 5: "Maxwell", 6: "Pascal", 9: "Hopper"}.get(major)
        if name is None and major in (10, 11, 12):
            name = "Blackwell"
    if name is None:
        return None, None
    return name, _ARCH_TENSOR_GEN[name.lower()]


def tensor_gen_for_arch(name: str | None) -> int | None:
    """Tensor-core generation for an architecture name as nvidia-smi prints it ("Ampere")."""
    return _ARCH_TENSOR_GEN.get(name.lower()) if name else None


def derive_interface(
    name: str,
    *,
    virtualized: bool,
    c2c: bool,
    integrated: bool,
    external: bool,
    active_nvlinks: int,
    on_pci_bus: bool | None,
) -> InterfaceType:
    """Apply the attachment rules in order: the most specific attachment wins."""
    if virtualized:
        return InterfaceType.VIRTUALIZED
    if c2c:
        return InterfaceType.NVLINK_C2C
    if integrated:
        return InterfaceType.SOC_UNIFIED
    if _SXM_NAME.search(name):
        return InterfaceType.SXM
    if external:
        return InterfaceType.PCIE_EXTERNAL
    if on_pci_bus and active_nvlinks > 0:
        return InterfaceType.PCIE_NVLINK_BRIDGE
    if on_pci_bus:
        return InterfaceType.PCIE
    return InterfaceType.UNKNOWN


# --------------------------------------------------------------------------- NVML


def load_nvml() -> Any | None:
    """Import ``pynvml`` (from nvidia-ml-py) without its side effects; None when absent."""
    try:
        with warnings.catch_warnings():
            # The deprecated 'pynvml' package warns on import; the probe reports that itself.
            warnings.simplefilter("ignore")
            return importlib.import_module("pynvml")
    except ImportError:
        return None


class _Nvml:
    """Calls into an NVML module where each failure becomes None plus one probe issue."""

    def __init__(self, module: Any, ctx: ProbeContext) -> None:
        self.module = module
        self.ctx = ctx
        error = getattr(module, "NVMLError", None)
        self.errors: tuple[type[BaseException], ...] = (
            (error, UnicodeDecodeError) if isinstance(error, type) else (UnicodeDecodeError,)
        )

    def call(self, probe: str | None, func: str, *args: Any) -> Any:
        """``module.func(*args)``; on error None, plus an issue under ``probe`` unless None."""
        fn: Callable[..., Any] | None = getattr(self.module, func, None)
        if fn is None:
            if probe:
                self.ctx.issue(probe, f"this nvidia-ml-py has no {func}; upgrade nvidia-ml-py")
            return None
        try:
            return fn(*args)
        except self.errors as exc:
            if probe:
                self.ctx.issue(probe, f"{func}: {exc or type(exc).__name__}")
            return None


def probe_nvml(module: Any, ctx: ProbeContext, ram_gb: float | None) -> GpuReport | None:
    """NVIDIA GPUs via NVML; None when NVML is unusable (the caller then tries nvidia-smi)."""
    nvml = _Nvml(module, ctx)
    try:
        module.nvmlInit()
    except nvml.errors as exc:
        if type(exc).__name__ in _NVML_ABSENT:
            ctx.absent.append(f"NVML: {exc}")
        else:
            ctx.issue("gpu.nvml", f"nvmlInit failed: {exc or type(exc).__name__}")
        return None
    try:
        if str(getattr(module, "__file__", "")).replace("\\", "/").endswith("pynvml/__init__.py"):
            ctx.issue(
                "gpu.nvml",
                "the deprecated 'pynvml' package shadows nvidia-ml-py; "
                "pip uninstall pynvml && pip install nvidia-ml-py",
            )
        report = GpuReport(source="nvml")
        report.driver_version = clean(nvml.call("gpu.driver_version", "nvmlSystemGetDriverVersion"))
        report.cuda_version = _cuda_version(nvml)
        count = nvml.call("gpu.nvml", "nvmlDeviceGetCount")
        for index in range(int(count or 0)):
            handle = nvml.call(f"gpu.{index}", "nvmlDeviceGetHandleByIndex", index)
            if handle is not None:
                report.gpus.append(_nvml_gpu(nvml, index, handle, ram_gb))
        return report
    finally:
        nvml.call(None, "nvmlShutdown")


def _cuda_version(nvml: _Nvml) -> str | None:
    """``nvmlSystemGetCudaDriverVersion_v2`` (v1 as fallback): 12040 → "12.4"."""
    value = nvml.call(None, "nvmlSystemGetCudaDriverVersion_v2")
    if value is None:
        value = nvml.call("gpu.cuda_version", "nvmlSystemGetCudaDriverVersion")
    if not isinstance(value, int) or value <= 0:
        return None
    return f"{value // 1000}.{(value % 1000) // 10}"


def _nvml_gpu(nvml: _Nvml, index: int, handle: Any, ram_gb: float | None) -> Gpu:
    """One GPU slot from NVML, field by field."""
    ctx, m = nvml.ctx, nvml.module
    p = f"gpu.{index}"
    name = clean(nvml.call(f"{p}.name", "nvmlDeviceGetName", handle)) or "NVIDIA GPU"

    bus_type = nvml.call(None, "nvmlDeviceGetBusType", handle)
    soc_bus = bus_type == getattr(m, "NVML_BUS_TYPE_FPCI", 3)
    integrated = soc_bus or bool(_INTEGRATED_NAME.search(name))

    memory_gb: float | None
    if integrated:
        # GB10/Jetson report memory NotSupported: the GPU's memory is the system's RAM.
        memory_gb = ram_gb
    else:
        info = nvml.call(f"{p}.memory_total_gb", "nvmlDeviceGetMemoryInfo", handle)
        memory_gb = to_gib(int(info.total)) if info is not None else None

    gen = nvml.call(f"{p}.pcie_gen_max", "nvmlDeviceGetMaxPcieLinkGeneration", handle)
    width = nvml.call(f"{p}.pcie_width_max", "nvmlDeviceGetMaxPcieLinkWidth", handle)
    limit = nvml.call(f"{p}.power_limit_w", "nvmlDeviceGetEnforcedPowerLimit", handle)
    default = nvml.call(
        f"{p}.power_limit_default_w", "nvmlDeviceGetPowerManagementDefaultLimit", handle
    )
    cc = nvml.call(f"{p}.compute_capability", "nvmlDeviceGetCudaComputeCapability", handle)
    cores = nvml.call(f"{p}.cores", "nvmlDeviceGetNumGpuCores", handle)

    arch: str | None = None
    tensor_gen: int | None = None
    cc_text: str | None = None
    if cc is not None:
        major, minor = int(cc[0]), int(cc[1])
        cc_text = f"{major}.{minor}"
        arch, tensor_gen = architecture_for_cc(major, minor)

    # Interface hints: absence is normal (FunctionNotFound on old drivers), so no issues.
    c2c_info = nvml.call(None, "nvmlDeviceGetC2cModeInfoV", handle)
    virt = nvml.call(None, "nvmlDeviceGetVirtualizationMode", handle)
    pci = nvml.call(None, "nvmlDeviceGetPciInfo", handle)
    bus_id = clean(getattr(pci, "busId", None)) if pci is not None else None
    interface = derive_interface(
        name,
        virtualized=virt == getattr(m, "NVML_GPU_VIRTUALIZATION_MODE_VGPU", 2) or is_wsl(ctx),
        c2c=bool(getattr(c2c_info, "isC2cEnabled", 0)),
        integrated=integrated,
        external=is_external_pci(ctx, bus_id),
        active_nvlinks=_active_nvlinks(nvml, handle),
        on_pci_bus=bus_type in (1, 2) if bus_type is not None else (gen is not None or None),
    )
    if interface == InterfaceType.UNKNOWN:
        ctx.issue(f"{p}.interface_type", "NVML reported neither a bus type nor a PCIe link")

    return Gpu(
        slot=index,
        vendor=GpuVendor.NVIDIA,
        name=name,
        memory_total_gb=memory_gb,
        unified_memory=integrated,
        interface_type=interface,
        pcie_gen_max=int(gen) if gen and not integrated else None,
        pcie_width_max=int(width) if width and not integrated else None,
        # NVML reports milliwatts.
        power_limit_w=round(limit / 1000, 1) if limit else None,
        power_limit_default_w=round(default / 1000, 1) if default else None,
        compute_capability=cc_text,
        architecture=arch,
        tensor_core_generation=tensor_gen,
        cores=int(cores) if cores else None,
        source="nvml",
    )


def _active_nvlinks(nvml: _Nvml, handle: Any) -> int:
    """Count active NVLinks; queries past the last link (or without NVLink) raise, so stop."""
    enabled = getattr(nvml.module, "NVML_FEATURE_ENABLED", 1)
    links = int(getattr(nvml.module, "NVML_NVLINK_MAX_LINKS", 18))
    active = 0
    for link in range(links):
        state = nvml.call(None, "nvmlDeviceGetNvLinkState", handle, link)
        if state is None:
            break
        active += state == enabled
    return active


# --------------------------------------------------------------------------- nvidia-smi


def _text(node: ET.Element, *paths: str) -> str | None:
    """The first non-sentinel text among ``paths`` (direct children of ``node``)."""
    for path in paths:
        found = node.find(path)
        if found is not None:
            value = clean(found.text)
            if value is not None:
                return value
    return None


def probe_nvidia_smi(ctx: ProbeContext, ram_gb: float | None) -> GpuReport | None:
    """NVIDIA GPUs from ``nvidia-smi -q -x``, parsed by tag presence."""
    try:
        out = ctx.runner(["nvidia-smi", "-q", "-x"])
    except ToolFailure as exc:
        if exc.missing:
            ctx.absent.append(exc.reason)
        else:
            ctx.issue("gpu.nvidia_smi", exc.reason)
        return None
    try:
        root = ET.fromstring(out)
    except ET.ParseError as exc:
        ctx.issue("gpu.nvidia_smi", f"nvidia-smi -q -x printed invalid XML: {exc}")
        return None
    report = GpuReport(
        source="nvidia-smi",
        driver_version=_text(root, "driver_version"),
        cuda_version=_text(root, "cuda_version"),
    )
    for index, node in enumerate(root.findall("gpu")):
        report.gpus.append(_smi_gpu(ctx, index, node, ram_gb))
    return report


def _smi_gpu(ctx: ProbeContext, index: int, node: ET.Element, ram_gb: float | None) -> Gpu:
    """One ``<gpu>`` element; fields the XML lacks are None plus an issue."""
    p = f"gpu.{index}"
    name = _text(node, "product_name")
    if name is None:
        ctx.issue(f"{p}.name", "nvidia-smi gave no product_name")
    name = name or "NVIDIA GPU"
    arch = _text(node, "product_architecture")
    integrated = bool(_INTEGRATED_NAME.search(name))

    # The direct <fb_memory_usage> child: MIG devices have their own, nested deeper.
    memory = to_gib(parse_bytes(_text(node, "fb_memory_usage/total"), "mib"))
    if integrated:
        memory = ram_gb
    elif memory is None:
        ctx.issue(f"{p}.memory_total_gb", "nvidia-smi reported no fb_memory_usage/total")

    link = "pci/pci_gpu_link_info"
    gen = parse_int(_text(node, f"{link}/pcie_gen/max_link_gen"))
    width = parse_int(_text(node, f"{link}/link_widths/max_link_width"))
    # Drivers ≥ 535 moved the limits into gpu_power_readings and renamed power_limit.
    limit = parse_number(
        _text(
            node,
            "gpu_power_readings/current_power_limit",
            "power_readings/power_limit",
            "power_readings/enforced_power_limit",
        )
    )
    default = parse_number(
        _text(node, "gpu_power_readings/default_power_limit", "power_readings/default_power_limit")
    )
    for field, value in (
        ("pcie_gen_max", gen),
        ("pcie_width_max", width),
        ("power_limit_w", limit),
        ("power_limit_default_w", default),
    ):
        if value is None and not integrated:
            ctx.issue(f"{p}.{field}", "nvidia-smi -q -x reported N/A or no such tag")
    ctx.issue(
        f"{p}.compute_capability", "nvidia-smi -q -x does not report it; install nvidia-ml-py"
    )

    c2c = (_text(node, "c2c_mode") or "").lower() == "enabled" or (
        (_text(node, "addressing_mode") or "").upper() == "ATS"
    )
    virt = (_text(node, "gpu_virtualization_mode/virtualization_mode") or "").upper() == "VGPU"
    interface = derive_interface(
        name,
        virtualized=virt or is_wsl(ctx),
        c2c=c2c,
        integrated=integrated,
        external=is_external_pci(ctx, node.get("id")),
        active_nvlinks=0,
        on_pci_bus=node.find("pci") is not None or gen is not None,
    )
    return Gpu(
        slot=index,
        vendor=GpuVendor.NVIDIA,
        name=name,
        memory_total_gb=memory,
        unified_memory=integrated,
        interface_type=interface,
        pcie_gen_max=gen if not integrated else None,
        pcie_width_max=width if not integrated else None,
        power_limit_w=limit,
        power_limit_default_w=default,
        compute_capability=None,
        architecture=arch,
        tensor_core_generation=tensor_gen_for_arch(arch),
        cores=None,
        source="nvidia-smi",
    )


def detect(ctx: ProbeContext, nvml_module: Any | None, ram_gb: float | None) -> GpuReport | None:
    """NVML when the module loads and initialises, else ``nvidia-smi -q -x``."""
    report: GpuReport | None = None
    if nvml_module is not None:
        report = probe_nvml(nvml_module, ctx, ram_gb)
        if report is not None and report.gpus:
            return report
    else:
        ctx.absent.append("NVML: nvidia-ml-py is not installed")
    smi = probe_nvidia_smi(ctx, ram_gb)
    # NVML without GPUs still knows the driver; prefer whichever report found something.
    return smi if smi is not None and smi.gpus else (report or smi)
