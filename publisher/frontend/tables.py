"""The tables: every column, its type and order (``docs/tables.md`` is the prose of this module).

Two kinds of table come out of the front end for each run (``RunArtifact.tables``):

* **published** tables (``PUBLISHED``) — exported as Parquet and into the DuckDB file, and
  read by the site; the archive-wide ones (``system_hardware``, ``gpu_hardware``,
  ``history``, ``interface_type``) are derived from the per-run tables by ``publisher.archive``;
* **internal** tables (``system_snapshots``, ``run_gpus``, ``run_workloads``) — per-run facts
  the archive stage needs (deduplication, the catalogue), never exported as such.

Column lists that mirror a JSON Schema (``calls``, ``run_hardware_metrics``, ``samples``) are
derived from the schema files, so a field added to the contract appears in the exports by
itself.
"""

from __future__ import annotations

from functools import cache
from typing import Any, Literal

import pyarrow as pa

from bakeoff.resources import load_schema

ColumnType = Literal["string", "int", "float", "bool", "timestamp", "float_list"]
Columns = list[tuple[str, ColumnType]]

ARROW: dict[ColumnType, pa.DataType] = {
    "string": pa.string(),
    "int": pa.int64(),
    "float": pa.float64(),
    "bool": pa.bool_(),
    "timestamp": pa.timestamp("us"),
    "float_list": pa.list_(pa.float64()),
}

# String columns whose values the publisher composes from several decoded values (every other
# string column copies one decoded value verbatim): privacy scans these values too.
COMPOSED = (
    ("runs", "hardware_class"),
    ("runs", "system_label"),
    ("system_snapshots", "gpu_summary"),
    ("system_snapshots", "gpu_ids"),
)

# Tables with one or a few rows per call or sample: exported as partitioned datasets.
LARGE = ("calls", "samples")
PUBLISHED = (
    "runs",
    "calls",
    "cells",
    "run_cells",
    "system_hardware",
    "system_software",
    "gpu_hardware",
    "system_gpu_link",
    "run_hardware_metrics",
    "benchmarks",
    "interface_type",
    "history",
    "samples",
    "aggregates",
)
# The per-run tables of an artifact (published or internal), in artifact order.
PER_RUN = (
    "runs",
    "calls",
    "cells",
    "run_cells",
    "system_software",
    "system_gpu_link",
    "run_hardware_metrics",
    "benchmarks",
    "samples",
    "system_snapshots",
    "run_gpus",
    "run_workloads",
    "aggregates",
)
# The per-run tables the archive keeps in memory (the large ones are read one run at a time).
SMALL = tuple(t for t in PER_RUN if t not in LARGE)


def _cols(spec: str, kind: ColumnType) -> Columns:
    return [(name, kind) for name in spec.split()]


RUNS: Columns = [
    ("run_id", "string"),
    ("run_uuid", "string"),
    ("started_at", "timestamp"),
    ("finished_at", "timestamp"),
    *_cols("status completeness mode", "string"),
    ("comparable", "bool"),
    ("comparable_reason", "string"),
    *_cols("system_id system_label hardware_class host_label publisher_id", "string"),
    *_cols("harness_version git_sha", "string"),
    ("synthetic", "bool"),
    ("license", "string"),
    *_cols("calls_total calls_ok cells_planned cells_skipped", "int"),
    ("load_avg_start", "float_list"),
    ("content_sha256", "string"),
    # Imported runs (bakeoff import): the tool that measured them; null for bakeoff's own.
    ("source_tool", "string"),
]

_TTFT = (
    "ttft_p50_ms ttft_p95_ms ttft_mean_ms ttft_std_ms ttft_min_ms ttft_max_ms "
    "ttft_p50_ci_low_ms ttft_p50_ci_high_ms"
)
# The statistics of one batch (publisher.frontend.derive.batch_statistics), in column order.
STATISTICS: Columns = [
    *_cols("n errors", "int"),
    ("success_rate", "float"),
    *_cols(_TTFT, "float"),
    ("ttft_outliers", "int"),
    *_cols("total_p50_ms total_p95_ms total_mean_ms total_std_ms total_min_ms", "float"),
    ("total_max_ms", "float"),
    ("total_outliers", "int"),
    *_cols("tokens_per_sec_mean tokens_per_sec_p50 completion_tokens_mean itl_p50_ms", "float"),
    ("aggregate_tokens_per_sec", "float"),
    *_cols("rouge1_mean rouge1_std rouge2_mean rouge2_std rougeL_mean rougeL_std", "float"),
    # Load levels (the InferenceX view: aggregate tokens/s against tokens/s per user), goodput.
    *_cols("ttft_p99_ms tpot_p50_ms tpot_p95_ms tpot_p99_ms itl_p95_ms", "float"),
    *_cols("requests_per_sec goodput_requests_per_sec slo_attainment", "float"),
    *_cols("tokens_per_sec_per_user start_lag_p99_ms", "float"),
    # Prefill and exact lengths.
    *_cols("prompt_tokens_mean prefill_tokens_per_sec_p50", "float"),
    ("server_prefill_tokens_per_sec_p50", "float"),
    ("off_target_calls", "int"),
]
CELLS: Columns = [
    *_cols("run_id system_id system_label hardware_class cell_id engine engine_version", "string"),
    *_cols("model model_digest quantization access_level workload_id workload_kind", "string"),
    ("workload_sha256", "string"),
    ("max_tokens", "int"),
    ("temperature", "float"),
    ("concurrency", "int"),
    ("request_rate", "float"),
    *_cols("input_tokens output_tokens", "int"),
    *_cols("slo_ttft_ms slo_tpot_ms", "float"),
    *_cols("workload_key signature phase", "string"),
    ("comparable", "bool"),
    *STATISTICS,
    ("joules_per_output_token", "float"),
    ("tokens_per_joule", "float"),
    ("energy_reason", "string"),
    *_cols("model_size_bytes model_parameters model_expert_count", "int"),
    *_cols("memory_bandwidth_gbs bandwidth_efficiency", "float"),
    ("roofline_reason", "string"),
    ("cost_per_million_tokens", "float"),
    *_cols("cost_currency cost_reason", "string"),
    ("started_at", "timestamp"),
    # Imported results (methodology page, "Imported results"): who measured the row, whether
    # its statistics come from call records or a tool's summary, whose definitions its
    # numbers follow, and the engine-timed rates llama-bench reports.
    *_cols("source_tool statistics_source definitions", "string"),
    *_cols("engine_prefill_tokens_per_sec engine_decode_tokens_per_sec", "float"),
]

# Summary statistics of imported runs as the tool states them (metadata.aggregates).
AGGREGATES: Columns = [
    *_cols("run_id system_id cell_id workload_id workload_key signature", "string"),
    ("concurrency", "int"),
    *_cols("source_tool metric source_field", "string"),
    ("mapped", "bool"),
    ("unit", "string"),
    ("n", "int"),
    *_cols("mean std min max p50 p90 p95 p99", "float"),
    ("samples", "float_list"),
]

RUN_CELLS: Columns = [
    *_cols("run_id cell_id engine api engine_version engine_build access_level", "string"),
    *_cols("endpoint_kind model model_digest quantization", "string"),
    ("available", "bool"),
    ("skip_reason", "string"),
    *_cols("calls_total calls_ok", "int"),
]

# The headline numbers of a run's ``--bench`` (best repetitions: STREAM's "best rate").
BENCH_HEADLINES: Columns = _cols(
    "memory_bandwidth_gbs memory_bandwidth_one_core_gbs matmul_fp32_gflops matmul_fp64_gflops",
    "float",
)

SYSTEM_HARDWARE: Columns = [
    *_cols("system_id system_label publisher_id cpu_model", "string"),
    *_cols("cpu_cores cpu_threads", "int"),
    ("architecture", "string"),
    ("ram_total_gb", "float"),
    ("board_model", "string"),
    ("in_container", "bool"),
    *_cols("container_memory_limit_gb container_cpu_quota", "float"),
    *_cols("usable_cpus gpu_count", "int"),
    *_cols("gpu_summary hardware_class snapshot_run_id", "string"),
    *_cols("first_run_at last_run_at", "timestamp"),
    *_cols("runs_count hardware_changes", "int"),
    *BENCH_HEADLINES,
    ("benchmarks_run_id", "string"),
]
# One row per run: the hardware identity the run saw (deduplicated into system_hardware).
_PER_SYSTEM = {
    "benchmarks_run_id",
    "system_label",
    "snapshot_run_id",
    "first_run_at",
    "last_run_at",
    "runs_count",
    "hardware_changes",
}
SYSTEM_SNAPSHOTS: Columns = [
    ("run_id", "string"),
    ("started_at", "timestamp"),
    ("host_label", "string"),
    *[(n, t) for n, t in SYSTEM_HARDWARE if n not in _PER_SYSTEM],
    ("gpu_ids", "string"),
]

SYSTEM_SOFTWARE: Columns = _cols(
    "run_id system_id os kernel_version python_version gpu_driver_version cuda_version "
    "rocm_version runner_version",
    "string",
)

GPU_HARDWARE: Columns = [
    *_cols("gpu_id vendor name", "string"),
    ("memory_total_gb", "float"),
    ("unified_memory", "bool"),
    ("interface_type", "string"),
    *_cols("pcie_gen_max pcie_width_max", "int"),
    *_cols("power_limit_w power_limit_default_w", "float"),
    *_cols("compute_capability architecture", "string"),
    *_cols("tensor_core_generation cores", "int"),
]
GPU_SPEC_FIELDS = [name for name, _ in GPU_HARDWARE if name != "gpu_id"]
RUN_GPUS: Columns = [("run_id", "string"), ("slot", "int"), *GPU_HARDWARE]

SYSTEM_GPU_LINK: Columns = [
    ("run_id", "string"),
    ("system_id", "string"),
    ("slot", "int"),
    ("gpu_id", "string"),
]

BENCHMARKS: Columns = [
    *_cols("run_id system_id", "string"),
    ("started_at", "timestamp"),
    ("target", "string"),
    ("gpu_slot", "int"),
    *_cols("device_name kernel scope precision unit", "string"),
    *_cols("median min max", "float"),
    *_cols("repetitions workers size_bytes matrix_n", "int"),
    *_cols("method reason", "string"),
]

RUN_WORKLOADS: Columns = [
    *_cols("run_id workload_id kind sha256", "string"),
    ("max_tokens", "int"),
]

INTERFACE_TYPE: Columns = _cols("id label description detection", "string")

HISTORY: Columns = [
    *_cols("system_id system_label signature workload_key workload_id", "string"),
    ("concurrency", "int"),
    ("request_rate", "float"),
    *_cols("engine engine_version model model_digest hardware_class", "string"),
    ("seq", "int"),
    *_cols("run_id cell_id", "string"),
    ("started_at", "timestamp"),
    ("n", "int"),
    *_cols("ttft_p50_ms total_p50_ms tokens_per_sec_mean success_rate", "float"),
    ("previous_run_id", "string"),
    *_cols("ttft_p50_ratio total_p50_ratio tokens_per_sec_ratio", "float"),
    ("low_n", "bool"),
    *_cols("change change_detail", "string"),
]


def _json_type(prop: dict[str, Any]) -> ColumnType | None:
    types: list[str] = []
    formats: set[str] = set()
    for alt in prop.get("anyOf", [prop]):
        t = alt.get("type")
        if isinstance(t, str) and t != "null":
            types.append(t)
            formats.add(alt.get("format", ""))
        elif "$ref" in alt or "enum" in alt or "const" in alt:
            types.append("string")
    if len(types) != 1:
        return None
    if types[0] == "string" and "date-time" in formats:
        return "timestamp"
    kinds: dict[str, ColumnType] = {
        "string": "string",
        "integer": "int",
        "number": "float",
        "boolean": "bool",
    }
    return kinds.get(types[0])


def _schema_columns(props: dict[str, Any], skip: set[str]) -> Columns:
    out: Columns = []
    for name in sorted(props):
        kind = _json_type(props[name])
        if name in skip or kind is None:
            continue
        out.append((name, kind))
    return out


@cache
def call_fields() -> Columns:
    """Every scalar field of the call record in ``ledger-record.schema.json`` (not ``type``)."""
    props = load_schema("ledger-record")["$defs"]["CallRecord"]["properties"]
    return _schema_columns(props, {"type"})


@cache
def calls_columns() -> Columns:
    """Columns of the ``calls`` table."""
    return [
        ("run_id", "string"),
        ("system_id", "string"),
        *call_fields(),
        *_cols("workload_id workload_key signature", "string"),
        ("max_tokens", "int"),
    ]


@cache
def metrics_fields() -> Columns:
    """Scalar fields of ``run_hardware_metrics`` in ``metadata.schema.json``."""
    props = load_schema("metadata")["$defs"]["RunHardwareMetrics"]["properties"]
    return _schema_columns(props, {"system_id"})


# Per-sample aggregates over the GPUs of one telemetry sample (publisher.frontend.derive).
SAMPLE_GPU_COLUMNS: Columns = [
    ("gpu_count", "int"),
    *_cols("gpu_power_w gpu_temperature_c gpu_util_percent gpu_memory_used_gb", "float"),
    ("gpu_energy_j", "float"),
]


@cache
def sample_fields() -> Columns:
    """The scalar fields of ``sample.schema.json`` copied into the ``samples`` table."""
    return _schema_columns(load_schema("sample")["properties"], {"t", "ts", "schema_version"})


@cache
def samples_columns() -> Columns:
    """Columns of the ``samples`` table: every scalar field of ``sample.schema.json``."""
    return [
        ("run_id", "string"),
        ("seq", "int"),
        ("t", "float"),
        ("ts", "timestamp"),
        *sample_fields(),
        *SAMPLE_GPU_COLUMNS,
    ]


@cache
def run_hardware_metrics_columns() -> Columns:
    """Columns of the ``run_hardware_metrics`` table."""
    return [("run_id", "string"), ("system_id", "string"), *metrics_fields()]


_FIXED: dict[str, Columns] = {
    "runs": RUNS,
    "cells": CELLS,
    "run_cells": RUN_CELLS,
    "system_hardware": SYSTEM_HARDWARE,
    "system_snapshots": SYSTEM_SNAPSHOTS,
    "system_software": SYSTEM_SOFTWARE,
    "gpu_hardware": GPU_HARDWARE,
    "run_gpus": RUN_GPUS,
    "system_gpu_link": SYSTEM_GPU_LINK,
    "run_workloads": RUN_WORKLOADS,
    "benchmarks": BENCHMARKS,
    "interface_type": INTERFACE_TYPE,
    "history": HISTORY,
    "aggregates": AGGREGATES,
}


def columns(table: str) -> Columns:
    """The columns of one table, in order."""
    if table == "calls":
        return calls_columns()
    if table == "run_hardware_metrics":
        return run_hardware_metrics_columns()
    if table == "samples":
        return samples_columns()
    return _FIXED[table]


@cache
def schema(table: str) -> pa.Schema:
    """The Arrow schema of one table."""
    return pa.schema([pa.field(name, ARROW[kind]) for name, kind in columns(table)])


def empty(table: str) -> pa.Table:
    """A table with no rows."""
    return schema(table).empty_table()


@cache
def _struct(table: str) -> pa.StructType:
    return pa.struct(list(schema(table)))


def from_rows(table: str, rows: list[dict[str, Any]]) -> pa.Table:
    """Row dicts as an Arrow table of ``table``'s schema (missing keys are null).

    Timestamp columns take integer microseconds since the epoch. One struct array is built for
    all columns at once (a column at a time costs several times more for a run's few rows).
    """
    array = pa.array(rows, type=_struct(table))
    return pa.Table.from_batches([pa.RecordBatch.from_struct_array(array)], schema=schema(table))
