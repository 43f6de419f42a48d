"""What the pages read from the archive, by DuckDB SQL over its Arrow tables.

Only the rows a page shows become Python values: the leaderboard entries (the latest
comparable warm result per configuration), the runs and systems (one row each), a system's
history points. The ``cells`` table itself (hundreds of thousands of rows in a large archive)
stays in Arrow.

**Load levels.** A leaderboard ranks closed-loop levels (one concurrency each). Open-loop
(request rate) levels are curves, not rows: a sweep's rates depend on the machine that found
them, so they are drawn per run and per system (``load_levels``), never ranked.

**Comparability.** Only rows with ``comparable = true`` rank: leaderboards, model, engine and
system rankings, the history charts and Recent changes all start from comparable rows, so a
smoke, probe-only or empty run changes none of them. Such runs stay browsable: the run index
and their run page say why they are not comparable.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import duckdb
import pyarrow as pa

from publisher.frontend import tables as table_defs
from publisher.site.escape import slug
from publisher.site.pages.common import (
    MEANING_COLUMNS,
    Row,
    SystemName,
    level_text,
    num,
    system_name,
    throughput,
    tokens_text,
)

TIME = "%Y-%m-%dT%H:%M:%SZ"
# The cells columns a leaderboard entry carries.
ENTRY_COLUMNS = [
    "run_id",
    "system_id",
    "system_label",
    "hardware_class",
    "cell_id",
    "engine",
    "engine_version",
    "source_tool",
    "model",
    "model_digest",
    "quantization",
    "workload_id",
    "workload_kind",
    "max_tokens",
    "temperature",
    "concurrency",
    "request_rate",
    "input_tokens",
    "output_tokens",
    "workload_key",
    "signature",
    "n",
    "errors",
    "success_rate",
    "ttft_p50_ms",
    "ttft_p95_ms",
    "total_p50_ms",
    "tokens_per_sec_mean",
    "aggregate_tokens_per_sec",
    "itl_p50_ms",
    "rougeL_mean",
    "joules_per_output_token",
    *MEANING_COLUMNS,
]
# The cells columns a load-level curve point carries (publisher.site.pages.levels).
LEVEL_COLUMNS = [
    "run_id",
    "system_id",
    "system_label",
    "hardware_class",
    "cell_id",
    "engine",
    "model",
    "quantization",
    "workload_id",
    "workload_key",
    "max_tokens",
    "temperature",
    "concurrency",
    "request_rate",
    "input_tokens",
    "output_tokens",
    "aggregate_tokens_per_sec",
    "tokens_per_sec_per_user",
    "requests_per_sec",
    "goodput_requests_per_sec",
    "slo_ttft_ms",
    "slo_tpot_ms",
    "ttft_p50_ms",
    "ttft_p99_ms",
    "prefill_tokens_per_sec_p50",
    "server_prefill_tokens_per_sec_p50",
]
# A workload without its load level (the curves' x runs over its levels).
FAMILY = ("workload_id", "input_tokens", "output_tokens", "max_tokens", "temperature")
# One configuration: the same system, engine kind, model (digest) and quantization.
CONFIG = "workload_key, system_id, engine, coalesce(nullif(model_digest, ''), model), quantization"


@dataclass(frozen=True)
class Workload:
    """One leaderboard: every result with the same ``workload_key``."""

    key: str
    workload_id: str
    kind: str
    max_tokens: Any
    temperature: Any
    concurrency: Any
    request_rate: Any = None
    input_tokens: Any = None
    output_tokens: Any = None

    @property
    def label(self) -> str:
        """Human label, e.g. ``P-EASY · 256 tok · c1`` or ``L-512-64 · 512/64 tok · c4``."""
        tokens = tokens_text(self.input_tokens, self.output_tokens, self.max_tokens)
        return " · ".join(
            p
            for p in (self.workload_id, tokens, level_text(self.concurrency, self.request_rate))
            if p
        )

    @property
    def name(self) -> str:
        """The file name stem of its leaderboard page and CSV file."""
        return slug(self.key)

    @property
    def page(self) -> str:
        """Leaderboard page name under ``leaderboards/``."""
        return f"{self.name}.html"


@dataclass
class Entry:
    """The latest comparable warm result of one configuration on one workload."""

    row: Row
    runs: int
    workload: Workload

    @cached_property
    def throughput(self) -> float | None:
        """Aggregate tokens/s under load, else the per-stream decode rate (computed once:
        every sort asks for it)."""
        return throughput(self.row)

    @property
    def model_label(self) -> str:
        """Model name plus quantization."""
        quant = self.row.get("quantization")
        return f"{self.row.get('model')} ({quant})" if quant else str(self.row.get("model"))

    @property
    def engine_label(self) -> str:
        """Engine kind plus version, and the tool an imported result came from."""
        version = self.row.get("engine_version")
        label = f"{self.row.get('engine')} {version}" if version else str(self.row.get("engine"))
        tool = self.row.get("source_tool")
        return f"{label} · imported from {tool}" if tool else label

    @property
    def system(self) -> SystemName:
        """Whose result it is."""
        return system_name(self.row)

    def order(self) -> tuple[Any, ...]:
        """Fastest first; ties broken by names, then run, so the order never depends on
        input order."""
        return (
            -(self.throughput if self.throughput is not None else -1.0),
            self.model_label,
            self.system.text,
            self.engine_label,
            str(self.row.get("run_id")),
        )


def _pylist(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> list[Row]:
    return con.sql(sql, params=params or []).to_arrow_table().to_pylist()  # type: ignore[no-any-return]


@dataclass
class ArchiveView:
    """The archive as the pages see it."""

    con: duckdb.DuckDBPyConnection
    catalogue: Mapping[str, Any]
    runs: dict[str, Row] = field(default_factory=dict)
    systems: dict[str, Row] = field(default_factory=dict)
    workloads: dict[str, Workload] = field(default_factory=dict)
    entries: dict[str, list[Entry]] = field(default_factory=dict)

    @classmethod
    def open(
        cls, archive_tables: Mapping[str, pa.Table], catalogue: Mapping[str, Any]
    ) -> ArchiveView:
        """Register the tables (a missing one is empty) and read runs, systems and entries."""
        con = duckdb.connect(":memory:")
        con.execute("SET threads = 2")
        con.execute("SET TimeZone = 'UTC'")
        for name in (*table_defs.PUBLISHED, "system_snapshots", "run_gpus", "run_workloads"):
            if name in table_defs.LARGE:
                continue
            table = archive_tables.get(name)
            con.register(name, table if table is not None else table_defs.empty(name))
        view = cls(con, catalogue)
        view._read()
        return view

    def close(self) -> None:
        """Release the DuckDB connection."""
        self.con.close()

    def _read(self) -> None:
        con = self.con
        for row in _pylist(
            con,
            f"""
            SELECT * EXCLUDE (started_at, finished_at, load_avg_start),
                   strftime(started_at, '{TIME}') AS started_at,
                   strftime(finished_at, '{TIME}') AS finished_at
            FROM runs ORDER BY run_id
            """,
        ):
            self.runs[str(row["run_id"])] = row
        for row in _pylist(
            con,
            f"""
            SELECT * EXCLUDE (first_run_at, last_run_at),
                   strftime(first_run_at, '{TIME}') AS first_run_at,
                   strftime(last_run_at, '{TIME}') AS last_run_at
            FROM system_hardware ORDER BY system_id
            """,
        ):
            self.systems[str(row["system_id"])] = row
        rows = _pylist(
            con,
            f"""
            WITH warm AS (
                SELECT {", ".join(ENTRY_COLUMNS)}, started_at,
                       row_number() OVER (PARTITION BY {CONFIG}
                                          ORDER BY started_at DESC, run_id DESC, cell_id DESC)
                           AS latest,
                       count(*) OVER (PARTITION BY {CONFIG}) AS runs
                FROM cells
                WHERE phase = 'warm' AND comparable AND workload_key IS NOT NULL
                      AND request_rate IS NULL
            )
            SELECT * EXCLUDE (latest, started_at), strftime(started_at, '{TIME}') AS started_at
            FROM warm WHERE latest = 1
            ORDER BY {CONFIG}, run_id
            """,
        )
        for row in rows:
            key = str(row["workload_key"])
            workload = self.workloads.get(key)
            if workload is None:
                workload = self.workloads[key] = Workload(
                    key=key,
                    workload_id=str(row.get("workload_id")),
                    kind=str(row.get("workload_kind") or ""),
                    max_tokens=row.get("max_tokens"),
                    temperature=row.get("temperature"),
                    concurrency=row.get("concurrency"),
                    request_rate=row.get("request_rate"),
                    input_tokens=row.get("input_tokens"),
                    output_tokens=row.get("output_tokens"),
                )
            runs = int(row.pop("runs"))
            self.entries.setdefault(key, []).append(Entry(row, runs, workload))

    # ----------------------------------------------------------------------- lookups

    def all_entries(self) -> list[Entry]:
        """Every leaderboard entry, in a stable order."""
        return [e for key in sorted(self.entries) for e in self.entries[key]]

    def system_ids(self) -> list[str]:
        """Every system: one row of ``system_hardware`` each (runs without one count too)."""
        ids = set(self.systems) | {str(r["system_id"]) for r in self.runs.values()}
        return sorted(ids)

    def system(self, system_id: str) -> SystemName:
        """A system's name from its latest snapshot, else from its newest run."""
        hw = self.systems.get(system_id)
        if hw is not None:
            return system_name(hw)
        runs = [r for r in self.runs.values() if str(r["system_id"]) == system_id]
        if runs:
            return system_name(max(runs, key=lambda r: (str(r["started_at"]), str(r["run_id"]))))
        return SystemName(system_id, "", system_id[:8])

    def gpu_count(self, system_id: Any) -> int | None:
        """A system's GPU count from its latest snapshot; None when it has none or it is
        unknown (its curves are then per system, not per accelerator)."""
        count = num(self.systems.get(str(system_id), {}).get("gpu_count"))
        return int(count) if count else None

    @cached_property
    def runs_by_system(self) -> dict[str, list[Row]]:
        """Every run of each system, oldest first."""
        out: dict[str, list[Row]] = {}
        for r in sorted(self.runs.values(), key=lambda r: (str(r["started_at"]), r["run_id"])):
            out.setdefault(str(r["system_id"]), []).append(r)
        return out

    @cached_property
    def snapshot_gpus(self) -> dict[str, list[Row]]:
        """The GPUs of each system's latest hardware snapshot, by slot, keyed by that run's id
        (one query for every system: a query per system page cost ~17 ms each)."""
        out: dict[str, list[Row]] = {}
        rows = self.con.sql(
            """
            SELECT l.run_id, l.slot, g.* EXCLUDE (gpu_id)
            FROM system_gpu_link l LEFT JOIN gpu_hardware g USING (gpu_id)
            WHERE l.run_id IN (SELECT snapshot_run_id FROM system_hardware)
            ORDER BY l.run_id, l.slot
            """
        )
        for row in rows.to_arrow_table().to_pylist():
            out.setdefault(str(row.pop("run_id")), []).append(row)
        return out

    def names(self, column: str) -> list[str]:
        """Distinct model or engine names that rank (comparable warm results)."""
        return sorted({str(e.row.get(column)) for e in self.all_entries()})

    def history_by_system(self) -> GroupedRows:
        """History points (comparable warm results over time) system by system."""
        return GroupedRows(
            self,
            # ISO text sorts as the time does
            f"(SELECT * REPLACE (strftime(started_at, '{TIME}') AS started_at) FROM {_HISTORY} "
            f"WHERE {_COMPARABLE_RUN})",
            "system_id",
            [
                "signature",
                "workload_id",
                "concurrency",
                "request_rate",
                "engine",
                "model",
                "seq",
                "run_id",
                "cell_id",
                "system_label",
                "hardware_class",
                "ttft_p50_ms",
                "tokens_per_sec_mean",
                "change",
                "change_detail",
                "started_at",
            ],
            "signature, started_at, run_id, seq",
        )

    @cached_property
    def level_rows(self) -> dict[str, list[Row]]:
        """Curve points by system: the latest comparable warm result of each configuration
        on each level (closed and open loop) of workloads measured at two or more levels,
        and of every length workload."""
        same = " AND ".join(f"w.{c} IS NOT DISTINCT FROM f.{c}" for c in FAMILY)
        rows = _pylist(
            self.con,
            f"""
            WITH warm AS (
                SELECT {", ".join(LEVEL_COLUMNS)},
                       row_number() OVER (PARTITION BY {CONFIG}
                                          ORDER BY started_at DESC, run_id DESC, cell_id DESC)
                           AS latest
                FROM cells
                WHERE phase = 'warm' AND comparable AND workload_key IS NOT NULL
            ), latest AS (SELECT * EXCLUDE (latest) FROM warm WHERE latest = 1),
            families AS (
                SELECT {", ".join(FAMILY)}, count(DISTINCT workload_key) AS levels
                FROM latest GROUP BY ALL
            )
            SELECT w.* FROM latest w JOIN families f ON {same}
            WHERE f.levels > 1 OR w.input_tokens IS NOT NULL
            ORDER BY w.system_id, w.workload_key, w.engine, w.model, w.run_id, w.cell_id
            """,
        )
        out: dict[str, list[Row]] = {}
        for row in rows:
            out.setdefault(str(row["system_id"]), []).append(row)
        return out

    def changes(self, limit: int = 100) -> list[Row]:
        """The newest change points (regressions and improvements) of every system."""
        return _pylist(
            self.con,
            f"""
            SELECT workload_id, concurrency, request_rate, engine, model, run_id, system_id,
                   system_label, hardware_class, change, change_detail,
                   strftime(started_at, '{TIME}') AS started_at
            FROM {_HISTORY} AS h
            WHERE change IN ('regression', 'improvement') AND {_COMPARABLE_RUN}
            ORDER BY h.started_at DESC, run_id DESC, signature, seq
            LIMIT {int(limit)}
            """,
        )

    @cached_property
    def software(self) -> dict[str, Row]:
        """``system_software`` rows by run id (one per run)."""
        return {str(r["run_id"]): r for r in _pylist(self.con, "SELECT * FROM system_software")}

    def run_lists(self) -> dict[str, Mapping[str, Any]]:
        """The catalogue's entry of each run (its measured models, engines, …)."""
        return {str(r.get("run_id")): r for r in self.catalogue.get("runs", [])}


_HISTORY = "history"

# History comes from comparable cells already (publisher.archive); checking the run too keeps
# a non-comparable run out of the charts even if a table were built otherwise.
_COMPARABLE_RUN = "run_id IN (SELECT run_id FROM runs WHERE comparable)"


# Rows per batch when reading a table group by group.
BATCH_ROWS = 20_000


class GroupedRows:
    """A table's rows group by group (run by run, system by system) in ascending key order.

    Sorted by DuckDB and held in Arrow; only one batch at a time becomes Python rows, so the
    cells of a large archive are never Python rows all at once, and one query serves every
    group (a query per run or system costs milliseconds each).
    """

    def __init__(
        self, view: ArchiveView, table: str, key: str, columns: Sequence[str], order: str
    ) -> None:
        cols = ", ".join([key, *(c for c in columns if c != key)])
        self._table = view.con.sql(
            f"SELECT {cols} FROM {table} ORDER BY {key}, {order}"
        ).to_arrow_table()
        self._key = key
        self._groups = self._iter()
        self._head: tuple[str, list[Row]] | None = None

    def _iter(self) -> Iterator[tuple[str, list[Row]]]:
        current: str | None = None
        rows: list[Row] = []
        for batch in self._table.to_batches(BATCH_ROWS):
            for row in batch.to_pylist():
                value = row[self._key]
                if value != current:
                    if current is not None:
                        yield current, rows
                    current, rows = value, []
                rows.append(row)
        if current is not None:
            yield current, rows

    def get(self, value: str) -> list[Row]:
        """The rows of one group; call with ascending values (skipped groups are dropped)."""
        while True:
            if self._head is None:
                self._head = next(self._groups, None)
                if self._head is None:
                    return []
            current, rows = self._head
            if current > value:
                return []
            self._head = None
            if current == value:
                return rows
