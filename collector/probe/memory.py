"""Host RAM and container limits.

``/proc/meminfo`` and ``/proc/cpuinfo`` are not namespaced, so psutil reports the *host* inside a
container (psutil#2100). ``ram_total_gb`` therefore stays the host's RAM and the limits that
actually bind the collector are recorded beside it, from cgroups:

* cgroup v2 (``/sys/fs/cgroup/cgroup.controllers`` exists): ``memory.max`` and ``cpu.max``
  ("$MAX $PERIOD") in our cgroup (``0::/path`` in ``/proc/self/cgroup``) and every ancestor;
  the smallest limit wins, because any ancestor's limit binds its children.
* cgroup v1: ``memory.limit_in_bytes`` (≈2^63 = unlimited), ``cpu.cfs_quota_us`` (-1 =
  unlimited) / ``cpu.cfs_period_us`` in the ``memory`` and ``cpu`` hierarchies, same walk.

The cgroup path in ``/proc/self/cgroup`` may not exist under the mount (cgroup namespaces show
"/" or a path from the parent namespace); missing levels are skipped.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import psutil

from collector.models import ContainerLimits
from collector.probe.tools import GIB, ProbeContext

# v1 reports "unlimited" as a page-rounded 2^63; anything this large is no limit.
_UNLIMITED_BYTES = 2**60


def ram_total_gb(ctx: ProbeContext) -> float | None:
    """Host RAM in GiB (psutil ``virtual_memory().total`` = MemTotal), two decimals."""
    try:
        return round(psutil.virtual_memory().total / GIB, 2)
    except (OSError, RuntimeError) as exc:
        ctx.issue("memory.total", f"psutil could not read total memory: {exc}")
        return None


def _own_cgroups(ctx: ProbeContext) -> dict[str, str]:
    """Controller → cgroup path from ``/proc/self/cgroup`` ("" is the unified v2 hierarchy)."""
    text = ctx.read_text("/proc/self/cgroup") or ""
    paths: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.strip().split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        for controller in controllers.split(",") if controllers else [""]:
            paths[controller] = path
    return paths


def _walk(base: Path, cgroup_path: str) -> list[Path]:
    """``base/cgroup_path`` and each ancestor up to ``base``, skipping levels that don't exist."""
    levels: list[Path] = []
    current = base / cgroup_path.strip("/") if cgroup_path.strip("/") else base
    while True:
        if current.is_dir():
            levels.append(current)
        if current == base or base not in current.parents:
            break
        current = current.parent
    return levels


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None


def _min(values: list[float]) -> float | None:
    return min(values) if values else None


def _cgroup_v2_limits(ctx: ProbeContext, path: str) -> tuple[float | None, float | None]:
    """(memory limit bytes, CPU quota in CPUs) from the v2 hierarchy; None when unlimited."""
    memory: list[float] = []
    cpu: list[float] = []
    for level in _walk(ctx.path("/sys/fs/cgroup"), path):
        mem = _read(level / "memory.max")
        if mem and mem != "max" and mem.isdigit():
            memory.append(float(mem))
        quota = (_read(level / "cpu.max") or "").split()
        if len(quota) == 2 and quota[0] != "max":
            with contextlib.suppress(ValueError, ZeroDivisionError):
                cpu.append(float(quota[0]) / float(quota[1]))
    return _min(memory), _min(cpu)


def _cgroup_v1_limits(
    ctx: ProbeContext, paths: dict[str, str]
) -> tuple[float | None, float | None]:
    """(memory limit bytes, CPU quota in CPUs) from the v1 hierarchies; None when unlimited."""
    memory: list[float] = []
    cpu: list[float] = []
    if "memory" in paths:
        for level in _walk(ctx.path("/sys/fs/cgroup/memory"), paths["memory"]):
            value = _read(level / "memory.limit_in_bytes")
            if value and value.isdigit() and int(value) < _UNLIMITED_BYTES:
                memory.append(float(value))
    if "cpu" in paths:
        # Distros mount the cpu controller as "cpu,cpuacct" with a "cpu" symlink, or only one.
        for mount in ("/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct"):
            base = ctx.path(mount)
            if not base.is_dir():
                continue
            for level in _walk(base, paths["cpu"]):
                quota, period = (
                    _read(level / "cpu.cfs_quota_us"),
                    _read(level / "cpu.cfs_period_us"),
                )
                try:
                    q, p = int(quota or "-1"), int(period or "0")
                except ValueError:
                    continue
                if q > 0 and p > 0:
                    cpu.append(q / p)
            break
    return _min(memory), _min(cpu)


def _usable_cpus() -> int | None:
    """CPUs in this process's affinity mask (Linux, Windows); None where there is no mask."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    try:
        return len(psutil.Process().cpu_affinity() or []) or None
    except (AttributeError, psutil.Error, OSError):
        return None


def container_limits(ctx: ProbeContext, ram_bytes: int | None = None) -> ContainerLimits:
    """Container markers and the cgroup limits that bind this process.

    A memory limit at or above host RAM binds nothing and is reported as null (unlimited).
    """
    memory: float | None = None
    cpu: float | None = None
    if ctx.system == "Linux":
        paths = _own_cgroups(ctx)
        if ctx.path("/sys/fs/cgroup/cgroup.controllers").exists():
            memory, cpu = _cgroup_v2_limits(ctx, paths.get("", "/"))
        else:
            memory, cpu = _cgroup_v1_limits(ctx, paths)
    if ram_bytes is None:
        try:
            ram_bytes = psutil.virtual_memory().total
        except (OSError, RuntimeError):
            ram_bytes = None
    if memory is not None and ram_bytes is not None and memory >= ram_bytes:
        memory = None
    markers = (
        ctx.path("/.dockerenv").exists()
        or ctx.path("/run/.containerenv").exists()
        or "KUBERNETES_SERVICE_HOST" in ctx.env
    )
    return ContainerLimits(
        in_container=bool(markers or memory is not None or cpu is not None),
        memory_limit_gb=round(memory / GIB, 2) if memory is not None else None,
        cpu_quota=round(cpu, 2) if cpu is not None else None,
        usable_cpus=_usable_cpus(),
    )
