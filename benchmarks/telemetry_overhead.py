"""Operating budget of the telemetry sampler: what sampling costs a CPU-bound workload.

    python benchmarks/telemetry_overhead.py [--reps 5] [--interval 0.5] [--quick]

Runs the same fixed pure-Python loop with and without the sampler (interleaved, alternating
which goes first, so drift in machine load hits both), with a child process standing in for the
engine so the per-process path is exercised. Prints and writes
``benchmarks/results/telemetry_overhead.json``:

* ``runtime_overhead_pct``: 100 × (median wall time with − without) / without.
* ``cpu_overhead_pct``: 100 × CPU time spent taking samples (``time.thread_time`` around each
  sample, summed by the sampler) / CPU time of the workload. Target: ≤ 1 % at 0.5 s.
* ``process_cpu_overhead_pct``: 100 × (median process CPU time with − without) / without;
  includes everything the sampler thread does and is noisier.
* ``wall_noise_pct``, ``cpu_noise_pct``: relative standard deviation of the runs without the
  sampler; on a shared machine the two overheads above are meaningful only beyond these.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bakeoff.jsonio import write_json
from collector.telemetry import Sampler

RESULTS = Path(__file__).resolve().parent / "results" / "telemetry_overhead.json"
TARGET_CPU_PCT = 1.0


def workload(n: int) -> int:
    """A fixed CPU-bound pure-Python loop (holds the GIL, like a busy collector would)."""
    acc = 0
    for i in range(n):
        acc = (acc + i * i) % 1_000_003
    return acc


def measure(n: int, sampler: Sampler | None) -> dict[str, float]:
    """Wall and process CPU time of one workload run, with the sampler around it if given."""
    if sampler is not None:
        sampler.start()
    w0, c0 = time.perf_counter(), time.process_time()
    workload(n)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    out = {"wall_s": wall, "cpu_s": cpu}
    if sampler is not None:
        sampler.stop()
        out["sampler_cpu_s"] = sampler.thread_cpu_s
        out["samples"] = float(len(sampler.samples))
    return out


def calibrate(target_s: float) -> int:
    """Loop count that takes about ``target_s`` seconds here."""
    n = 200_000
    t0 = time.perf_counter()
    workload(n)
    return max(n, int(n * target_s / (time.perf_counter() - t0)))


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the summary, write the results file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5, help="pairs of on/off runs")
    parser.add_argument("--interval", type=float, default=0.5, help="sampler interval, s")
    parser.add_argument("--seconds", type=float, default=4.0, help="workload length, s")
    parser.add_argument("--quick", action="store_true", help="2 pairs of 1.5 s (smoke test)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.quick:
        args.reps, args.seconds = 2, 1.5
    engine = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])
    try:
        n = calibrate(args.seconds)
        workload(n // 10)  # warm-up
        on: list[dict[str, float]] = []
        off: list[dict[str, float]] = []
        probe = Sampler(interval_s=args.interval, engine_pid=engine.pid)
        for rep in range(args.reps):
            order = (True, False) if rep % 2 == 0 else (False, True)
            for with_sampler in order:
                if with_sampler:
                    sampler = Sampler(interval_s=args.interval, engine_pid=engine.pid)
                    on.append(measure(n, sampler))
                    probe = sampler
                else:
                    off.append(measure(n, None))
    finally:
        engine.kill()
        engine.wait(timeout=10)
    wall_on = statistics.median(r["wall_s"] for r in on)
    wall_off = statistics.median(r["wall_s"] for r in off)
    cpu_on = statistics.median(r["cpu_s"] for r in on)
    cpu_off = statistics.median(r["cpu_s"] for r in off)
    sampler_cpu = sum(r["sampler_cpu_s"] for r in on)
    samples = sum(r["samples"] for r in on)
    workload_cpu = sum(r["cpu_s"] for r in on) - sampler_cpu
    summary = probe.summary({}, {})
    result: dict[str, Any] = {
        "interval_s": args.interval,
        "pairs": args.reps,
        "workload_loop_count": n,
        "wall_s_median_on": round(wall_on, 4),
        "wall_s_median_off": round(wall_off, 4),
        "runtime_overhead_pct": round(100 * (wall_on - wall_off) / wall_off, 3),
        "cpu_overhead_pct": round(100 * sampler_cpu / workload_cpu, 3),
        "process_cpu_overhead_pct": round(100 * (cpu_on - cpu_off) / cpu_off, 3),
        # Run-to-run spread without the sampler: overheads smaller than this are noise.
        "wall_noise_pct": round(100 * statistics.stdev(r["wall_s"] for r in off) / wall_off, 3),
        "cpu_noise_pct": round(100 * statistics.stdev(r["cpu_s"] for r in off) / cpu_off, 3),
        "sampler_cpu_ms_per_sample": round(1000 * sampler_cpu / samples, 3),
        "samples_total": int(samples),
        "target_cpu_overhead_pct": TARGET_CPU_PCT,
        "within_target": 100 * sampler_cpu / workload_cpu <= TARGET_CPU_PCT,
        "sources": {
            "nvml": summary.gpu_util_percent_mean is not None,
            "rapl": summary.cpu_energy_j is not None,
            "unavailable": sorted({u.reason for u in summary.unavailable}),
        },
        "host": {
            "python": platform.python_version(),
            "machine": platform.machine(),
            "logical_cpus": psutil.cpu_count(),
            "load_avg_1m_at_end": round(psutil.getloadavg()[0], 2),
        },
        "runs_on": [{k: round(v, 6) for k, v in r.items()} for r in on],
        "runs_off": [{k: round(v, 6) for k, v in r.items()} for r in off],
    }
    write_json(args.out, result)
    for key in (
        "runtime_overhead_pct",
        "cpu_overhead_pct",
        "process_cpu_overhead_pct",
        "wall_noise_pct",
        "cpu_noise_pct",
        "sampler_cpu_ms_per_sample",
        "samples_total",
        "within_target",
    ):
        print(f"{key}: {result[key]}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
