"""Fuzz: for every mutated run, validate accepts ⇔ publish stores it, and nothing raises.

Each case is a synthetic run mutated on disk (``tests/fuzzing.py``: hostile values, the inputs
that once crashed publish, truncation, noise, FIFOs and symlinks). An accepted case is carried
through the artifact store, the archive stage and the Parquet and DuckDB encodings of every
table; a small archive of the accepted cases is then published for real. The long run of the
same cases is ``benchmarks/fuzz.py``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb
import pytest

from publisher import publish as pipeline
from tests.fuzzing import check_case, make_case

CASES = int(os.environ.get("BAKEOFF_FUZZ_CASES", "300"))


def test_mutated_runs_are_accepted_and_stored_or_refused(tmp_path: Path) -> None:
    con = duckdb.connect(":memory:")
    accepted = tmp_path / "accepted"
    accepted.mkdir()
    problems = []
    n_accepted = 0
    for seed in range(CASES):
        case = make_case(tmp_path / f"case-{seed}", seed)
        outcome = check_case(case, con)
        if outcome.problem is not None:
            problems.append(f"seed {seed} {case.mutations}: {outcome.problem}")
        if outcome.accepted and outcome.stored:
            n_accepted += 1
            shutil.move(str(case.path), accepted / case.path.name)
        shutil.rmtree(tmp_path / f"case-{seed}", ignore_errors=True)
    assert problems == []
    assert 0 < n_accepted < CASES  # the mix holds both kinds
    # The accepted cases, published together, publish (validate over them accepts too).
    config = pipeline.PublishConfig(accepted, tmp_path / "out", tmp_path / "c.json", None, True)
    report = pipeline.publish(config)
    assert report.runs == n_accepted


@pytest.mark.parametrize(
    "mutation",
    ["fifo run.log", "fifo run.jsonl", "symlink run.log"],
)
def test_special_files_are_refused_without_hanging(tmp_path: Path, mutation: str) -> None:
    """A FIFO in place of run.log once hung validate and publish."""
    from tests.synthetic import make_run

    run = make_run(tmp_path, seed=1)
    kind, name = mutation.split()
    (run / name).unlink()
    if kind == "fifo":
        os.mkfifo(run / name)
    else:
        os.symlink("/etc/hostname", run / name)
    (artifact,) = pipeline.validate_paths([run], pipeline.Options(allow_synthetic=True))
    expected = "structure.special_file" if kind == "fifo" else "structure.symlink"
    assert expected in {f.code for f in artifact.findings}
    assert not artifact.ok
