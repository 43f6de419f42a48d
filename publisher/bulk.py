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

import hashlib
import multiprocessing
import os
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.feather as feather

from bakeoff.jsonio import write_atomic
from publisher import ledger_sql
from publisher.cache import RunCache
from publisher.derive import RunRows, derive_run_bulk, signature, workload_key
from publisher.derive import _workloads as workloads_of
from publisher.errors import ExportError
from publisher.export import calls_schema, to_arrow
from publisher.finding import finding_from_dict, has_errors
from publisher.load import load_run, stat_signature
from publisher.postprocess import default_scorer
from publisher.samples import build_samples
from publisher.tables import calls_columns
from publisher.validate import Options, check_run, metadata_of

STORE_DIR = "calls"
MEMORY_LIMIT = os.environ.get("BAKEOFF_DUCKDB_MEMORY", "512MB")
STATS_CHUNK = 500  # runs per batch-statistics query
STAGE_CHUNK = 500  # runs per bulk ledger scan (~250 MB of ledger text at 500 calls/run)
THREADS = int(os.environ.get("BAKEOFF_DUCKDB_THREADS", "2"))
# Worker processes for the changed runs of a large publish, and runs per worker task.
JOBS = int(os.environ.get("BAKEOFF_PUBLISH_JOBS", str(min(2, os.cpu_count() or 1))))
WORKER_CHUNK = 100


class CallStore:
    """The ``calls`` rows of every published run: one Arrow IPC file per run directory.

    ``<out>/.cache/calls/<sha256 of the directory name>.arrow`` holds the run's rows in the
    published column order and types, in ledger order (a run without calls has no file). Worker
    processes write their runs' files themselves, so no call row crosses a process boundary,
    and a changed run replaces one file instead of deleting rows from a 5 M-row table.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.schema = calls_schema()

    def __enter__(self) -> CallStore:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        pass

    def path(self, dir_name: str) -> Path:
        """The file of one run directory's calls."""
        digest = hashlib.sha256(dir_name.encode("utf-8", "replace")).hexdigest()
        return self.folder / f"{digest}.arrow"

    def has(self, dir_name: str, n_calls: int) -> bool:
        """Whether the run's calls are stored (trivially so when it has none)."""
        return n_calls == 0 or self.path(dir_name).is_file()

    def write(self, dir_name: str, calls: pa.Table) -> None:
        """Store one run's call rows (published columns, ledger order); atomic."""
        path = self.path(dir_name)
        if calls.num_rows == 0:
            path.unlink(missing_ok=True)
            return
        sink = pa.BufferOutputStream()
        options = pa.ipc.IpcWriteOptions(compression="lz4")
        with pa.ipc.new_file(sink, self.schema, options=options) as writer:
            writer.write_table(calls.select(self.schema.names).cast(self.schema))
        write_atomic(path, sink.getvalue().to_pybytes(), durable=False)  # a cache

    def read(self, dir_name: str, columns: Sequence[str] | None = None) -> pa.Table:
        """One run's call rows, or only some columns (an empty table when it has none)."""
        path = self.path(dir_name)
        if not path.is_file():
            empty = self.schema.empty_table()
            return empty if columns is None else empty.select(list(columns))
        # Feather V2 is the Arrow IPC file format; it decompresses only the columns asked for.
        try:
            return feather.read_table(
                str(path), columns=None if columns is None else list(columns), memory_map=True
            )
        except (OSError, pa.ArrowException) as exc:
            raise ExportError(
                f"the stored calls of {dir_name} ({path}) cannot be read ({exc}); "
                f"delete {self.folder.parent} (a cache) and publish again"
            ) from exc

    def drop(self, dirs: Sequence[str]) -> None:
        """Forget the rows of these run directories."""
        for d in dirs:
            self.path(d).unlink(missing_ok=True)

    def keep(self, dirs: Sequence[str]) -> None:
        """Forget the rows of every run directory not in ``dirs``."""
        wanted = {self.path(d).name for d in dirs}
        for path in self.folder.glob("*.arrow"):
            if path.name not in wanted:
                path.unlink(missing_ok=True)

    def insert_rows(self, dir_name: str, calls: list[dict[str, Any]]) -> None:
        """Store one run's call rows (Python path) in ledger order."""
        self.write(dir_name, to_arrow("calls", calls))


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
    threads: int = THREADS,
) -> tuple[dict[str, Any], dict[str, int]]:
    """Load, check and derive one chunk of changed runs in bulk; the rest is left to the caller.

    The call rows of the runs proven clean go into ``store``. Returns their ``RunResult`` and
    call count by run directory.
    """
    con = _connect(threads)
    try:
        return _load_chunk_into(todo, options, cache, store, con)
    finally:
        con.close()


def _load_chunk_into(
    todo: Sequence[tuple[Path, Any]],
    options: Options,
    cache: RunCache,
    store: CallStore,
    con: duckdb.DuckDBPyConnection,
) -> tuple[dict[str, Any], dict[str, int]]:
    from publisher.pipeline import RunResult

    raws: dict[str, Any] = {}
    contexts: list[ledger_sql.LedgerRun] = []
    for path, _ in todo:
        raw = load_run(path, stream=frozenset({"run.jsonl"}))
        raws[path.name] = raw
        md = metadata_of(raw)
        ledger = raw.file("run.jsonl")
        if md is None or md.get("meta_only") or ledger is None or ledger.sha256 is None:
            continue
        ctx = _ledger_run(path, md)
        if ctx is not None:
            contexts.append(ctx)
    scanned: dict[str, ledger_sql.ScanResult] = {}
    if contexts:
        try:
            scanned = ledger_sql.stage(con, contexts)
        except duckdb.Error:
            scanned = {}  # every run of the chunk takes the Python path
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
        ledger_sql.publish_calls(con, sorted(clean_runs))
        names = sorted(clean_runs)
        for start in range(0, len(names), STATS_CHUNK):  # bounded memory per query
            chunk = names[start : start + STATS_CHUNK]
            aggregates.update(ledger_sql.batch_statistics(con, chunk))
    ledger_sql.unstage(con)
    if clean_runs:
        _store_calls(con, store, {name: v[2].calls_total for name, v in clean_runs.items()})
    results: dict[str, Any] = {}
    counts: dict[str, int] = {}
    for name, (run, findings, facts, sig) in clean_runs.items():
        measured = [cell for cell, _ in facts.calls_per_cell]
        rows: RunRows = derive_run_bulk(
            run, facts.calls_total, facts.calls_ok, measured, aggregates[name]
        )
        rows["calls"] = []
        rows["samples"] = build_samples(raws[name])
        findings.sort(key=lambda f: (f.file, f.line or 0, f.code, f.pointer or "", f.message))
        counts[name] = facts.calls_total
        payload = {
            "findings": [f.to_dict() for f in findings],
            "rows": rows,
            "n_calls": facts.calls_total,
        }
        cache.put(name, run.content_sha256, payload, sig)
        results[name] = RunResult(name, findings, rows)
    return results, counts


def _store_calls(con: duckdb.DuckDBPyConnection, store: CallStore, counts: dict[str, int]) -> None:
    """Write the calls of each run in ``con``'s ``calls`` table to the store, one file each."""
    names = [n for n, _ in calls_columns()]
    cols = ", ".join(f'"{n}"' for n in names)
    table = con.sql(f"SELECT {cols} FROM calls ORDER BY _dir, _line").to_arrow_table()
    offset = 0
    for name in sorted(counts):
        store.write(name, table.slice(offset, counts[name]))
        offset += counts[name]
    if offset != table.num_rows:
        raise RuntimeError(f"stored {offset} of {table.num_rows} call rows")


def _connect(threads: int = THREADS) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
    con.execute(f"SET threads = {threads}")
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET preserve_insertion_order = false")
    ledger_sql.create_calls_table(con)
    return con


def _worker_chunk(
    todo: Sequence[tuple[Path, Any]], options: Options, cache: RunCache, folder: Path
) -> tuple[dict[str, Any], dict[str, int]]:
    """``_load_chunk`` in a worker process (one DuckDB thread: the workers are the threads)."""
    return _load_chunk(todo, options, cache, CallStore(folder), threads=1)


def _chunks(todo: Sequence[tuple[Path, Any]], size: int) -> list[Sequence[tuple[Path, Any]]]:
    return [todo[i : i + size] for i in range(0, len(todo), size)]


def _load_changed(
    todo: Sequence[tuple[Path, Any]],
    options: Options,
    cache: RunCache,
    store: CallStore,
    jobs: int,
) -> tuple[dict[str, Any], dict[str, int]]:
    """Every changed run through ``_load_chunk``: here, or in ``jobs`` worker processes."""
    results: dict[str, Any] = {}
    counts: dict[str, int] = {}
    if jobs <= 1 or len(todo) < 2 * WORKER_CHUNK:
        for chunk in _chunks(todo, STAGE_CHUNK):
            done, n = _load_chunk(chunk, options, cache, store)
            results.update(done)
            counts.update(n)
        return results, counts
    # Spawned, not forked: a worker starts small instead of sharing (and, by RSS, counting)
    # the parent's pages, and inherits no DuckDB connection. At most two tasks per worker are
    # in flight, so finished results never pile up in the parent.
    context = multiprocessing.get_context("spawn")
    chunks = _chunks(todo, WORKER_CHUNK)
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        pending: deque[Future[tuple[dict[str, Any], dict[str, int]]]] = deque()
        for chunk in chunks:
            pending.append(pool.submit(_worker_chunk, chunk, options, cache, store.folder))
            if len(pending) >= 2 * jobs:
                done, n = pending.popleft().result()
                results.update(done)
                counts.update(n)
        while pending:
            done, n = pending.popleft().result()
            results.update(done)
            counts.update(n)
    return results, counts


def load_runs(
    paths: Sequence[Path],
    options: Options,
    seeds: dict[str, bytes],
    cache: RunCache,
    store: CallStore,
    jobs: int | None = None,
) -> tuple[list[Any], dict[str, int]]:
    """``pipeline.process_run`` for every path, in bulk: ``RunResult``s in path order, and the
    number of stored call rows of each published run.

    ``jobs`` worker processes (default ``JOBS``) share the changed runs when there are many.
    """
    jobs = JOBS if jobs is None else jobs
    from publisher.pipeline import RunResult, process_run

    results: dict[str, Any] = {}
    counts: dict[str, int] = {}
    todo: list[tuple[Path, Any]] = []
    for path in paths:
        sig = stat_signature(path)
        hit = cache.get_by_stat(path.name, sig)
        n_calls = hit.get("n_calls", -1) if hit is not None else -1
        if hit is not None and n_calls >= 0 and store.has(path.name, n_calls):
            findings = [finding_from_dict(f) for f in hit["findings"]]
            results[path.name] = RunResult(path.name, findings, hit["rows"])
            if hit["rows"] is not None:
                counts[path.name] = n_calls
        else:
            if hit is not None:
                cache.hits -= 1
            todo.append((path, sig))
    store.drop([p.name for p, _ in todo])
    done, n = _load_changed(todo, options, cache, store, jobs)
    results.update(done)
    counts.update(n)
    for path, sig in todo:
        if path.name in results:
            continue
        result = process_run(path, options, default_scorer, seeds)
        calls: list[dict[str, Any]] = []
        if result.rows is not None:
            calls = result.rows["calls"]
            result.rows["calls"] = []
            store.insert_rows(path.name, calls)
            counts[path.name] = len(calls)
        payload = {
            "findings": [f.to_dict() for f in result.findings],
            "rows": result.rows,
            "n_calls": len(calls),
        }
        cache.put(path.name, "", payload, sig)
        results[path.name] = result
    cache.misses += len(todo)
    return [results[p.name] for p in paths], counts
