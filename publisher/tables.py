"""The published tables' columns and types (``docs/tables.md`` is the prose of this module).

Column lists that mirror a JSON Schema (``calls``, ``run_hardware_metrics``) are derived from
the schema files, so a field added to the contract appears in the exports by itself.
"""

from __future__ import annotations

from functools import cache
from typing import Any, Literal

from bakeoff.resources import load_schema

ColumnType = Literal["string", "int", "float", "bool", "timestamp"]
Columns = list[tuple[str, ColumnType]]

TABLE_NAMES = (
    "runs",
    "calls",
    "cells",
    "system_hardware",
    "system_software",
    "gpu_hardware",
    "system_gpu_link",
    "run_hardware_metrics",
    "interface_type",
    "history",
    "samples",
)


def _cols(spec: str, kind: ColumnType) -> Columns:
    return [(name, kind) for name in spec.split()]


RUNS: Columns = [
    ("run_id", "string"),
    ("started_at", "timestamp"),
    ("finished_at", "timestamp"),
    *_cols("status completeness system_id hardware_class host_label publisher_id", "string"),
    *_cols("harness_version git_sha", "string"),
    ("synthetic", "bool"),
    ("license", "string"),
    *_cols("calls_total calls_ok cells_planned cells_skipped", "int"),
]

_STATS = (
    "ttft_p50_ms ttft_p95_ms ttft_mean_ms ttft_std_ms ttft_min_ms ttft_max_ms "
    "ttft_p50_ci_low_ms ttft_p50_ci_high_ms"
)
CELLS: Columns = [
    *_cols("run_id system_id hardware_class cell_id engine engine_version model", "string"),
    *_cols("model_digest quantization access_level workload_id workload_kind", "string"),
    ("workload_sha256", "string"),
    ("max_tokens", "int"),
    ("temperature", "float"),
    ("concurrency", "int"),
    *_cols("workload_key signature phase", "string"),
    *_cols("n errors", "int"),
    ("success_rate", "float"),
    *_cols(_STATS, "float"),
    ("ttft_outliers", "int"),
    *_cols("total_p50_ms total_p95_ms total_mean_ms total_std_ms total_min_ms", "float"),
    ("total_max_ms", "float"),
    ("total_outliers", "int"),
    *_cols("tokens_per_sec_mean tokens_per_sec_p50 completion_tokens_mean itl_p50_ms", "float"),
    ("aggregate_tokens_per_sec", "float"),
    *_cols("rouge1_mean rouge1_std rouge2_mean rouge2_std rougeL_mean rougeL_std", "float"),
    ("joules_per_output_token", "float"),
    ("started_at", "timestamp"),
]

SYSTEM_HARDWARE: Columns = [
    *_cols("system_id publisher_id cpu_model", "string"),
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

SYSTEM_GPU_LINK: Columns = [
    ("run_id", "string"),
    ("system_id", "string"),
    ("slot", "int"),
    ("gpu_id", "string"),
]

INTERFACE_TYPE: Columns = _cols("id label description detection", "string")


def _json_type(prop: dict[str, Any]) -> ColumnType | None:
    types: list[str] = []
    for alt in prop.get("anyOf", [prop]):
        t = alt.get("type")
        if isinstance(t, str) and t != "null":
            types.append(t)
        elif "$ref" in alt or "enum" in alt or "const" in alt:
            types.append("string")
    if len(types) != 1:
        return None
    return {"string": "string", "integer": "int", "number": "float", "boolean": "bool"}.get(
        types[0]
    )  # type: ignore[return-value]


def _schema_columns(props: dict[str, Any], skip: set[str]) -> Columns:
    out: Columns = []
    for name in sorted(props):
        kind = _json_type(props[name])
        if name in skip or kind is None:
            continue
        out.append((name, "timestamp" if name.endswith("_at") else kind))
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


# Per-sample aggregates over the GPUs of one telemetry sample (``publisher.samples``).
SAMPLE_GPU_COLUMNS: Columns = [
    ("gpu_count", "int"),
    *_cols("gpu_power_w gpu_temperature_c gpu_util_percent gpu_memory_used_gb", "float"),
    ("gpu_energy_j", "float"),
]


@cache
def samples_columns() -> Columns:
    """Columns of the ``samples`` table: every scalar field of ``sample.schema.json``."""
    props = load_schema("sample")["properties"]
    scalars = _schema_columns(props, {"t", "ts", "schema_version"})
    return [
        ("run_id", "string"),
        ("seq", "int"),
        ("t", "float"),
        ("ts", "timestamp"),
        *scalars,
        *SAMPLE_GPU_COLUMNS,
    ]


@cache
def run_hardware_metrics_columns() -> Columns:
    """Columns of the ``run_hardware_metrics`` table."""
    return [("run_id", "string"), ("system_id", "string"), *metrics_fields()]


def columns(table: str) -> Columns:
    """The columns of one published table, in order."""
    fixed: dict[str, Columns] = {
        "runs": RUNS,
        "cells": CELLS,
        "system_hardware": SYSTEM_HARDWARE,
        "system_software": SYSTEM_SOFTWARE,
        "gpu_hardware": GPU_HARDWARE,
        "system_gpu_link": SYSTEM_GPU_LINK,
        "interface_type": INTERFACE_TYPE,
    }
    if table == "calls":
        return calls_columns()
    if table == "run_hardware_metrics":
        return run_hardware_metrics_columns()
    if table == "samples":
        return samples_columns()
    if table == "history":
        from publisher.history import HISTORY_COLUMNS

        return HISTORY_COLUMNS
    return fixed[table]
