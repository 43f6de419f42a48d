"""Stage 3b — dedup: hardware tables across runs (references 000 and 001).

* ``system_hardware``: one row per ``system_id``; the latest snapshot (by run start, then run
  id) wins; every snapshot that differs from the one before it is counted and reported.
* ``system_software``: one row per run (never deduplicated) — passed through.
* ``gpu_hardware``: one row per distinct GPU spec (``gpu_id`` hashes the spec).
* ``system_gpu_link`` and ``run_hardware_metrics``: per run — passed through.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from publisher.derive import RunRows


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


_IGNORED = {"publisher_id"}  # who publishes is not hardware


def _flat(snapshot: dict[str, Any]) -> dict[str, Any]:
    hw = dict(snapshot["system_hardware"])
    container = hw.pop("container", None) or {}
    hw.update({f"container.{k}": v for k, v in container.items()})
    hw["gpus"] = sorted(snapshot["gpu_ids"])
    return {k: v for k, v in hw.items() if k not in _IGNORED}


def system_hardware(runs: Sequence[RunRows]) -> tuple[list[dict[str, Any]], list[HardwareChange]]:
    """One row per system (latest snapshot wins) and the hardware changes seen on the way."""
    by_system: dict[str, list[RunRows]] = {}
    for r in runs:
        sid = r["snapshot"]["system_hardware"]["system_id"]
        by_system.setdefault(sid, []).append(r)
    rows: list[dict[str, Any]] = []
    changes: list[HardwareChange] = []
    for sid in sorted(by_system):
        history = sorted(by_system[sid], key=lambda r: (r["snapshot"]["started_at"], r["run_id"]))
        n_changes = 0
        for prev, cur in itertools.pairwise(history):
            a, b = _flat(prev["snapshot"]), _flat(cur["snapshot"])
            diff = tuple(sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k)))
            if diff:
                n_changes += 1
                changes.append(HardwareChange(sid, prev["run_id"], cur["run_id"], diff))
        latest = history[-1]
        snap = latest["snapshot"]
        hw = snap["system_hardware"]
        container = hw.get("container") or {}
        names = snap["gpu_names"]
        rows.append(
            {
                "system_id": sid,
                "publisher_id": hw.get("publisher_id"),
                "cpu_model": hw.get("cpu_model"),
                "cpu_cores": hw.get("cpu_cores"),
                "cpu_threads": hw.get("cpu_threads"),
                "architecture": hw.get("architecture"),
                "ram_total_gb": hw.get("ram_total_gb"),
                "board_model": hw.get("board_model"),
                "in_container": container.get("in_container"),
                "container_memory_limit_gb": container.get("memory_limit_gb"),
                "container_cpu_quota": container.get("cpu_quota"),
                "usable_cpus": container.get("usable_cpus"),
                "gpu_count": len(names),
                "gpu_summary": ", ".join(names) if names else None,
                "hardware_class": snap["hardware_class"],
                "snapshot_run_id": latest["run_id"],
                "first_run_at": history[0]["snapshot"]["started_at"],
                "last_run_at": snap["started_at"],
                "runs_count": len(history),
                "hardware_changes": n_changes,
            }
        )
    return rows, changes


def gpu_hardware(runs: Sequence[RunRows]) -> list[dict[str, Any]]:
    """One row per distinct GPU spec, sorted by gpu_id."""
    specs: dict[str, dict[str, Any]] = {}
    for r in runs:
        for g in r["gpu_hardware"]:
            specs.setdefault(g["gpu_id"], g)
    return [specs[k] for k in sorted(specs)]


def concat(runs: Sequence[RunRows], table: str) -> list[dict[str, Any]]:
    """The per-run rows of ``table`` for all runs, in run order (runs are sorted by id)."""
    return [row for r in runs for row in r[table]]
