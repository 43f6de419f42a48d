"""Publisher at scale: full and incremental ``bakeoff publish`` against a DuckDB scan.

    python benchmarks/publish_scale.py              # 10,000 runs × 500 calls (5 M call records)
    python benchmarks/publish_scale.py --real       # 1,000 runs shaped like the real ones
    python benchmarks/publish_scale.py --quick      # 300 × 100, a smoke run

Generates (or reuses) a synthetic archive under ``benchmarks/.work/`` and times, each in its own
process with peak RSS polled by psutil: (a) the reference, DuckDB (same thread count) scanning
the same ``run.jsonl`` files; (b) a full publish into a fresh output folder (cold cache);
(c) adding one run and publishing again. Prints ratios and whether each target is met, and
writes ``benchmarks/results/publish_scale.json``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "benchmarks" / ".work"
RESULTS = ROOT / "benchmarks" / "results" / "publish_scale.json"
THREADS = 2

SCAN = """
import duckdb, sys
con = duckdb.connect()
con.execute("SET threads = {threads}")
print(con.execute(
    "SELECT count(*), sum(total_duration_ms) FROM read_ndjson_auto(?)", [sys.argv[1]]
).fetchone())
"""

PUBLISH = """
import sys
from pathlib import Path
from publisher import publish as pipeline
runs, out, site = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] == "1"
config = pipeline.PublishConfig(
    runs_dir=runs, out_dir=out / "out", catalogue_path=out / "catalogue.json",
    site_dir=out / "site" / "generated" if site else None, allow_synthetic=True,
)
report = pipeline.publish(config, lambda line: print(line, flush=True))
print("runs", report.runs, "compiled", report.compiled, "from the store", report.cached)
"""


def measure(code: str, *args: str) -> dict[str, Any]:
    """Run ``code`` in a fresh Python; wall seconds and peak RSS (process tree, psutil)."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    ps = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        try:
            rss = ps.memory_info().rss + sum(c.memory_info().rss for c in ps.children(True))
            peak = max(peak, rss)
        except psutil.Error:
            pass
        time.sleep(0.05)
    seconds = time.perf_counter() - start
    output = proc.stdout.read() if proc.stdout else ""
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}):\n{output}")
    return {"seconds": round(seconds, 2), "peak_rss_mb": round(peak / 2**20), "log": output}


def ensure_archive(runs: int, calls: int, samples: int = 0) -> Path:
    """The synthetic archive for (runs, calls, samples), generated when missing."""
    path = WORK / (f"archive-{runs}x{calls}" + (f"x{samples}s" if samples else ""))
    if not (path / ".synthetic-archive.json").exists():
        shutil.rmtree(path, ignore_errors=True)
        subprocess.run(
            [
                sys.executable,
                str(ROOT / "benchmarks" / "synthetic_archive.py"),
                f"--runs={runs}",
                f"--calls={calls}",
                f"--samples={samples}",
                f"--out={path}",
            ],
            check=True,
        )
    return path


def add_run(archive: Path, calls: int, samples: int) -> Path:
    """One more synthetic run in the archive (removed again after the measurement)."""
    sys.path.insert(0, str(ROOT))
    from tests.synthetic import make_run

    cells = 1 if calls <= 18 else 2
    return make_run(
        archive,
        seed=987_654_321,
        n_cells=cells,
        calls_per_cell=calls // cells,
        with_samples=samples > 0,
        n_samples=samples,
    )


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--samples", type=int, default=0, help="telemetry lines per run")
    parser.add_argument("--quick", action="store_true", help="300 runs × 100 calls")
    parser.add_argument(
        "--real",
        action="store_true",
        help="1,000 runs shaped like the real ones: 18 calls and 440 samples each",
    )
    parser.add_argument("--no-site", action="store_true", help="skip the site page data")
    args = parser.parse_args(argv)
    runs, calls, samples = args.runs, args.calls, args.samples
    if args.quick:
        runs, calls = 300, 100
    if args.real:
        runs, calls, samples = 1000, 18, 440
    archive = ensure_archive(runs, calls, samples)
    out = WORK / f"publish-{runs}x{calls}"
    shutil.rmtree(out, ignore_errors=True)
    site = "0" if args.no_site else "1"

    scan = measure(SCAN.format(threads=THREADS), str(archive / "*" / "run.jsonl"))
    full = measure(PUBLISH, str(archive), str(out), site)
    extra = add_run(archive, calls, samples)
    try:
        incremental = measure(PUBLISH, str(archive), str(out), site)
    finally:
        shutil.rmtree(extra, ignore_errors=True)
    shutil.rmtree(out, ignore_errors=True)

    ratio = full["seconds"] / scan["seconds"]
    targets = {
        "full_vs_duckdb_scan": {"value": round(ratio, 2), "target": "<= 4x", "met": ratio <= 4},
        "full_seconds": {
            "value": full["seconds"],
            "target": "<= 120 s",
            "met": full["seconds"] <= 120,
        },
        "full_peak_rss_mb": {
            "value": full["peak_rss_mb"],
            "target": "<= 2048 MB",
            "met": full["peak_rss_mb"] <= 2048,
        },
        "incremental_seconds": {
            "value": incremental["seconds"],
            "target": "<= 3 s",
            "met": incremental["seconds"] <= 3,
        },
    }
    result = {
        "runs": runs,
        "calls_per_run": calls,
        "samples_per_run": samples,
        "call_records": runs * calls,
        "duckdb_threads": THREADS,
        "site_pages": site == "1",
        "load_average": [round(x, 2) for x in psutil.getloadavg()],
        "duckdb_scan": {k: v for k, v in scan.items() if k != "log"},
        "full_publish": {k: v for k, v in full.items() if k != "log"},
        "incremental_publish": {k: v for k, v in incremental.items() if k != "log"},
        "targets": targets,
        "command": " ".join(["python benchmarks/publish_scale.py", *(argv or sys.argv[1:])]),
    }
    print(full["log"], incremental["log"], sep="\n")
    for name, t in targets.items():
        print(f"{name:24} {t['value']!s:>10}  target {t['target']:>10}  met={t['met']}")
    print(f"reference: DuckDB scan {scan['seconds']} s, peak {scan['peak_rss_mb']} MB")
    if not args.quick:
        path = RESULTS.with_name(f"publish_scale_{runs}x{calls}.json")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
