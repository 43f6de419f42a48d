"""Telemetry samples: the rows of the ``samples`` table from a run's ``samples.jsonl``.

A pure function of what the load stage read (``RawRun``); it runs after validation passed, so
every line is a schema-valid sample (``schemas/sample.schema.json``). Scalar fields are copied
as they are (a field added to the schema becomes a column by itself, see
``publisher.tables.samples_columns``); the per-GPU list becomes aggregates per sample: summed
power, memory and energy, the hottest temperature and the mean utilisation.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from publisher.load import RawRun
from publisher.tables import samples_columns

SAMPLES_FILE = "samples.jsonl"


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _values(gpus: Sequence[Mapping[str, Any]], key: str) -> list[float]:
    return [v for g in gpus if (v := _num(g.get(key))) is not None]


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _total(values: Sequence[float]) -> float | None:
    return sum(values) if values else None


def _peak(values: Sequence[float]) -> float | None:
    return max(values) if values else None


# column → (GPU field, aggregate over the GPUs of one sample); None when no GPU reported it
_GPU_AGGREGATES: dict[str, tuple[str, Callable[[Sequence[float]], float | None]]] = {
    "gpu_power_w": ("power_w", _total),
    "gpu_temperature_c": ("temperature_c", _peak),
    "gpu_util_percent": ("util_percent", _mean),
    "gpu_memory_used_gb": ("memory_used_gb", _total),
    "gpu_energy_j": ("energy_j", _total),
}


def sample_row(run_id: str, seq: int, sample: Mapping[str, Any]) -> dict[str, Any]:
    """One row of the ``samples`` table from one parsed line of ``samples.jsonl``."""
    row: dict[str, Any] = {}
    for name, _ in samples_columns():
        row[name] = sample.get(name)
    raw_gpus = sample.get("gpus")
    gpus = [g for g in raw_gpus if isinstance(g, Mapping)] if isinstance(raw_gpus, list) else []
    row["run_id"] = run_id
    row["seq"] = seq
    row["gpu_count"] = len(gpus)
    for column, (key, aggregate) in _GPU_AGGREGATES.items():
        row[column] = aggregate(_values(gpus, key))
    return row


def build_samples(run: RawRun) -> list[dict[str, Any]]:
    """Rows of the ``samples`` table for one loaded run, in file order (``seq`` 0, 1, …).

    The run id is the directory name (validation requires them to be equal). A run without
    ``samples.jsonl`` (or whose file was not kept in memory) has no rows; lines that are not
    JSON objects are skipped (validation has reported them).
    """
    f = run.file(SAMPLES_FILE)
    if f is None or f.data is None or f.is_dir:
        return []
    rows: list[dict[str, Any]] = []
    for line in f.data.splitlines():
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict):
            rows.append(sample_row(run.dir_name, len(rows), obj))
    return rows
