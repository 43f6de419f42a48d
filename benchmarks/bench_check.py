"""``bakeoff probe --bench`` against plain numpy references, and the bundled model's roofline.

    python benchmarks/bench_check.py [--rounds 3] [--no-decode]

Each round runs ``bakeoff probe --bench --json`` in a fresh process (its wall time includes
the interpreter start, the probe and the imports) and then, in this process, the references
a reader would reach for first:

* ``np.copyto(dst, src)`` of a 512 MiB float64 array into a preallocated one (and of a
  128 MiB one: below glibc's non-temporal threshold here, memcpy is slower), and
* ``src.copy()`` of the 512 MiB array (allocates: first-touch page faults are in the time),

each 7 times, rates counted both as STREAM counts a copy (2 × 512 MiB per copy) and as bytes
copied (1 ×). Rounds interleave the two so that load drift hits both. With the ``local`` extra
installed it also decodes 128 tokens of the bundled Gemma 3 270M through llama-cpp-python
(the engine ``bakeoff run`` measures) and prints the memory-roofline ratio
tokens/s × model file bytes ÷ ``memory_bandwidth_gbs``. Writes
``benchmarks/results/bench_check.json``.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results" / "bench_check.json"
MIB = 1024**2


def probe_bench() -> tuple[float, dict[str, Any]]:
    """Wall time of ``bakeoff probe --bench --json`` and its benchmarks block."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "bakeoff", "probe", "--bench", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    return time.perf_counter() - t0, json.loads(proc.stdout)["benchmarks"]


def numpy_references(reps: int = 7) -> dict[str, dict[str, float]]:
    """float64 copies: copyto into a preallocated array (128 and 512 MiB), .copy() (512 MiB)."""
    out = {}
    for mib in (128, 512):
        src, dst = np.full(mib * MIB // 8, 1.0), np.full(mib * MIB // 8, 0.0)
        copy = functools.partial(np.copyto, dst, src)
        out[f"copyto_{mib}mib"] = _rates(copy, src.nbytes, reps)
    out["copy_method_512mib"] = _rates(src.copy, src.nbytes, reps)
    return out


def _rates(run: Any, nbytes: int, reps: int) -> dict[str, float]:
    """Median and best rate of ``run`` (one copy of ``nbytes``), STREAM-counted and not."""

    run()  # warm-up
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    per_copy = [nbytes / t / 1e9 for t in times]
    return {
        "stream_gbs_median": round(2 * statistics.median(per_copy), 2),
        "stream_gbs_max": round(2 * max(per_copy), 2),
        "copied_gbs_median": round(statistics.median(per_copy), 2),
        "copied_gbs_max": round(max(per_copy), 2),
    }


def decode_rate(tokens: int = 128) -> tuple[float, int] | None:
    """Decode tokens/s of the bundled model in llama-cpp-python, and the model file's size."""
    try:
        from llama_cpp import Llama

        from collector.engines.managed import embedded_model
    except ImportError:
        return None
    path = embedded_model().path
    llm = Llama(str(path), n_ctx=512, verbose=False, seed=42)
    try:
        stamps = []
        for _ in llm.create_completion(
            "The history of the bicycle", max_tokens=tokens, temperature=0.0, stream=True
        ):
            stamps.append(time.perf_counter())
    finally:
        llm.close()
    # decode rate as the methodology defines it: tokens after the first over their time
    rate = (len(stamps) - 1) / (stamps[-1] - stamps[0])
    return rate, path.stat().st_size


def main() -> None:
    """Run the rounds, print a summary, write the results file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-decode", action="store_true")
    args = parser.parse_args()
    rounds = []
    for i in range(args.rounds):
        load = [round(x, 2) for x in os.getloadavg()]
        wall, bench = probe_bench()
        refs = numpy_references()
        rounds.append({"load_avg": load, "probe_bench_wall_s": round(wall, 2), "bench": bench,
                       "numpy": refs})  # fmt: skip
        rows = {
            (r["kernel"], r["scope"], r["precision"]): r
            for r in bench["results"]
            if r["target"] == "host"
        }
        print(f"round {i + 1}: load {load[0]}, probe --bench {wall:.1f} s "
              f"(benchmarks {bench['wall_time_s']:.1f} s)")  # fmt: skip
        for key, r in rows.items():
            name = " ".join(k for k in key if k)
            spread = f"min {r['min']:8.2f} max {r['max']:8.2f} {r['unit']}"
            print(f"  {name:28s} median {r['median']:8.2f} {spread} ({r['repetitions']} reps)")
        print(f"  memory_bandwidth_gbs {bench['memory_bandwidth_gbs']}")
        for name, values in refs.items():
            print(f"  numpy {name}: {values}")
    result: dict[str, Any] = {"rounds": rounds}
    decode = None if args.no_decode else decode_rate()
    if decode is not None:
        rate, size = decode
        best = max(r["bench"]["memory_bandwidth_gbs"] for r in rounds)
        result["decode"] = {
            "tokens_per_sec": round(rate, 1),
            "model_size_bytes": size,
            "weights_gbs": round(rate * size / 1e9, 2),
            "memory_bandwidth_gbs": best,
            "roofline_ratio": round(rate * size / 1e9 / best, 3),
        }
        print(f"decode: {result['decode']}")
    RESULTS.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
