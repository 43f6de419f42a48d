"""Export: Parquet files, a partitioned Parquet dataset per large table, one DuckDB file and a
manifest with checksums.

* Small tables: one zstd Parquet file each (``<table>.parquet``).
* ``calls`` and ``samples``: a Hive-partitioned dataset, one file per month of run start
  (``calls/month=2026-11/data.parquet``), rows in run then ledger order. A partition whose
  runs did not change is taken over from the previous export unchanged (its inputs hash is in
  the manifest), so adding a run rewrites one partition.
* Parquet bytes depend only on the rows: republishing the same runs gives identical files.
* DuckDB: every table and a few views in ``bakeoff.duckdb``, written through ``ATTACH …
  (STORAGE_VERSION 'v1.0.0')`` so DuckDB 1.x clients can open it. DuckDB does not promise
  identical bytes for identical content, so the manifest says ``"duckdb": "content"``: the
  same runs give the same rows, not the same file.
* ``manifest.json``: sha256 and size of every file, row counts, partitions and their inputs.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from bakeoff.jsonio import write_json
from publisher.errors import ExportError
from publisher.frontend import tables

DUCKDB_FILE = "bakeoff.duckdb"
DUCKDB_STORAGE_VERSION = "v1.0.0"
MANIFEST = "manifest.json"
MANIFEST_VERSION = 2
ROW_GROUP = 250_000
PARTITION_FILE = "data.parquet"

# Views created in the DuckDB file (unqualified names, so they work under any alias).
VIEWS: dict[str, str] = {
    "warm_cells": """
        SELECT c.*, r.completeness, r.host_label, r.synthetic
        FROM cells c JOIN runs r USING (run_id)
        WHERE c.phase = 'warm'""",
    "leaderboard": """
        SELECT workload_key, workload_id, concurrency, request_rate, input_tokens,
               output_tokens, hardware_class, system_id, system_label,
               engine, model, quantization, source_tool, definitions,
               count(DISTINCT run_id) AS runs,
               median(tokens_per_sec_mean) AS tokens_per_sec,
               median(engine_prefill_tokens_per_sec) AS engine_prefill_tokens_per_sec,
               median(engine_decode_tokens_per_sec) AS engine_decode_tokens_per_sec,
               median(aggregate_tokens_per_sec) AS aggregate_tokens_per_sec,
               median(tokens_per_sec_per_user) AS tokens_per_sec_per_user,
               median(goodput_requests_per_sec) AS goodput_requests_per_sec,
               median(ttft_p50_ms) AS ttft_p50_ms,
               median(total_p50_ms) AS total_p50_ms,
               avg(success_rate) AS success_rate,
               median(bandwidth_efficiency) AS bandwidth_efficiency,
               median(tokens_per_joule) AS tokens_per_joule,
               CASE WHEN count(DISTINCT cost_currency) = 1
                    THEN median(cost_per_million_tokens) END AS cost_per_million_tokens,
               CASE WHEN count(DISTINCT cost_currency) = 1
                    THEN min(cost_currency) END AS cost_currency
        FROM cells
        WHERE phase = 'warm' AND comparable
        GROUP BY ALL
        ORDER BY workload_key, tokens_per_sec DESC NULLS LAST""",
    "run_systems": """
        SELECT r.*, h.cpu_model, h.ram_total_gb, h.gpu_count, h.gpu_summary,
               s.os, s.kernel_version, s.gpu_driver_version, s.cuda_version, s.runner_version
        FROM runs r
        LEFT JOIN system_hardware h USING (system_id)
        LEFT JOIN system_software s USING (run_id)""",
}


def write_parquet(table: pa.Table, path: Path) -> None:
    """One zstd Parquet file; same table, same bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(
        table,
        path,
        compression="zstd",
        write_statistics=True,
        use_dictionary=True,
        row_group_size=ROW_GROUP,
    )


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True)
class Partition:
    """One month of a large table: its runs (name order) and what decides its content."""

    table: str
    month: str
    runs: tuple[str, ...]
    inputs: str  # sha256 over the runs' contents and the code key

    @property
    def path(self) -> str:
        """Path inside the exports folder."""
        return f"{self.table}/month={self.month}/{PARTITION_FILE}"


def partitions(runs: Sequence[tuple[str, str, str]], code_key: str) -> list[Partition]:
    """The partitions of every large table for ``(run_id, month, content_sha256)`` rows."""
    by_month: dict[str, list[tuple[str, str]]] = {}
    for run_id, month, content in runs:
        by_month.setdefault(month, []).append((run_id, content))
    out = []
    for table in tables.LARGE:
        for month in sorted(by_month):
            members = sorted(by_month[month])
            h = hashlib.sha256(f"{table}\0{month}\0{code_key}\0".encode())
            for run_id, content in members:
                h.update(f"{run_id}\0{content}\n".encode())
            out.append(Partition(table, month, tuple(r for r, _ in members), h.hexdigest()))
    return out


RunTables = Callable[[str, str], pa.Table]
"""(table, run_id) → that run's rows of a large table (from its artifact)."""


def _write_partition(part: Partition, read: RunTables, dest: Path) -> int:
    schema = tables.schema(part.table)
    dest.parent.mkdir(parents=True, exist_ok=True)
    rows = 0
    with pq.ParquetWriter(
        dest, schema, compression="zstd", write_statistics=True, use_dictionary=True
    ) as writer:
        batch: list[pa.Table] = []
        size = 0
        for run_id in part.runs:
            t = read(part.table, run_id)
            if t.num_rows == 0:
                continue
            batch.append(t)
            size += t.num_rows
            if size >= ROW_GROUP:
                writer.write_table(pa.concat_tables(batch), row_group_size=size)
                rows += size
                batch, size = [], 0
        if batch:
            writer.write_table(pa.concat_tables(batch), row_group_size=size)
            rows += size
        if rows == 0:
            writer.write_table(schema.empty_table())
    return rows


def _previous(manifest: Mapping[str, Any] | None, folder: Path | None) -> dict[str, dict[str, Any]]:
    """The previous export's partition files by path, when the file is still as recorded."""
    if manifest is None or folder is None:
        return {}
    files = {f["path"]: f for f in manifest.get("files", [])}
    out = {}
    for entry in manifest.get("partitions", []):
        f = files.get(entry.get("path"))
        path = folder / str(entry.get("path"))
        try:
            if f is not None and path.stat().st_size == f["bytes"]:
                out[entry["path"]] = {**entry, **f}
        except OSError:
            continue
    return out


def _link(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dest)
    except OSError:
        shutil.copyfile(src, dest)


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """The manifest of an export folder, or None."""
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return (
        data if isinstance(data, dict) and data.get("schema_version") == MANIFEST_VERSION else None
    )


def _quote(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def write_duckdb(
    small: Mapping[str, pa.Table],
    large: Mapping[str, Mapping[str, Path]],
    path: Path,
    previous: Path | None = None,
    changed: Mapping[str, set[str]] | None = None,
    views: Mapping[str, str] | None = None,
) -> str:
    """All tables and views (default ``VIEWS``) in one DuckDB file readable by DuckDB 1.x.

    ``large`` maps each large table to its partition files by month; their rows go into one
    table with a ``month`` column (as Hive-partitioned readers see the dataset). With
    ``previous`` (the last export's file) and ``changed`` (the months whose inputs changed,
    per table), the previous file is copied and only those months are replaced: adding a run
    rewrites one month instead of reloading millions of rows. Returns "patched" or "built".
    """
    path.unlink(missing_ok=True)
    patch = previous is not None and changed is not None and previous.is_file()
    if patch:
        assert previous is not None
        shutil.copyfile(previous, path)
    con = duckdb.connect(":memory:")
    try:
        storage = f"STORAGE_VERSION '{DUCKDB_STORAGE_VERSION}'"
        con.execute(f"ATTACH {_quote(path)} AS bakeoff ({storage})")
        con.execute("USE bakeoff")
        con.execute("SET threads = 2")
        con.execute("SET enable_progress_bar = false")
        con.execute("SET memory_limit = '512MB'")
        for name, table in small.items():
            con.register("_source", table)
            con.execute(f'CREATE OR REPLACE TABLE "{name}" AS SELECT * FROM _source')
            con.unregister("_source")
        # Rows of the large tables in no particular order (SQL promises none): both threads
        # then compress row groups independently, about twice as fast.
        con.execute("SET preserve_insertion_order = false")
        for name, months in large.items():
            cols = ", ".join(f'"{n}"' for n in tables.schema(name).names)
            if not patch:
                con.register("_source", tables.empty(name))
                con.execute(
                    f'CREATE OR REPLACE TABLE "{name}" AS '
                    f"SELECT *, ''::VARCHAR AS month FROM _source"
                )
                con.unregister("_source")
            assert changed is not None or not patch
            todo = sorted(months) if not patch else sorted((changed or {}).get(name, set()))
            if patch and todo:
                listed = ", ".join("'" + m.replace("'", "''") + "'" for m in todo)
                con.execute(f'DELETE FROM "{name}" WHERE month IN ({listed})')
            for month in todo:
                if month not in months:
                    continue  # a month with no run left: its rows are gone
                con.execute(
                    f'INSERT INTO "{name}" SELECT {cols}, ? AS month '
                    f"FROM read_parquet({_quote(months[month])})",
                    [month],
                )
        for name, sql in (VIEWS if views is None else views).items():
            con.execute(f'CREATE OR REPLACE VIEW "{name}" AS {sql}')
        if patch:
            con.execute("CHECKPOINT bakeoff")
        con.execute("USE memory")
        con.execute("DETACH bakeoff")
    except duckdb.Error as exc:
        raise ExportError(f"could not write {path}: {exc}") from exc
    finally:
        con.close()
    return "patched" if patch else "built"


def export_tables(
    small: Mapping[str, pa.Table],
    parts: Sequence[Partition],
    read: RunTables,
    out_dir: Path,
    previous: Path | None = None,
    meanwhile: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Write every published table into ``out_dir`` and return the manifest.

    ``small`` holds the published tables other than the large ones; ``parts`` the partitions
    of the large ones, whose rows ``read`` gives per run. Partitions with the same inputs as in
    the export at ``previous`` are hard-linked from there. ``meanwhile`` runs while the DuckDB
    file is written (on another thread).
    """
    from concurrent.futures import ThreadPoolExecutor

    out_dir.mkdir(parents=True, exist_ok=True)
    old_manifest = read_manifest(previous) if previous is not None else None
    reusable = _previous(old_manifest, previous)
    files: list[dict[str, Any]] = []
    rows: dict[str, int] = {}
    for name in sorted(small):
        path = out_dir / f"{name}.parquet"
        write_parquet(small[name], path)
        rows[name] = small[name].num_rows
    part_entries = []
    reused = 0
    for part in parts:
        dest = out_dir / part.path
        old = reusable.get(part.path)
        if old is not None and old["inputs"] == part.inputs and previous is not None:
            _link(previous / part.path, dest)
            n, digest = int(old["rows"]), str(old["sha256"])
            reused += 1
        else:
            n = _write_partition(part, read, dest)
            digest = sha256_file(dest)
        rows[part.table] = rows.get(part.table, 0) + n
        files.append({"path": part.path, "sha256": digest, "bytes": dest.stat().st_size})
        part_entries.append(
            {
                "table": part.table,
                "month": part.month,
                "path": part.path,
                "inputs": part.inputs,
                "rows": n,
            }
        )
    for table in tables.LARGE:
        rows.setdefault(table, 0)
    large = {t: {p.month: out_dir / p.path for p in parts if p.table == t} for t in tables.LARGE}
    previous_db = previous / DUCKDB_FILE if previous is not None else None
    changed: dict[str, set[str]] | None = None
    if old_manifest is not None and old_manifest.get("duckdb_months") is not None:
        before = {(e["table"], e["month"]): e["inputs"] for e in old_manifest["duckdb_months"]}
        now = {(p.table, p.month): p.inputs for p in parts}
        changed = {t: set() for t in tables.LARGE}
        for key in before.keys() | now.keys():
            if before.get(key) != now.get(key):
                changed[key[0]].add(key[1])
        if not any(before.get(key) == inputs for key, inputs in now.items()):
            # Nothing carries over (new code changes every input, and maybe the columns):
            # build the file afresh.
            changed = None
    with ThreadPoolExecutor(max_workers=1) as pool:
        written = pool.submit(
            write_duckdb, small, large, out_dir / DUCKDB_FILE, previous_db, changed
        )
        try:
            if meanwhile is not None:
                meanwhile()
        finally:
            duckdb_mode = written.result()
    for name in sorted(small):
        path = out_dir / f"{name}.parquet"
        files.append({"path": path.name, "sha256": sha256_file(path), "bytes": path.stat().st_size})
    duck = out_dir / DUCKDB_FILE
    files.append({"path": DUCKDB_FILE, "sha256": sha256_file(duck), "bytes": duck.stat().st_size})
    manifest = {
        "schema_version": MANIFEST_VERSION,
        "duckdb_storage_version": DUCKDB_STORAGE_VERSION,
        "identity": {"parquet": "bytes", "duckdb": "content"},
        "files": sorted(files, key=lambda f: f["path"]),
        "partitions": part_entries,
        # The months the DuckDB file holds, and their inputs: the next publish replaces only
        # the months whose inputs changed.
        "duckdb_months": [{"table": p.table, "month": p.month, "inputs": p.inputs} for p in parts],
        "rows": dict(sorted(rows.items())),
    }
    write_json(out_dir / MANIFEST, manifest)
    return {**manifest, "reused_partitions": reused, "duckdb": duckdb_mode}


def iter_partition_files(manifest: Mapping[str, Any], table: str) -> Iterator[str]:
    """The partition files of one large table, in month order (paths relative to exports)."""
    for entry in manifest.get("partitions", []):
        if entry.get("table") == table:
            yield str(entry["path"])
