"""Long fuzz of the publisher: mutated run directories through validate, then publish.

    python benchmarks/fuzz.py                 # 10,000 cases, 2 worker processes
    python benchmarks/fuzz.py --cases 500     # a shorter run

Each case is ``tests.fuzzing.make_case(seed)``: a synthetic run (its own run id and uuid)
mutated on disk — hostile values, the inputs that once crashed publish, truncation, noise,
extra lines, FIFOs and symlinks. Cases are taken in batches; for each batch:

1. every case is validated on its own, as ``bakeoff validate --for-publication RUN`` does
   (``publisher.publish.validate_paths``): accepted, refused, a traceback, or a hang (no
   answer within ``--timeout`` seconds, enforced by SIGALRM);
2. the accepted cases are validated together, as ``bakeoff validate DIR...`` does, and
   published together (``publisher.publish.publish``): if validate accepts the set, publish
   must store it; if validate refuses it (two cases may share a run_uuid), publish must
   refuse it with the same errors;
3. the whole batch is published: publish must refuse it when any case was refused, and may
   never raise anything but a ``PublisherError``.

Totals go to ``benchmarks/results/fuzz.json``; every problem is listed with its seed and
mutations, so ``make_case(seed)`` reproduces it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "benchmarks" / "results" / "fuzz.json"


class Hang(Exception):
    """No answer within the time limit."""


@contextmanager
def deadline(seconds: int) -> Iterator[None]:
    """Raise ``Hang`` in this process when the block runs longer than ``seconds``."""

    def alarm(signum: int, frame: Any) -> None:
        raise Hang(f"no answer within {seconds} s")

    old = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def run_batch(seeds: list[int], timeout: int) -> dict[str, Any]:
    """Validate and publish one batch of cases (in a worker process)."""
    from publisher import publish as pipeline
    from publisher.errors import PublisherError, RunsInvalidError
    from publisher.frontend.compile import Options
    from tests.fuzzing import make_case

    options = Options(allow_synthetic=True, for_publication=True)
    counts: Counter[str] = Counter()
    problems: list[dict[str, Any]] = []
    codes: Counter[str] = Counter()
    root = Path(tempfile.mkdtemp(prefix="bakeoff-fuzzbench-"))
    try:
        everything, accepted = root / "all", root / "accepted"
        accepted.mkdir(parents=True)
        cases = {}
        for seed in seeds:
            case = make_case(everything, seed)
            cases[case.path.name] = case
            try:
                with deadline(timeout):
                    (artifact,) = pipeline.validate_paths([case.path], options)
            except Hang as exc:
                counts["hang"] += 1
                problems.append(
                    {
                        "seed": seed,
                        "mutations": case.mutations,
                        "stage": "validate",
                        "problem": str(exc),
                    }
                )
                continue
            except Exception:
                counts["traceback"] += 1
                problems.append(
                    {
                        "seed": seed,
                        "mutations": case.mutations,
                        "stage": "validate",
                        "problem": traceback.format_exc(),
                    }
                )
                continue
            for f in artifact.findings:
                codes[f.code] += 1
            if artifact.ok:
                counts["accepted"] += 1
                shutil.copytree(case.path, accepted / case.path.name, symlinks=True)
            else:
                counts["refused"] += 1

        def publish(folder: Path, label: str, must: str) -> None:
            out = root / f"out-{label}"
            config = pipeline.PublishConfig(folder, out, out / "catalogue.json", None, True)
            try:
                with deadline(timeout * 4):
                    pipeline.publish(config)
                outcome = "stored"
            except RunsInvalidError:
                outcome = "refused"
            except PublisherError as exc:
                outcome = f"error: {exc}"
            except Hang as exc:
                counts["hang"] += 1
                outcome = f"hang: {exc}"
            except Exception:
                counts["traceback"] += 1
                outcome = "traceback: " + traceback.format_exc()
            if outcome != must:
                counts["disagreement"] += 1
                problems.append(
                    {
                        "seeds": seeds,
                        "stage": f"publish {label}",
                        "expected": must,
                        "problem": outcome,
                    }
                )

        names = sorted(p.name for p in accepted.iterdir())
        if names:
            together = pipeline.validate_paths([accepted / n for n in names], options)
            ok = all(a.ok for a in together)
            publish(accepted, "accepted", "stored" if ok else "refused")
            counts["batch_accepted_sets_stored" if ok else "batch_accepted_sets_refused"] += 1
        if counts["refused"]:
            publish(everything, "all", "refused")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return {"counts": dict(counts), "codes": dict(codes), "problems": problems}


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--timeout", type=int, default=60, help="seconds per case (hang)")
    parser.add_argument("--first-seed", type=int, default=0)
    args = parser.parse_args(argv)
    seeds = list(range(args.first_seed, args.first_seed + args.cases))
    batches = [seeds[i : i + args.batch] for i in range(0, len(seeds), args.batch)]
    start = time.perf_counter()
    counts: Counter[str] = Counter()
    codes: Counter[str] = Counter()
    problems: list[dict[str, Any]] = []
    with ProcessPoolExecutor(args.jobs) as pool:
        for i, result in enumerate(pool.map(run_batch, batches, [args.timeout] * len(batches))):
            counts.update(result["counts"])
            codes.update(result["codes"])
            problems += result["problems"]
            if (i + 1) % 10 == 0 or i + 1 == len(batches):
                print(
                    f"{(i + 1) * args.batch:>6} cases  {dict(counts)}  "
                    f"{time.perf_counter() - start:.0f} s",
                    flush=True,
                )
    total = {
        "cases": args.cases,
        "first_seed": args.first_seed,
        "batch": args.batch,
        "accepted": counts["accepted"],
        "refused": counts["refused"],
        "tracebacks": counts["traceback"],
        "hangs": counts["hang"],
        "validate_accepts_publish_fails": counts["disagreement"],
        "accepted_sets_stored": counts["batch_accepted_sets_stored"],
        "accepted_sets_refused_by_both": counts["batch_accepted_sets_refused"],
        "seconds": round(time.perf_counter() - start, 1),
        "finding_codes": dict(sorted(codes.items())),
        "problems": problems[:50],
        "command": " ".join(["python benchmarks/fuzz.py", *(argv or sys.argv[1:])]),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(total, indent=2, sort_keys=True) + "\n")
    print(json.dumps({k: v for k, v in total.items() if k not in ("finding_codes", "problems")}))
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
