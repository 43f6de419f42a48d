"""AMD GPUs: ``amd-smi static --json`` first, ``rocm-smi … --json`` second.

* amd-smi prints a JSON list of per-GPU objects in older releases and ``{"gpu_data": [...]}`` in
  newer ones; numbers come as ``{"value": 32, "unit": "GT/s"}`` or as strings ("750 W").
* rocm-smi prints ``{"card0": {...}, "system": {...}}`` with all values as strings; ROCm 6.1
  renamed "Card series" → "Card Series" etc., so keys are matched case-insensitively.
* ROCm version: ``$ROCM_PATH/.info/version`` (default ``/opt/rocm``).

Private fields (``asic_serial``, ``product_serial``, ``Serial Number``, ``Unique ID``, ``GUID``)
are never read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from collector.models import Gpu, GpuVendor, InterfaceType
from collector.probe.gpu_common import GpuReport, is_wsl
from collector.probe.tools import (
    ProbeContext,
    ToolFailure,
    clean,
    parse_bytes,
    parse_int,
    parse_number,
    to_gib,
)

_SLOT_TYPES = {
    "PCIE": InterfaceType.PCIE,
    "CEM": InterfaceType.PCIE,
    "OAM": InterfaceType.OAM,
}


def _get(data: Any, *path: str) -> Any:
    """Nested lookup that tolerates missing levels and non-dict values."""
    for key in path:
        if not isinstance(data, Mapping):
            return None
        data = data.get(key)
    return data


def _iget(data: Mapping[str, Any], *keys: str) -> Any:
    """Case-insensitive lookup of the first present key (rocm-smi changed key casing)."""
    lowered = {str(k).lower(): v for k, v in data.items()}
    for key in keys:
        if key.lower() in lowered:
            return lowered[key.lower()]
    return None


def _json(ctx: ProbeContext, argv: list[str], probe: str) -> Any | None:
    """Run a tool and parse its JSON; missing tools are noted, other failures are issues."""
    try:
        out = ctx.runner(argv)
    except ToolFailure as exc:
        if exc.missing:
            ctx.absent.append(exc.reason)
        else:
            ctx.issue(probe, exc.reason)
        return None
    try:
        return json.loads(out)
    except ValueError:
        first = out.strip().splitlines()[:1]
        ctx.issue(probe, f"{argv[0]} printed no JSON: {first[0][:120] if first else 'nothing'}")
        return None


def probe_amd_smi(ctx: ProbeContext) -> GpuReport | None:
    """AMD GPUs from ``amd-smi static --json`` (list or ``{"gpu_data": [...]}``)."""
    data = _json(ctx, ["amd-smi", "static", "--json"], "gpu.amd_smi")
    if data is None:
        return None
    entries = data.get("gpu_data") if isinstance(data, Mapping) else data
    if not isinstance(entries, list):
        ctx.issue("gpu.amd_smi", "amd-smi static --json had neither a list nor gpu_data")
        return None
    report = GpuReport(source="amd-smi")
    for index, entry in enumerate(e for e in entries if isinstance(e, Mapping)):
        report.gpus.append(_amd_smi_gpu(ctx, index, entry))
        report.driver_version = report.driver_version or clean(_get(entry, "driver", "version"))
    return report


def _amd_smi_gpu(ctx: ProbeContext, index: int, entry: Mapping[str, Any]) -> Gpu:
    """One amd-smi GPU object; missing fields are None plus an issue."""
    p = f"gpu.{index}"
    # board.product_name names the SKU; asic.market_name can be generic (rules_mojo#45).
    name = clean(_get(entry, "board", "product_name")) or clean(_get(entry, "asic", "market_name"))
    if name is None:
        ctx.issue(f"{p}.name", "amd-smi gave neither board.product_name nor asic.market_name")
    vram = _get(entry, "vram") or {}
    size = _get(vram, "size") if _get(vram, "size") is not None else _get(vram, "vram_size_mb")
    memory = to_gib(parse_bytes(size, "mb"))
    slot_type = (clean(_get(entry, "bus", "slot_type")) or "").upper()
    interface = _SLOT_TYPES.get(slot_type, InterfaceType.UNKNOWN)
    if is_wsl(ctx):
        interface = InterfaceType.VIRTUALIZED
    gen = parse_int(_get(entry, "bus", "pcie_interface_version"))
    width = parse_int(_get(entry, "bus", "max_pcie_width"))
    power = parse_number(_get(entry, "limit", "max_power"))
    for field, value in (
        ("memory_total_gb", memory),
        ("interface_type", None if interface == InterfaceType.UNKNOWN else interface),
        ("pcie_gen_max", gen),
        ("pcie_width_max", width),
        ("power_limit_w", power),
    ):
        if value is None:
            ctx.issue(f"{p}.{field}", "amd-smi static reported N/A or no such field")
    return Gpu(
        slot=index,
        vendor=GpuVendor.AMD,
        name=name or "AMD GPU",
        memory_total_gb=memory,
        interface_type=interface,
        pcie_gen_max=gen,
        pcie_width_max=width,
        power_limit_w=power,
        architecture=clean(_get(entry, "asic", "target_graphics_version")),
        cores=parse_int(_get(entry, "asic", "num_compute_units")),
        source="amd-smi",
    )


def probe_rocm_smi(ctx: ProbeContext) -> GpuReport | None:
    """AMD GPUs from ``rocm-smi --showproductname --showmeminfo vram --showdriverversion``."""
    argv = ["rocm-smi", "--showproductname", "--showmeminfo", "vram", "--showdriverversion"]
    data = _json(ctx, [*argv, "--json"], "gpu.rocm_smi")
    if data is None:
        return None
    if not isinstance(data, Mapping):
        ctx.issue("gpu.rocm_smi", "rocm-smi --json did not print an object")
        return None
    report = GpuReport(source="rocm-smi")
    system = _iget(data, "system")
    if isinstance(system, Mapping):
        report.driver_version = clean(_iget(system, "Driver version"))
    cards = sorted(
        (k for k in data if str(k).lower().startswith("card") and str(k)[4:].isdigit()),
        key=lambda k: int(str(k)[4:]),
    )
    for index, key in enumerate(cards):
        card = data[key]
        if isinstance(card, Mapping):
            report.gpus.append(_rocm_smi_gpu(ctx, index, card))
    return report


def _rocm_smi_gpu(ctx: ProbeContext, index: int, card: Mapping[str, Any]) -> Gpu:
    """One ``cardN`` object from rocm-smi (string values, varying key case)."""
    p = f"gpu.{index}"
    name = clean(_iget(card, "Card Series", "Card Model"))
    if name is None:
        ctx.issue(f"{p}.name", "rocm-smi gave no Card Series")
    memory = to_gib(parse_bytes(_iget(card, "VRAM Total Memory (B)")))
    if memory is None:
        ctx.issue(f"{p}.memory_total_gb", "rocm-smi gave no VRAM Total Memory (B)")
    ctx.issue(f"{p}.interface_type", "rocm-smi does not report the slot type; install amd-smi")
    return Gpu(
        slot=index,
        vendor=GpuVendor.AMD,
        name=name or "AMD GPU",
        memory_total_gb=memory,
        interface_type=InterfaceType.VIRTUALIZED if is_wsl(ctx) else InterfaceType.UNKNOWN,
        power_limit_w=parse_number(_iget(card, "Max Graphics Package Power (W)")),
        architecture=clean(_iget(card, "GFX Version")),
        source="rocm-smi",
    )


def rocm_version(ctx: ProbeContext) -> str | None:
    """The ROCm release from ``$ROCM_PATH/.info/version`` (``/opt/rocm`` by default)."""
    base = ctx.env.get("ROCM_PATH") or "/opt/rocm"
    text = ctx.read_text(f"{base.rstrip('/')}/.info/version")
    return clean(text.splitlines()[0]) if text and text.strip() else None


def detect(ctx: ProbeContext) -> GpuReport | None:
    """amd-smi, else rocm-smi; the ROCm version is attached when installed."""
    report = probe_amd_smi(ctx)
    if report is None or not report.gpus:
        fallback = probe_rocm_smi(ctx)
        if fallback is not None and (fallback.gpus or report is None):
            report = fallback
    version = rocm_version(ctx)
    if version is not None:
        report = report or GpuReport(source="rocm")
        report.rocm_version = version
    return report
