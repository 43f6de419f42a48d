"""The orchestrator: ``load → validate → dedup → catalogue → export → site pages``.

This is the only module that knows paths. Every stage is a function from plain data to plain
data; each is logged as a numbered step. Publishing is atomic: everything is built in staging
folders and swapped into place only after every stage succeeded, so a failed publish leaves
the previous outputs untouched.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import shutil
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bakeoff import __version__
from bakeoff.jsonio import write_atomic, write_json
from bakeoff.resources import load_seed, seeds_dir
from publisher import bulk, dedup
from publisher.cache import RunCache, publisher_key
from publisher.catalogue import build_catalogue, render_catalogue
from publisher.derive import RunRows, derive_run
from publisher.errors import RunsInvalidError, StaleCatalogueError
from publisher.export import StoredCalls, export_tables
from publisher.finding import Finding, finding_from_dict, has_errors
from publisher.history import build_history
from publisher.load import iter_run_dirs, load_run
from publisher.postprocess import Scorer, check_rouge, default_scorer, scored_calls
from publisher.samples import build_samples
from publisher.tables import TABLE_NAMES, columns
from publisher.validate import Options, check_run

Log = Callable[[str], None]
STEPS = 6
# Per-run row lists that build_tables copies into the published tables (the catalogue needs
# only ``runs``, ``catalogue``, ``snapshot`` and ``gpu_hardware`` of each run afterwards).
_CONCATENATED = (
    "calls",
    "cells",
    "system_software",
    "system_gpu_link",
    "run_hardware_metrics",
    "samples",
)


@dataclass(frozen=True)
class RunResult:
    """What validating (and deriving) one run directory produced."""

    dir_name: str
    findings: list[Finding]
    rows: RunRows | None


@dataclass(frozen=True)
class PublishConfig:
    """Where publish reads and writes."""

    runs_dir: Path
    out_dir: Path
    catalogue_path: Path
    site_dir: Path | None = None
    allow_synthetic: bool = False


@dataclass
class PublishReport:
    """The outcome of a publish, for the CLI to render."""

    runs: int = 0
    cached: int = 0
    warnings: list[Finding] = field(default_factory=list)
    hardware_changes: list[str] = field(default_factory=list)
    manifest: dict[str, Any] = field(default_factory=dict)
    site: str = "skipped"


def _nolog(_: str) -> None:
    pass


def seed_datasets() -> dict[str, bytes]:
    """The bundled task datasets (``seeds/*.jsonl``) by dataset name (the file stem)."""
    return {p.stem: p.read_bytes() for p in sorted(seeds_dir().glob("*.jsonl"))}


def process_run(
    path: Path,
    options: Options,
    scorer: Callable[[], Scorer | None],
    seeds: dict[str, bytes],
    cache: RunCache | None = None,
) -> RunResult:
    """Load, validate and derive one run directory, through the cache when given.

    ``scorer`` is only called for runs with ROUGE scores (importing rouge-score takes seconds).
    """
    raw = load_run(path)
    content = raw.content_sha256
    if cache is not None:
        hit = cache.get(raw.dir_name, content)
        if hit is not None:
            findings = [finding_from_dict(f) for f in hit["findings"]]
            return RunResult(raw.dir_name, findings, hit["rows"])
    run, findings = check_run(raw, options)
    if run is not None and scored_calls(run):
        findings += check_rouge(run, scorer(), seeds)
    rows = derive_run(run) if run is not None and not has_errors(findings) else None
    if rows is not None:
        rows["samples"] = build_samples(raw)
    findings.sort(key=lambda f: (f.file, f.line or 0, f.code, f.pointer or "", f.message))
    if cache is not None:
        cache.put(
            raw.dir_name, content, {"findings": [f.to_dict() for f in findings], "rows": rows}
        )
    return RunResult(raw.dir_name, findings, rows)


def validate_paths(paths: Sequence[Path], options: Options, log: Log = _nolog) -> list[RunResult]:
    """Validate run directories (no cache: ``bakeoff validate`` always checks afresh)."""
    seeds = seed_datasets()
    results = []
    for i, path in enumerate(paths, start=1):
        log(f"[{i}/{len(paths)}] {path.name}")
        results.append(process_run(path, options, default_scorer, seeds))
    return results


def run_dirs(runs_dir: Path) -> list[Path]:
    """Every run directory of the archive, in name order."""
    return list(iter_run_dirs(runs_dir))


def _normalise(table: str, rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    names = [name for name, _ in columns(table)]
    return [{n: row.get(n) for n in names} for row in rows]


def build_tables(
    runs: Sequence[RunRows],
) -> tuple[dict[str, list[dict[str, Any]]], list[dedup.HardwareChange]]:
    """Stage 3 (dedup): every published table as a list of row dicts."""
    systems, changes = dedup.system_hardware(runs)
    interface_types = load_seed("interface_types.json")["interface_types"]
    cells = dedup.concat(runs, "cells")
    tables = {
        "runs": dedup.concat(runs, "runs"),
        "calls": dedup.concat(runs, "calls"),
        "cells": cells,
        "system_hardware": systems,
        "system_software": dedup.concat(runs, "system_software"),
        "gpu_hardware": dedup.gpu_hardware(runs),
        "system_gpu_link": dedup.concat(runs, "system_gpu_link"),
        "run_hardware_metrics": dedup.concat(runs, "run_hardware_metrics"),
        "interface_type": sorted(interface_types, key=lambda r: r["id"]),
        "history": build_history(cells),
        "samples": dedup.concat(runs, "samples"),
    }
    return {name: _normalise(name, tables[name]) for name in TABLE_NAMES}, changes


def _load_all(
    config: PublishConfig, log: Log, store: bulk.CallStore | None = None
) -> tuple[list[RunResult], RunCache, dict[str, int]]:
    options = Options(allow_synthetic=config.allow_synthetic)
    cache = RunCache(config.out_dir / ".cache", publisher_key(json.dumps(options.__dict__)))
    seeds = seed_datasets()
    paths = run_dirs(config.runs_dir)
    counts: dict[str, int] = {}
    if store is not None:
        results, counts = bulk.load_runs(paths, options, seeds, cache, store)
    else:
        results = [process_run(p, options, default_scorer, seeds, cache) for p in paths]
    log(f"step 1/{STEPS} load: {len(paths)} run directories ({cache.hits} from cache)")
    findings = [f for r in results for f in r.findings]
    errors = [f for f in findings if f.severity == "error"]
    log(f"step 2/{STEPS} validate: {len(errors)} errors, {len(findings) - len(errors)} warnings")
    if errors:
        raise RunsInvalidError(findings)
    return results, cache, counts


def check_catalogue(config: PublishConfig, log: Log = _nolog) -> None:
    """Raise StaleCatalogueError when the committed catalogue differs from the runs."""
    results, _, _ = _load_all(config, log)
    runs = [r.rows for r in results if r.rows is not None]
    systems, _ = dedup.system_hardware(runs)
    text = render_catalogue(build_catalogue(runs, systems))
    log(f"step 3/{STEPS} catalogue: {len(runs)} runs")
    try:
        current = config.catalogue_path.read_text(encoding="utf-8")
    except OSError:
        current = None
    if current != text:
        raise StaleCatalogueError(
            f"{config.catalogue_path} is stale against {config.runs_dir}; "
            "run `bakeoff publish` and commit catalogue.json"
        )


def _swap(staged: Path, target: Path) -> None:
    """Replace ``target`` (a folder) by ``staged`` with two renames."""
    old = target.with_name(f".{target.name}.old-{os.getpid()}")
    if target.exists():
        os.replace(target, old)
    os.replace(staged, target)
    shutil.rmtree(old, ignore_errors=True)


def _site_pages(
    tables: dict[str, list[dict[str, Any]]], catalogue: dict[str, Any], out_dir: Path, log: Log
) -> str:
    try:
        pages = importlib.import_module("publisher.site.pages")
    except ModuleNotFoundError as exc:
        if exc.name not in ("publisher.site", "publisher.site.pages"):
            raise
        log(f"step 6/{STEPS} site pages: skipped (publisher.site.pages is not available)")
        return "skipped"
    pages.build_pages(tables, catalogue, out_dir)
    log(f"step 6/{STEPS} site pages: written")
    return "written"


def publish(config: PublishConfig, log: Log = _nolog) -> PublishReport:
    """Validate every run, then write catalogue.json, exports and site pages atomically."""
    config.out_dir.mkdir(parents=True, exist_ok=True)
    with bulk.CallStore(config.out_dir / ".cache" / bulk.STORE_DIR) as store:
        return _publish(config, log, store)


def _publish(config: PublishConfig, log: Log, store: bulk.CallStore) -> PublishReport:
    results, cache, counts = _load_all(config, log, store)
    runs = [r.rows for r in results if r.rows is not None]
    report = PublishReport(runs=len(runs), cached=cache.hits)
    report.warnings = [f for r in results for f in r.findings]
    tables, changes = build_tables(runs)
    for rows in runs:  # now copied into ``tables``: free the per-run originals (memory)
        for name in _CONCATENATED:
            rows.pop(name, None)
    report.hardware_changes = [c.render() for c in changes]
    log(
        f"step 3/{STEPS} dedup: {len(tables['system_hardware'])} systems, "
        f"{len(tables['gpu_hardware'])} GPU specs, {len(changes)} hardware changes"
    )
    for line in report.hardware_changes:
        log(f"  {line}")
    catalogue = build_catalogue(runs, tables["system_hardware"])
    log(f"step 4/{STEPS} catalogue: {len(catalogue['runs'])} runs")
    config.out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=config.out_dir))
    site_staging: Path | None = None
    try:
        store.keep([r.dir_name for r in results if r.rows is not None])
        if config.site_dir is not None:
            config.site_dir.parent.mkdir(parents=True, exist_ok=True)
            site_staging = Path(
                tempfile.mkdtemp(
                    prefix=f".{config.site_dir.name}.staging-", dir=config.site_dir.parent
                )
            )

        site_log: list[str] = []  # reported after the export it overlaps with

        def pages() -> None:  # while calls.parquet and the DuckDB file are written
            if site_staging is not None:
                tables["calls"] = StoredCalls(store, counts)
                report.site = _site_pages(tables, catalogue, site_staging, site_log.append)

        report.manifest = export_tables(
            tables, staging / "exports", calls=(store, counts), meanwhile=pages
        )
        log(f"step 5/{STEPS} export: {len(report.manifest['files'])} files")
        for line in site_log:
            log(line)
        # Commit: only renames and one small write from here on.
        tables["calls"] = []
        _swap(staging / "exports", config.out_dir / "exports")
        if site_staging is not None and report.site == "written":
            _swap(site_staging, config.site_dir)  # type: ignore[arg-type]
        write_atomic(config.catalogue_path, render_catalogue(catalogue))
        write_json(config.out_dir / "build-info.json", _build_info(len(runs)))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if site_staging is not None:
            shutil.rmtree(site_staging, ignore_errors=True)
    cache.prune({r.dir_name for r in results})
    return report


def _build_info(n_runs: int) -> dict[str, Any]:
    # Volatile build details live here, never in catalogue.json.
    import duckdb
    import pyarrow

    return {
        "bakeoff_version": __version__,
        "duckdb_version": duckdb.__version__,
        "pyarrow_version": pyarrow.__version__,
        "python_version": platform.python_version(),
        "runs": n_runs,
    }
