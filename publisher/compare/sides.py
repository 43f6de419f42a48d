"""The two sides of a comparison: runs resolved from the command line, compiled by the front
end (``compile_run``, the same as validate and publish), and their warm results.

A *result* is one load level's batch of warm calls: (cell, workload, concurrency, request
rate), where a closed-loop level has a concurrency and an open-loop level a request rate (its
concurrency is null). Results are matched by workload ``signature`` (``docs/tables.md``), never
by cell id: the cell id carries the host label, which may differ between the two runs.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from bakeoff import stats
from bakeoff.resources import archive_path
from bakeoff.timefmt import format_utc_us
from publisher.errors import CompareError, RunInvalidError, RunNotFoundError
from publisher.frontend.compile import Options, RunArtifact, compile_run
from publisher.frontend.load import iter_run_dirs
from publisher.gates import MetricSpec

_RUN_ID = re.compile(r"^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}$")


def level_label(concurrency: int | None, request_rate: float | None) -> str:
    """A load level as a result key writes it: ``c4`` (closed loop, 4 streams) or ``r0.5``
    (open loop, 0.5 requests/s)."""
    if request_rate is not None:
        return f"r{request_rate:g}"
    return f"c{concurrency}"


def statistic(values: list[float], name: str) -> float | None:
    """p50 / p95 (linear interpolation) or mean of ``values``; None when empty."""
    if name == "mean":
        return stats.mean(values)
    return stats.percentile(values, 95.0 if name == "p95" else 50.0)


@dataclass(frozen=True)
class RunRef:
    """A run directory and, optionally, one cell within it (``RUN[:CELL]``)."""

    text: str
    path: Path
    cell: str | None = None


def default_runs_dir() -> Path:
    """``runs/`` of the archive found from the working directory upward."""
    return archive_path("runs")


def parse_ref(text: str, runs_dir: Path) -> RunRef:
    """Resolve ``RUN[:CELL]``: RUN is a run directory or a run id under ``runs_dir``.

    Run ids and host labels contain no ``:``, so the first ``:`` separates the cell, which may
    itself contain colons (``host:engine:model``, or ``engine:model`` without the host label).
    """
    run, sep, cell = text.partition(":")
    tries = [(text, None)] + ([(run, cell)] if sep else [])
    for name, sel in tries:
        if not name:
            continue
        for path in (Path(name), runs_dir / name):
            if path.is_dir():
                return RunRef(text, path, sel or None)
    recent = [p.name for p in iter_run_dirs(runs_dir) if _RUN_ID.match(p.name)][-3:]
    hint = f"; latest run ids there: {', '.join(reversed(recent))}" if recent else ""
    raise RunNotFoundError(
        f"run {run or text!r} not found: it is not a directory and {runs_dir / (run or text)} "
        f"does not exist (pass a run directory, or a run id with --runs DIR pointing at the "
        f"archive){hint}"
    )


@dataclass(frozen=True)
class Result:
    """One load level's batch of warm calls of one run: (cell, workload, concurrency or
    request rate)."""

    key: str
    signature: str
    workload_key: str
    cell_id: str
    engine: str
    engine_version: str | None
    model: str
    model_digest: str | None
    quantization: str | None
    workload_id: str
    max_tokens: int | None
    temperature: float
    concurrency: int | None
    request_rate: float | None
    n: int
    errors: int
    error_kinds: dict[str, int]
    samples: dict[str, list[float]]
    cold_ttft_ms: float | None

    def value(self, spec: MetricSpec) -> float | None:
        """The metric's statistic over this batch (success rate over all warm calls)."""
        if spec.field is None:
            return (self.n - self.errors) / self.n if self.n else None
        return statistic(self.samples.get(spec.field, []), spec.statistic)


@dataclass(frozen=True)
class RunSide:
    """One side of a comparison: the run, the selected cell and its results."""

    run_id: str
    cell: str | None
    system_id: str
    host_label: str
    system_label: str
    started_at: str
    git_sha: str | None
    harness_version: str
    synthetic: bool
    comparable: bool
    comparable_reason: str | None
    load_avg_start: list[float] | None
    results: list[Result]

    def info(self) -> dict[str, Any]:
        """What the report's ``config`` says about this side."""
        return {
            "run_id": self.run_id,
            "cell": self.cell,
            "system_id": self.system_id,
            "host_label": self.host_label,
            "system_label": self.system_label,
            "started_at": self.started_at,
            "git_sha": self.git_sha,
            "harness_version": self.harness_version,
            "synthetic": self.synthetic,
            "comparable": self.comparable,
            "results": len(self.results),
        }


def _select_cells(cell_ids: Iterable[str], selector: str | None, run_id: str) -> set[str]:
    ids = sorted(set(cell_ids))
    if selector is None:
        return set(ids)
    chosen = {c for c in ids if c == selector or c.partition(":")[2] == selector}
    if not chosen:
        raise CompareError(
            f"cell {selector!r} is not in run {run_id}; its cells are: {', '.join(ids) or 'none'} "
            "(write RUN:CELL with a full cell id, or with engine:model without the host label)"
        )
    return chosen


def _rows(table: pa.Table) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = table.to_pylist()
    return rows


def side_from_artifact(ref: RunRef, artifact: RunArtifact) -> RunSide:
    """Build one side from a compiled run (its ``runs``, ``cells`` and ``calls`` tables)."""
    assert artifact.tables is not None
    run = _rows(artifact.tables["runs"])[0]
    run_id = run["run_id"]
    if run["completeness"] == "meta-only":
        raise CompareError(
            f"run {run_id} is meta-only (no run.jsonl): it has no calls to compare; "
            "pick a run with measurements"
        )
    cells = _rows(artifact.tables["cells"])
    chosen = _select_cells((r["cell_id"] for r in cells), ref.cell, run_id)
    columns = (
        "cell_id",
        "workload_id",
        "concurrency",
        "request_rate",
        "phase",
        "error",
        "error_kind",
    )
    values = ("first_delta_ms", "total_duration_ms", "tokens_per_sec")
    calls_table = artifact.tables["calls"].select([*columns, *values])
    calls: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    # One batch per load level: two open-loop levels share a null concurrency, so the rate
    # is part of the key (as it is of the cells table's).
    for c in calls_table.to_pylist():
        batch_key = (c["cell_id"], c["workload_id"], c["concurrency"], c["request_rate"])
        calls.setdefault((*batch_key, c["phase"]), []).append(c)
    cold = {
        (r["cell_id"], r["workload_id"], r["concurrency"], r["request_rate"]): r["ttft_p50_ms"]
        for r in cells
        if r["phase"] == "cold"
    }
    results = []
    for r in cells:
        if r["phase"] != "warm" or r["cell_id"] not in chosen:
            continue
        level = (r["cell_id"], r["workload_id"], r["concurrency"], r["request_rate"])
        batch = calls.get((*level, "warm"), [])
        ok = [c for c in batch if c["error"] is None]
        failed = Counter(str(c["error_kind"] or "unknown") for c in batch if c["error"] is not None)
        results.append(
            Result(
                key=(
                    f"{r['workload_id']}/{level_label(r['concurrency'], r['request_rate'])}/"
                    f"{r['engine']}:{r['model']}"
                ),
                signature=r["signature"],
                workload_key=r["workload_key"],
                cell_id=r["cell_id"],
                engine=r["engine"],
                engine_version=r["engine_version"],
                model=r["model"],
                model_digest=r["model_digest"],
                quantization=r["quantization"],
                workload_id=r["workload_id"],
                max_tokens=r["max_tokens"],
                temperature=r["temperature"],
                concurrency=r["concurrency"],
                request_rate=r["request_rate"],
                n=len(batch),
                errors=len(batch) - len(ok),
                error_kinds=dict(sorted(failed.items())),
                samples={
                    name: [float(c[name]) for c in ok if c[name] is not None] for name in values
                },
                cold_ttft_ms=cold.get(level),
            )
        )
    results.sort(key=lambda x: (x.key, x.signature))
    load = run["load_avg_start"]
    started = artifact.tables["runs"].column("started_at").cast(pa.int64())[0].as_py()
    return RunSide(
        run_id=run_id,
        cell=ref.cell,
        system_id=run["system_id"],
        host_label=run["host_label"],
        system_label=run["system_label"],
        started_at=format_utc_us(started),
        git_sha=run["git_sha"],
        harness_version=run["harness_version"],
        synthetic=bool(run["synthetic"]),
        comparable=bool(run["comparable"]),
        comparable_reason=run["comparable_reason"],
        load_avg_start=list(load) if load is not None else None,
        results=results,
    )


def load_side(ref: RunRef, options: Options) -> RunSide:
    """Compile one run directory (the front end every command shares) into one side."""
    artifact = compile_run(ref.path, options)
    if not artifact.ok:
        raise RunInvalidError(ref.path.name, artifact.findings)
    return side_from_artifact(ref, artifact)


PREVIOUS = "previous"


def previous_run(runs_dir: Path, candidate: RunSide, options: Options) -> Path:
    """The newest comparable run in ``runs_dir`` on the candidate's system that started before
    it (runs that fail validation, smoke, probe-only and empty runs are passed over)."""
    for path in reversed(list(iter_run_dirs(runs_dir))):
        if not _RUN_ID.match(path.name) or path.name >= candidate.run_id:
            continue
        artifact = compile_run(path, options)
        if not artifact.ok or artifact.tables is None:
            continue  # `bakeoff validate` reports it
        run = artifact.tables["runs"].to_pylist()[0]
        if (
            run["system_id"] == candidate.system_id
            and run["comparable"]
            and run["completeness"] != "meta-only"
        ):
            return path
    raise RunNotFoundError(
        f"no earlier comparable run of system {candidate.system_label} before "
        f"{candidate.run_id} in {runs_dir}; pass the baseline run explicitly, or --runs DIR"
    )
