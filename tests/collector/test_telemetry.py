"""The telemetry sampler and its summary."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from bakeoff.resources import load_schema
from collector.models import GpuSample, Sample
from collector.telemetry import Sampler, jsonl_sink, summarize

BUSY = "import time\nt = time.time()\nwhile time.time() - t < 30:\n    pass\n"


@pytest.fixture
def busy_child() -> Iterator[subprocess.Popen[bytes]]:
    """A real child process that burns one core for up to 30 s (killed at teardown)."""
    proc = subprocess.Popen([sys.executable, "-c", BUSY])
    yield proc
    proc.kill()
    proc.wait(timeout=10)


def _wait_for(predicate: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


class FakeClock:
    """A settable perf_counter stand-in, so sample times are exact."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_sampler_on_this_machine(busy_child: subprocess.Popen[bytes]) -> None:
    """CPU %, memory and the child's RSS and CPU % are measured; RAPL either gives energy or
    its reason is recorded (this container has no /sys/class/powercap)."""
    sampler = Sampler(interval_s=0.05, engine_pid=busy_child.pid)
    with sampler:
        _wait_for(lambda: len(sampler.samples) >= 6)
    samples = sampler.samples
    assert sampler.errors == []
    assert samples[0].t < 0.05
    assert [s.t for s in samples] == sorted(s.t for s in samples)
    assert any(s.cpu_percent is not None for s in samples)
    assert all(s.memory_used_gb is not None and s.memory_used_gb > 0 for s in samples)
    assert all(s.engine_pid == busy_child.pid for s in samples)
    assert max(s.engine_rss_gb or 0 for s in samples) > 0
    # A busy loop: well above zero once primed (100 = one core).
    assert max(s.engine_cpu_percent or 0 for s in samples) > 30
    summary = sampler.summary({}, {})
    reasons = {u.field: u.reason for u in summary.unavailable}
    if summary.cpu_energy_j is None:
        assert "RAPL" in reasons["cpu_energy_j"] or "energy_uj" in reasons["cpu_energy_j"]
    else:
        assert summary.cpu_energy_j >= 0
        assert "cpu_energy_j" not in reasons
    assert summary.sample_count == len(samples)
    assert summary.engine_rss_gb_max is not None


def test_thread_survives_dying_engine_and_follows_restart(
    busy_child: subprocess.Popen[bytes],
) -> None:
    """The engine dies mid-run: samples go on with null engine fields, no error escapes;
    set_engine_pid follows the restarted process; stop() ends the thread."""
    sampler = Sampler(interval_s=0.03, engine_pid=busy_child.pid, nvml=None)
    sampler.start()
    _wait_for(lambda: any(s.engine_rss_gb for s in sampler.samples))
    busy_child.kill()
    busy_child.wait(timeout=10)
    n = len(sampler.samples)
    _wait_for(lambda: len(sampler.samples) >= n + 3)
    assert sampler.alive
    assert sampler.samples[-1].engine_rss_gb is None
    restarted = subprocess.Popen([sys.executable, "-c", BUSY])
    try:
        sampler.set_engine_pid(restarted.pid)
        _wait_for(lambda: sampler.samples[-1].engine_pid == restarted.pid)
        _wait_for(lambda: (sampler.samples[-1].engine_rss_gb or 0) > 0)
    finally:
        restarted.kill()
        restarted.wait(timeout=10)
    sampler.stop()
    assert not sampler.alive
    assert "bakeoff-sampler" not in [t.name for t in threading.enumerate()]
    assert sampler.errors == []
    reasons = {u.field: u.reason for u in sampler.summary({}, {}).unavailable}
    assert "engine_rss_gb_max" not in reasons
    sampler.stop()  # idempotent


def test_missing_engine_pid_is_tolerated() -> None:
    """A pid that never existed gives null engine fields and a reason, never an exception."""
    sampler = Sampler(interval_s=10, engine_pid=2**22 + 12345, nvml=None)
    with sampler:
        pass
    assert sampler.samples[-1].engine_rss_gb is None
    summary = sampler.summary({}, {})
    reasons = {u.field: u.reason for u in summary.unavailable}
    assert summary.engine_rss_gb_max is None
    assert "engine process" in reasons["engine_rss_gb_max"]


def _rapl_zone(root: Path, name: str, label: str, energy: int, max_range: int) -> Path:
    zone = root / name
    zone.mkdir(parents=True)
    (zone / "name").write_text(f"{label}\n")
    (zone / "energy_uj").write_text(f"{energy}\n")
    (zone / "max_energy_range_uj").write_text(f"{max_range}\n")
    return zone / "energy_uj"


def test_rapl_counter_wraps_and_skips_non_package_zones(tmp_path: Path) -> None:
    """Counter 900000 → 950000 → 50000 µJ with range 1000000: deltas 50000 and
    50000 + 1000000 − 950000 = 100000 µJ, so cumulative 0, 0.05, 0.15 J. The core sub-zone
    and the psys zone would double count and must be ignored (they change wildly here)."""
    pkg = _rapl_zone(tmp_path, "intel-rapl:0", "package-0", 900_000, 1_000_000)
    core = _rapl_zone(tmp_path, "intel-rapl:0:0", "core", 5, 10**9)
    psys = _rapl_zone(tmp_path, "intel-rapl:1", "psys", 7, 10**9)
    clock = FakeClock()
    sampler = Sampler(interval_s=3600, nvml=None, rapl_root=tmp_path, clock=clock)
    sampler.start()
    for value, other in [(950_000, 10**8), (50_000, 2 * 10**8)]:
        clock.t += 1.0
        pkg.write_text(f"{value}\n")
        core.write_text(f"{other}\n")
        psys.write_text(f"{other}\n")
        sampler.sample_now()
    clock.t += 1.0
    sampler.stop()
    assert [s.cpu_energy_j for s in sampler.samples] == [0.0, 0.05, 0.15, 0.15]
    summary = sampler.summary({"c": [(0.5, 1.5)]}, {"c": 2})
    assert summary.cpu_energy_j == 0.15
    # No GPU on this host: energy_j is the CPU part alone.
    assert summary.energy_j == 0.15
    # E(0.5) = 0.025, E(1.5) = 0.1 → 0.075 J over 2 tokens.
    assert summary.cells[0].energy_j == 0.075
    assert summary.cells[0].joules_per_output_token == 0.0375


def test_rapl_unreadable_records_reason(tmp_path: Path) -> None:
    """energy_uj that cannot be read (here a directory; on a real host usually root-only
    permissions) gives null energy and the reason."""
    zone = tmp_path / "intel-rapl:0"
    (zone / "energy_uj").mkdir(parents=True)
    (zone / "name").write_text("package-0\n")
    sampler = Sampler(interval_s=3600, nvml=None, rapl_root=tmp_path)
    with sampler:
        pass
    summary = sampler.summary({}, {})
    reasons = {u.field: u.reason for u in summary.unavailable}
    assert summary.cpu_energy_j is None
    assert "cannot read" in reasons["cpu_energy_j"] and "energy_uj" in reasons["cpu_energy_j"]
    absent = Sampler(interval_s=3600, nvml=None, rapl_root=tmp_path / "none").start()
    absent.stop()
    reasons = {u.field: u.reason for u in absent.summary({}, {}).unavailable}
    assert "no RAPL package domain" in reasons["cpu_energy_j"]


class FakeNvml:
    """Stand-in for pynvml: there is no NVIDIA GPU or driver on the test machine.

    GPU 0 supports everything; GPU 1 has no energy counter (pre-Volta) and no temperature,
    so its energy must come from integrated power and the reason must be kept.
    """

    NVML_TEMPERATURE_GPU = 0

    class NVMLError(Exception):
        pass

    class NVMLError_NotSupported(NVMLError):
        def __str__(self) -> str:
            return "Not Supported"

    def __init__(self) -> None:
        self.power_mw = [100_000.0, 50_000.0]
        self.energy_mj = 5_000_000.0
        self.shutdown_called = False

    def nvmlInit(self) -> None:
        pass

    def nvmlShutdown(self) -> None:
        self.shutdown_called = True

    def nvmlDeviceGetCount(self) -> int:
        return 2

    def nvmlDeviceGetHandleByIndex(self, i: int) -> int:
        return i

    def nvmlDeviceGetUtilizationRates(self, h: int) -> Any:
        return type("Util", (), {"gpu": 80 if h == 0 else 40, "memory": 10})()

    def nvmlDeviceGetMemoryInfo(self, h: int) -> Any:
        return type("Mem", (), {"used": (h + 1) * 1024**3, "total": 8 * 1024**3})()

    def nvmlDeviceGetPowerUsage(self, h: int) -> float:
        return self.power_mw[h]

    def nvmlDeviceGetTemperature(self, h: int, sensor: int) -> int:
        if h == 1:
            raise self.NVMLError_NotSupported()
        return 65

    def nvmlDeviceGetTotalEnergyConsumption(self, h: int) -> float:
        if h == 1:
            raise self.NVMLError_NotSupported()
        return self.energy_mj


def test_nvml_path_with_stand_in(tmp_path: Path) -> None:
    """Samples at t = 0, 1, 2 s. GPU 0 counter: 5000000 → +100000 mJ each second = 100 J/s.
    GPU 1: 50 W constant, trapezoid over 2 s = 100 J. GPU energy = 200 + 100 = 300 J.
    Memory summed over GPUs = 1 + 2 = 3 GiB; utilisation averaged = (80 + 40) / 2 = 60 %."""
    nv = FakeNvml()
    clock = FakeClock()
    sampler = Sampler(interval_s=3600, nvml=nv, rapl_root=tmp_path, clock=clock)
    sampler.start()
    clock.t += 1.0
    nv.energy_mj += 100_000
    sampler.sample_now()
    clock.t += 1.0
    nv.energy_mj += 100_000
    sampler.stop()
    assert nv.shutdown_called
    last = sampler.samples[-1]
    assert last.gpus == [
        GpuSample(
            index=0,
            util_percent=80.0,
            memory_used_gb=1.0,
            power_w=100.0,
            temperature_c=65.0,
            energy_j=200.0,
        ),
        GpuSample(
            index=1,
            util_percent=40.0,
            memory_used_gb=2.0,
            power_w=50.0,
            temperature_c=None,
            energy_j=None,
        ),
    ]
    summary = sampler.summary({"cell": [(0.0, 1.0)]}, {"cell": 100})
    assert summary.gpu_energy_j == 300.0
    assert summary.gpu_util_percent_mean == 60.0
    assert summary.gpu_memory_used_gb_max == 3.0
    assert summary.gpu_power_w_mean == 150.0
    assert summary.gpu_temperature_c_max == 65.0
    # No RAPL in tmp_path: the total and per-cell energy are unknown, with reasons.
    assert summary.energy_j is None
    assert summary.cells[0].energy_j is None
    reasons = {u.field: u.reason for u in summary.unavailable}
    assert "no RAPL" in reasons["energy_j"]
    assert "cells[cell].energy_j" in reasons


def _s(t: float, energy: float | None, power: float | None = None) -> Sample:
    gpus = (
        []
        if power is None
        else [
            GpuSample(
                index=0,
                util_percent=None,
                memory_used_gb=None,
                power_w=power,
                temperature_c=None,
                energy_j=None,
            )
        ]
    )
    return Sample(
        t=t, ts="2026-11-23T00:00:00Z", cpu_percent=10.0 * t, memory_used_gb=1.0 + t,
        engine_pid=None, engine_rss_gb=None, engine_cpu_percent=None, cpu_energy_j=energy,
        gpus=gpus,
    )  # fmt: skip


def test_summary_math_on_hand_made_samples() -> None:
    """RAPL cumulative 0, 10, 30, 60, 100 J at t = 0..4 s; no GPU.

    cell a, window 0.5–1.5: E(0.5) = 5, E(1.5) = 20 → 15 J; 30 tokens → 0.5 J/token.
    cell b, windows 2–3 and 3.5–4: (60 − 30) + (100 − 80) = 50 J; 0 tokens → no per-token value.
    cell c, window 3–9 ends after the last sample → unknown.
    CPU % 0, 10, 20, 30, 40 → mean 20, max 40; memory max 5.
    """
    samples = [_s(t, e) for t, e in [(0, 0), (1, 10), (2, 30), (3, 60), (4, 100)]]
    out = summarize(
        samples,
        interval_s=1.0,
        cell_windows={"a": [(0.5, 1.5)], "b": [(2, 3), (3.5, 4)], "c": [(3, 9)]},
        output_tokens={"a": 30, "b": 0, "c": 5},
        reasons={"gpu": "no NVIDIA GPU found by NVML"},
    )
    assert (out.cpu_energy_j, out.gpu_energy_j, out.energy_j) == (100.0, None, 100.0)
    assert (out.cpu_percent_mean, out.cpu_percent_max, out.memory_used_gb_max) == (20, 40, 5)
    cells = {c.cell_id: c for c in out.cells}
    assert (cells["a"].energy_j, cells["a"].joules_per_output_token) == (15.0, 0.5)
    assert (cells["b"].energy_j, cells["b"].joules_per_output_token) == (50.0, None)
    assert (cells["c"].energy_j, cells["c"].joules_per_output_token) == (None, None)
    reasons = {u.field: u.reason for u in out.unavailable}
    assert reasons["gpu_energy_j"] == "no NVIDIA GPU found by NVML"
    assert "outside the sampled time range" in reasons["cells[c].energy_j"]
    assert "no output tokens" in reasons["cells[b].joules_per_output_token"]
    assert "energy_j" not in reasons


def test_summary_adds_integrated_gpu_power() -> None:
    """Same RAPL series plus one GPU at a constant 100 W: window 0.5–1.5 adds 100 J."""
    samples = [_s(t, e, power=100.0) for t, e in [(0, 0), (1, 10), (2, 30), (3, 60), (4, 100)]]
    out = summarize(
        samples, interval_s=1.0, cell_windows={"a": [(0.5, 1.5)]}, output_tokens={"a": 23},
        gpu_count=1,
    )  # fmt: skip
    assert (out.gpu_energy_j, out.energy_j) == (400.0, 500.0)
    assert (out.cells[0].energy_j, out.cells[0].joules_per_output_token) == (115.0, 5.0)


def test_summary_without_samples_gives_reasons() -> None:
    out = summarize([], interval_s=0.5, cell_windows={}, output_tokens={})
    assert out.sample_count == 0
    assert {u.reason for u in out.unavailable} == {"no telemetry samples were taken"}
    assert len(out.unavailable) == 14


def test_samples_stream_to_sink_and_file_and_match_schema(tmp_path: Path) -> None:
    """Streamed and written lines are identical and valid against schemas/sample.schema.json;
    a failing sink is recorded, never raised."""
    stream_path = tmp_path / "stream.jsonl"
    with stream_path.open("w", encoding="utf-8") as fh:
        sampler = Sampler(interval_s=0.02, nvml=None, sink=jsonl_sink(fh))
        with sampler:
            _wait_for(lambda: len(sampler.samples) >= 3)
    sampler.write_samples(tmp_path / "samples.jsonl")
    written = (tmp_path / "samples.jsonl").read_text(encoding="utf-8")
    assert stream_path.read_text(encoding="utf-8") == written
    schema = load_schema("sample")
    for line in written.splitlines():
        record = json.loads(line)
        jsonschema.validate(record, schema)
        assert record["schema_version"] == 1

    def broken(_: Sample) -> None:
        raise OSError("disk full")

    failing = Sampler(interval_s=0.02, nvml=None, sink=broken)
    with failing:
        _wait_for(lambda: len(failing.samples) >= 3)
    assert failing.errors and "disk full" in failing.errors[0]


def test_now_requires_start() -> None:
    with pytest.raises(RuntimeError):
        Sampler().now()
    with pytest.raises(ValueError):
        Sampler(interval_s=0)
