"""Bulk ledger path: check and derive the call lines of many ``run.jsonl`` files in DuckDB.

Parsing, checking and deriving millions of call lines one by one in Python dominated publishing
time (~0.1 ms per call). Here ``ledger_scan`` decodes every ledger once into typed columns
(proving the JSON Schema of ``CallRecord``, the text rules and the privacy scan per line), and
DuckDB proves over those columns the consistency and plausibility rules of
``validate._check_ledger``, derives the ``calls`` rows and the batch statistics. The path is
*accept-only*: a run whose call lines are not all proven clean is reported as not clean and the
caller validates it with the exact per-line Python path, so findings (codes, lines, pointers)
never depend on this module. Only the other lines (``meta``, ``skipped``) come back to Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from publisher import ledger_scan, stats
from publisher.tables import calls_columns
from publisher.validate import (
    MAX_PLAUSIBLE_DURATION_MS,
    MAX_PLAUSIBLE_TOKENS_PER_SEC,
    LedgerFacts,
)

_SQL_TYPES = {"string": "VARCHAR", "int": "BIGINT", "float": "DOUBLE", "bool": "BOOLEAN"}
# validate's tokens_per_sec tolerance, tightened so float rounding can never accept a line
# that Python would flag (it is then merely re-checked in Python).
_TPS_SLACK = 0.9


@dataclass(frozen=True)
class LedgerRun:
    """What the bulk scan needs to know about one run (from its validated metadata)."""

    dir_name: str
    path: Path
    system_id: str
    started_us: int | None
    finished_us: int | None
    cold: bool
    complete: bool
    cells: dict[str, str]  # cell_id -> engine
    prompts: dict[str, int]  # prompt id -> max_tokens
    tasks: dict[str, tuple[int, tuple[str, ...]]]  # task id -> (max_tokens, item ids)
    # (cell_id, workload_id, concurrency, workload_key, signature, max_tokens)
    keys: tuple[tuple[str, str, int, str, str, int | None], ...]


@dataclass(frozen=True)
class ScanResult:
    """Per run: whether every call line was proven clean, and what validate still needs."""

    clean: bool
    facts: LedgerFacts | None


def _context_tables(con: duckdb.DuckDBPyConnection, runs: Sequence[LedgerRun]) -> None:
    def register(name: str, rows: dict[str, list[Any]], schema: pa.Schema) -> None:
        con.register(name, pa.table(rows, schema=schema))

    register(
        "ctx_run",
        {
            "dir": [r.dir_name for r in runs],
            "filename": [str(r.path) for r in runs],
            "system_id": [r.system_id for r in runs],
            "started_us": [r.started_us for r in runs],
            "finished_us": [r.finished_us for r in runs],
            "cold": [r.cold for r in runs],
            "complete": [r.complete for r in runs],
        },
        pa.schema(
            [
                ("dir", pa.string()),
                ("filename", pa.string()),
                ("system_id", pa.string()),
                ("started_us", pa.int64()),
                ("finished_us", pa.int64()),
                ("cold", pa.bool_()),
                ("complete", pa.bool_()),
            ]
        ),
    )
    cells = [(r.dir_name, c, e) for r in runs for c, e in r.cells.items()]
    register(
        "ctx_cell",
        {
            "dir": [x[0] for x in cells],
            "cell_id": [x[1] for x in cells],
            "engine": [x[2] for x in cells],
        },
        pa.schema([("dir", pa.string()), ("cell_id", pa.string()), ("engine", pa.string())]),
    )
    wls = [(r.dir_name, p, True, m) for r in runs for p, m in r.prompts.items()]
    wls += [(r.dir_name, t, False, m) for r in runs for t, (m, _) in r.tasks.items()]
    register(
        "ctx_wl",
        {
            "dir": [x[0] for x in wls],
            "wid": [x[1] for x in wls],
            "is_prompt": [x[2] for x in wls],
            "max_tokens": [x[3] for x in wls],
        },
        pa.schema(
            [
                ("dir", pa.string()),
                ("wid", pa.string()),
                ("is_prompt", pa.bool_()),
                ("max_tokens", pa.int64()),
            ]
        ),
    )
    items = [(r.dir_name, t, i) for r in runs for t, (_, its) in r.tasks.items() for i in its]
    register(
        "ctx_item",
        {
            "dir": [x[0] for x in items],
            "task_id": [x[1] for x in items],
            "item_id": [x[2] for x in items],
        },
        pa.schema([("dir", pa.string()), ("task_id", pa.string()), ("item_id", pa.string())]),
    )
    keys = [(r.dir_name, *k) for r in runs for k in r.keys]
    names = (
        "dir",
        "cell_id",
        "workload_id",
        "concurrency",
        "workload_key",
        "signature",
        "max_tokens",
    )
    types = (
        pa.string(),
        pa.string(),
        pa.string(),
        pa.int64(),
        pa.string(),
        pa.string(),
        pa.int64(),
    )
    register(
        "ctx_key",
        {n: [k[i] for k in keys] for i, n in enumerate(names)},
        pa.schema(list(zip(names, types, strict=True))),
    )


def stage(con: duckdb.DuckDBPyConnection, runs: Sequence[LedgerRun]) -> dict[str, ScanResult]:
    """Decode the runs' call lines into the view ``staged``; return which runs are clean.

    The lines are decoded and proven by ``ledger_scan`` (schema, text, privacy); the
    consistency rules run here in SQL over the typed columns.
    """
    table, scans = ledger_scan.scan_ledgers([(r.dir_name, str(r.path)) for r in runs])
    results: dict[str, ScanResult] = {r.dir_name: ScanResult(False, None) for r in runs}
    if table is None:
        return results
    _context_tables(con, runs)
    con.register("staged", table)
    bad = _bad_runs(con)
    counts: dict[str, tuple[int, int]] = {}
    per_cell: dict[str, list[tuple[str, int]]] = {r.dir_name: [] for r in runs}
    for dir_name, total, ok in con.execute(
        "SELECT dir, count(*), count(*) FILTER (WHERE error IS NULL) FROM staged GROUP BY dir"
    ).fetchall():
        counts[dir_name] = (total, ok)
    for dir_name, cell_id, n in con.execute(
        "SELECT dir, cell_id, count(*) FROM staged GROUP BY ALL ORDER BY ALL"
    ).fetchall():
        per_cell[dir_name].append((cell_id, n))
    for scan in scans:
        name, lines = scan.dir_name, scan.other_lines
        if not scan.proven or name in bad or not lines or lines[0][0] != 1:
            continue
        total, ok = counts.get(name, (0, 0))
        facts = LedgerFacts(lines, total, ok, tuple(per_cell[name]))
        results[name] = ScanResult(True, facts)
    return results


def unstage(con: duckdb.DuckDBPyConnection) -> None:
    """Drop what ``stage`` registered."""
    for name in ("staged", "ctx_run", "ctx_cell", "ctx_wl", "ctx_item", "ctx_key"):
        con.unregister(name)


def _bad_runs(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Runs with a call line that validate would report (or might: then it re-checks)."""
    dur, rate = MAX_PLAUSIBLE_DURATION_MS, MAX_PLAUSIBLE_TOKENS_PER_SEC
    expected = "(completion_tokens / ((total_duration_ms - first_delta_ms) / 1000.0))"
    rows = con.execute(
        f"""
        WITH c AS (
            SELECT s.*, r.started_us, r.finished_us, r.cold, r.complete,
                   e.engine, p.max_tokens AS p_max, t.max_tokens AS t_max,
                   i.item_id IS NOT NULL AS item_known, k.workload_key,
                   epoch_us(TRY_CAST(s.started_at AS TIMESTAMPTZ)) AS ts_us
            FROM staged s
            JOIN ctx_run r USING (dir)
            LEFT JOIN ctx_cell e ON e.dir = s.dir AND e.cell_id = s.cell_id
            LEFT JOIN ctx_wl p ON p.dir = s.dir AND p.wid = s.prompt_id AND p.is_prompt
            LEFT JOIN ctx_wl t ON t.dir = s.dir AND t.wid = s.task_id AND NOT t.is_prompt
            LEFT JOIN ctx_item i
                ON i.dir = s.dir AND i.task_id = s.task_id AND i.item_id = s.item_id
            LEFT JOIN ctx_key k ON k.dir = s.dir AND k.cell_id = s.cell_id
                AND k.workload_id = coalesce(s.prompt_id, s.task_id)
                AND k.concurrency = s.concurrency
        )
        SELECT DISTINCT dir FROM c WHERE NOT coalesce(
            engine IS NOT NULL AND engine = backend
            AND workload_key IS NOT NULL
            AND prompt_id IS DISTINCT FROM '' AND task_id IS DISTINCT FROM ''
            AND item_id IS DISTINCT FROM ''
            AND CASE WHEN prompt_id IS NOT NULL THEN p_max IS NOT NULL
                     ELSE task_id IS NOT NULL AND t_max IS NOT NULL
                          AND (item_id IS NULL OR item_known) END
            AND NOT (first_delta_ms IS NOT NULL AND total_duration_ms IS NOT NULL
                     AND first_delta_ms > total_duration_ms)
            AND (tokens_per_sec IS NULL OR (
                completion_tokens IS NOT NULL AND first_delta_ms IS NOT NULL
                AND total_duration_ms IS NOT NULL AND total_duration_ms > first_delta_ms
                AND abs(tokens_per_sec - {expected}) <= {_TPS_SLACK} * (0.01 + 1e-3 * {expected})
                AND tokens_per_sec <= {rate!r}))
            AND coalesce(first_delta_ms, 0) <= {dur!r}
            AND coalesce(total_duration_ms, 0) <= {dur!r}
            AND coalesce(tpot_ms, 0) >= 0 AND coalesce(itl_p50_ms, 0) >= 0
            AND coalesce(itl_p95_ms, 0) >= 0 AND coalesce(itl_max_ms, 0) >= 0
            AND coalesce(start_lag_ms, 0) >= 0
            AND (completion_tokens IS NULL
                 OR completion_tokens <= coalesce(p_max, t_max, 1e18) * 1.1 + 1)
            AND ts_us IS NOT NULL
            AND (started_us IS NULL OR ts_us >= started_us)
            AND (finished_us IS NULL OR ts_us <= finished_us)
            AND (phase <> 'cold' OR cold)
            AND rouge1 IS NULL AND rouge2 IS NULL AND rougeL IS NULL,
            false)
        UNION
        SELECT dir FROM (
            SELECT s.dir, s.cell_id, coalesce(s.prompt_id, s.task_id) AS wid, s.item_id,
                   s.concurrency, count(*) FILTER (WHERE s.phase = 'cold') AS n_cold,
                   any_value(r.cold AND r.complete) AS check_missing,
                   bool_or(s.prompt_id IS NOT NULL) AS is_prompt
            FROM staged s JOIN ctx_run r USING (dir)
            GROUP BY ALL
        )
        WHERE n_cold > 1 OR (check_missing AND concurrency = 1 AND is_prompt AND n_cold = 0)
        """
    ).fetchall()
    return {r[0] for r in rows}


CALL_STORE_COLUMNS = ("_dir", "_line")


def publish_calls(con: duckdb.DuckDBPyConnection, clean: Sequence[str]) -> None:
    """Move the staged call rows of ``clean`` runs into table ``calls`` (published columns)."""
    con.register("_clean", pa.table({"dir": pa.array(list(clean), pa.string())}))
    cols = []
    for name, kind in calls_columns():
        q = f'"{name}"'
        if name == "run_id":
            cols.append("s.dir AS run_id")
        elif name == "system_id":
            cols.append("r.system_id")
        elif name in ("workload_id", "workload_key", "signature", "max_tokens"):
            cols.append(f"k.{q}")
        elif kind == "timestamp":
            cols.append(f"CAST(CAST(s.{q} AS TIMESTAMPTZ) AS TIMESTAMP) AS {q}")
        else:
            cols.append(f"s.{q}")
    con.execute(
        f"""
        INSERT INTO calls
        SELECT s.dir AS _dir, s.lineno AS _line, {", ".join(cols)}
        FROM staged s JOIN _clean USING (dir) JOIN ctx_run r USING (dir)
        JOIN ctx_key k ON k.dir = s.dir AND k.cell_id = s.cell_id
            AND k.workload_id = coalesce(s.prompt_id, s.task_id)
            AND k.concurrency = s.concurrency
        """
    )
    con.unregister("_clean")


def create_calls_table(con: duckdb.DuckDBPyConnection) -> None:
    """The store's ``calls`` table: ``_dir``, ``_line`` and the published columns."""
    sql_type = {**_SQL_TYPES, "timestamp": "TIMESTAMP"}
    cols = ", ".join(f'"{n}" {sql_type[k]}' for n, k in calls_columns())
    con.execute(f"CREATE TABLE IF NOT EXISTS calls (_dir VARCHAR, _line BIGINT, {cols})")


def batch_statistics(
    con: duckdb.DuckDBPyConnection, dirs: Sequence[str]
) -> dict[str, list[dict[str, Any]]]:
    """``stats.aggregate_batch`` of every batch of the given runs' calls (in table ``calls``).

    Sorted like ``stats.aggregate_cells``. Sums are taken in ledger order so that the same
    calls always give the same bits.
    """
    con.register("_dirs", pa.table({"dir": pa.array(list(dirs), pa.string())}))
    # Only the columns the statistics use, and a range on _dir that lets DuckDB skip the row
    # groups of other runs (the table holds every run's calls: 5 M rows at 10,000 runs).
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _b AS
        SELECT c._dir, c._line, c.cell_id, c.workload_id, c.concurrency, c.phase,
               c.first_delta_ms, c.total_duration_ms, c.tokens_per_sec, c.completion_tokens,
               c.itl_p50_ms, c.rouge1, c.rouge2, c.rougeL,
               (c.error IS NULL) AS ok,
               epoch_us(c.started_at) AS start_us,
               epoch_us(c.started_at)
                   + round_even(c.total_duration_ms * 1000.0, 0)::BIGINT AS end_us
        FROM calls c JOIN _dirs d ON c._dir = d.dir
        WHERE c._dir >= $lo AND c._dir <= $hi
        """,
        {"lo": min(dirs, default=""), "hi": max(dirs, default="")},
    )
    con.unregister("_dirs")

    def describe(col: str, prefix: str) -> str:
        f = f"FILTER (WHERE ok AND {col} IS NOT NULL)"
        return f"""
            quantile_cont({col}, 0.5) {f} AS {prefix}_p50_ms,
            quantile_cont({col}, 0.95) {f} AS {prefix}_p95_ms,
            avg({col} ORDER BY _line) {f} AS {prefix}_mean_ms,
            stddev_samp({col} ORDER BY _line) {f} AS {prefix}_std_ms,
            min({col}) {f} AS {prefix}_min_ms,
            max({col}) {f} AS {prefix}_max_ms,
            quantile_cont({col}, 0.25) {f} AS {prefix}_q1,
            quantile_cont({col}, 0.75) {f} AS {prefix}_q3,
            count({col}) {f} AS {prefix}_n"""

    def mean(col: str, name: str) -> str:
        return f"avg({col} ORDER BY _line) FILTER (WHERE ok AND {col} IS NOT NULL) AS {name}"

    key = "_dir, cell_id, workload_id, concurrency, phase"
    rel = con.sql(
        f"""
        WITH g AS (
            SELECT {key}, count(*) AS n, count(*) FILTER (WHERE NOT ok) AS errors,
                {describe("first_delta_ms", "ttft")},
                {describe("total_duration_ms", "total")},
                {mean("tokens_per_sec", "tokens_per_sec_mean")},
                quantile_cont(tokens_per_sec, 0.5) FILTER (WHERE ok AND tokens_per_sec IS NOT NULL)
                    AS tokens_per_sec_p50,
                {mean("completion_tokens::DOUBLE", "completion_tokens_mean")},
                quantile_cont(itl_p50_ms, 0.5) FILTER (WHERE ok AND itl_p50_ms IS NOT NULL)
                    AS itl_p50_ms,
                sum(coalesce(completion_tokens, 0)) FILTER (
                    WHERE ok AND start_us IS NOT NULL AND total_duration_ms IS NOT NULL
                ) AS agg_tokens,
                min(start_us) FILTER (WHERE ok AND end_us IS NOT NULL) AS agg_start,
                max(end_us) FILTER (WHERE ok AND end_us IS NOT NULL) AS agg_end,
                {mean("rouge1", "rouge1_mean")},
                stddev_samp(rouge1 ORDER BY _line) FILTER (WHERE ok AND rouge1 IS NOT NULL)
                    AS rouge1_std,
                {mean("rouge2", "rouge2_mean")},
                stddev_samp(rouge2 ORDER BY _line) FILTER (WHERE ok AND rouge2 IS NOT NULL)
                    AS rouge2_std,
                {mean("rougeL", "rougeL_mean")},
                stddev_samp(rougeL ORDER BY _line) FILTER (WHERE ok AND rougeL IS NOT NULL)
                    AS rougeL_std,
                list(first_delta_ms ORDER BY first_delta_ms)
                    FILTER (WHERE ok AND first_delta_ms IS NOT NULL) AS ttft_sorted
            FROM _b GROUP BY {key}
        ),
        o AS (
            SELECT {", ".join("b." + k.strip() for k in key.split(","))},
                count(*) FILTER (WHERE b.ok AND g.ttft_n >= 4 AND (
                    b.first_delta_ms < g.ttft_q1 - 1.5 * (g.ttft_q3 - g.ttft_q1)
                    OR b.first_delta_ms > g.ttft_q3 + 1.5 * (g.ttft_q3 - g.ttft_q1)))
                    AS ttft_outliers,
                count(*) FILTER (WHERE b.ok AND g.total_n >= 4 AND (
                    b.total_duration_ms < g.total_q1 - 1.5 * (g.total_q3 - g.total_q1)
                    OR b.total_duration_ms > g.total_q3 + 1.5 * (g.total_q3 - g.total_q1)))
                    AS total_outliers
            FROM _b b JOIN g USING ({key})
            GROUP BY ALL
        )
        SELECT * FROM g JOIN o USING ({key})
        ORDER BY _dir, cell_id, workload_id, concurrency, phase
        """
    ).to_arrow_table()
    con.execute("DROP TABLE _b")
    cis = _bootstrap(rel.column("ttft_sorted").combine_chunks())
    out: dict[str, list[dict[str, Any]]] = {d: [] for d in dirs}
    rows = rel.drop_columns(["ttft_sorted"]).to_pylist()
    for i, row in enumerate(rows):
        row["_ci"] = cis[i]
    # The order of stats.aggregate_cells, applied here (not trusted to the SQL result order).
    rows.sort(key=lambda r: (r["_dir"], stats._sort_key(tuple(r[k] for k in stats.GROUP_KEY[1:]))))
    for row in rows:
        n = row["n"]
        start, end = row.pop("agg_start"), row.pop("agg_end")
        tokens = row.pop("agg_tokens")
        agg = None
        if start is not None and end is not None:
            seconds = (end - start) / 10**6
            agg = int(tokens or 0) / seconds if seconds > 0 else None
        for prefix in ("ttft", "total"):
            for extra in ("q1", "q3", "n"):
                row.pop(f"{prefix}_{extra}")
        batch = {
            "run_id": row["_dir"],
            "cell_id": row["cell_id"],
            "workload_id": row["workload_id"],
            "concurrency": row["concurrency"],
            "phase": row["phase"],
            "n": n,
            "errors": row["errors"],
            "success_rate": (n - row["errors"]) / n if n else None,
            "ttft_p50_ms": row["ttft_p50_ms"],
            "ttft_p95_ms": row["ttft_p95_ms"],
            "ttft_mean_ms": row["ttft_mean_ms"],
            "ttft_std_ms": row["ttft_std_ms"],
            "ttft_min_ms": row["ttft_min_ms"],
            "ttft_max_ms": row["ttft_max_ms"],
            "ttft_p50_ci_low_ms": row["_ci"][0],
            "ttft_p50_ci_high_ms": row["_ci"][1],
            "ttft_outliers": row["ttft_outliers"],
            "total_p50_ms": row["total_p50_ms"],
            "total_p95_ms": row["total_p95_ms"],
            "total_mean_ms": row["total_mean_ms"],
            "total_std_ms": row["total_std_ms"],
            "total_min_ms": row["total_min_ms"],
            "total_max_ms": row["total_max_ms"],
            "total_outliers": row["total_outliers"],
            "tokens_per_sec_mean": row["tokens_per_sec_mean"],
            "tokens_per_sec_p50": row["tokens_per_sec_p50"],
            "completion_tokens_mean": row["completion_tokens_mean"],
            "itl_p50_ms": row["itl_p50_ms"],
            "aggregate_tokens_per_sec": agg,
        }
        for metric in ("rouge1", "rouge2", "rougeL"):
            batch[f"{metric}_mean"] = row[f"{metric}_mean"]
            batch[f"{metric}_std"] = row[f"{metric}_std"]
        out[row["_dir"]].append(batch)
    return out


def _bootstrap(lists: pa.ListArray) -> list[tuple[float | None, float | None]]:
    """``stats.bootstrap_median_ci`` of every sorted list, vectorised per list length."""
    n = len(lists)
    out: list[tuple[float | None, float | None]] = [(None, None)] * n
    if n == 0:
        return out
    offsets = lists.offsets.to_numpy()
    values = lists.flatten().to_numpy(zero_copy_only=False).astype(float)
    valid = np.asarray(lists.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    lengths = np.diff(offsets)
    lengths[~valid] = 0
    for length in np.unique(lengths):
        rows = np.nonzero(lengths == length)[0]
        if length == 0:
            continue
        starts = offsets[rows]
        if length == 1:
            for r, s in zip(rows.tolist(), starts.tolist(), strict=True):
                out[r] = (float(values[s]), float(values[s]))
            continue
        samples = values[starts[:, None] + np.arange(length)]
        for r, ci in zip(rows.tolist(), stats.bootstrap_median_ci_sorted(samples), strict=True):
            out[r] = ci
    return out
