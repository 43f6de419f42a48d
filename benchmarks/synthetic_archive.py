"""Generate a synthetic archive of N runs × M calls for publisher benchmarks.

    python benchmarks/synthetic_archive.py --runs 10000 --calls 500 --out benchmarks/.work/a

Every run comes from ``tests.synthetic.make_run`` (schema-valid, internally consistent,
log-normal TTFT, per-host decode rates, slow cold calls, ~5% failed warm calls) and is marked
``"synthetic": true``, so publishing it needs ``--allow-synthetic``. Runs are spread over a
fixed pool of systems (36 by default: 9 per hardware profile) with 2, 4 or 5 cells each, so
dedup and the catalogue see a few dozen distinct systems. The archive folder gets a hidden
``.synthetic-archive.json`` marker (hidden entries are not run directories) and may never be
the repository's ``runs/`` folder. Same arguments, same bytes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.synthetic import PROFILES, make_run  # noqa: E402

MARKER = ".synthetic-archive.json"
CELL_CHOICES = (2, 4, 5)  # ≤ 100 runs per cell and prompt (the schema maximum)


def system_pool(n_systems: int) -> list[tuple[str, str]]:
    """(system_id, profile) for a fixed pool of systems, profiles round-robin."""
    profiles = sorted(PROFILES)
    return [
        (str(uuid.UUID(int=0xBA4E0FF << 64 | i, version=4)), profiles[i % len(profiles)])
        for i in range(n_systems)
    ]


def _refuse_runs_dir(out: Path) -> None:
    real = out.resolve()
    if real == (ROOT / "runs").resolve() or (ROOT / "runs").resolve() in real.parents:
        raise SystemExit(f"refusing to write a synthetic archive into {ROOT / 'runs'}")


def _make_chunk(args: tuple[str, list[int], int, int, int, int]) -> int:
    out, indices, calls, n_systems, seed, samples = args
    pool = system_pool(n_systems)
    for i in indices:
        # Real runs of the embedded engine: one cell, 3 prompts × (1 cold + 5 warm) = 18
        # calls and ~440 telemetry samples; larger runs spread their calls over 2-5 cells.
        n_cells = 1 if calls <= 18 else CELL_CHOICES[(i * 7 + seed) % len(CELL_CHOICES)]
        system_id, profile = pool[(i * 13 + seed) % len(pool)]
        make_run(
            Path(out),
            seed=seed * 1_000_003 + i,
            system_id=system_id,
            profile=profile,
            n_cells=n_cells,
            calls_per_cell=max(1, calls // n_cells),
            with_samples=samples > 0,
            n_samples=samples,
        )
    return len(indices)


def generate(
    out: Path,
    runs: int,
    calls: int,
    *,
    n_systems: int = 36,
    seed: int = 0,
    jobs: int = 2,
    samples: int = 0,
) -> Path:
    """Write ``runs`` synthetic run directories with ~``calls`` call records each into ``out``."""
    _refuse_runs_dir(out)
    out.mkdir(parents=True, exist_ok=True)
    if any(p for p in out.iterdir() if not p.name.startswith(".")):
        raise SystemExit(f"{out} is not empty")
    step = 50
    chunks = [
        (str(out), list(range(start, min(start + step, runs))), calls, n_systems, seed, samples)
        for start in range(0, runs, step)
    ]
    if jobs <= 1:
        for chunk in chunks:
            _make_chunk(chunk)
    else:
        with ProcessPoolExecutor(jobs) as executor:
            list(executor.map(_make_chunk, chunks))
    marker = {
        "synthetic": True,
        "runs": runs,
        "calls_per_run": calls,
        "samples_per_run": samples,
        "systems": n_systems,
        "seed": seed,
        "generator": "benchmarks/synthetic_archive.py",
    }
    (out / MARKER).write_text(json.dumps(marker, indent=2, sort_keys=True) + "\n")
    return out


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--systems", type=int, default=36)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--samples", type=int, default=0, help="telemetry lines per run")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    generate(
        args.out,
        args.runs,
        args.calls,
        n_systems=args.systems,
        seed=args.seed,
        jobs=args.jobs,
        samples=args.samples,
    )
    print(f"wrote {args.runs} runs × {args.calls} calls into {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
