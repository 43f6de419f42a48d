"""Stage 3a — derive: one validated run → its rows of every published table.

The rows of a run depend only on that run's content, so they are what the per-run cache
stores; ``dedup`` and ``catalogue`` then work across runs on these rows alone.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from typing import Any

from publisher import stats
from publisher.tables import GPU_SPEC_FIELDS, call_fields, metrics_fields
from publisher.validate import ValidatedRun

RunRows = dict[str, Any]
"""Plain-data result of ``derive_run`` (JSON-compatible, so it can be cached)."""


def short_hash(data: dict[str, Any]) -> str:
    """First 16 hex chars of sha256 over canonical JSON (sorted keys, no spaces)."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def workload_key(
    workload_id: str, workload_sha256: str, max_tokens: int, temperature: float, concurrency: int
) -> str:
    """What was asked of the engine, independent of hardware, engine and model."""
    return short_hash(
        {
            "workload_id": workload_id,
            "workload_sha256": workload_sha256,
            "max_tokens": max_tokens,
            "temperature": temperature,
            "concurrency": concurrency,
        }
    )


def signature(workload_key_: str, engine: str, model_digest: str | None, model: str) -> str:
    """workload_key + engine kind + model digest (model name when the digest is unknown)."""
    return short_hash(
        {"workload_key": workload_key_, "engine": engine, "model_digest": model_digest or model}
    )


def ram_bucket(ram_gb: float | None) -> str:
    """A power-of-two RAM bucket; the 8% allowance maps a '16 GB' machine's 15.5 GiB to 16–32."""
    if ram_gb is None or ram_gb <= 0:
        return "RAM?"
    nominal = ram_gb * 1.08
    low = 2 ** math.floor(math.log2(nominal)) if nominal >= 1 else 0
    return f"{low}-{max(low * 2, 1)}GB"


def hardware_class(hardware: dict[str, Any]) -> str:
    """``<count>x <accelerator> <memory>GB`` per GPU model, else ``cpu <arch> <threads>t <RAM>``."""
    gpus = hardware.get("gpus") or []
    if gpus:
        counts: Counter[tuple[str, int]] = Counter()
        for g in gpus:
            mem = g.get("memory_total_gb")
            counts[(g["name"], round(mem) if isinstance(mem, int | float) else 0)] += 1
        parts = [
            f"{n}x {name}" + (f" {mem}GB" if mem else "")
            for (name, mem), n in sorted(counts.items())
        ]
        return " + ".join(parts)
    hw = hardware["system_hardware"]
    threads = hw.get("cpu_threads")
    return f"cpu {hw['architecture']} {threads or '?'}t {ram_bucket(hw.get('ram_total_gb'))}"


def gpu_spec(gpu: dict[str, Any]) -> dict[str, Any]:
    """The spec columns of a GPU slot, with ``gpu_id`` = 16 hex of sha256 over the spec."""
    spec = {k: gpu.get(k) for k in GPU_SPEC_FIELDS}
    return {"gpu_id": short_hash(spec), **spec}


def completeness(md: dict[str, Any]) -> str:
    """complete, meta-only or partial."""
    if md.get("meta_only"):
        return "meta-only"
    return "complete" if md["status"] == "complete" else "partial"


def _workloads(md: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for p in md["config"]["prompts"]:
        out[p["id"]] = {"kind": "prompt", "sha256": p["sha256"], "max_tokens": p["max_tokens"]}
    for t in md["config"]["tasks"]:
        out[t["id"]] = {
            "kind": "task",
            "sha256": t["template_sha256"],
            "max_tokens": t["max_tokens"],
        }
    return out


def derive_cells(md: dict[str, Any], aggregates: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ``cells`` rows of a run: batch statistics plus the cell's and workload's columns."""
    hw = md["hardware"]
    sid = hw["system_hardware"]["system_id"]
    hclass = hardware_class(hw)
    cells = {c["cell_id"]: c for c in md["cells"]}
    workloads = _workloads(md)
    temperature = md["config"]["temperature"]
    energy = {
        c["cell_id"]: c["joules_per_output_token"] for c in md["run_hardware_metrics"]["cells"]
    }
    cell_rows = []
    for agg in aggregates:
        cell = cells.get(agg["cell_id"], {})
        wl = workloads.get(agg["workload_id"], {"kind": "prompt", "sha256": "", "max_tokens": None})
        wkey = workload_key(
            agg["workload_id"], wl["sha256"], wl["max_tokens"], temperature, agg["concurrency"]
        )
        cell_rows.append(
            {
                **agg,
                "system_id": sid,
                "hardware_class": hclass,
                "engine": cell.get("engine"),
                "engine_version": cell.get("engine_version"),
                "model": cell.get("model"),
                "model_digest": cell.get("model_digest"),
                "quantization": cell.get("quantization"),
                "access_level": cell.get("access_level"),
                "workload_kind": wl["kind"],
                "workload_sha256": wl["sha256"],
                "max_tokens": wl["max_tokens"],
                "temperature": temperature,
                "workload_key": wkey,
                "signature": signature(
                    wkey, cell.get("engine", ""), cell.get("model_digest"), cell.get("model", "")
                ),
                "joules_per_output_token": energy.get(agg["cell_id"]),
                "started_at": md["started_at"],
            }
        )
    return cell_rows


def derive_run(run: ValidatedRun) -> RunRows:
    """Every table's rows for one run, plus what dedup and the catalogue need."""
    md = run.metadata
    hw = md["hardware"]
    sid = hw["system_hardware"]["system_id"]
    hclass = hardware_class(hw)
    cells = {c["cell_id"]: c for c in md["cells"]}
    workloads = _workloads(md)
    temperature = md["config"]["temperature"]
    fields = [name for name, _ in call_fields()]
    calls: list[dict[str, Any]] = []
    for rec in run.calls:
        row = {"run_id": run.run_id, "system_id": sid}
        row.update({k: rec.get(k) for k in fields})
        wid = rec.get("prompt_id") or rec.get("task_id") or ""
        wl = workloads.get(wid, {"kind": "prompt", "sha256": "", "max_tokens": None})
        cell = cells.get(rec["cell_id"], {})
        wkey = workload_key(wid, wl["sha256"], wl["max_tokens"], temperature, rec["concurrency"])
        row["workload_id"] = wid
        row["workload_key"] = wkey
        row["signature"] = signature(
            wkey, rec["backend"], cell.get("model_digest"), cell.get("model", "")
        )
        row["max_tokens"] = wl["max_tokens"]
        calls.append(row)
    cell_rows = derive_cells(md, stats.aggregate_cells(calls))
    sw = hw["system_software"]
    summary = md["summary"]
    calls_total = len(calls) if not md.get("meta_only") else summary["calls_total"]
    calls_ok = (
        sum(1 for c in calls if c["error"] is None)
        if not md.get("meta_only")
        else summary["calls_ok"]
    )
    rhm = md["run_hardware_metrics"]
    gpus = [gpu_spec(g) for g in hw["gpus"]]
    measured = (
        sorted({c["cell_id"] for c in calls})
        if calls
        else sorted(c["cell_id"] for c in md["cells"] if c["available"])
    )
    return {
        "run_id": run.run_id,
        "content_sha256": run.content_sha256,
        "runs": [
            {
                "run_id": run.run_id,
                "started_at": md["started_at"],
                "finished_at": md["finished_at"],
                "status": md["status"],
                "completeness": completeness(md),
                "system_id": sid,
                "hardware_class": hclass,
                "host_label": md["host_label"],
                "publisher_id": md["publisher_id"],
                "harness_version": md["harness"]["version"],
                "git_sha": md["harness"]["git_sha"],
                "synthetic": bool(md.get("synthetic")),
                "license": md["license"],
                "calls_total": calls_total,
                "calls_ok": calls_ok,
                "cells_planned": summary["cells_planned"],
                "cells_skipped": summary["cells_skipped"],
            }
        ],
        "calls": calls,
        "cells": cell_rows,
        "system_software": [{"run_id": run.run_id, "system_id": sid, **sw}],
        "gpu_hardware": gpus,
        "system_gpu_link": [
            {"run_id": run.run_id, "system_id": sid, "slot": g["slot"], "gpu_id": spec["gpu_id"]}
            for g, spec in zip(hw["gpus"], gpus, strict=True)
        ],
        "run_hardware_metrics": [
            {
                "run_id": run.run_id,
                "system_id": sid,
                **{name: rhm.get(name) for name, _ in metrics_fields()},
            }
        ],
        "snapshot": {
            "started_at": md["started_at"],
            "hardware_class": hclass,
            "system_hardware": hw["system_hardware"],
            "gpu_ids": [g["gpu_id"] for g in gpus],
            "gpu_names": [g["name"] for g in hw["gpus"]],
        },
        "catalogue": {
            "cells": measured,
            "models": sorted({cells[c]["model"] for c in measured if c in cells}),
            "engines": sorted({cells[c]["engine"] for c in measured if c in cells}),
            "model_digests": sorted(
                {
                    (cells[c]["model"], cells[c]["model_digest"] or "")
                    for c in measured
                    if c in cells
                }
            ),
            "engine_versions": sorted(
                {
                    (cells[c]["engine"], cells[c]["engine_version"] or "")
                    for c in measured
                    if c in cells
                }
            ),
            "prompts": sorted(p["id"] for p in md["config"]["prompts"]),
            "tasks": sorted(t["id"] for t in md["config"]["tasks"]),
        },
    }


def derive_run_bulk(
    run: ValidatedRun,
    calls_total: int,
    calls_ok: int,
    measured: list[str],
    aggregates: list[dict[str, Any]],
) -> RunRows:
    """``derive_run`` for a run whose calls were derived in bulk (``publisher.ledger_sql``).

    ``run.records`` holds no call lines; the counts, the measured cells and the batch
    statistics come from the bulk scan, and the ``calls`` rows stay there.
    """
    rows = derive_run(run)
    md = run.metadata
    rows["cells"] = derive_cells(md, aggregates)
    if not md.get("meta_only"):
        rows["runs"][0]["calls_total"] = calls_total
        rows["runs"][0]["calls_ok"] = calls_ok
    if calls_total:
        cells = {c["cell_id"]: c for c in md["cells"]}
        cat = rows["catalogue"]
        cat["cells"] = sorted(measured)
        cat["models"] = sorted({cells[c]["model"] for c in measured if c in cells})
        cat["engines"] = sorted({cells[c]["engine"] for c in measured if c in cells})
        cat["model_digests"] = sorted(
            {(cells[c]["model"], cells[c]["model_digest"] or "") for c in measured if c in cells}
        )
        cat["engine_versions"] = sorted(
            {(cells[c]["engine"], cells[c]["engine_version"] or "") for c in measured if c in cells}
        )
    return rows
