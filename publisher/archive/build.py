"""The archive: every archive-wide table and ``catalogue.json``, derived by DuckDB SQL from the
per-run tables of the compiled runs.

Input: the per-run tables (``tables.PER_RUN`` minus the large ``calls`` and ``samples``) of
every published run, concatenated. Output (``Archive``):

* ``system_hardware`` — one row per ``system_id``; the latest snapshot (by run start, then
  run id) wins; every snapshot that differs from the one before it is counted and reported;
* ``gpu_hardware`` — one row per distinct GPU spec; ``system_gpu_link`` stays per run;
* ``history`` — per system and signature, the comparable warm results over time;
* ``interface_type`` — the reviewed seed table;
* the catalogue, and the runs whose ``run_uuid`` appears in more than one directory.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa

from bakeoff.resources import load_seed
from bakeoff.timefmt import format_utc_us
from publisher.archive.catalogue import validate_catalogue
from publisher.archive.history import build_history
from publisher.frontend import derive, tables
from publisher.frontend.finding import Finding, finding

SMALL = tables.SMALL
_HARDWARE = (
    "cpu_model",
    "cpu_cores",
    "cpu_threads",
    "architecture",
    "ram_total_gb",
    "board_model",
    "in_container",
    "container_memory_limit_gb",
    "container_cpu_quota",
    "usable_cpus",
    "gpu_ids",
)


@dataclass(frozen=True)
class HardwareChange:
    """A system whose hardware differs between two consecutive runs."""

    system_id: str
    previous_run_id: str
    run_id: str
    fields: tuple[str, ...]

    def render(self) -> str:
        """One log line."""
        return (
            f"system {self.system_id}: hardware changed between {self.previous_run_id} and "
            f"{self.run_id} ({', '.join(self.fields)})"
        )


@dataclass
class Archive:
    """Every table of the archive except the large per-call ones, and the catalogue."""

    tables: dict[str, pa.Table]
    catalogue: dict[str, Any]
    changes: list[HardwareChange] = field(default_factory=list)


def connect(small: Mapping[str, pa.Table]) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the given tables registered under their names."""
    con = duckdb.connect(":memory:")
    con.execute("SET threads = 2")
    con.execute("SET TimeZone = 'UTC'")
    for name, table in small.items():
        con.register(name, table)
    return con


def _arrow(con: duckdb.DuckDBPyConnection, sql: str, table: str) -> pa.Table:
    result = con.sql(sql).to_arrow_table()
    return result.select(tables.schema(table).names).cast(tables.schema(table))


def system_hardware(con: duckdb.DuckDBPyConnection) -> tuple[pa.Table, list[HardwareChange]]:
    """One row per system (its latest snapshot) and the hardware changes between snapshots."""
    keys = ", ".join(_HARDWARE)
    snap = con.sql(
        f"""
        SELECT *, row_number() OVER w AS seq,
               count(*) OVER (PARTITION BY system_id) AS runs_count,
               min(started_at) OVER (PARTITION BY system_id) AS first_run_at,
               (seq > 1 AND (struct_pack({keys})
                   IS DISTINCT FROM lag(struct_pack({keys})) OVER w)) AS changed,
               lag(run_id) OVER w AS previous_run_id
        FROM system_snapshots
        WINDOW w AS (PARTITION BY system_id ORDER BY started_at, run_id)
        """
    )
    con.register("_snap", snap.to_arrow_table())
    table = _arrow(
        con,
        """
        SELECT s.system_id, s.host_label, s.publisher_id, s.cpu_model, s.cpu_cores, s.cpu_threads,
               s.architecture, s.ram_total_gb, s.board_model, s.in_container,
               s.container_memory_limit_gb, s.container_cpu_quota, s.usable_cpus, s.gpu_count,
               s.gpu_summary, s.hardware_class, s.run_id AS snapshot_run_id, s.first_run_at,
               s.started_at AS last_run_at, s.runs_count,
               (SELECT count(*) FROM _snap c WHERE c.system_id = s.system_id AND c.changed)
                   AS hardware_changes,
               '' AS system_label,
               b.memory_bandwidth_gbs, b.memory_bandwidth_one_core_gbs, b.matmul_fp32_gflops,
               b.matmul_fp64_gflops, b.run_id AS benchmarks_run_id
        FROM _snap s
        LEFT JOIN (
            -- The microbenchmarks of the latest run that has them (not every run measures).
            SELECT DISTINCT ON (system_id) *
            FROM _snap WHERE memory_bandwidth_gbs IS NOT NULL OR matmul_fp32_gflops IS NOT NULL
            ORDER BY system_id, started_at DESC, run_id DESC
        ) b ON b.system_id = s.system_id
        WHERE s.seq = s.runs_count ORDER BY s.system_id
        """,
        "system_hardware",
    )
    labels = [
        derive.system_label(h, s)
        for h, s in zip(
            con.sql("SELECT host_label FROM _snap WHERE seq = runs_count ORDER BY system_id")
            .fetchnumpy()["host_label"]
            .tolist(),
            table.column("system_id").to_pylist(),
            strict=True,
        )
    ]
    table = table.set_column(
        table.schema.get_field_index("system_label"), "system_label", pa.array(labels, pa.string())
    )
    changes: list[HardwareChange] = []
    changed = con.sql(
        f"""
        SELECT c.system_id, c.previous_run_id, c.run_id,
               struct_pack({", ".join("p." + k for k in _HARDWARE)}) AS before,
               struct_pack({", ".join("c." + k for k in _HARDWARE)}) AS after
        FROM _snap c JOIN _snap p ON p.system_id = c.system_id AND p.seq = c.seq - 1
        WHERE c.changed ORDER BY c.system_id, c.seq
        """
    ).fetchall()
    for sid, prev, run, before, after in changed:
        diff = tuple(k for k in _HARDWARE if before[k] != after[k])
        changes.append(HardwareChange(sid, prev, run, diff))
    con.unregister("_snap")
    return table, changes


def duplicate_runs(con: duckdb.DuckDBPyConnection) -> list[Finding]:
    """An error for every run directory whose run_uuid another directory also holds."""
    rows = con.sql(
        """
        SELECT run_uuid, list(run_id ORDER BY run_id) FROM runs
        GROUP BY run_uuid HAVING count(*) > 1 ORDER BY run_uuid
        """
    ).fetchall()
    return duplicate_findings({uuid: list(dirs) for uuid, dirs in rows})


def duplicate_findings(groups: Mapping[str, Sequence[str]]) -> list[Finding]:
    """Findings for run directories that share a run_uuid (uuid → directory names)."""
    out = []
    for uuid, dirs in sorted(groups.items()):
        for d in dirs:
            others = ", ".join(o for o in dirs if o != d)
            out.append(
                finding(
                    "consistency.duplicate_run",
                    d,
                    "metadata.json",
                    f"run_uuid {uuid} is also the run of {others}",
                    pointer="/run_uuid",
                )
            )
    return out


def _history(con: duckdb.DuckDBPyConnection) -> pa.Table:
    rows = (
        con.sql(
            """
        SELECT c.* REPLACE (epoch_us(c.started_at) AS started_at)
        FROM cells c WHERE c.phase = 'warm' AND c.comparable
        """
        )
        .to_arrow_table()
        .to_pylist()
    )
    return tables.from_rows("history", build_history(rows))


def _catalogue(con: duckdb.DuckDBPyConnection, systems: pa.Table) -> dict[str, Any]:
    runs = (
        con.sql(
            """
        WITH measured AS (
            SELECT run_id, cell_id, engine, engine_version, model, model_digest
            FROM run_cells rc
            WHERE calls_total > 0 OR (available AND NOT EXISTS (
                SELECT 1 FROM run_cells o WHERE o.run_id = rc.run_id AND o.calls_total > 0))
        )
        SELECT r.*, epoch_us(r.started_at) AS started_us, epoch_us(r.finished_at) AS finished_us,
            coalesce((SELECT list(DISTINCT cell_id ORDER BY cell_id) FROM measured m
                      WHERE m.run_id = r.run_id), []) AS cells,
            coalesce((SELECT list(DISTINCT model ORDER BY model) FROM measured m
                      WHERE m.run_id = r.run_id), []) AS models,
            coalesce((SELECT list(DISTINCT engine ORDER BY engine) FROM measured m
                      WHERE m.run_id = r.run_id), []) AS engines,
            coalesce((SELECT list(workload_id ORDER BY workload_id) FROM run_workloads w
                      WHERE w.run_id = r.run_id AND w.kind = 'prompt'), []) AS prompts,
            coalesce((SELECT list(workload_id ORDER BY workload_id) FROM run_workloads w
                      WHERE w.run_id = r.run_id AND w.kind = 'task'), []) AS tasks
        FROM runs r ORDER BY r.run_id
        """
        )
        .to_arrow_table()
        .to_pylist()
    )
    entries = [
        {
            "run_id": r["run_id"],
            "started_at": format_utc_us(r["started_us"]),
            "finished_at": None if r["finished_us"] is None else format_utc_us(r["finished_us"]),
            "status": r["status"],
            "completeness": r["completeness"],
            "mode": r["mode"],
            "comparable": r["comparable"],
            "comparable_reason": r["comparable_reason"],
            "system_id": r["system_id"],
            "system_label": r["system_label"],
            "hardware_class": r["hardware_class"],
            "host_label": r["host_label"],
            "publisher_id": r["publisher_id"],
            "cells": r["cells"],
            "models": r["models"],
            "engines": r["engines"],
            "prompts": r["prompts"],
            "tasks": r["tasks"],
            "calls_total": r["calls_total"],
            "calls_ok": r["calls_ok"],
            "content_sha256": r["content_sha256"],
        }
        for r in runs
    ]

    def by_name(column: str, detail: str) -> list[dict[str, Any]]:
        rows = con.sql(
            f"""
            WITH measured AS (
                SELECT run_id, {column} AS name, {detail} AS detail FROM run_cells rc
                WHERE calls_total > 0 OR (available AND NOT EXISTS (
                    SELECT 1 FROM run_cells o WHERE o.run_id = rc.run_id AND o.calls_total > 0))
            )
            SELECT name,
                   list(DISTINCT detail ORDER BY detail) FILTER (WHERE detail IS NOT NULL
                       AND detail <> ''),
                   list(DISTINCT run_id ORDER BY run_id)
            FROM measured GROUP BY name ORDER BY name
            """
        ).fetchall()
        return [(name, details or [], runs_) for name, details, runs_ in rows]  # type: ignore[misc]

    gpus = (
        dict(
            con.sql(
                """
            SELECT s.system_id, coalesce((SELECT list(g.name ORDER BY g.slot) FROM run_gpus g
                                          WHERE g.run_id = s.snapshot_run_id), [])
            FROM systems s
            """
            ).fetchall()
        )
        if systems.num_rows
        else {}
    )
    runs_by_system: dict[str, list[str]] = {}
    for e in sorted(entries, key=lambda e: (e["started_at"], e["run_id"])):
        runs_by_system.setdefault(e["system_id"], []).append(e["run_id"])
    catalogue = {
        "schema_version": 1,
        "runs": entries,
        "systems": [
            {
                "system_id": s["system_id"],
                "system_label": s["system_label"],
                "hardware_class": s["hardware_class"],
                "cpu_model": s["cpu_model"],
                "gpus": list(gpus.get(s["system_id"], [])),
                "ram_total_gb": s["ram_total_gb"],
                "runs": runs_by_system.get(s["system_id"], []),
            }
            for s in systems.to_pylist()
        ],
        "models": [
            {"model": m, "digests": d, "runs": r} for m, d, r in by_name("model", "model_digest")
        ],
        "engines": [
            {"engine": e, "versions": v, "runs": r}
            for e, v, r in by_name("engine", "engine_version")
        ],
    }
    validate_catalogue(catalogue)
    return catalogue


def interface_types() -> pa.Table:
    """The reviewed lookup table ``seeds/interface_types.json``."""
    rows = sorted(load_seed("interface_types.json")["interface_types"], key=lambda r: r["id"])
    return tables.from_rows("interface_type", rows)


def build_archive(small: Mapping[str, pa.Table]) -> tuple[Archive, list[Finding]]:
    """Every archive-wide table and the catalogue from the per-run tables of all runs, and the
    findings that only the whole archive shows (a run in two directories)."""
    con = connect(small)
    try:
        duplicates = duplicate_runs(con)
        systems, changes = system_hardware(con)
        con.register("systems", systems)
        gpu = _arrow(
            con,
            f"""
            SELECT DISTINCT ON (gpu_id) {", ".join(n for n, _ in tables.GPU_HARDWARE)}
            FROM run_gpus ORDER BY gpu_id
            """,
            "gpu_hardware",
        )
        out = {name: small[name] for name in SMALL}
        out.update(
            system_hardware=systems,
            gpu_hardware=gpu,
            history=_history(con),
            interface_type=interface_types(),
        )
        catalogue = _catalogue(con, systems)
    finally:
        con.close()
    return Archive(out, catalogue, changes), duplicates
