"""Stages 1–3a for a whole archive at once: load, validate and derive through the call store.

The per-run Python path (``pipeline.process_run``) costs ~0.1 ms per call line. Here:

* unchanged runs are recognised by their files' (name, mode, size, mtime_ns) — nothing is read
  or hashed (``RunCache.get_by_stat``);
* changed runs are read and hashed, their metadata validated in Python, and all their ledgers
  checked and derived together in DuckDB (``publisher.ledger_sql``); runs the bulk scan cannot
  prove clean go through the exact Python path, so findings are the same either way;
* the ``calls`` rows of every run live in one DuckDB file, ``<out>/.cache/calls.duckdb``
  (``CallStore``); the per-run cache entries hold everything else. The export copies the
  calls from there, so publishing never builds millions of row dicts.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import duckdb
import pyarrow as pa

from publisher import ledger_sql
from publisher.cache import RunCache
from publisher.derive import RunRows, derive_run_bulk, signature, workload_key
from publisher.derive import _workloads as workloads_of
from publisher.export import to_arrow
from publisher.finding import finding_from_dict, has_errors
from publisher.load import load_run, stat_signature
from publisher.postprocess import default_scorer
from publisher.samples import build_samples
from publisher.validate import Options, check_run, metadata_of

STORE_FILE = "calls.duckdb"
MEMORY_LIMIT = os.environ.get("BAKEOFF_DUCKDB_MEMORY", "512MB")
STATS_CHUNK = 500  # runs per batch-statistics query
STAGE_CHUNK = 500  # runs per bulk ledger scan (~250 MB of ledger text at 500 calls/run)
THREADS = int(os.environ.get("BAKEOFF_DUCKDB_THREADS", "2"))


class CallStore:
    """The ``calls`` rows of every published run, keyed by run directory (``_dir``, ``_line``)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.con = duckdb.connect(str(path))
        except duckdb.Error:  # a corrupt store is rebuilt (it is a cache)
            path.unlink(missing_ok=True)
            self.con = duckdb.connect(str(path))
        self.con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
        self.con.execute(f"SET threads = {THREADS}")
        self.con.execute("SET TimeZone = 'UTC'")
        self.con.execute("SET preserve_insertion_order = false")
        ledger_sql.create_calls_table(self.con)
        self._counts: dict[str, int] | None = None

    def __enter__(self) -> CallStore:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.con.close()

    def counts(self) -> dict[str, int]:
        """Rows per run directory."""
        if self._counts is None:
            rows = self.con.execute("SELECT _dir, count(*) FROM calls GROUP BY _dir").fetchall()
            self._counts = {d: n for d, n in rows}
        return self._counts

    def drop(self, dirs: Sequence[str]) -> None:
        """Delete the rows of these run directories."""
        if not dirs:
            return
        self.con.register("_drop", pa.table({"d": pa.array(list(dirs), pa.string())}))
        self.con.execute("DELETE FROM calls WHERE _dir IN (SELECT d FROM _drop)")
        self.con.unregister("_drop")
        counts = self.counts()
        for d in dirs:
            counts.pop(d, None)

    def keep(self, dirs: Sequence[str]) -> None:
        """Delete the rows of every run directory not in ``dirs``."""
        gone = sorted(set(self.counts()) - set(dirs))
        self.drop(gone)

    def insert_rows(self, dir_name: str, calls: list[dict[str, Any]]) -> None:
        """Insert one run's call rows (Python path) in ledger order."""
        if not calls:
            return
        table = to_arrow("calls", calls)
        table = table.add_column(0, "_line", [list(range(1, len(calls) + 1))])
        table = table.add_column(0, "_dir", [[dir_name] * len(calls)])
        self.con.register("_rows", table)
        self.con.execute("INSERT INTO calls SELECT * FROM _rows")
        self.con.unregister("_rows")
        self.counts()[dir_name] = len(calls)


def _ts_us(value: Any) -> int | None:
    if not isinstance(value, str):
        return None
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        return None
    if ts.tzinfo is None:
        return None
    return int(ts.timestamp()) * 10**6 + ts.microsecond


def _ledger_run(path: Path, md: dict[str, Any]) -> ledger_sql.LedgerRun | None:
    """The bulk scan's context of a run, or None when the run needs the Python path."""
    started, finished = _ts_us(md["started_at"]), _ts_us(md.get("finished_at"))
    if started is None or (md.get("finished_at") is not None and finished is None):
        return None
    cells = {c["cell_id"]: c for c in md["cells"]}
    wls = workloads_of(md)
    temperature = md["config"]["temperature"]
    keys = []
    for cell in cells.values():
        for wid, wl in wls.items():
            for conc in md["config"]["concurrency"]:
                wkey = workload_key(wid, wl["sha256"], wl["max_tokens"], temperature, conc)
                sig = signature(
                    wkey, cell["engine"], cell.get("model_digest"), cell.get("model", "")
                )
                keys.append((cell["cell_id"], wid, conc, wkey, sig, wl["max_tokens"]))
    return ledger_sql.LedgerRun(
        dir_name=path.name,
        path=path / "run.jsonl",
        system_id=md["hardware"]["system_hardware"]["system_id"],
        started_us=started,
        finished_us=finished,
        cold=bool(md["config"]["cold"]),
        complete=md["status"] == "complete",
        cells={c: cell["engine"] for c, cell in cells.items()},
        prompts={p["id"]: p["max_tokens"] for p in md["config"]["prompts"]},
        tasks={t["id"]: (t["max_tokens"], tuple(t["items"])) for t in md["config"]["tasks"]},
        keys=tuple(keys),
    )


def _load_chunk(
    todo: Sequence[tuple[Path, Any]],
    options: Options,
    cache: RunCache,
    store: CallStore,
    results: dict[str, Any],
) -> None:
    """Load, check and derive one chunk of changed runs in bulk; the rest is left to the caller."""
    from publisher.pipeline import RunResult

    schema = ledger_sql.call_schema()
    raws: dict[str, Any] = {}
    contexts: list[ledger_sql.LedgerRun] = []
    for path, _ in todo:
        raw = load_run(path, stream=frozenset({"run.jsonl"}))
        raws[path.name] = raw
        md = metadata_of(raw)
        ledger = raw.file("run.jsonl")
        if (
            schema is None
            or md is None
            or md.get("meta_only")
            or ledger is None
            or ledger.sha256 is None
        ):
            continue
        ctx = _ledger_run(path, md)
        if ctx is not None:
            contexts.append(ctx)
    scanned: dict[str, ledger_sql.ScanResult] = {}
    if contexts and schema is not None:
        try:
            scanned = ledger_sql.stage(store.con, contexts, schema)
        except duckdb.Error:
            scanned = {}  # e.g. a ledger that is not UTF-8: every run takes the Python path
    clean_runs: dict[str, Any] = {}
    aggregates: dict[str, list[dict[str, Any]]] = {}
    for path, sig in todo:
        scan = scanned.get(path.name)
        if scan is None or not scan.clean or scan.facts is None:
            continue
        run, findings = check_run(raws[path.name], options, scan.facts)
        if run is None or has_errors(findings) or any(f.file == "run.jsonl" for f in findings):
            continue
        clean_runs[path.name] = (run, findings, scan.facts, sig)
    if clean_runs:
        ledger_sql.publish_calls(store.con, sorted(clean_runs))
        names = sorted(clean_runs)
        for start in range(0, len(names), STATS_CHUNK):  # bounded memory per query
            chunk = names[start : start + STATS_CHUNK]
            aggregates.update(ledger_sql.batch_statistics(store.con, chunk))
    store.con.execute("DROP TABLE IF EXISTS staged")
    for name, (run, findings, facts, sig) in clean_runs.items():
        measured = [cell for cell, _ in facts.calls_per_cell]
        rows: RunRows = derive_run_bulk(
            run, facts.calls_total, facts.calls_ok, measured, aggregates[name]
        )
        rows["calls"] = []
        rows["samples"] = build_samples(raws[name])
        findings.sort(key=lambda f: (f.file, f.line or 0, f.code, f.pointer or "", f.message))
        store.counts()[name] = facts.calls_total
        payload = {
            "findings": [f.to_dict() for f in findings],
            "rows": rows,
            "n_calls": facts.calls_total,
        }
        cache.put(name, run.content_sha256, payload, sig)
        results[name] = RunResult(name, findings, rows)


def load_runs(
    paths: Sequence[Path],
    options: Options,
    seeds: dict[str, bytes],
    cache: RunCache,
    store: CallStore,
) -> list[Any]:
    """``pipeline.process_run`` for every path, in bulk; returns ``RunResult``s in path order."""
    from publisher.pipeline import RunResult, process_run

    counts = store.counts()
    results: dict[str, Any] = {}
    todo: list[tuple[Path, Any]] = []
    for path in paths:
        sig = stat_signature(path)
        hit = cache.get_by_stat(path.name, sig)
        if hit is not None and counts.get(path.name, 0) == hit.get("n_calls", -1):
            findings = [finding_from_dict(f) for f in hit["findings"]]
            results[path.name] = RunResult(path.name, findings, hit["rows"])
        else:
            if hit is not None:
                cache.hits -= 1
            todo.append((path, sig))
    store.drop([p.name for p, _ in todo])
    # Chunks of runs bound the staged lines (memory) and keep the per-chunk cost linear.
    for start in range(0, len(todo), STAGE_CHUNK):
        _load_chunk(todo[start : start + STAGE_CHUNK], options, cache, store, results)
    for path, sig in todo:
        if path.name in results:
            continue
        result = process_run(path, options, default_scorer, seeds)
        calls: list[dict[str, Any]] = []
        if result.rows is not None:
            calls = result.rows["calls"]
            result.rows["calls"] = []
            store.insert_rows(path.name, calls)
        payload = {
            "findings": [f.to_dict() for f in result.findings],
            "rows": result.rows,
            "n_calls": len(calls),
        }
        cache.put(path.name, "", payload, sig)
        results[path.name] = result
    cache.misses += len(todo)
    return [results[p.name] for p in paths]
