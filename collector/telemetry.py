"""Live hardware telemetry: a background sampler and the run's telemetry summary.

The :class:`Sampler` takes one :class:`~collector.models.Sample` every ``interval_s`` in a
daemon thread: system CPU % and memory (psutil), the engine process's RSS and CPU %, per-GPU
utilisation, memory, power, temperature and energy (NVML), and CPU package energy (RAPL under
``/sys/class/powercap``). Nothing in the thread raises into the caller: a field that cannot be
read is null in the sample and its first reason is kept for the summary's ``unavailable`` list.

Time base: ``t`` of a sample and :meth:`Sampler.now` are ``perf_counter`` seconds since
:meth:`Sampler.start`. The runner stamps each cell's call windows with ``now()`` and passes them
to :meth:`Sampler.summary`, which attributes energy to cells by interpolating the cumulative
energy counters at the window edges. ``start()`` and ``stop()`` each take one sample in the
caller's thread, so every window stamped between them lies inside the sampled range.

Energy is whole-device energy (the CPU package including other processes, every GPU), not the
engine's share; RAPL package energy excludes DRAM. It is meaningful per cell only when the host
is otherwise idle, which the run's load-average guard checks.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Final, TextIO

import psutil

from bakeoff.jsonio import dumps_line, write_atomic
from collector.models import (
    CellEnergy,
    GpuSample,
    RunHardwareMetrics,
    Sample,
    UnavailableMetric,
)

GIB: Final = 1024**3
DEFAULT_INTERVAL_S: Final = 0.5
RAPL_ROOT: Final = Path("/sys/class/powercap")
# Windows may end a hair after the last sample because clocks are read microseconds apart.
_EDGE_TOLERANCE_S: Final = 0.05
_MAX_ERRORS: Final = 20


class _Auto:
    """Sentinel: import pynvml if available."""


AUTO: Final = _Auto()

Window = tuple[float, float]
SampleSink = Callable[[Sample], None]


def jsonl_sink(stream: TextIO) -> SampleSink:
    """A sink that appends each sample to ``stream`` as one JSON line and flushes it."""

    def write(sample: Sample) -> None:
        stream.write(dumps_line(sample.model_dump(mode="json")))
        stream.flush()

    return write


def _utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _r(value: float | None, ndigits: int) -> float | None:
    return None if value is None else round(value, ndigits)


# --------------------------------------------------------------------------- RAPL


@dataclass
class _RaplZone:
    path: Path
    max_range_uj: int | None
    last_uj: int | None = None
    total_uj: int = 0


class _Rapl:
    """CPU package energy counters, unwrapped and summed over packages."""

    def __init__(self, root: Path) -> None:
        self.zones: list[_RaplZone] = []
        self.reason: str | None = None
        # Only top-level "intel-rapl:N" package zones: sub-zones (core, uncore, dram) are
        # contained in or separate from the package, and "psys" covers the whole platform.
        candidates = sorted(root.glob("intel-rapl:*")) if root.is_dir() else []
        packages = [p for p in candidates if p.name.count(":") == 1 and self._is_package(p)]
        if not packages:
            self.reason = (
                f"no RAPL package domain under {root} "
                "(powercap not exposed: container, VM, or not an x86 CPU)"
            )
            return
        for zone in packages:
            energy = zone / "energy_uj"
            try:
                int(energy.read_text())
            except PermissionError:
                self.reason = (
                    f"permission denied reading {energy} (root-only since Linux 5.10; "
                    "run as root or grant read access)"
                )
                self.zones = []
                return
            except (OSError, ValueError) as exc:
                self.reason = f"cannot read {energy}: {_reason(exc)}"
                self.zones = []
                return
            self.zones.append(_RaplZone(path=energy, max_range_uj=self._max_range(zone)))

    @staticmethod
    def _is_package(zone: Path) -> bool:
        try:
            return (zone / "name").read_text().strip().startswith("package")
        except OSError:
            return True  # no name file: a top-level zone is a package on every known kernel

    @staticmethod
    def _max_range(zone: Path) -> int | None:
        try:
            return int((zone / "max_energy_range_uj").read_text())
        except (OSError, ValueError):
            return None

    def read_j(self) -> float | None:
        """Joules since the first read (wrap-corrected); None once a read fails."""
        if not self.zones:
            return None
        for zone in self.zones:
            try:
                now = int(zone.path.read_text())
            except (OSError, ValueError) as exc:
                self.reason = f"cannot read {zone.path}: {_reason(exc)}"
                self.zones = []
                return None
            if zone.last_uj is not None:
                delta = now - zone.last_uj
                if delta < 0:
                    if zone.max_range_uj is None:
                        # Without the range a wrap cannot be corrected; stop rather than guess.
                        self.reason = f"{zone.path} wrapped and max_energy_range_uj is unknown"
                        self.zones = []
                        return None
                    delta += zone.max_range_uj
                zone.total_uj += delta
            zone.last_uj = now
        return sum(z.total_uj for z in self.zones) / 1e6


# --------------------------------------------------------------------------- NVML


class _Nvml:
    """Per-GPU live readings through pynvml; one try per field, first reason kept."""

    def __init__(self, module: Any) -> None:
        self.nv = module
        self.handles: list[Any] = []
        self.energy_base_mj: dict[int, float] = {}
        self.reason: str | None = None
        self.field_reasons: dict[str, str] = {}
        self.initialised = False
        if module is None:
            self.reason = "NVML disabled"
            return
        try:
            module.nvmlInit()
            self.initialised = True
            count = int(module.nvmlDeviceGetCount())
            self.handles = [module.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
        except Exception as exc:
            self.reason = f"NVML unavailable: {_reason(exc)}"
            self.handles = []
            return
        if not self.handles:
            self.reason = "no NVIDIA GPU found by NVML"

    def _field(self, name: str, function: str, *args: Any, attr: str | None = None) -> float | None:
        try:
            value = getattr(self.nv, function)(*args)
            return float(getattr(value, attr) if attr else value)
        except Exception as exc:
            self.field_reasons.setdefault(name, f"NVML {function}: {_reason(exc)}")
            return None

    def read(self) -> list[GpuSample]:
        """One GpuSample per device."""
        temp_sensor = getattr(self.nv, "NVML_TEMPERATURE_GPU", 0)
        out = []
        for index, h in enumerate(self.handles):
            util = self._field("gpu_util_percent", "nvmlDeviceGetUtilizationRates", h, attr="gpu")
            mem = self._field("gpu_memory_used_gb", "nvmlDeviceGetMemoryInfo", h, attr="used")
            power = self._field("gpu_power_w", "nvmlDeviceGetPowerUsage", h)
            temp = self._field("gpu_temperature_c", "nvmlDeviceGetTemperature", h, temp_sensor)
            energy_mj = self._field("gpu_energy_counter", "nvmlDeviceGetTotalEnergyConsumption", h)
            energy_j = None
            if energy_mj is not None:
                base = self.energy_base_mj.setdefault(index, energy_mj)
                energy_j = (energy_mj - base) / 1000.0
            out.append(
                GpuSample(
                    index=index,
                    util_percent=_r(util, 2),
                    memory_used_gb=_r(None if mem is None else mem / GIB, 4),
                    power_w=_r(None if power is None else power / 1000.0, 3),
                    temperature_c=_r(temp, 1),
                    energy_j=_r(energy_j, 6),
                )
            )
        return out

    def shutdown(self) -> None:
        if self.initialised:
            with contextlib.suppress(Exception):
                self.nv.nvmlShutdown()
            self.initialised = False


def _import_pynvml() -> Any:
    try:
        import pynvml
    except Exception:
        return None
    return pynvml


# --------------------------------------------------------------------------- sampler


class Sampler:
    """Background hardware sampler; see the module docstring for the time base and energy."""

    def __init__(
        self,
        interval_s: float = DEFAULT_INTERVAL_S,
        engine_pid: int | None = None,
        nvml: Any = AUTO,
        rapl_root: Path = RAPL_ROOT,
        clock: Callable[[], float] = time.perf_counter,
        sink: SampleSink | None = None,
    ) -> None:
        """``nvml``: AUTO imports pynvml when installed, None disables NVML, or a module-like
        object (tests inject a stand-in). ``sink`` receives every sample as it is taken."""
        if not interval_s > 0:
            raise ValueError("interval_s must be positive")
        self.interval_s = interval_s
        self._clock = clock
        self._sink = sink
        self._nvml_arg = nvml
        self._rapl_root = rapl_root
        self._lock = threading.Lock()
        self._take_lock = threading.Lock()  # one sample at a time: deltas need an order
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0: float | None = None
        self._samples: list[Sample] = []
        self._reasons: dict[str, str] = {}
        self.errors: list[str] = []
        """Unexpected exceptions caught in the sampling loop (first 20)."""
        self.thread_cpu_s = 0.0
        """CPU time spent taking samples (for the operating budget)."""
        self._engine_pid = engine_pid
        self._proc: psutil.Process | None = None
        self._proc_pid: int | None = None
        self._proc_primed = False
        self._cpu_last: tuple[float, float] | None = None
        self._rapl: _Rapl | None = None
        self._gpu: _Nvml | None = None

    # -- public API -------------------------------------------------------------------

    def start(self) -> Sampler:
        """Take the first sample now (t ≈ 0) and start the background thread."""
        if self._thread is not None:
            raise RuntimeError("sampler already started")
        try:
            self._rapl = _Rapl(self._rapl_root)
        except Exception as exc:  # e.g. an unreadable powercap folder; never fail the run
            self._rapl = _Rapl(Path("/nonexistent"))
            self._rapl.reason = f"cannot list {self._rapl_root}: {_reason(exc)}"
        nv = _import_pynvml() if isinstance(self._nvml_arg, _Auto) else self._nvml_arg
        if isinstance(self._nvml_arg, _Auto) and nv is None:
            self._gpu = _Nvml(None)
            self._gpu.reason = "pynvml (nvidia-ml-py) not importable"
        else:
            self._gpu = _Nvml(nv)
        # t = 0 after the (possibly slow) NVML initialisation, just before the first sample.
        self._t0 = self._clock()
        self._sample_safely()
        self._thread = threading.Thread(target=self._run, name="bakeoff-sampler", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread, then take a last sample so the final window is covered."""
        if self._thread is None or self._stop.is_set():
            return
        self._stop.set()
        self._thread.join(timeout=self.interval_s + 10.0)
        with self._take_lock:
            self._sample_safely()
        if self._gpu is not None:
            self._gpu.shutdown()

    def __enter__(self) -> Sampler:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def now(self) -> float:
        """Seconds since :meth:`start` on the samples' clock; use it to stamp call windows."""
        if self._t0 is None:
            raise RuntimeError("sampler not started")
        return self._clock() - self._t0

    def set_engine_pid(self, pid: int | None) -> None:
        """Follow a new engine process (after a managed-engine restart); None stops it."""
        with self._lock:
            self._engine_pid = pid

    def sample_now(self) -> Sample | None:
        """Take one extra sample in the caller's thread (e.g. at a cell boundary)."""
        if self._t0 is None:
            raise RuntimeError("sampler not started")
        with self._take_lock:
            self._sample_safely()
        with self._lock:
            return self._samples[-1] if self._samples else None

    @property
    def samples(self) -> list[Sample]:
        """A copy of the samples taken so far."""
        with self._lock:
            return list(self._samples)

    @property
    def alive(self) -> bool:
        """True while the background thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def write_samples(self, path: Path) -> None:
        """Write every sample to ``path`` as JSON lines (atomically)."""
        write_atomic(path, "".join(dumps_line(s.model_dump(mode="json")) for s in self.samples))

    def summary(
        self,
        cell_windows: dict[str, list[Window]],
        output_tokens: dict[str, int],
        system_id: str | None = None,
    ) -> RunHardwareMetrics:
        """Summarise the samples; see :func:`summarize` for the rules."""
        with self._lock:
            reasons = dict(self._reasons)
        if self._rapl is not None and self._rapl.reason:
            reasons.setdefault("cpu_energy", self._rapl.reason)
        if self._gpu is not None:
            if self._gpu.reason:
                reasons.setdefault("gpu", self._gpu.reason)
            for key, value in self._gpu.field_reasons.items():
                reasons.setdefault(key, value)
        gpu_count = len(self._gpu.handles) if self._gpu is not None else 0
        return summarize(
            self.samples,
            interval_s=self.interval_s,
            cell_windows=cell_windows,
            output_tokens=output_tokens,
            reasons=reasons,
            gpu_count=gpu_count,
            system_id=system_id,
        )

    # -- sampling ---------------------------------------------------------------------

    def _run(self) -> None:
        assert self._t0 is not None
        next_at = self._t0 + self.interval_s
        while not self._stop.wait(max(0.0, next_at - self._clock())):
            with self._take_lock:
                self._sample_safely()
            next_at += self.interval_s
            now = self._clock()
            if next_at < now:  # fell behind (suspend, heavy load): skip, never burst
                next_at = now + self.interval_s

    def _sample_safely(self) -> None:
        cpu0 = time.thread_time()
        try:
            sample = self._take()
            with self._lock:
                self._samples.append(sample)
            if self._sink is not None:
                try:
                    self._sink(sample)
                except Exception as exc:
                    self._note_error(f"sink: {_reason(exc)}")
        except Exception as exc:  # the thread must survive anything
            self._note_error(_reason(exc))
        finally:
            self.thread_cpu_s += time.thread_time() - cpu0

    def _note_error(self, text: str) -> None:
        with self._lock:
            if len(self.errors) < _MAX_ERRORS:
                self.errors.append(text)

    def _note(self, field: str, reason: str) -> None:
        with self._lock:
            self._reasons.setdefault(field, reason)

    def _take(self) -> Sample:
        assert self._t0 is not None and self._rapl is not None and self._gpu is not None
        # Energy first and stamped together, so interpolation uses the right instant.
        t = max(0.0, self._clock() - self._t0)
        cpu_energy = self._rapl.read_j()
        ts = _utc_now()
        gpus = self._gpu.read() if self._gpu.handles else []
        cpu_pct: float | None = None
        try:
            times = psutil.cpu_times()
            # busy = total − idle − iowait, as psutil.cpu_percent counts it; computed here so
            # other callers of psutil.cpu_percent() do not reset our baseline.
            total = sum(times)
            idle = times.idle + getattr(times, "iowait", 0.0)
            if self._cpu_last is not None:
                d_total = total - self._cpu_last[0]
                d_idle = idle - self._cpu_last[1]
                if d_total > 0:
                    cpu_pct = min(100.0, max(0.0, 100.0 * (d_total - d_idle) / d_total))
            self._cpu_last = (total, idle)
        except Exception as exc:
            self._note("cpu_percent", f"psutil.cpu_times: {_reason(exc)}")
        mem_gb: float | None = None
        try:
            vm = psutil.virtual_memory()
            mem_gb = (vm.total - vm.available) / GIB
        except Exception as exc:
            self._note("memory_used_gb", f"psutil.virtual_memory: {_reason(exc)}")
        pid, rss_gb, proc_cpu = self._engine()
        return Sample(
            t=round(t, 6),
            ts=ts,
            cpu_percent=_r(cpu_pct, 2),
            memory_used_gb=_r(mem_gb, 4),
            engine_pid=pid,
            engine_rss_gb=_r(rss_gb, 4),
            engine_cpu_percent=_r(proc_cpu, 2),
            cpu_energy_j=_r(cpu_energy, 6),
            gpus=gpus,
        )

    def _engine(self) -> tuple[int | None, float | None, float | None]:
        with self._lock:
            pid = self._engine_pid
        if pid is None:
            self._note("engine", "no engine process to sample (unmanaged engine)")
            self._proc = None
            self._proc_pid = None
            return None, None, None
        if pid != self._proc_pid:
            self._proc_pid = pid
            self._proc_primed = False
            try:
                self._proc = psutil.Process(pid)
            except psutil.Error as exc:
                self._proc = None
                self._note("engine", f"engine process {pid}: {_reason(exc)}")
                return pid, None, None
        if self._proc is None:
            return pid, None, None
        try:
            with self._proc.oneshot():
                rss = self._proc.memory_info().rss / GIB
                cpu = self._proc.cpu_percent(interval=None)
        except psutil.Error as exc:
            # Exited or restarting: keep the pid, report nothing until set_engine_pid.
            self._note("engine", f"engine process {pid}: {_reason(exc)}")
            self._proc = None
            return pid, None, None
        # The first cpu_percent() of a Process has no baseline and always returns 0.0.
        primed = self._proc_primed
        self._proc_primed = True
        return pid, rss, cpu if primed else None


# --------------------------------------------------------------------------- summary


def _interp(points: Sequence[tuple[float, float]], t: float) -> float | None:
    """Linear interpolation of a cumulative series at t; None outside the sampled range."""
    if not points or t < points[0][0] - _EDGE_TOLERANCE_S or t > points[-1][0] + _EDGE_TOLERANCE_S:
        return None
    t = min(max(t, points[0][0]), points[-1][0])
    for (t0, e0), (t1, e1) in itertools.pairwise(points):
        if t0 <= t <= t1:
            return e0 if t1 == t0 else e0 + (e1 - e0) * (t - t0) / (t1 - t0)
    return points[-1][1]


def _cumulative_power(points: Sequence[tuple[float, float | None]]) -> list[tuple[float, float]]:
    """Trapezoidal integral of power (W) over time (s) → cumulative joules; stops at a gap."""
    out: list[tuple[float, float]] = []
    total = 0.0
    for i, (t, p) in enumerate(points):
        if p is None:
            return []
        if i:
            prev_t, prev_p = points[i - 1]
            assert prev_p is not None
            total += (t - prev_t) * (p + prev_p) / 2.0
        out.append((t, total))
    return out


def _mean(values: Iterable[float | None]) -> float | None:
    xs = [v for v in values if v is not None]
    return math.fsum(xs) / len(xs) if xs else None


def _max(values: Iterable[float | None]) -> float | None:
    xs = [v for v in values if v is not None]
    return max(xs) if xs else None


def _gpu_energy_series(samples: Sequence[Sample], gpu_count: int) -> list[tuple[float, float]]:
    """Cumulative GPU energy (all GPUs): NVML energy counters, else integrated power."""
    per_gpu: list[list[tuple[float, float]]] = []
    for index in range(gpu_count):
        readings = [(s.t, next((g for g in s.gpus if g.index == index), None)) for s in samples]
        counter = [(t, g.energy_j) for t, g in readings if g is not None]
        if counter and len(counter) == len(readings) and all(e is not None for _, e in counter):
            per_gpu.append([(t, float(e)) for t, e in counter if e is not None])
            continue
        series = _cumulative_power([(t, None if g is None else g.power_w) for t, g in readings])
        if not series:
            return []
        per_gpu.append(series)
    if not per_gpu:
        return []
    return [(per_gpu[0][i][0], math.fsum(s[i][1] for s in per_gpu)) for i in range(len(samples))]


def summarize(
    samples: Sequence[Sample],
    *,
    interval_s: float | None,
    cell_windows: dict[str, list[Window]],
    output_tokens: dict[str, int],
    reasons: dict[str, str] | None = None,
    gpu_count: int = 0,
    system_id: str | None = None,
) -> RunHardwareMetrics:
    """Telemetry summary of a run from its samples (also usable on a stored samples.jsonl).

    * CPU %, memory, engine RSS and CPU %: mean or max over samples with a value.
    * GPUs: utilisation is averaged over GPUs per sample; memory and power are summed over
      GPUs per sample (the whole machine's use); temperature is the hottest GPU.
    * Energy: RAPL is the difference of the cumulative counter; GPU energy uses NVML's
      energy counter, else the trapezoidal integral of power. ``energy_j`` = CPU + GPU, where a
      host without GPUs contributes 0 and an unknown part makes the total null.
    * Per cell: energy over its windows ``(start, end)`` (seconds since sampler start) by
      linear interpolation of the cumulative series; joules per output token when tokens > 0.
    """
    reasons = dict(reasons or {})
    unavailable: list[UnavailableMetric] = []

    n = len(samples)
    no_samples = "no telemetry samples were taken"
    cpu_mean = _mean(s.cpu_percent for s in samples)
    cpu_max = _max(s.cpu_percent for s in samples)
    mem_max = _max(s.memory_used_gb for s in samples)
    rss_max = _max(s.engine_rss_gb for s in samples)
    eng_cpu = _mean(s.engine_cpu_percent for s in samples)
    gpu_util = [_mean(g.util_percent for g in s.gpus) if s.gpus else None for s in samples]

    def gpu_sum(values: list[float | None]) -> float | None:
        return (
            None
            if not values or any(v is None for v in values)
            else math.fsum(v for v in values if v is not None)
        )

    gpu_mem = [gpu_sum([g.memory_used_gb for g in s.gpus]) for s in samples]
    gpu_pow = [gpu_sum([g.power_w for g in s.gpus]) for s in samples]
    gpu_temp = [_max(g.temperature_c for g in s.gpus) for s in samples]

    cpu_series = [(s.t, s.cpu_energy_j) for s in samples]
    cpu_points = (
        [(t, float(e)) for t, e in cpu_series if e is not None]
        if n >= 2 and all(e is not None for _, e in cpu_series)
        else []
    )
    gpu_points = _gpu_energy_series(samples, gpu_count) if n >= 2 and gpu_count else []
    cpu_energy = cpu_points[-1][1] - cpu_points[0][1] if cpu_points else None
    gpu_energy = gpu_points[-1][1] - gpu_points[0][1] if gpu_points else None
    gpu_part = gpu_energy if gpu_count else 0.0
    total = None if cpu_energy is None or gpu_part is None else cpu_energy + gpu_part

    def window_energy(points: list[tuple[float, float]], windows: list[Window]) -> float | None:
        if not points:
            return None
        acc = 0.0
        for start, end in windows:
            e0, e1 = _interp(points, start), _interp(points, end)
            if e0 is None or e1 is None or end < start:
                return None
            acc += e1 - e0
        return acc

    cells: list[CellEnergy] = []
    for cell_id in list(dict.fromkeys([*cell_windows, *output_tokens])):
        windows = cell_windows.get(cell_id, [])
        tokens = output_tokens.get(cell_id, 0)
        c = window_energy(cpu_points, windows)
        g = window_energy(gpu_points, windows) if gpu_count else 0.0
        energy = None if c is None or g is None else c + g
        if not windows:
            energy = None
        per_token = energy / tokens if energy is not None and tokens > 0 else None
        cells.append(
            CellEnergy(
                cell_id=cell_id,
                output_tokens=tokens,
                energy_j=_r(energy, 6),
                joules_per_output_token=_r(per_token, 6),
            )
        )
        if energy is None:
            why = (
                "no call windows for the cell"
                if not windows
                else "a call window lies outside the sampled time range"
                if cpu_points and (gpu_points or not gpu_count)
                else "energy not measurable on this host (see energy_j)"
            )
            unavailable.append(UnavailableMetric(field=f"cells[{cell_id}].energy_j", reason=why))
        elif tokens <= 0:
            unavailable.append(
                UnavailableMetric(
                    field=f"cells[{cell_id}].joules_per_output_token",
                    reason="no output tokens counted for the cell",
                )
            )

    result = RunHardwareMetrics(
        system_id=system_id,
        sample_interval_s=interval_s,
        sample_count=n,
        cpu_percent_mean=_r(cpu_mean, 2),
        cpu_percent_max=_r(cpu_max, 2),
        memory_used_gb_max=_r(mem_max, 4),
        engine_rss_gb_max=_r(rss_max, 4),
        engine_cpu_percent_mean=_r(eng_cpu, 2),
        gpu_util_percent_mean=_r(_mean(gpu_util), 2),
        gpu_util_percent_max=_r(_max(gpu_util), 2),
        gpu_memory_used_gb_max=_r(_max(gpu_mem), 4),
        gpu_power_w_mean=_r(_mean(gpu_pow), 3),
        gpu_power_w_max=_r(_max(gpu_pow), 3),
        gpu_temperature_c_max=_r(_max(gpu_temp), 1),
        cpu_energy_j=_r(cpu_energy, 6),
        gpu_energy_j=_r(gpu_energy, 6),
        energy_j=_r(total, 6),
        cells=cells,
    )
    # Why each null field is null, most specific reason first.
    gpu_default = "no GPU readings" if gpu_count else "no GPU found"
    checks: list[tuple[str, tuple[str, ...], str]] = [
        ("cpu_percent_mean", ("cpu_percent",), "fewer than two CPU readings"),
        ("cpu_percent_max", ("cpu_percent",), "fewer than two CPU readings"),
        ("memory_used_gb_max", ("memory_used_gb",), "no memory readings"),
        ("engine_rss_gb_max", ("engine",), "no engine process readings"),
        ("engine_cpu_percent_mean", ("engine",), "fewer than two engine CPU readings"),
        ("gpu_util_percent_mean", ("gpu", "gpu_util_percent"), gpu_default),
        ("gpu_util_percent_max", ("gpu", "gpu_util_percent"), gpu_default),
        ("gpu_memory_used_gb_max", ("gpu", "gpu_memory_used_gb"), gpu_default),
        ("gpu_power_w_mean", ("gpu", "gpu_power_w"), gpu_default),
        ("gpu_power_w_max", ("gpu", "gpu_power_w"), gpu_default),
        ("gpu_temperature_c_max", ("gpu", "gpu_temperature_c"), gpu_default),
        ("cpu_energy_j", ("cpu_energy",), "fewer than two RAPL readings"),
        ("gpu_energy_j", ("gpu", "gpu_energy_counter", "gpu_power_w"), gpu_default),
        ("energy_j", ("cpu_energy", "gpu", "gpu_energy_counter"), "a part is unknown"),
    ]
    head: list[UnavailableMetric] = []
    for field, keys, default in checks:
        if getattr(result, field) is None:
            why = (
                no_samples if n == 0 else next((reasons[k] for k in keys if k in reasons), default)
            )
            head.append(UnavailableMetric(field=field, reason=why))
    result.unavailable = head + unavailable
    return result
