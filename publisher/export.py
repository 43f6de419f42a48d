"""Stage 5 — export: Parquet files, one DuckDB database and a manifest with checksums.

* Parquet: zstd, fixed column order and types (``publisher.tables``), rows in a fixed order,
  so re-publishing the same runs gives byte-identical files.
* DuckDB: built in memory and written through ``ATTACH … (STORAGE_VERSION 'v1.0.0')``: a file
  written by duckdb 2.x with default settings cannot be opened by DuckDB 1.x clients (nor by
  DuckDB-WASM), which analysts and the site still use.
* ``manifest.json``: sha256 and size of every exported file, and row counts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from bakeoff.jsonio import write_json
from publisher.errors import ExportError
from publisher.tables import TABLE_NAMES, ColumnType, columns

DUCKDB_FILE = "bakeoff.duckdb"
DUCKDB_STORAGE_VERSION = "v1.0.0"
MANIFEST = "manifest.json"

_ARROW: dict[ColumnType, pa.DataType] = {
    "string": pa.string(),
    "int": pa.int64(),
    "float": pa.float64(),
    "bool": pa.bool_(),
    "timestamp": pa.timestamp("us"),
}

# Views created in the DuckDB file (unqualified names, so they work under any alias).
VIEWS: dict[str, str] = {
    "warm_cells": """
        SELECT c.*, r.completeness, r.host_label, r.synthetic
        FROM cells c JOIN runs r USING (run_id)
        WHERE c.phase = 'warm'""",
    "leaderboard": """
        SELECT workload_key, workload_id, concurrency, hardware_class, engine, model,
               quantization, count(DISTINCT run_id) AS runs,
               median(tokens_per_sec_mean) AS tokens_per_sec,
               median(ttft_p50_ms) AS ttft_p50_ms,
               median(total_p50_ms) AS total_p50_ms,
               avg(success_rate) AS success_rate
        FROM cells
        WHERE phase = 'warm'
        GROUP BY ALL
        ORDER BY workload_key, tokens_per_sec DESC NULLS LAST""",
    "run_systems": """
        SELECT r.*, h.cpu_model, h.ram_total_gb, h.gpu_count, h.gpu_summary,
               s.os, s.kernel_version, s.gpu_driver_version, s.cuda_version, s.runner_version
        FROM runs r
        LEFT JOIN system_hardware h USING (system_id)
        LEFT JOIN system_software s USING (run_id)""",
}


def to_arrow(table: str, rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    """Rows (dicts) as an Arrow table with the published column order and types."""
    arrays = []
    fields = []
    for name, kind in columns(table):
        values = [row.get(name) for row in rows]
        if kind == "timestamp":
            array = pa.array(values, type=pa.string()).cast(pa.timestamp("us", tz="UTC"))
            array = array.cast(pa.timestamp("us"))
        else:
            array = pa.array(values, type=_ARROW[kind])
        arrays.append(array)
        fields.append(pa.field(name, _ARROW[kind]))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def write_parquet(table: pa.Table, path: Path) -> None:
    """One zstd Parquet file; same table, same bytes."""
    pq.write_table(
        table,
        path,
        compression="zstd",
        write_statistics=True,
        use_dictionary=True,
        row_group_size=1_000_000,
    )


def write_duckdb(
    tables: Mapping[str, pa.Table | Path | pa.RecordBatchReader],
    path: Path,
    views: Mapping[str, str] | None = None,
) -> None:
    """All tables and views (default ``VIEWS``) in one DuckDB file readable by DuckDB 1.x."""
    path.unlink(missing_ok=True)
    con = duckdb.connect(":memory:")
    try:
        quoted = str(path).replace("'", "''")
        con.execute(f"ATTACH '{quoted}' AS bakeoff (STORAGE_VERSION '{DUCKDB_STORAGE_VERSION}')")
        con.execute("USE bakeoff")
        con.execute("SET threads = 2")
        con.execute("SET enable_progress_bar = false")
        con.execute("SET memory_limit = '256MB'")  # the calls table streams in from Parquet
        for name, arrow in tables.items():
            if isinstance(arrow, Path | pa.RecordBatchReader):  # a large table, streamed in
                if isinstance(arrow, Path):
                    source = "read_parquet('" + str(arrow).replace("'", "''") + "')"
                else:
                    con.register("_stream", arrow)
                    source = "_stream"
                # Rows in no particular order (SQL promises none): both threads then compress
                # row groups independently — 5 M calls in ~6 s instead of ~13 s, 30 % smaller.
                con.execute("SET preserve_insertion_order = false")
                con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM {source}')
                con.execute("SET preserve_insertion_order = true")
                if source == "_stream":
                    con.unregister("_stream")
                continue
            con.register("_source", arrow)
            con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM _source')
            con.unregister("_source")
        for name, sql in (VIEWS if views is None else views).items():
            con.execute(f'CREATE VIEW "{name}" AS {sql}')
        con.execute("USE memory")
        con.execute("DETACH bakeoff")
    except duckdb.Error as exc:
        raise ExportError(f"could not write {path.name}: {exc}") from exc
    finally:
        con.close()


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


CALLS_ROW_GROUP = 250_000  # rows per row group of calls.parquet (whole runs per group)


class CallSource(Protocol):
    """Where the ``calls`` rows of a large archive live (``publisher.bulk.CallStore``)."""

    def read(self, dir_name: str, columns: Sequence[str] | None = None) -> pa.Table:
        """One run's call rows in the published layout (or only ``columns``), ledger order."""
        ...


def calls_schema() -> pa.Schema:
    """The Arrow schema of the ``calls`` table."""
    return pa.schema([pa.field(n, _ARROW[k]) for n, k in columns("calls")])


def copy_calls(source: CallSource, counts: Mapping[str, int], path: Path) -> int:
    """Write the calls of the runs in ``counts`` (rows per run) as Parquet; return the row count.

    Rows in run-directory then ledger order, in groups of whole runs of about
    ``CALLS_ROW_GROUP`` rows, one row group each. Same runs, same groups, same bytes.
    """
    schema = calls_schema()
    groups: list[list[str]] = []
    size = 0
    for name in sorted(counts):
        n = counts[name]
        if n == 0:
            continue
        if not groups or size + n > CALLS_ROW_GROUP:
            groups.append([])
            size = 0
        groups[-1].append(name)
        size += n

    total = 0
    with pq.ParquetWriter(
        path, schema, compression="zstd", write_statistics=True, use_dictionary=True
    ) as writer:
        if not groups:
            writer.write_table(schema.empty_table())
        for names in groups:  # one group in memory at a time
            table = pa.concat_tables([source.read(name) for name in names]).cast(schema)
            writer.write_table(table, row_group_size=max(table.num_rows, 1))
            total += table.num_rows
            del table
    return total


def stored_calls_reader(source: CallSource, counts: Mapping[str, int]) -> pa.RecordBatchReader:
    """The stored calls of the runs in ``counts``, in run order, as one stream of batches."""
    schema = calls_schema()

    def batches() -> Iterator[pa.RecordBatch]:
        for name in sorted(counts):
            if counts[name]:
                yield from source.read(name).cast(schema).to_batches()

    return pa.RecordBatchReader.from_batches(schema, batches())


class StoredCalls(list[dict[str, Any]]):
    """The ``calls`` table read run by run from a call store (for the site pages).

    ``run_groups`` yields ``(run_id, rows)`` in ascending run_id order; iterating yields every
    row as a dict. Nothing is held beyond one run.
    """

    def __init__(self, source: CallSource, counts: Mapping[str, int]) -> None:
        super().__init__()
        self.source = source
        self.counts = dict(counts)

    def run_groups(self, fields: Sequence[str] | None) -> Iterator[tuple[str, list[Any]]]:
        """Each run's rows: tuples of ``fields``, or dicts of every column when None."""
        for name in sorted(self.counts):
            if not self.counts[name]:
                continue
            if fields is None:
                yield name, self.source.read(name).to_pylist()
            else:
                table = self.source.read(name, fields)
                columns = [table.column(f).to_pylist() for f in fields]
                yield name, list(zip(*columns, strict=True))

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for _, rows in self.run_groups(None):
            yield from rows

    def __len__(self) -> int:
        return sum(self.counts.values())

    def __bool__(self) -> bool:
        return len(self) > 0


def export_tables(
    tables: Mapping[str, Sequence[Mapping[str, Any]]],
    out_dir: Path,
    calls: tuple[CallSource, Mapping[str, int]] | None = None,
    meanwhile: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Write every table as Parquet plus the DuckDB file and manifest; return the manifest.

    With ``calls`` (a call store and the rows per run to take from it) the ``calls`` table is
    copied from there. ``meanwhile`` runs once the small tables' Parquet files are written,
    while ``calls.parquet`` and the DuckDB file are written on other threads.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=2) as pool:
        # With a call store, the two big writers — calls.parquet and the DuckDB file — both
        # read the stored calls and run on their own threads (Parquet encoding and DuckDB
        # release the GIL) while this thread converts the small tables and runs ``meanwhile``.
        calls_rows: Future[int] | None = None
        if calls is not None:
            calls_rows = pool.submit(copy_calls, calls[0], calls[1], out_dir / "calls.parquet")
        arrow = {name: to_arrow(name, tables.get(name, [])) for name in TABLE_NAMES}
        sources: dict[str, pa.Table | Path | pa.RecordBatchReader] = dict(arrow)
        rows = {name: arrow[name].num_rows for name in TABLE_NAMES}
        for name, table in arrow.items():
            if name == "calls" and calls is not None:
                sources[name] = stored_calls_reader(calls[0], calls[1])
                continue
            write_parquet(table, out_dir / f"{name}.parquet")
        written = pool.submit(write_duckdb, sources, out_dir / DUCKDB_FILE)
        try:
            if meanwhile is not None:
                meanwhile()
        finally:
            written.result()
            if calls_rows is not None:
                rows["calls"] = calls_rows.result()
    files = sorted([f"{n}.parquet" for n in TABLE_NAMES] + [DUCKDB_FILE])
    manifest = {
        "schema_version": 1,
        "duckdb_storage_version": DUCKDB_STORAGE_VERSION,
        "files": [
            {
                "path": name,
                "sha256": sha256_file(out_dir / name),
                "bytes": (out_dir / name).stat().st_size,
            }
            for name in files
        ],
        "rows": rows,
    }
    write_json(out_dir / MANIFEST, manifest)
    return manifest
