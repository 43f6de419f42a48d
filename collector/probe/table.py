"""``bakeoff probe`` without ``--json``: the hardware block as an aligned, readable table."""

from __future__ import annotations

from collector.models import BenchmarkResult, Benchmarks, Gpu, Hardware


def _fmt(value: object, unit: str = "") -> str:
    """A cell: '—' for None, yes/no for booleans, the unit appended to numbers."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return f"{value}{unit}"


def _section(title: str, rows: list[tuple[str, str]]) -> list[str]:
    width = max((len(k) for k, _ in rows), default=0)
    return [title, *(f"  {k.ljust(width)}  {v}" for k, v in rows), ""]


def _gpu_rows(gpu: Gpu) -> list[tuple[str, str]]:
    pcie = (
        f"Gen{gpu.pcie_gen_max or '?'} x{gpu.pcie_width_max or '?'}"
        if gpu.pcie_gen_max or gpu.pcie_width_max
        else "—"
    )
    power = _fmt(gpu.power_limit_w, " W")
    if gpu.power_limit_default_w is not None:
        power += f" (default {gpu.power_limit_default_w} W)"
    arch = _fmt(gpu.architecture)
    if gpu.compute_capability:
        arch += f" (CC {gpu.compute_capability})"
    if gpu.tensor_core_generation:
        arch += f", tensor cores gen {gpu.tensor_core_generation}"
    memory = _fmt(gpu.memory_total_gb, " GiB") + (" (unified)" if gpu.unified_memory else "")
    return [
        ("name", f"{gpu.name} [{gpu.vendor}]"),
        ("memory", memory),
        ("interface", str(gpu.interface_type)),
        ("pcie max", pcie),
        ("power limit", power),
        ("architecture", arch),
        ("cores", _fmt(gpu.cores)),
        ("source", gpu.source),
    ]


_KERNEL_LABELS = {"host_to_device": "host→device copy", "device_to_host": "device→host copy"}


def _bench_label(r: BenchmarkResult) -> str:
    where = "host" if r.target == "host" else f"GPU {_fmt(r.gpu_slot)} ({r.device_name})"
    what = _KERNEL_LABELS.get(str(r.kernel), str(r.kernel))
    if r.precision:
        what += f" {r.precision}"
    if r.scope == "one_core":
        what += ", one core"
    elif r.scope == "all_cores":
        what += f", {r.workers} threads" if r.workers else ", all cores"
    return f"{where} {what}"


def _bench_value(r: BenchmarkResult) -> str:
    if r.median is None:
        return f"— ({r.reason})"
    size = f", n={r.matrix_n}" if r.matrix_n else ""
    return f"{r.median:.1f} {r.unit} median ({r.min:.1f}–{r.max:.1f}, {r.repetitions} reps{size})"


def _gbs(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} GB/s"


def _bench_section(b: Benchmarks) -> list[str]:
    load = f", load {b.load_avg_start[0]:.2f} at start" if b.load_avg_start else ""
    rows = [
        ("memory bandwidth", _gbs(b.memory_bandwidth_gbs) + " (best host repetition)"),
        ("  one core", _gbs(b.memory_bandwidth_one_core_gbs)),
        (
            "last-level cache",
            _fmt(b.last_level_cache_bytes // 1024**2 if b.last_level_cache_bytes else None, " MiB"),
        ),
        *((_bench_label(r), _bench_value(r)) for r in b.results),
        ("libraries", ", ".join(f"{k} {v}" for k, v in sorted(b.libraries.items())) or "—"),
    ]
    return _section(f"Benchmarks ({b.wall_time_s:.1f} s{load})", rows)


def format_table(hw: Hardware) -> str:
    """Render a Hardware block: system, software, GPUs, benchmarks (--bench), probe issues."""
    h, s = hw.system_hardware, hw.system_software
    c = h.container
    container = "no"
    if c.in_container:
        container = (
            f"yes (memory limit {_fmt(c.memory_limit_gb, ' GiB')}, cpu quota {_fmt(c.cpu_quota)})"
        )
    lines = _section(
        "System",
        [
            ("system_id", h.system_id),
            ("publisher_id", _fmt(h.publisher_id)),
            ("cpu", _fmt(h.cpu_model)),
            ("cores / threads", f"{_fmt(h.cpu_cores)} / {_fmt(h.cpu_threads)}"),
            ("architecture", _fmt(h.architecture)),
            ("ram", _fmt(h.ram_total_gb, " GiB")),
            ("board", _fmt(h.board_model)),
            ("container", container),
            ("usable cpus", _fmt(c.usable_cpus)),
        ],
    )
    lines += _section(
        "Software",
        [
            ("os", _fmt(s.os)),
            ("kernel", _fmt(s.kernel_version)),
            ("python", s.python_version),
            ("gpu driver", _fmt(s.gpu_driver_version)),
            ("cuda (driver max)", _fmt(s.cuda_version)),
            ("rocm", _fmt(s.rocm_version)),
            ("bakeoff", s.runner_version),
        ],
    )
    if hw.gpus:
        for gpu in hw.gpus:
            lines += _section(f"GPU {gpu.slot}", _gpu_rows(gpu))
    else:
        lines += ["GPUs", "  none found", ""]
    if hw.benchmarks is not None:
        lines += _bench_section(hw.benchmarks)
    if hw.probe_issues:
        width = max(len(i.probe) for i in hw.probe_issues)
        lines += [
            "Probe issues",
            *(f"  {i.probe.ljust(width)}  {i.reason}" for i in hw.probe_issues),
        ]
    else:
        lines += ["Probe issues", "  none"]
    return "\n".join(lines)
