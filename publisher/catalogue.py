"""Stage 4 — catalogue: the archive's index, ``catalogue.json``.

Deterministic by construction: everything is sorted, nothing depends on the build (no
timestamps, no paths), and the result is checked against ``publisher.models.Catalogue``
(which generates ``schemas/catalogue.schema.json``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bakeoff.jsonio import dumps_stable
from publisher.derive import RunRows
from publisher.models import Catalogue


def build_catalogue(runs: Sequence[RunRows], systems: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The catalogue as plain data; ``runs`` and ``systems`` come from derive and dedup."""
    ordered = sorted(runs, key=lambda r: r["run_id"])
    by_id = {r["run_id"]: r for r in ordered}
    entries = []
    models: dict[str, tuple[set[str], set[str]]] = {}
    engines: dict[str, tuple[set[str], set[str]]] = {}
    for r in ordered:
        row, cat = r["runs"][0], r["catalogue"]
        entries.append(
            {
                "run_id": row["run_id"],
                "started_at": row["started_at"],
                "finished_at": row["finished_at"],
                "status": row["status"],
                "completeness": row["completeness"],
                "system_id": row["system_id"],
                "hardware_class": row["hardware_class"],
                "host_label": row["host_label"],
                "publisher_id": row["publisher_id"],
                "cells": list(cat["cells"]),
                "models": list(cat["models"]),
                "engines": list(cat["engines"]),
                "prompts": list(cat["prompts"]),
                "tasks": list(cat["tasks"]),
                "calls_total": row["calls_total"],
                "calls_ok": row["calls_ok"],
                "content_sha256": r["content_sha256"],
            }
        )
        for model, digest in cat["model_digests"]:
            digests, model_runs = models.setdefault(model, (set(), set()))
            if digest:
                digests.add(digest)
            model_runs.add(r["run_id"])
        for engine, version in cat["engine_versions"]:
            versions, engine_runs = engines.setdefault(engine, (set(), set()))
            if version:
                versions.add(version)
            engine_runs.add(r["run_id"])
    runs_by_system: dict[str, list[tuple[str, str]]] = {}
    for e in entries:
        runs_by_system.setdefault(e["system_id"], []).append((e["started_at"], e["run_id"]))
    catalogue = {
        "schema_version": 1,
        "runs": entries,
        "systems": [
            {
                "system_id": s["system_id"],
                "hardware_class": s["hardware_class"],
                "cpu_model": s["cpu_model"],
                "gpus": list(by_id[s["snapshot_run_id"]]["snapshot"]["gpu_names"]),
                "ram_total_gb": s["ram_total_gb"],
                "runs": [rid for _, rid in sorted(runs_by_system.get(s["system_id"], []))],
            }
            for s in sorted(systems, key=lambda s: s["system_id"])
        ],
        "models": [
            {"model": m, "digests": sorted(d), "runs": sorted(rs)}
            for m, (d, rs) in sorted(models.items())
        ],
        "engines": [
            {"engine": e, "versions": sorted(v), "runs": sorted(rs)}
            for e, (v, rs) in sorted(engines.items())
        ],
    }
    Catalogue.model_validate(catalogue)  # a bug here must fail loudly, not publish
    return catalogue


def render_catalogue(catalogue: dict[str, Any]) -> str:
    """The byte-stable text of ``catalogue.json``."""
    return dumps_stable(catalogue)
