"""``--bench``: the host microbenchmarks on this machine (tiny sizes), the no-numpy path, the
GPU path against a stand-in torch, sizing, the table and the CLI.

There is no GPU here, so the torch path runs against ``FakeTorch`` below, a stand-in whose
kernels are asynchronous like CUDA's: an operation only queues its duration (bytes or FLOPs at a
set rate) and time passes when ``torch.cuda.synchronize`` is called. A benchmark that forgot to
synchronize, or counted bytes differently from STREAM, would report another rate than the one
the stand-in was given.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jsonschema
import numpy as np
import pytest
from click.testing import CliRunner

from bakeoff.cli import main
from bakeoff.resources import load_schema
from collector import bench
from collector.bench import host, run_benchmarks
from collector.bench.gpu import TORCH_HINT, gpu_results
from collector.bench.timing import MIB, BenchConfig, Budget, measure
from collector.models import (
    ContainerLimits,
    Gpu,
    Hardware,
    SystemHardware,
    SystemSoftware,
)
from collector.probe import format_table
from collector.probe.tools import ProbeContext

TINY = BenchConfig(
    array_bytes=4 * MIB,
    matmul_n=128,
    gpu_bytes=64 * MIB,
    gpu_matmul_n=1024,
    min_reps=3,
    max_reps=3,
    kernel_budget_s=0.05,
    min_rep_s=0.002,
)


def _hardware(gpus: list[Gpu] | None = None, usable_cpus: int | None = 2) -> Hardware:
    return Hardware(
        system_hardware=SystemHardware(
            system_id="3f9c2a1b-0000-4000-8000-000000000000",
            cpu_model="Test CPU",
            cpu_cores=2,
            cpu_threads=2,
            architecture="x86_64",
            ram_total_gb=16.0,
            container=ContainerLimits(in_container=False, usable_cpus=usable_cpus),
        ),
        system_software=SystemSoftware(
            os="Test OS", kernel_version="6.0", python_version="3.11.7", runner_version="0.2.0"
        ),
        gpus=gpus or [],
        probe_issues=[],
    )


def _gpu(slot: int, name: str, cc: str = "9.0") -> Gpu:
    return Gpu(
        slot=slot,
        vendor="nvidia",
        name=name,
        interface_type="pcie",
        compute_capability=cc,
        tensor_core_generation=4,
        source="nvml",
    )


def _rows(hw: Hardware) -> dict[tuple[str, str, str | None, int | None], Any]:
    assert hw.benchmarks is not None
    return {(r.kernel, r.scope, r.precision, r.gpu_slot): r for r in hw.benchmarks.results}


def _validates(hw: Hardware) -> None:
    jsonschema.Draft202012Validator(load_schema("hardware")).validate(hw.model_dump(mode="json"))


# --------------------------------------------------------------------------- this machine


def test_host_benchmarks_on_this_machine() -> None:
    """Every host kernel measured with numpy: positive rates in order, repetitions, workers."""
    hw = run_benchmarks(_hardware(usable_cpus=2), TINY, torch=None)
    _validates(hw)
    b = hw.benchmarks
    assert b is not None and b.libraries["numpy"] == np.__version__ and "blas" in b.libraries
    rows = _rows(hw)
    assert set(rows) == {
        ("copy", "one_core", None, None),
        ("copy", "all_cores", None, None),
        ("triad", "one_core", None, None),
        ("triad", "all_cores", None, None),
        ("matmul", "all_cores", "fp64", None),
        ("matmul", "all_cores", "fp32", None),
    }
    for r in rows.values():
        assert r.reason is None and r.repetitions == 3
        assert r.min is not None and r.median is not None and r.max is not None
        assert 0 < r.min <= r.median <= r.max
    assert rows["copy", "all_cores", None, None].workers == 2
    assert rows["triad", "one_core", None, None].workers == 1
    assert rows["copy", "one_core", None, None].size_bytes == 4 * MIB
    assert rows["matmul", "all_cores", "fp64", None].matrix_n == 128
    assert b.memory_bandwidth_gbs == max(
        r.max for r in rows.values() if r.kernel in ("copy", "triad")
    )
    assert b.memory_bandwidth_one_core_gbs == max(
        r.max for r in rows.values() if r.scope == "one_core" and r.unit == "GB/s"
    )
    assert b.load_avg_start is not None and b.wall_time_s < 20
    assert "Benchmarks" in format_table(hw) and "host triad, 2 threads" in format_table(hw)


def test_triad_blocks_and_slices_compute_the_whole_array() -> None:
    """a = b + 3c over slices and blocks that do not divide the length evenly."""
    n = 100_003
    a, b, c = np.zeros(n), np.arange(n, dtype=float), np.full(n, 2.0)
    for part in host._slices(n, 3):
        host._triad_kernel(np, a[part], b[part], c[part], block=4096)()
    np.testing.assert_array_equal(a, b + 3.0 * c)
    assert [s.stop - s.start for s in host._slices(10, 3)] == [4, 3, 3]


def test_thread_team_runs_every_slice_and_reports_errors() -> None:
    n = 1 << 16
    a, b = np.zeros(n), np.arange(n, dtype=float)
    team = host._Team([host._copy_kernel(np, a[s], b[s]) for s in host._slices(n, 4)])
    try:
        assert team.run(2) > 0
        np.testing.assert_array_equal(a, b)
    finally:
        team.close()

    def broken() -> None:
        raise MemoryError("worker ran out")

    team = host._Team([lambda: None, broken])
    try:
        with pytest.raises(MemoryError, match="worker ran out"):
            team.run(1)
    finally:
        team.close()  # returns: the workers are not left waiting


def test_measure_counts_work_per_call_and_repeats_short_kernels() -> None:
    """A 1 ms kernel with min_rep_s 10 ms runs 10 times per repetition; rate = work ÷ time."""
    calls: list[int] = []

    def run(inner: int) -> float:
        calls.append(inner)
        return 0.001 * inner

    rates = measure(run, 1.6, BenchConfig(min_rep_s=0.01, min_reps=4, max_reps=6))
    assert calls[0] == 1 and set(calls[1:]) == {10}
    assert 4 <= len(rates.values) <= 6
    assert rates.values == pytest.approx([1600.0] * len(rates.values))


def test_time_budget_skips_what_does_not_fit() -> None:
    hw = run_benchmarks(_hardware(), dataclasses.replace(TINY, total_budget_s=0))
    rows = _rows(hw)
    assert all(r.median is None and "time budget" in (r.reason or "") for r in rows.values())
    assert hw.benchmarks is not None and hw.benchmarks.memory_bandwidth_gbs is None
    _validates(hw)


def test_arrays_that_do_not_fit_are_rows_with_a_reason() -> None:
    """numpy refusing the arrays (MemoryError) leaves the four memory rows null, not a crash."""

    def full(n: int, value: float) -> Any:
        raise MemoryError(f"cannot allocate {n * 8} bytes")

    tight = SimpleNamespace(__version__=np.__version__, full=full)
    rows = host.memory_results(tight, 4 * MIB, 2, None, TINY, Budget(60))
    assert [(r.kernel, r.scope) for r in rows] == [
        ("copy", "one_core"),
        ("copy", "all_cores"),
        ("triad", "one_core"),
        ("triad", "all_cores"),
    ]
    assert all(
        r.median is None and r.reason == "not enough memory for three 4 MiB arrays" for r in rows
    )


def test_available_memory_respects_a_container_limit() -> None:
    hw = _hardware()
    free = host.available_memory(hw)
    assert free is not None and free > 0
    limits = ContainerLimits(in_container=True, usable_cpus=2, memory_limit_gb=0.5)
    boxed = hw.model_copy(
        update={"system_hardware": hw.system_hardware.model_copy(update={"container": limits})}
    )
    assert host.available_memory(boxed) == min(free, 512 * MIB)


# --------------------------------------------------------------------------- without numpy


def test_without_numpy_measures_one_core_copy_and_says_why_not_the_rest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "numpy", None)  # `import numpy` now fails
    hw = run_benchmarks(_hardware(), TINY, torch=None)
    _validates(hw)
    rows = _rows(hw)
    copy = rows["copy", "one_core", None, None]
    assert copy.median is not None and copy.median > 0 and "standard library" in copy.method
    others = [r for key, r in rows.items() if key != ("copy", "one_core", None, None)]
    assert len(others) == 5
    assert all(
        r.median is None and "pip install 'bakeoff[bench]'" in (r.reason or "") for r in others
    )
    assert hw.benchmarks is not None and hw.benchmarks.libraries == {}
    assert hw.benchmarks.memory_bandwidth_gbs == copy.max
    assert [i.probe for i in hw.probe_issues] == ["bench.numpy"]


# --------------------------------------------------------------------------- sizing


def _cache(root: Path, cpu: int, index: int, level: int, kind: str, size: str, shared: str) -> None:
    d = root / f"sys/devices/system/cpu/cpu{cpu}/cache/index{index}"
    d.mkdir(parents=True)
    for name, value in (("level", level), ("type", kind), ("size", size)):
        (d / name).write_text(f"{value}\n")
    (d / "shared_cpu_list").write_text(shared + "\n")


def test_last_level_cache_sums_distinct_instances(tmp_path: Path) -> None:
    """Two CCDs with 32 MiB of L3 each: 64 MiB; L1i and L2 are not the last level."""
    for cpu in range(4):
        ccd = "0-1" if cpu < 2 else "2-3"
        _cache(tmp_path, cpu, 0, 1, "Instruction", "32K", str(cpu))
        _cache(tmp_path, cpu, 1, 2, "Unified", "1024K", str(cpu))
        _cache(tmp_path, cpu, 2, 3, "Unified", "32768K", ccd)
    ctx = ProbeContext(root=tmp_path, system="Linux")
    assert host.last_level_cache_bytes(ctx) == 64 * MIB
    assert host.last_level_cache_bytes(ProbeContext(root=tmp_path / "none", system="Linux")) is None


def test_array_size_rule_and_memory_cap() -> None:
    config = BenchConfig()
    assert host.array_bytes(config, 32 * MIB, 16 << 30) == (512 * MIB, None)
    assert host.array_bytes(config, 256 * MIB, 64 << 30) == (1024 * MIB, None)
    assert host.array_bytes(config, None, 16 << 30) == (512 * MIB, None)
    size, note = host.array_bytes(config, 32 * MIB, 600 * MIB)  # a small board: 600 MiB free
    assert size == 50 * MIB and note is not None and "4× the last-level cache" in note
    assert host.array_bytes(config, 4 * MIB, 600 * MIB) == (50 * MIB, None)  # still 12× LLC


def test_workers_follow_affinity_and_cgroup_quota() -> None:
    hw = _hardware(usable_cpus=8)
    assert host.usable_workers(hw) == 8
    limited = hw.model_copy(
        update={
            "system_hardware": hw.system_hardware.model_copy(
                update={
                    "container": ContainerLimits(in_container=True, usable_cpus=8, cpu_quota=2.5)
                }
            )
        }
    )
    assert host.usable_workers(limited) == 3


# --------------------------------------------------------------------------- GPU stand-in


class FakeTensor:
    def __init__(self, torch: FakeTorch, nbytes: int, device: str | None, dtype: str, n: int = 0):
        self.torch, self.nbytes, self.device, self.dtype, self.n = torch, nbytes, device, dtype, n

    def copy_(self, src: FakeTensor, non_blocking: bool = False) -> FakeTensor:
        if self.device and src.device:
            self.torch.queue(2 * self.nbytes / self.torch.device_bw)  # read + write on device
        elif self.device:
            self.torch.queue(self.nbytes / self.torch.h2d_bw)
        else:
            self.torch.queue(self.nbytes / self.torch.d2h_bw)
        return self

    def to(self, dtype: str) -> FakeTensor:
        return FakeTensor(self.torch, self.nbytes, self.device, dtype, self.n)

    def t(self) -> FakeTensor:
        return self


class FakeTorch:
    """A stand-in for torch with CUDA devices (see the module docstring)."""

    float32, float16, bfloat16, float8_e4m3fn, uint8 = "fp32", "fp16", "bf16", "fp8", "u8"
    __version__ = "2.9.0+fake"

    def __init__(self, devices: list[tuple[str, int, int]], flops: dict[str, float]) -> None:
        self.now = 100.0
        self.pending = 0.0
        self.device_bw, self.h2d_bw, self.d2h_bw = 3.0e12, 25.0e9, 20.0e9
        self.flops = flops
        self.syncs = 0
        self.version = SimpleNamespace(cuda="12.8", hip=None)
        self.backends = SimpleNamespace(
            cuda=SimpleNamespace(matmul=SimpleNamespace(allow_tf32=False))
        )
        props = [SimpleNamespace(name=n, major=ma, minor=mi) for n, ma, mi in devices]
        torch = self

        class Cuda:
            def is_available(self) -> bool:
                return True

            def device_count(self) -> int:
                return len(props)

            def get_device_properties(self, i: int) -> Any:
                return props[i]

            def synchronize(self, i: int) -> None:
                torch.syncs += 1
                torch.now += torch.pending
                torch.pending = 0.0

            def mem_get_info(self, i: int) -> tuple[int, int]:
                return (80 << 30, 80 << 30)

            def empty_cache(self) -> None:
                pass

        self.cuda = Cuda()

    def clock(self) -> float:
        return self.now

    def queue(self, seconds: float) -> None:
        self.pending += seconds

    def empty(
        self, *shape: int, dtype: str, device: str | None = None, pin_memory: bool = False
    ) -> FakeTensor:
        return FakeTensor(self, int(np.prod(shape)), device, dtype, shape[0])

    def randn(self, n: int, m: int, dtype: str, device: str) -> FakeTensor:
        return FakeTensor(self, n * m * 2, device, dtype, n)

    def ones(self, shape: tuple[int, ...], dtype: str, device: str) -> FakeTensor:
        return FakeTensor(self, 4, device, dtype)

    def _product(self, a: FakeTensor, dtype: str) -> None:
        if dtype not in self.flops:
            raise RuntimeError(f"CUBLAS_STATUS_NOT_SUPPORTED for {dtype}\nmore detail")
        self.queue(2 * a.n**3 / self.flops[dtype])

    def matmul(self, a: FakeTensor, b: FakeTensor, out: FakeTensor) -> FakeTensor:
        self._product(a, a.dtype)
        return out

    def _scaled_mm(self, a: FakeTensor, b: FakeTensor, **kw: Any) -> FakeTensor:
        self._product(a, "fp8")
        return a


def test_gpu_path_with_a_stand_in_torch() -> None:
    """Rates come out as the stand-in's bandwidths and FLOP rates, counted the STREAM way."""
    torch = FakeTorch(
        [("NVIDIA H100 80GB HBM3", 9, 0), ("NVIDIA GeForce RTX 3090", 8, 6)],
        {"fp32": 50e12, "fp16": 700e12, "fp8": 1400e12},  # no bf16: the library refuses it
    )
    gpus = [_gpu(0, "NVIDIA GeForce RTX 3090", "8.6"), _gpu(1, "NVIDIA H100 80GB HBM3")]
    results, problems = gpu_results(
        torch, gpus, TINY, Budget(60, clock=torch.clock), env={}, clock=torch.clock
    )
    assert problems == []
    rows = {(r.device_name, r.kernel, r.precision): r for r in results}
    h100 = "NVIDIA H100 80GB HBM3"
    assert rows[h100, "copy", None].median == pytest.approx(3000.0)  # GB/s, read + write
    assert rows[h100, "host_to_device", None].median == pytest.approx(25.0)
    assert rows[h100, "device_to_host", None].median == pytest.approx(20.0)
    assert rows[h100, "matmul", "fp32"].median == pytest.approx(50_000.0)  # GFLOP/s
    assert rows[h100, "matmul", "fp16"].median == pytest.approx(700_000.0)
    assert rows[h100, "matmul", "fp8"].median == pytest.approx(1_400_000.0)
    assert "TF32 off" in rows[h100, "matmul", "fp32"].method
    bf16 = rows[h100, "matmul", "bf16"]
    assert bf16.median is None and bf16.reason is not None
    assert "RuntimeError: CUBLAS_STATUS_NOT_SUPPORTED for bf16" in bf16.reason
    assert "more detail" not in bf16.reason
    ampere_fp8 = rows["NVIDIA GeForce RTX 3090", "matmul", "fp8"]
    assert ampere_fp8.median is None and "8.6 is below 8.9" in (ampere_fp8.reason or "")
    # torch and the probe list the two GPUs in different orders: matched by name
    assert rows[h100, "copy", None].gpu_slot == 1
    assert rows["NVIDIA GeForce RTX 3090", "copy", None].gpu_slot == 0
    assert all(r.repetitions == 3 for r in results if r.median is not None)
    assert torch.syncs > 0


def test_gpu_results_in_the_hardware_block_and_table() -> None:
    torch = FakeTorch(
        [("NVIDIA H100 80GB HBM3", 9, 0)], {"fp32": 50e12, "fp16": 7e14, "bf16": 7e14}
    )
    hw = run_benchmarks(
        _hardware([_gpu(0, "NVIDIA H100 80GB HBM3")]), TINY, numpy=None, torch=torch
    )
    _validates(hw)
    b = hw.benchmarks
    assert b is not None and b.libraries == {"torch": "2.9.0+fake", "torch.cuda": "12.8"}
    gpu_rows = [r for r in b.results if r.target == "gpu"]
    assert len(gpu_rows) == 7 and all(r.gpu_slot == 0 for r in gpu_rows)
    table = format_table(hw)
    assert "GPU 0 (NVIDIA H100 80GB HBM3) host→device copy" in table
    assert "GPU 0 (NVIDIA H100 80GB HBM3) matmul bf16" in table


def test_identical_gpus_match_by_order_only_when_all_are_visible() -> None:
    torch = FakeTorch([("NVIDIA A100-SXM4-80GB", 8, 0)] * 2, {"fp32": 1e13})
    gpus = [_gpu(0, "NVIDIA A100-SXM4-80GB", "8.0"), _gpu(1, "NVIDIA A100-SXM4-80GB", "8.0")]

    def slots(env: dict[str, str]) -> set[int | None]:
        results, _ = gpu_results(torch, gpus, TINY, Budget(60), env=env, clock=torch.clock)
        return {r.gpu_slot for r in results if r.kernel == "copy"}

    assert slots({}) == {0, 1}
    assert slots({"CUDA_VISIBLE_DEVICES": "1,0"}) == {None}


def test_gpu_without_torch_or_without_cuda_is_a_probe_issue() -> None:
    hw = run_benchmarks(_hardware([_gpu(0, "NVIDIA L4", "8.9")]), TINY, numpy=np, torch=None)
    assert [(i.probe, i.reason) for i in hw.probe_issues] == [("bench.gpu", TORCH_HINT)]
    no_cuda = SimpleNamespace(
        __version__="2.9.0+cpu",
        version=SimpleNamespace(cuda=None, hip=None),
        cuda=SimpleNamespace(is_available=lambda: False, device_count=lambda: 0),
    )
    hw = run_benchmarks(_hardware([_gpu(0, "NVIDIA L4", "8.9")]), TINY, numpy=np, torch=no_cuda)
    assert [i.probe for i in hw.probe_issues] == ["bench.gpu"]
    assert "is_available() is False" in hw.probe_issues[0].reason
    assert hw.benchmarks is not None and hw.benchmarks.libraries["torch"] == "2.9.0+cpu"
    # no GPU found at all: torch is not even imported, and nothing is reported about it
    hw = run_benchmarks(_hardware(), TINY, numpy=np)
    assert not [i for i in hw.probe_issues if i.probe == "bench.gpu"]


# --------------------------------------------------------------------------- CLI


def test_cli_probe_bench_json_and_table(config_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench, "DEFAULT_CONFIG", TINY)
    runner = CliRunner()
    result = runner.invoke(main, ["probe", "--bench", "--json"])
    assert result.exit_code == 0, result.output
    block = json.loads(result.stdout)
    jsonschema.Draft202012Validator(load_schema("hardware")).validate(block)
    assert block["benchmarks"]["memory_bandwidth_gbs"] > 0
    assert {r["kernel"] for r in block["benchmarks"]["results"]} >= {"copy", "triad", "matmul"}
    table = runner.invoke(main, ["probe", "--bench"])
    assert table.exit_code == 0 and "Benchmarks (" in table.stdout
    assert "host copy, one core" in table.stdout
    plain = runner.invoke(main, ["probe", "--json"])
    assert json.loads(plain.stdout)["benchmarks"] is None


def test_bench_writes_nothing_private() -> None:
    hw = run_benchmarks(_hardware(), TINY, torch=None)
    text = json.dumps(hw.model_dump(mode="json"))
    assert str(Path.home()) not in text and os.uname().nodename not in text
