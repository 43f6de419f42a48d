"""CPU marketing name, core and thread counts, architecture, board model.

Order per OS:

* Linux: ``/proc/cpuinfo`` ``model name`` → ``lscpu`` ``Model name`` (decodes ARM
  implementer/part, where cpuinfo has no model name) → ``platform.processor()``.
* macOS: ``sysctl -n machdep.cpu.brand_string`` → ``system_profiler`` ``chip_type``/``cpu_type``.
* Windows: registry ``ProcessorNameString`` → ``platform.processor()``.

``platform.processor()`` is a family string or just the architecture ("x86_64", "arm"), so it
is used only when it says more than the architecture.
"""

from __future__ import annotations

import json
import platform
import sys
from typing import Any

import psutil

from collector.probe.tools import ProbeContext, ToolFailure, clean

_ARCH_ONLY = {"", "x86_64", "amd64", "aarch64", "arm64", "arm", "i386", "i686", "ppc64le", "s390x"}


def cpu_model(ctx: ProbeContext) -> str | None:
    """The CPU's marketing name, or None with a ``cpu.model`` probe issue."""
    tried: list[str] = []
    if ctx.system == "Darwin":
        found = _sysctl_brand(ctx, tried) or _profiler_chip(ctx, tried)
    elif ctx.system == "Windows":
        found = _windows_registry(tried)
    else:
        found = _proc_cpuinfo(ctx, tried) or _lscpu(ctx, tried)
    if found is None:
        found = _platform_processor(tried)
    if found is None:
        ctx.issue("cpu.model", "no CPU model name found: " + "; ".join(tried))
    return found


def _proc_cpuinfo(ctx: ProbeContext, tried: list[str]) -> str | None:
    text = ctx.read_text("/proc/cpuinfo")
    if text is None:
        tried.append("/proc/cpuinfo not readable")
        return None
    names = _unique(
        line.split(":", 1)[1]
        for line in text.splitlines()
        if ":" in line and line.split(":", 1)[0].strip().lower() == "model name"
    )
    if not names:
        tried.append("/proc/cpuinfo has no 'model name' line")
        return None
    return " + ".join(names)


def _lscpu(ctx: ProbeContext, tried: list[str]) -> str | None:
    try:
        out = ctx.runner(["lscpu"])
    except ToolFailure as exc:
        tried.append(exc.reason)
        return None
    # big.LITTLE systems print one "Model name" block per core type.
    names = _unique(
        line.split(":", 1)[1]
        for line in out.splitlines()
        if ":" in line and line.split(":", 1)[0].strip() == "Model name"
    )
    if not names:
        tried.append("lscpu printed no 'Model name'")
        return None
    return " + ".join(names)


def _sysctl_brand(ctx: ProbeContext, tried: list[str]) -> str | None:
    try:
        value = clean(ctx.runner(["sysctl", "-n", "machdep.cpu.brand_string"]))
    except ToolFailure as exc:
        tried.append(exc.reason)
        return None
    # Phoronix falls back to the chip name when sysctl only says "Apple processor".
    if value is None or value == "Apple processor":
        tried.append("sysctl machdep.cpu.brand_string gave no model name")
        return None
    return value


def _profiler_chip(ctx: ProbeContext, tried: list[str]) -> str | None:
    hw = system_profiler_hardware(ctx)
    value = (clean(hw.get("chip_type")) or clean(hw.get("cpu_type"))) if hw else None
    if value is None:
        tried.append("system_profiler gave no chip_type")
    return value


def system_profiler(ctx: ProbeContext) -> dict[str, Any] | None:
    """The parsed ``system_profiler SPHardwareDataType SPDisplaysDataType -json`` (run once)."""
    try:
        out = ctx.runner(["system_profiler", "SPHardwareDataType", "SPDisplaysDataType", "-json"])
    except ToolFailure:
        return None
    try:
        data = json.loads(out)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def system_profiler_hardware(ctx: ProbeContext) -> dict[str, Any] | None:
    """The first ``SPHardwareDataType`` entry (holds chip_type, machine_model …)."""
    data = system_profiler(ctx)
    entries = data.get("SPHardwareDataType") if data else None
    if isinstance(entries, list) and entries and isinstance(entries[0], dict):
        return entries[0]
    return None


def _windows_registry(tried: list[str]) -> str | None:
    # The platform check (not just try/import) lets mypy skip winreg on other systems.
    if sys.platform != "win32":
        tried.append("the Windows registry exists only on Windows")
        return None
    import winreg

    key_path = r"HARDWARE\DESCRIPTION\System\CentralProcessor\0"
    try:
        with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, key_path) as key:
            value, _ = winreg.QueryValueEx(key, "ProcessorNameString")
    except OSError as exc:
        tried.append(f"registry ProcessorNameString unreadable: {exc}")
        return None
    return clean(value)


def _platform_processor(tried: list[str]) -> str | None:
    value = clean(platform.processor())
    if value is None or value.lower() in _ARCH_ONLY:
        tried.append("platform.processor() gives only the architecture")
        return None
    return value


def _unique(values: Any) -> list[str]:
    """Cleaned, non-empty values in first-seen order."""
    seen: list[str] = []
    for raw in values:
        value = clean(raw)
        if value is not None and value not in seen:
            seen.append(value)
    return seen


def cpu_counts(ctx: ProbeContext) -> tuple[int | None, int | None]:
    """(physical cores, logical CPUs) of the host; None with a probe issue when unknown."""
    cores = psutil.cpu_count(logical=False)
    threads = psutil.cpu_count(logical=True)
    if not cores:
        ctx.issue("cpu.cores", "psutil could not count physical cores on this platform")
        cores = None
    if not threads:
        ctx.issue("cpu.threads", "psutil could not count logical CPUs on this platform")
        threads = None
    return cores, threads


def architecture() -> str:
    """``platform.machine()`` (e.g. x86_64, aarch64, arm64), or the interpreter's guess."""
    machine = platform.machine()
    if machine:
        return machine
    # platform.machine() can be empty on exotic builds; the pointer size is still honest.
    return "64bit" if sys.maxsize > 2**32 else "32bit"


def board_model(ctx: ProbeContext) -> str | None:
    """The board or machine model (devicetree on ARM boards, ``hw.model`` on Macs), if any."""
    if ctx.system == "Darwin":
        hw = system_profiler_hardware(ctx)
        value = clean(hw.get("machine_model")) if hw else None
        if value is not None:
            return value
        try:
            return clean(ctx.runner(["sysctl", "-n", "hw.model"]))
        except ToolFailure:
            return None
    if ctx.system == "Linux":
        # Raspberry Pi, Jetson and similar boards name themselves here (NUL-terminated).
        return clean(ctx.read_text("/sys/firmware/devicetree/base/model"))
    return None
