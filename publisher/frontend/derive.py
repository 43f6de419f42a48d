"""Derive: one run's decoded data → its rows of every per-run table (``tables.PER_RUN``).

Pure functions of one run; the batch statistics use ``bakeoff.stats`` (the statistics every
command shares) plus the bootstrap interval of the median below.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from bakeoff import stats
from bakeoff.jsonio import dumps_line
from publisher.frontend import efficiency, tables
from publisher.frontend.tables import GPU_SPEC_FIELDS

BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 20261123
CI_LEVEL = 0.95
GROUP_KEY = ("cell_id", "workload_id", "concurrency", "request_rate", "phase")
OFF_TARGET = 0.01  # a length more than 1 % away from its target (the methodology page)


def short_hash(data: dict[str, Any]) -> str:
    """First 16 hex chars of sha256 over canonical JSON (sorted keys, no spaces)."""
    text = dumps_line(data).rstrip("\n")
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def workload_key(
    workload_id: str,
    workload_sha256: str,
    max_tokens: int | None,
    temperature: float,
    conc: int | None,
    *,
    input_tokens: int | None = None,
    output_tokens: int | None = None,
    request_rate: float | None = None,
) -> str:
    """What was asked of the engine, independent of hardware, engine and model.

    A length workload adds both of its lengths, an open-loop level its request rate (its
    concurrency is null); other workloads hash exactly what they always did, so their keys
    never change.
    """
    fields: dict[str, Any] = {
        "workload_id": workload_id,
        "workload_sha256": workload_sha256,
        "max_tokens": max_tokens,
        "temperature": temperature,
        "concurrency": conc,
    }
    if input_tokens is not None or output_tokens is not None:
        fields["input_tokens"] = input_tokens
        fields["output_tokens"] = output_tokens
    if request_rate is not None:
        fields["request_rate"] = request_rate
    return short_hash(fields)


def signature(workload_key_: str, engine: str, model_digest: str | None, model: str) -> str:
    """workload_key + engine kind + model digest (model name when the digest is unknown)."""
    return short_hash(
        {"workload_key": workload_key_, "engine": engine, "model_digest": model_digest or model}
    )


# More RAM than any host has (GiB): a plausibility finding, and no RAM bucket.
MAX_PLAUSIBLE_RAM_GB = 65_536.0


def ram_bucket(ram_gb: float | None) -> str:
    """A power-of-two RAM bucket; the 8% allowance maps a '16 GB' machine's 15.5 GiB to 16–32.
    An implausible size (beyond ``MAX_PLAUSIBLE_RAM_GB``, which rules flag) has none."""
    if ram_gb is None or not 0 < ram_gb <= MAX_PLAUSIBLE_RAM_GB:
        return "RAM?"
    nominal = ram_gb * 1.08
    low = 2 ** math.floor(math.log2(nominal)) if nominal >= 1 else 0
    return f"{low}-{max(low * 2, 1)}GB"


def hardware_class(hardware: Mapping[str, Any]) -> str:
    """``<count>x <accelerator> <memory>GB`` per GPU model, else ``cpu <arch> <threads>t <RAM>``."""
    gpus = hardware.get("gpus") or []
    if gpus:
        counts: Counter[tuple[str, int]] = Counter()
        for g in gpus:
            mem = g.get("memory_total_gb")
            size = round(mem) if isinstance(mem, int | float) and math.isfinite(mem) else 0
            counts[(g["name"], size)] += 1
        parts = [
            f"{n}x {name}" + (f" {mem}GB" if mem else "")
            for (name, mem), n in sorted(counts.items())
        ]
        return " + ".join(parts)
    hw = hardware["system_hardware"]
    threads = hw.get("cpu_threads")
    arch = hw.get("architecture")
    if arch is None:
        # An imported run's file hardware: the CPU name is all that is known.
        return f"cpu {hw.get('cpu_model') or '?'} (imported, RAM?)"
    return f"cpu {arch} {threads or '?'}t {ram_bucket(hw.get('ram_total_gb'))}"


def system_label(host_label: str, system_id: str) -> str:
    """A short stable label that tells systems apart: the host label plus the system id's
    first 8 characters (once, when the label does not already carry them)."""
    short = system_id[:8]
    return host_label if short in host_label else f"{host_label}·{short}"


def gpu_spec(gpu: Mapping[str, Any]) -> dict[str, Any]:
    """The spec columns of a GPU slot, with ``gpu_id`` = 16 hex of sha256 over the spec."""
    spec = {k: gpu.get(k) for k in GPU_SPEC_FIELDS}
    return {"gpu_id": short_hash(spec), **spec}


def completeness(md: Mapping[str, Any]) -> str:
    """complete, meta-only, empty or partial."""
    if md.get("meta_only"):
        return "meta-only"
    if md["status"] == "empty":
        return "empty"
    return "complete" if md["status"] == "complete" else "partial"


def workloads(md: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Every prompt, length workload and task of the run's config by id: kind, sha256 (of the
    prompt, the frozen text length prompts are cut from, or the task template), max_tokens,
    and a length workload's input and output tokens."""
    out: dict[str, dict[str, Any]] = {}
    for p in md["config"]["prompts"]:
        out[p["id"]] = {"kind": "prompt", "sha256": p["sha256"], "max_tokens": p["max_tokens"]}
    for ln in md["config"].get("lengths") or ():
        out[ln["id"]] = {
            "kind": "length",
            "sha256": ln["text_sha256"],
            "max_tokens": ln["output_tokens"],
            "input_tokens": ln["input_tokens"],
            "output_tokens": ln["output_tokens"],
        }
    for t in md["config"]["tasks"]:
        out[t["id"]] = {
            "kind": "task",
            "sha256": t["template_sha256"],
            "max_tokens": t["max_tokens"],
        }
    for w in md["config"].get("imported_workloads") or []:
        rate = w["shape"].get("request_rate")
        out[w["id"]] = {
            "kind": "imported",
            "sha256": w["sha256"],
            "max_tokens": w["max_tokens"],
            "definitions": w["definitions"],
            # The arrival rate the tool was asked for; already in sha256 (so in the key).
            "request_rate": float(rate) if rate is not None else None,
        }
    return out


# Mapped summary metrics (metadata.aggregates) → the cells columns they fill: statistic of the
# aggregate → column. Only metrics whose definitions agree with the archive's are mapped.
AGGREGATE_COLUMNS: dict[str, dict[str, str]] = {
    "first_delta_ms": {
        "p50": "ttft_p50_ms",
        "p95": "ttft_p95_ms",
        "mean": "ttft_mean_ms",
        "std": "ttft_std_ms",
        "min": "ttft_min_ms",
        "max": "ttft_max_ms",
    },
    "total_duration_ms": {
        "p50": "total_p50_ms",
        "p95": "total_p95_ms",
        "mean": "total_mean_ms",
        "std": "total_std_ms",
        "min": "total_min_ms",
        "max": "total_max_ms",
    },
    "engine_prefill_tokens_per_sec": {"mean": "engine_prefill_tokens_per_sec"},
    "engine_decode_tokens_per_sec": {"mean": "engine_decode_tokens_per_sec"},
}


def aggregate_cells(
    md: Mapping[str, Any], groups: Sequence[tuple[str, str, int]]
) -> dict[tuple[str, str, int], dict[str, Any]]:
    """The statistics columns of each (cell, workload, concurrency) that only a tool's summary
    describes: ``n`` as the tool states it and the columns of its mapped metrics, copied as
    given; every other statistic null (never recomputed, never presented as per-call data)."""
    out: dict[tuple[str, str, int], dict[str, Any]] = {}
    for key in groups:
        out[key] = {name: None for name, _ in tables.STATISTICS}
    for stat in md.get("aggregates") or []:
        key = (stat["cell_id"], stat["workload_id"], stat["concurrency"])
        row = out.get(key)
        if row is None:
            continue
        if row["n"] is None and stat["n"] is not None:
            row["n"] = stat["n"]
        if not stat["mapped"]:
            continue
        for statistic, column in AGGREGATE_COLUMNS.get(stat["metric"], {}).items():
            row[column] = stat[statistic]
    return out


# --------------------------------------------------------------------------- statistics


@cache
def _median_ranks(n: int) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Ranks (into the sorted sample) of the two middle values of every bootstrap resample.

    A resample draws ``n`` ranks uniformly with replacement; its median is the mean of the
    sorted sample at the two returned ranks. The draws depend only on ``n`` and the seed, so
    they are computed once per sample size.
    """
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    draws = np.sort(rng.integers(0, n, size=(BOOTSTRAP_RESAMPLES, n)), axis=1)
    low, high = draws[:, (n - 1) // 2].copy(), draws[:, n // 2].copy()
    low.flags.writeable = False
    high.flags.writeable = False
    return low, high


def median_ci(ordered: Sequence[float]) -> tuple[float | None, float | None]:
    """95% percentile-bootstrap interval of the median of sorted values (fixed seed)."""
    n = len(ordered)
    if n == 0:
        return None, None
    if n == 1:
        return stats.finite(ordered[0]), stats.finite(ordered[0])
    data = np.asarray(ordered, dtype=float)
    low_rank, high_rank = _median_ranks(n)
    medians = np.sort((data[low_rank] + data[high_rank]) / 2.0)
    alpha = (1.0 - CI_LEVEL) / 2.0
    # The same percentile as everywhere else, over the sorted resampled medians.
    low = stats.percentile_sorted(medians, 100 * alpha)  # type: ignore[arg-type]
    high = stats.percentile_sorted(medians, 100 * (1 - alpha))  # type: ignore[arg-type]
    return (None if low is None else float(low), None if high is None else float(high))


def _numbers(values: Sequence[Any]) -> list[float]:
    return [float(v) for v in values if v is not None]


def batch_statistics(
    columns: Mapping[str, Sequence[Any]],
    started_us: Sequence[int | None],
    rows: Sequence[int],
    slo: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The statistics columns (``tables.STATISTICS``) of one batch: the call records at
    ``rows`` of the call columns (call-record field → values) and their starts in µs; goodput
    counts against ``slo`` (the run's ``config.slo``; none: goodput is null)."""
    error = columns["error"]
    ok = [i for i in rows if error[i] is None]
    n = len(rows)

    def values(name: str) -> list[float]:
        col = columns[name]
        return [float(v) for i in ok if (v := col[i]) is not None]

    row: dict[str, Any] = {
        "n": n,
        "errors": n - len(ok),
        "success_rate": len(ok) / n if n else None,
    }
    ttft = sorted(values("first_delta_ms"))
    row.update(stats.describe(ttft, "ttft", "_ms"))
    row["ttft_p50_ci_low_ms"], row["ttft_p50_ci_high_ms"] = median_ci(ttft)
    row.update(stats.describe(values("total_duration_ms"), "total", "_ms"))
    tps = values("tokens_per_sec")
    row["tokens_per_sec_mean"] = stats.mean(tps)
    row["tokens_per_sec_p50"] = stats.percentile(tps, 50)
    row["completion_tokens_mean"] = stats.mean(values("completion_tokens"))
    row["itl_p50_ms"] = stats.percentile(values("itl_p50_ms"), 50)
    total, tokens = columns["total_duration_ms"], columns["completion_tokens"]
    row["aggregate_tokens_per_sec"] = stats.aggregate_tokens_per_sec(
        (start, total[i], tokens[i] or 0)
        for i in ok
        if (start := started_us[i]) is not None and total[i] is not None
    )
    for metric in ("rouge1", "rouge2", "rougeL"):
        scores = values(metric)
        row[f"{metric}_mean"] = stats.mean(scores)
        row[f"{metric}_std"] = stats.stddev(scores)
    row.update(_level_statistics(columns, started_us, rows, ok, slo))
    row["prompt_tokens_mean"] = stats.mean(values("prompt_tokens"))
    row["prefill_tokens_per_sec_p50"] = stats.percentile(values("prefill_tokens_per_sec"), 50)
    row["server_prefill_tokens_per_sec_p50"] = stats.percentile(
        values("server_prefill_tokens_per_sec"), 50
    )
    flags = columns.get("length_off_target")
    marked = [flags[i] for i in rows] if flags is not None else []
    row["off_target_calls"] = (
        sum(1 for f in marked if f) if any(f is not None for f in marked) else None
    )
    return row


def _level_statistics(
    columns: Mapping[str, Sequence[Any]],
    started_us: Sequence[int | None],
    rows: Sequence[int],
    ok: Sequence[int],
    slo: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """Tail latencies, throughput and goodput of a batch (the methodology page): requests and
    good requests per second over the span of ``aggregate_tokens_per_sec``, tokens/s per user
    = 1000 / TPOT p50, and how far behind its schedule the client sent (start lag p99)."""

    def values(name: str, among: Sequence[int]) -> list[float]:
        col = columns.get(name)
        return [] if col is None else sorted(float(v) for i in among if (v := col[i]) is not None)

    ttft, tpot = values("first_delta_ms", ok), values("tpot_ms", ok)
    tpot_p50 = stats.percentile_sorted(tpot, 50)
    total = columns["total_duration_ms"]
    seconds = stats.span_seconds(
        (start, total[i])
        for i in ok
        if (start := started_us[i]) is not None and total[i] is not None
    )
    good: int | None = None
    if slo:
        ttft_col, tpot_col = columns["first_delta_ms"], columns["tpot_ms"]
        tokens = columns["completion_tokens"]
        good = sum(
            1
            for i in ok
            if stats.meets_slo(
                ttft_col[i], tpot_col[i], tokens[i], slo.get("ttft_ms"), slo.get("tpot_ms")
            )
        )
    return {
        "ttft_p99_ms": stats.percentile_sorted(ttft, 99),
        "tpot_p50_ms": tpot_p50,
        "tpot_p95_ms": stats.percentile_sorted(tpot, 95),
        "tpot_p99_ms": stats.percentile_sorted(tpot, 99),
        "itl_p95_ms": stats.percentile_sorted(values("itl_p95_ms", ok), 95),
        "requests_per_sec": stats.per_second(len(ok), seconds),
        "goodput_requests_per_sec": None if good is None else stats.per_second(good, seconds),
        "slo_attainment": None if good is None or not rows else good / len(rows),
        "tokens_per_sec_per_user": stats.finite(1000 / tpot_p50) if tpot_p50 else None,
        "start_lag_p99_ms": stats.percentile_sorted(values("start_lag_ms", rows), 99),
    }


def _order(value: Any) -> tuple[int, Any]:
    return (0, "") if value is None else (1, value) if isinstance(value, int) else (2, str(value))


# --------------------------------------------------------------------------- tables


@dataclass(frozen=True)
class CallColumns:
    """The call records of a run's ledger as columns (call-record field → values), with the
    line of each record and its start in microseconds (None where the text named no instant)."""

    columns: dict[str, list[Any]]
    lines: list[int]
    started_us: list[int | None]

    def __len__(self) -> int:
        return len(self.lines)


def derive_tables(
    md: Mapping[str, Any],
    calls: CallColumns,
    samples: pa.Table,
    content_sha256: str,
    started_us: int,
    finished_us: int | None,
    bench_started_us: int | None = None,
) -> dict[str, pa.Table]:
    """Every per-run table (``tables.PER_RUN``) of one valid run.

    ``bench_started_us`` is when the run's microbenchmarks started (None without ``--bench``).
    """
    run_id = md["run_id"]
    hw = md["hardware"]
    sid = hw["system_hardware"]["system_id"]
    label = system_label(md["host_label"], sid)
    hclass = hardware_class(hw)
    cells = {c["cell_id"]: c for c in md["cells"]}
    wls = workloads(md)
    temperature = md["config"]["temperature"]
    comparable = bool(md["comparable"])
    source_tool = (md.get("source") or {}).get("tool")
    slo = md["config"].get("slo") or {}

    keys: dict[tuple[str, str, int | None, float | None], tuple[str, str, int | None]] = {}

    def key_of(
        cell_id: str, wid: str, conc: int | None, rate: float | None
    ) -> tuple[str, str, int | None]:
        found = keys.get((cell_id, wid, conc, rate))
        if found is None:
            wl = wls.get(wid, {"sha256": "", "max_tokens": None})
            cell = cells.get(cell_id, {})
            wkey = workload_key(
                wid,
                wl["sha256"],
                wl["max_tokens"],
                temperature,
                conc,
                input_tokens=wl.get("input_tokens"),
                output_tokens=wl.get("output_tokens"),
                request_rate=rate,
            )
            sig = signature(
                wkey, cell.get("engine", ""), cell.get("model_digest"), cell.get("model", "")
            )
            found = keys[(cell_id, wid, conc, rate)] = (wkey, sig, wl["max_tokens"])
        return found

    cols = calls.columns
    wids = [p or t or "" for p, t in zip(cols["prompt_id"], cols["task_id"], strict=True)]
    levels = list(zip(cols["concurrency"], cols["request_rate"], strict=True))
    derived = [
        key_of(c, w, conc, rate)
        for c, w, (conc, rate) in zip(cols["cell_id"], wids, levels, strict=True)
    ]
    n = len(calls)
    call_arrays: dict[str, Any] = {"run_id": [run_id] * n, "system_id": [sid] * n}
    call_arrays.update(cols)
    call_arrays["started_at"] = calls.started_us
    call_arrays["workload_id"] = wids
    call_arrays["workload_key"] = [d[0] for d in derived]
    call_arrays["signature"] = [d[1] for d in derived]
    call_arrays["max_tokens"] = [d[2] for d in derived]
    calls_table = _from_columns("calls", call_arrays)

    # Batch statistics, one row per (cell, workload, concurrency, request rate, phase).
    groups: dict[tuple[Any, ...], list[int]] = {}
    batch_keys = zip(
        cols["cell_id"], wids, cols["concurrency"], cols["request_rate"], cols["phase"], strict=True
    )
    for i, key in enumerate(batch_keys):
        groups.setdefault(key, []).append(i)
    energy = {
        c["cell_id"]: c["joules_per_output_token"] for c in md["run_hardware_metrics"]["cells"]
    }
    no_energy = next(
        (
            u["reason"]
            for u in md["run_hardware_metrics"]["unavailable"]
            if u["field"] == "energy_j"
        ),
        "energy was not measured on this host",
    )
    prices = md.get("cost_inputs")
    cell_rows = []

    def identity(
        cell_id: str, wid: str, conc: Any, rate: Any, phase: str, kind: str = "prompt"
    ) -> dict[str, Any]:
        """What names a cells row: run, system, cell, workload (``kind`` when the run does
        not describe it) and its level."""
        cell = cells.get(cell_id, {})
        wl = wls.get(wid, {"kind": kind, "sha256": "", "max_tokens": None})
        wkey, sig, max_tokens = key_of(cell_id, wid, conc, rate)
        return {
            "run_id": run_id,
            "system_id": sid,
            "system_label": label,
            "hardware_class": hclass,
            "cell_id": cell_id,
            "engine": cell.get("engine"),
            "engine_version": cell.get("engine_version"),
            "model": cell.get("model"),
            "model_digest": cell.get("model_digest"),
            "quantization": cell.get("quantization"),
            "access_level": cell.get("access_level"),
            "workload_id": wid,
            "workload_kind": wl["kind"],
            "workload_sha256": wl["sha256"],
            "max_tokens": max_tokens,
            "temperature": temperature,
            "concurrency": conc,
            # An imported load level's rate is its workload's, not the calls' (they have none).
            "request_rate": rate if rate is not None else wl.get("request_rate"),
            "workload_key": wkey,
            "signature": sig,
            "phase": phase,
            "comparable": comparable,
            "started_at": started_us,
            "source_tool": source_tool,
            "definitions": wl.get("definitions", "bakeoff"),
        }

    for key in sorted(groups, key=lambda k: tuple(_order(v) for v in k)):
        cell_id, wid, conc, rate, phase = key
        wl = wls.get(wid, {})
        stats_row = batch_statistics(cols, calls.started_us, groups[key], slo)
        cell_rows.append(
            {
                **identity(cell_id, wid, conc, rate, phase),
                "input_tokens": wl.get("input_tokens"),
                "output_tokens": wl.get("output_tokens"),
                "slo_ttft_ms": slo.get("ttft_ms"),
                "slo_tpot_ms": slo.get("tpot_ms"),
                **stats_row,
                **_meaning(
                    cells.get(cell_id, {}), hw, energy.get(cell_id), no_energy, prices, stats_row
                ),
                "statistics_source": "calls",
            }
        )
    # Imported summaries: one row per (cell, workload, concurrency) no call record describes.
    # An imported workload's rate is part of its shape (and so of its key), never a call level.
    measured = {(c, w, k) for c, w, k, _rate, _phase in groups}
    summary_keys = sorted(
        {
            (a["cell_id"], a["workload_id"], a["concurrency"])
            for a in md.get("aggregates") or []
            if (a["cell_id"], a["workload_id"], a["concurrency"]) not in measured
        }
    )
    summaries = aggregate_cells(md, summary_keys)
    for cell_id, wid, conc in summary_keys:
        cell_rows.append(
            {
                **identity(cell_id, wid, conc, None, "warm", kind="imported"),
                **summaries[(cell_id, wid, conc)],
                "joules_per_output_token": None,
                "statistics_source": "summary",
            }
        )
    aggregate_rows = []
    for a in md.get("aggregates") or []:
        wkey, sig, _ = key_of(a["cell_id"], a["workload_id"], a["concurrency"], None)
        aggregate_rows.append(
            {
                "run_id": run_id,
                "system_id": sid,
                "workload_key": wkey,
                "signature": sig,
                "source_tool": source_tool,
                **{k: a[k] for k in ("cell_id", "workload_id", "concurrency", "metric")},
                **{k: a[k] for k in ("source_field", "mapped", "unit", "n", "mean", "std")},
                **{k: a[k] for k in ("min", "max", "p50", "p90", "p95", "p99", "samples")},
            }
        )

    ok = [e is None for e in cols["error"]]
    per_cell_total: Counter[str] = Counter(cols["cell_id"])
    per_cell_ok: Counter[str] = Counter(
        c for c, good in zip(cols["cell_id"], ok, strict=True) if good
    )
    summary = md["summary"]
    meta_only = bool(md.get("meta_only"))
    calls_total = summary["calls_total"] if meta_only else n
    calls_ok = summary["calls_ok"] if meta_only else sum(ok)
    run_cells = [
        {
            "run_id": run_id,
            "cell_id": c["cell_id"],
            "engine": c["engine"],
            "api": c["api"],
            "engine_version": c["engine_version"],
            "engine_build": c.get("engine_build"),
            "access_level": c["access_level"],
            "endpoint_kind": c["endpoint_kind"],
            "model": c["model"],
            "model_digest": c["model_digest"],
            "quantization": c["quantization"],
            "available": c["available"],
            "skip_reason": c["skip_reason"],
            "calls_total": per_cell_total.get(c["cell_id"], 0),
            "calls_ok": per_cell_ok.get(c["cell_id"], 0),
        }
        for c in md["cells"]
    ]
    gpus = [gpu_spec(g) for g in hw["gpus"]]
    sh = hw["system_hardware"]
    container = sh.get("container") or {}
    rhm = md["run_hardware_metrics"]
    return {
        "runs": tables.from_rows(
            "runs",
            [
                {
                    "run_id": run_id,
                    "run_uuid": md["run_uuid"],
                    "started_at": started_us,
                    "finished_at": finished_us,
                    "status": md["status"],
                    "completeness": completeness(md),
                    "mode": md["config"]["mode"],
                    "comparable": comparable,
                    "comparable_reason": md["comparable_reason"],
                    "system_id": sid,
                    "system_label": label,
                    "hardware_class": hclass,
                    "host_label": md["host_label"],
                    "publisher_id": md["publisher_id"],
                    "harness_version": md["harness"]["version"],
                    "git_sha": md["harness"]["git_sha"],
                    "synthetic": bool(md["synthetic"]),
                    "license": md["license"],
                    "calls_total": calls_total,
                    "calls_ok": calls_ok,
                    "cells_planned": summary["cells_planned"],
                    "cells_skipped": summary["cells_skipped"],
                    "load_avg_start": md["environment"]["load_avg_start"],
                    "content_sha256": content_sha256,
                    "source_tool": source_tool,
                }
            ],
        ),
        "calls": calls_table,
        "cells": tables.from_rows("cells", cell_rows),
        "run_cells": tables.from_rows("run_cells", run_cells),
        "system_software": tables.from_rows(
            "system_software", [{"run_id": run_id, "system_id": sid, **hw["system_software"]}]
        ),
        "system_gpu_link": tables.from_rows(
            "system_gpu_link",
            [
                {"run_id": run_id, "system_id": sid, "slot": g["slot"], "gpu_id": spec["gpu_id"]}
                for g, spec in zip(hw["gpus"], gpus, strict=True)
            ],
        ),
        "run_hardware_metrics": tables.from_rows(
            "run_hardware_metrics",
            [
                {
                    "run_id": run_id,
                    "system_id": sid,
                    **{name: rhm.get(name) for name, _ in tables.metrics_fields()},
                }
            ],
        ),
        "samples": samples,
        "system_snapshots": tables.from_rows(
            "system_snapshots",
            [
                {
                    "run_id": run_id,
                    "started_at": started_us,
                    "host_label": md["host_label"],
                    **{k: sh.get(k) for k in ("system_id", "publisher_id", "cpu_model")},
                    **{k: sh.get(k) for k in ("cpu_cores", "cpu_threads", "architecture")},
                    **{k: sh.get(k) for k in ("ram_total_gb", "board_model")},
                    "in_container": container.get("in_container"),
                    "container_memory_limit_gb": container.get("memory_limit_gb"),
                    "container_cpu_quota": container.get("cpu_quota"),
                    "usable_cpus": container.get("usable_cpus"),
                    "gpu_count": len(gpus),
                    "gpu_summary": ", ".join(g["name"] for g in hw["gpus"]) or None,
                    "hardware_class": hclass,
                    "gpu_ids": ",".join(sorted(g["gpu_id"] for g in gpus)),
                    **bench_headlines(hw.get("benchmarks")),
                }
            ],
        ),
        "benchmarks": tables.from_rows(
            "benchmarks",
            [
                {**r, "run_id": run_id, "system_id": sid, "started_at": bench_started_us}
                for r in (hw.get("benchmarks") or {}).get("results", [])
            ],
        ),
        "run_gpus": tables.from_rows(
            "run_gpus",
            [
                {"run_id": run_id, "slot": g["slot"], **spec}
                for g, spec in zip(hw["gpus"], gpus, strict=True)
            ],
        ),
        "aggregates": tables.from_rows("aggregates", aggregate_rows),
        "run_workloads": tables.from_rows(
            "run_workloads",
            [
                {
                    "run_id": run_id,
                    "workload_id": wid,
                    "kind": wl["kind"],
                    "sha256": wl["sha256"],
                    "max_tokens": wl["max_tokens"],
                }
                for wid, wl in sorted(wls.items())
            ],
        ),
    }


def bench_headlines(bench: Mapping[str, Any] | None) -> dict[str, float | None]:
    """The headline numbers of a run's microbenchmarks (``tables.BENCH_HEADLINES``)."""
    if not bench:
        return {name: None for name, _ in tables.BENCH_HEADLINES}

    def best_matmul(precision: str) -> float | None:
        rates = [
            r["max"]
            for r in bench["results"]
            if r["target"] == "host"
            and r["kernel"] == "matmul"
            and r["precision"] == precision
            and r["max"] is not None
        ]
        return max(rates) if rates else None

    return {
        "memory_bandwidth_gbs": bench.get("memory_bandwidth_gbs"),
        "memory_bandwidth_one_core_gbs": bench.get("memory_bandwidth_one_core_gbs"),
        "matmul_fp32_gflops": best_matmul("fp32"),
        "matmul_fp64_gflops": best_matmul("fp64"),
    }


def _meaning(
    cell: Mapping[str, Any],
    hardware: Mapping[str, Any],
    joules: float | None,
    no_energy: str,
    prices: Mapping[str, Any] | None,
    row: Mapping[str, Any],
) -> dict[str, Any]:
    """Energy, roofline and cost columns of one batch (``publisher.frontend.efficiency``)."""
    ratio, roofline_reason = efficiency.bandwidth_efficiency(
        row["tokens_per_sec_mean"], cell, hardware
    )
    cost, cost_reason = efficiency.cost_per_million_tokens(
        row["aggregate_tokens_per_sec"], joules, prices
    )
    bench = hardware.get("benchmarks") or {}
    return {
        "joules_per_output_token": joules,
        "tokens_per_joule": efficiency.tokens_per_joule(joules),
        "energy_reason": None if joules is not None else no_energy,
        "model_size_bytes": cell.get("model_size_bytes"),
        "model_parameters": cell.get("model_parameters"),
        "model_expert_count": cell.get("model_expert_count"),
        "memory_bandwidth_gbs": bench.get("memory_bandwidth_gbs"),
        "bandwidth_efficiency": ratio,
        "roofline_reason": roofline_reason,
        "cost_per_million_tokens": cost,
        "cost_currency": prices.get("currency") if prices and cost is not None else None,
        "cost_reason": cost_reason,
    }


def _from_columns(table: str, values: Mapping[str, Sequence[Any]]) -> pa.Table:
    # Timestamp columns take integer microseconds as they are.
    target = tables.schema(table)
    arrays = [pa.array(values[field.name], field.type) for field in target]
    return pa.Table.from_arrays(arrays, schema=target)


# --------------------------------------------------------------------------- samples

_GPU_AGGREGATES = (
    ("gpu_power_w", "power_w", "sum"),
    ("gpu_temperature_c", "temperature_c", "max"),
    ("gpu_util_percent", "util_percent", "mean"),
    ("gpu_memory_used_gb", "memory_used_gb", "sum"),
    ("gpu_energy_j", "energy_j", "sum"),
)


def samples_table(
    run_id: str, columns: Mapping[str, Sequence[Any]], ts_us: Sequence[Any]
) -> pa.Table:
    """The ``samples`` table of a run from the columns of its decoded ``samples.jsonl`` lines
    (sample field → values, file order; ``gpus`` holds each line's list of GPU readings).

    Scalar fields are copied (a field added to the schema becomes a column by itself); the
    per-GPU list becomes per-sample aggregates: summed power, memory and energy, the hottest
    temperature and the mean utilisation (null when no GPU reported the value).
    """
    n = len(ts_us)
    values: dict[str, Sequence[Any]] = {
        "run_id": [run_id] * n,
        "seq": list(range(n)),
        "t": columns["t"],
        "ts": ts_us,
    }
    for name, _ in tables.sample_fields():
        values[name] = columns[name]
    gpus = columns["gpus"]
    values["gpu_count"] = [len(g) for g in gpus]
    for column, key, how in _GPU_AGGREGATES:
        if not any(gpus):
            values[column] = [None] * n
            continue
        out: list[float | None] = []
        for readings in gpus:
            got = [float(v) for g in readings if (v := getattr(g, key, None)) is not None]
            if not got:
                out.append(None)
            elif how == "sum":
                out.append(stats.finite(math.fsum(got)))
            elif how == "max":
                out.append(max(got))
            else:
                out.append(stats.mean(got))
        values[column] = out
    return _from_columns("samples", values)
