"""The rules: structure, consistency and plausibility, each written once over decoded data.

Schema rules live in the decoder (``decode``), privacy rules in ``privacy``; everything else a
run must satisfy is here, run by ``compile`` on the decoded metadata and the call columns.
A rule never raises: the decoder guarantees types, and numbers are checked as numbers (a
non-finite intermediate value is a finding or a skipped comparison, never an exception).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from publisher.frontend.derive import MAX_PLAUSIBLE_RAM_GB, CallColumns
from publisher.frontend.finding import Finding, finding

REQUIRED = ("metadata.json", "run.log", "run.md")
OPTIONAL = ("run.jsonl", "samples.jsonl", "datasets")
MAX_FINDINGS_PER_CODE = 20  # per file; the rest is summarised in one finding

# Plausibility bounds: beyond them a number is suspicious, never refused.
MAX_PLAUSIBLE_TOKENS_PER_SEC = 5_000.0
MAX_PLAUSIBLE_DURATION_MS = 3_600_000.0
MAX_PLAUSIBLE_GPU_MEMORY_GB = 4_096.0
TPS_TOLERANCE = (0.01, 1e-3)  # |recorded − recomputed| ≤ 0.01 + 0.001 · recomputed
OFF_TARGET = 0.01  # a length more than 1 % off its target is marked (the methodology page)


class Findings:
    """Accumulates findings for one run, capping repeats of one code in one file."""

    def __init__(self, run_id: str, for_publication: bool = False) -> None:
        self.run_id = run_id
        self.for_publication = for_publication
        self._items: list[Finding] = []
        self._counts: Counter[tuple[str, str]] = Counter()

    def add(
        self,
        code: str,
        file: str,
        message: str,
        *,
        line: int | None = None,
        pointer: str | None = None,
    ) -> None:
        """Record one finding (dropped beyond ``MAX_FINDINGS_PER_CODE`` per code and file)."""
        key = (code, file)
        self._counts[key] += 1
        if self._counts[key] <= MAX_FINDINGS_PER_CODE:
            self._items.append(
                finding(
                    code,
                    self.run_id,
                    file,
                    message,
                    line=line,
                    pointer=pointer,
                    for_publication=self.for_publication,
                )
            )

    def extend(self, items: Sequence[Finding]) -> None:
        """Add findings made elsewhere (ROUGE)."""
        self._items.extend(items)

    def has_errors(self) -> bool:
        """True when an error has been recorded."""
        return any(f.severity == "error" for f in self._items)

    def finish(self) -> tuple[Finding, ...]:
        """Every finding sorted by file, line and code, then a summary per capped code."""
        out = sorted(
            self._items, key=lambda f: (f.file, f.line or 0, f.code, f.pointer or "", f.message)
        )
        for (code, file), n in sorted(self._counts.items()):
            if n > MAX_FINDINGS_PER_CODE:
                extra = n - MAX_FINDINGS_PER_CODE
                out.append(
                    finding(
                        code,
                        self.run_id,
                        file,
                        f"… and {extra} more findings like these",
                        for_publication=self.for_publication,
                    )
                )
        return tuple(out)


# --------------------------------------------------------------------------- structure


def check_structure(
    names: Mapping[str, tuple[str, bool, bool, int]], meta_only: bool | None, out: Findings
) -> None:
    """Files of the run directory: name → (kind, too_large, unreadable, size)."""
    for name, (kind, too_large, unreadable, size) in sorted(names.items()):
        top = name.split("/", 1)[0]
        if kind == "symlink":
            out.add("structure.symlink", name, "symbolic links are not allowed")
            continue
        if kind == "special":
            out.add("structure.special_file", name, "a FIFO, socket or device, not a file")
            continue
        if too_large:
            out.add("structure.too_large", name, f"file is {size} bytes, over the limit")
        elif unreadable:
            out.add("structure.unreadable", name, "file or folder could not be read")
        if name == "datasets" and kind == "dir":
            continue
        if top == "datasets" and "/" in name:
            rest = name.split("/", 1)[1]
            if "/" not in rest and rest.endswith(".jsonl") and kind == "file":
                continue
        elif name in REQUIRED + OPTIONAL and kind == "file":
            continue
        out.add("structure.unexpected_file", name, "not part of a run directory")
    for name in REQUIRED:
        if name not in names:
            out.add("structure.missing_file", name, f"{name} is missing")
    if meta_only is False and "run.jsonl" not in names:
        out.add("structure.missing_file", "run.jsonl", "run.jsonl is missing")
    if meta_only and "run.jsonl" in names:
        out.add("structure.ledger_in_meta_only", "run.jsonl", "meta_only run with a ledger")


# --------------------------------------------------------------------------- metadata


def check_metadata(
    md: Mapping[str, Any],
    dir_name: str,
    times: Mapping[str, int | None],
    allow_synthetic: bool,
    out: Findings,
) -> None:
    """Rules on metadata.json alone; ``times`` are its timestamps in microseconds."""
    f = "metadata.json"
    if md["run_id"] != dir_name:
        out.add("structure.dir_name", ".", f"directory {dir_name!r} ≠ run_id {md['run_id']!r}")
    if md["synthetic"] and not allow_synthetic:
        out.add(
            "consistency.synthetic", f, "metadata marks this run synthetic", pointer="/synthetic"
        )
    created, updated = times.get("created_at"), times.get("updated_at")
    started, finished = times.get("started_at"), times.get("finished_at")
    if created is not None and updated is not None and updated < created:
        out.add("consistency.timestamps", f, "updated_at < created_at", pointer="/updated_at")
    if started is not None and finished is not None and finished < started:
        out.add("consistency.timestamps", f, "finished_at < started_at", pointer="/finished_at")
    hw = md["hardware"]
    rhm_sid = md["run_hardware_metrics"].get("system_id")
    if rhm_sid is not None and rhm_sid != hw["system_hardware"]["system_id"]:
        out.add(
            "consistency.system_id",
            f,
            "system ids differ",
            pointer="/run_hardware_metrics/system_id",
        )
    config = md["config"]
    lists: tuple[tuple[str, Sequence[Any]], ...] = (
        ("/cells", [c["cell_id"] for c in md["cells"]]),
        ("/config/prompts", [p["id"] for p in config["prompts"]]),
        ("/config/tasks", [t["id"] for t in config["tasks"]]),
        ("/config/concurrency", config["concurrency"]),
        ("/config/lengths", [ln["id"] for ln in config.get("lengths") or ()]),
        ("/config/rates", config.get("rates") or []),
    )
    for pointer, values in lists:
        for value, count in sorted(Counter(values).items(), key=lambda kv: str(kv[0])):
            if count > 1:
                out.add(
                    "consistency.duplicate",
                    f,
                    f"{value!r} is listed {count} times",
                    pointer=pointer,
                )
    if md["comparable"]:
        mode = config["mode"]
        why = None
        if mode != "full":
            why = f"a {mode.replace('_', '-')} run"
        elif md["status"] == "empty":
            why = "a run with status empty"
        if why is not None:
            out.add(
                "consistency.comparable", f, f"{why} claims comparable: true", pointer="/comparable"
            )
    elif not md["comparable_reason"]:
        out.add(
            "consistency.comparable",
            f,
            "comparable is false without a comparable_reason",
            pointer="/comparable_reason",
        )
    _check_hardware(md, out)


def _check_hardware(md: Mapping[str, Any], out: Findings) -> None:
    f = "metadata.json"
    hw = md["hardware"]["system_hardware"]
    ram = hw.get("ram_total_gb")
    if ram is not None and ram > MAX_PLAUSIBLE_RAM_GB:
        out.add(
            "plausibility.hardware",
            f,
            f"{ram} GiB of RAM",
            pointer="/hardware/system_hardware/ram_total_gb",
        )
    cores, threads = hw.get("cpu_cores"), hw.get("cpu_threads")
    if cores is not None and threads is not None and threads < cores:
        out.add(
            "plausibility.hardware",
            f,
            "fewer CPU threads than cores",
            pointer="/hardware/system_hardware/cpu_threads",
        )
    for i, gpu in enumerate(md["hardware"]["gpus"]):
        mem = gpu.get("memory_total_gb")
        if mem is not None and mem > MAX_PLAUSIBLE_GPU_MEMORY_GB:
            out.add(
                "plausibility.hardware",
                f,
                f"GPU with {mem} GiB",
                pointer=f"/hardware/gpus/{i}/memory_total_gb",
            )


def check_summary(
    md: Mapping[str, Any],
    calls: CallColumns | None,
    skipped: int,
    out: Findings,
) -> None:
    """metadata.summary agrees with what the ledger holds."""
    s = md["summary"]
    checks: list[tuple[str, int, int]] = [("cells_planned", s["cells_planned"], len(md["cells"]))]
    if s["calls_ok"] + s["calls_error"] != s["calls_total"]:
        checks.append(("calls_error", s["calls_error"], s["calls_total"] - s["calls_ok"]))
    if calls is not None:
        cells = calls.columns["cell_id"]
        ok = sum(1 for e in calls.columns["error"] if e is None)
        per_cell = Counter(cells)
        checks += [
            ("calls_total", s["calls_total"], len(calls)),
            ("calls_ok", s["calls_ok"], ok),
            ("cells_skipped", s["cells_skipped"], skipped),
        ]
        for i, cs in enumerate(s["cells"]):
            if cs["calls_total"] != per_cell.get(cs["cell_id"], 0):
                checks.append(
                    (f"cells/{i}/calls_total", cs["calls_total"], per_cell[cs["cell_id"]])
                )
    for key, recorded, actual in checks:
        if recorded != actual:
            out.add(
                "consistency.summary",
                "metadata.json",
                f"summary.{key} is {recorded}, the run has {actual}",
                pointer=f"/summary/{key}",
            )


def check_publishable(md: Mapping[str, Any], calls_total: int, out: Findings) -> None:
    """A run that measured nothing is not an archive entry (an error for publication)."""
    if md.get("meta_only"):
        return
    if calls_total == 0:
        skipped = [c for c in md["cells"] if not c["available"]]
        why = (
            f"every planned cell was skipped ({len(skipped)} of {len(md['cells'])})"
            if skipped and len(skipped) == len(md["cells"])
            else "the ledger holds no call"
        )
        out.add("publication.no_calls", "run.jsonl", f"no call was measured: {why}")


# --------------------------------------------------------------------------- ledger


def check_meta_record(
    line: int, meta: Mapping[str, Any], md: Mapping[str, Any], out: Findings
) -> None:
    """The meta line agrees with metadata.json."""
    expected = {
        "run_id": md["run_id"],
        "harness_version": md["harness"]["version"],
        "git_sha": md["harness"]["git_sha"],
        "started_at": md["started_at"],
        "host_label": md["host_label"],
    }
    for key, value in expected.items():
        if meta.get(key) != value:
            out.add(
                "consistency.meta_mismatch",
                "run.jsonl",
                f"{key} {meta.get(key)!r} ≠ metadata {value!r}",
                line=line,
                pointer=f"/{key}",
            )
    if sorted(meta["cells_planned"]) != sorted(c["cell_id"] for c in md["cells"]):
        out.add(
            "consistency.meta_mismatch",
            "run.jsonl",
            "cells_planned ≠ metadata cells",
            line=line,
            pointer="/cells_planned",
        )


def _floats(values: Sequence[Any]) -> np.ndarray[Any, np.dtype[np.float64]]:
    return np.array([math.nan if v is None else float(v) for v in values], dtype=float)


def check_calls(
    md: Mapping[str, Any],
    calls: CallColumns,
    span: tuple[int | None, int | None],
    out: Findings,
) -> None:
    """Every rule on the call records, over their columns."""
    f = "run.jsonl"
    cols = calls.columns
    lines = calls.lines
    cells = {c["cell_id"]: c["engine"] for c in md["cells"]}
    config = md["config"]
    lengths = {ln["id"]: ln for ln in config.get("lengths") or ()}
    # Prompts and length workloads: what a call's prompt_id may name, with its output bound.
    prompts = {p["id"]: p["max_tokens"] for p in config["prompts"]}
    prompts.update({i: ln["output_tokens"] for i, ln in lengths.items()})
    # An imported run's call records name its imported workloads in prompt_id.
    prompts.update({w["id"]: w["max_tokens"] for w in config.get("imported_workloads") or ()})
    tasks = {t["id"]: (t["max_tokens"], set(t["items"])) for t in config["tasks"]}

    # Identity: planned cell, its engine, a known workload.
    for i, (cell_id, backend, pid, tid, item) in enumerate(
        zip(
            cols["cell_id"],
            cols["backend"],
            cols["prompt_id"],
            cols["task_id"],
            cols["item_id"],
            strict=True,
        )
    ):
        engine = cells.get(cell_id)
        if engine is None:
            out.add(
                "consistency.unplanned_cell",
                f,
                f"cell {cell_id!r} not planned",
                line=lines[i],
                pointer="/cell_id",
            )
        elif engine != backend:
            out.add(
                "consistency.backend",
                f,
                f"backend {backend} ≠ cell engine {engine}",
                line=lines[i],
                pointer="/backend",
            )
        if pid is not None:
            known = pid in prompts
        elif tid is not None:
            task = tasks.get(tid)
            known = task is not None and (item is None or item in task[1])
        else:
            known = False
        if not known:
            out.add(
                "consistency.unknown_workload",
                f,
                f"workload {pid or tid!r} not in config",
                line=lines[i],
            )

    ttft = _floats(cols["first_delta_ms"])
    total = _floats(cols["total_duration_ms"])
    tokens = _floats(cols["completion_tokens"])
    tps = _floats(cols["tokens_per_sec"])
    with np.errstate(all="ignore"):
        after = ttft > total
        for i in np.nonzero(after)[0].tolist():
            out.add(
                "consistency.ttft_after_total",
                f,
                f"first_delta_ms {ttft[i]:.6g} > total {total[i]:.6g}",
                line=lines[i],
                pointer="/first_delta_ms",
            )
        has_tps = ~np.isnan(tps) & ~after
        decode_s = (total - ttft) / 1000.0
        inputs = ~np.isnan(tokens) & ~np.isnan(ttft) & ~np.isnan(total) & (decode_s > 0)
        for i in np.nonzero(has_tps & ~inputs)[0].tolist():
            out.add(
                "consistency.tokens_per_sec",
                f,
                "tokens_per_sec without its inputs",
                line=lines[i],
                pointer="/tokens_per_sec",
            )
        expected = tokens / decode_s
        slack = TPS_TOLERANCE[0] + TPS_TOLERANCE[1] * expected
        wrong = has_tps & inputs & ~(np.abs(tps - expected) <= slack)
        for i in np.nonzero(wrong)[0].tolist():
            out.add(
                "consistency.tokens_per_sec",
                f,
                f"tokens_per_sec {cols['tokens_per_sec'][i]} ≠ recomputed {expected[i]:.6g}",
                line=lines[i],
                pointer="/tokens_per_sec",
            )
        for i in np.nonzero(has_tps & inputs & (tps > MAX_PLAUSIBLE_TOKENS_PER_SEC))[0].tolist():
            out.add(
                "plausibility.rate",
                f,
                f"{tps[i]:.6g} tokens/s in one stream",
                line=lines[i],
                pointer="/tokens_per_sec",
            )
        for key, values in (("first_delta_ms", ttft), ("total_duration_ms", total)):
            for i in np.nonzero(values > MAX_PLAUSIBLE_DURATION_MS)[0].tolist():
                out.add(
                    "plausibility.duration",
                    f,
                    f"{key} = {values[i]:.6g} ms",
                    line=lines[i],
                    pointer=f"/{key}",
                )
        for key in ("tpot_ms", "itl_p50_ms", "itl_p95_ms", "itl_max_ms", "start_lag_ms"):
            values = _floats(cols[key])
            for i in np.nonzero(values < 0)[0].tolist():
                out.add(
                    "plausibility.duration",
                    f,
                    f"negative {key} = {values[i]}",
                    line=lines[i],
                    pointer=f"/{key}",
                )
        limits = _floats(
            [
                prompts.get(p) if p is not None else (tasks[t][0] if t in tasks else None)
                for p, t in zip(cols["prompt_id"], cols["task_id"], strict=True)
            ]
        )
        for i in np.nonzero(tokens > limits * 1.1 + 1)[0].tolist():
            out.add(
                "plausibility.rate",
                f,
                f"{int(tokens[i])} completion tokens > max_tokens {int(limits[i])}",
                line=lines[i],
                pointer="/completion_tokens",
            )

    _check_prefill(cols, lines, out)
    _check_levels(config, cols, lines, out)
    _check_lengths(lengths, cols, lines, out)

    started, finished = span
    for i, ts in enumerate(calls.started_us):
        if ts is not None and (
            (started is not None and ts < started) or (finished is not None and ts > finished)
        ):
            out.add(
                "consistency.timestamps",
                f,
                f"{cols['started_at'][i]} is outside the run's time span",
                line=lines[i],
                pointer="/started_at",
            )
    _check_cold(md, cols, lines, prompts, out)


def _check_prefill(cols: Mapping[str, Sequence[Any]], lines: Sequence[int], out: Findings) -> None:
    """prefill_tokens_per_sec recomputes from its inputs (the methodology page)."""
    f = "run.jsonl"
    rate = _floats(cols["prefill_tokens_per_sec"])
    prompt = _floats(cols["prompt_tokens"])
    cached = np.nan_to_num(_floats(cols["cached_prompt_tokens"]), nan=0.0)
    ttft = _floats(cols["first_delta_ms"])
    with np.errstate(all="ignore"):
        has = ~np.isnan(rate)
        processed = prompt - cached
        inputs = ~np.isnan(prompt) & ~np.isnan(ttft) & (ttft > 0) & (processed > 0)
        for i in np.nonzero(has & ~inputs)[0].tolist():
            out.add(
                "consistency.prefill_rate",
                f,
                "prefill_tokens_per_sec without its inputs",
                line=lines[i],
                pointer="/prefill_tokens_per_sec",
            )
        expected = processed / (ttft / 1000.0)
        slack = TPS_TOLERANCE[0] + TPS_TOLERANCE[1] * expected
        wrong = has & inputs & ~(np.abs(rate - expected) <= slack)
        for i in np.nonzero(wrong)[0].tolist():
            out.add(
                "consistency.prefill_rate",
                f,
                f"prefill_tokens_per_sec {cols['prefill_tokens_per_sec'][i]} ≠ recomputed "
                f"{expected[i]:.6g}",
                line=lines[i],
                pointer="/prefill_tokens_per_sec",
            )


def _check_levels(
    config: Mapping[str, Any],
    cols: Mapping[str, Sequence[Any]],
    lines: Sequence[int],
    out: Findings,
) -> None:
    """A call is on a closed-loop level (concurrency) or an open-loop one (request_rate, from
    config.rates or a sweep), never both or neither."""
    f = "run.jsonl"
    rates = set(config.get("rates") or ())
    sweep = bool(config.get("sweep"))
    for i, (conc, rate) in enumerate(zip(cols["concurrency"], cols["request_rate"], strict=True)):
        if (conc is None) == (rate is None):
            out.add(
                "consistency.level",
                f,
                "a call has a concurrency or a request_rate: "
                + ("both are set" if rate is not None else "neither is set"),
                line=lines[i],
                pointer="/request_rate",
            )
        elif rate is not None and not sweep and rate not in rates:
            out.add(
                "consistency.level",
                f,
                f"request_rate {rate:g} is not in config.rates and config.sweep is false",
                line=lines[i],
                pointer="/request_rate",
            )


def _check_lengths(
    lengths: Mapping[str, Mapping[str, Any]],
    cols: Mapping[str, Sequence[Any]],
    lines: Sequence[int],
    out: Findings,
) -> None:
    """A length workload's calls carry its targets and a length_off_target mark that agrees
    with the 1 % rule; other calls carry neither."""
    f = "run.jsonl"
    for i, (pid, tp, tc, flag) in enumerate(
        zip(
            cols["prompt_id"],
            cols["target_prompt_tokens"],
            cols["target_completion_tokens"],
            cols["length_off_target"],
            strict=True,
        )
    ):
        spec = lengths.get(pid) if pid is not None else None
        if spec is None:
            if tp is not None or tc is not None or flag is not None:
                out.add(
                    "consistency.length_target",
                    f,
                    "length targets on a call of no length workload",
                    line=lines[i],
                    pointer="/target_prompt_tokens",
                )
            continue
        if (tp, tc) != (spec["input_tokens"], spec["output_tokens"]):
            out.add(
                "consistency.length_target",
                f,
                f"targets {tp}/{tc} ≠ {pid} in config.lengths",
                line=lines[i],
                pointer="/target_prompt_tokens",
            )
            continue
        expected = _off(cols["prompt_tokens"][i], tp) or _off(cols["completion_tokens"][i], tc)
        if flag is not expected:
            out.add(
                "consistency.length_target",
                f,
                f"length_off_target is {flag}, the achieved lengths say {expected}",
                line=lines[i],
                pointer="/length_off_target",
            )


def _off(achieved: Any, target: int) -> bool:
    return achieved is None or abs(achieved - target) > OFF_TARGET * target


def _check_cold(
    md: Mapping[str, Any],
    cols: Mapping[str, Sequence[Any]],
    lines: Sequence[int],
    prompts: Mapping[str, Any],
    out: Findings,
) -> None:
    f = "run.jsonl"
    cold_planned = md["config"]["cold"]
    cold: Counter[tuple[Any, ...]] = Counter()
    batches: set[tuple[Any, ...]] = set()
    for i, (cell_id, pid, tid, item, conc, rate, phase) in enumerate(
        zip(
            cols["cell_id"],
            cols["prompt_id"],
            cols["task_id"],
            cols["item_id"],
            cols["concurrency"],
            cols["request_rate"],
            cols["phase"],
            strict=True,
        )
    ):
        if rate is not None:
            continue  # open-loop levels have no cold call (the rules on levels check them)
        key = (cell_id, pid or tid, item, conc)
        batches.add(key)
        if phase != "cold":
            continue
        cold[key] += 1
        if not cold_planned:
            out.add(
                "consistency.cold_calls",
                f,
                "cold call although config.cold is false",
                line=lines[i],
                pointer="/phase",
            )
        elif cold[key] == 2:
            out.add(
                "consistency.cold_calls",
                f,
                f"second cold call for {cell_id} / {pid or tid}",
                line=lines[i],
                pointer="/phase",
            )
    if cold_planned and md["status"] == "complete":
        for key in sorted(batches, key=str):
            # Task items share the task's one cold call, so only prompt batches are checked.
            if key[3] == 1 and key[1] in prompts and cold[key] == 0:
                out.add("plausibility.no_cold_call", f, f"no cold call for {key[0]} / {key[1]}")


def check_skipped(
    records: Sequence[tuple[int, Mapping[str, Any]]],
    md: Mapping[str, Any],
    span: tuple[int | None, int | None],
    times: Sequence[int | None],
    out: Findings,
) -> None:
    """Skipped records name planned cells and fall in the run's time span."""
    cells = {c["cell_id"] for c in md["cells"]}
    started, finished = span
    for (line, rec), ts in zip(records, times, strict=True):
        if rec["cell_id"] not in cells:
            out.add(
                "consistency.unplanned_cell",
                "run.jsonl",
                f"cell {rec['cell_id']!r} not planned",
                line=line,
                pointer="/cell_id",
            )
        if ts is not None and (
            (started is not None and ts < started) or (finished is not None and ts > finished)
        ):
            out.add(
                "consistency.timestamps",
                "run.jsonl",
                f"{rec['at']} is outside the run's time span",
                line=line,
                pointer="/at",
            )


def check_roofline(cells: Any, out: Findings) -> None:
    """A batch whose decode rate exceeds what the measured memory bandwidth allows (with a
    margin: ``efficiency.PLAUSIBLE_EFFICIENCY``) is implausible; the numbers are named."""
    from publisher.frontend.efficiency import PLAUSIBLE_EFFICIENCY

    rows = cells.select(
        [
            "cell_id",
            "workload_id",
            "concurrency",
            "request_rate",
            "phase",
            "tokens_per_sec_mean",
            "model_size_bytes",
            "memory_bandwidth_gbs",
            "bandwidth_efficiency",
        ]
    ).to_pylist()
    for r in rows:
        ratio = r["bandwidth_efficiency"]
        if ratio is None or ratio <= PLAUSIBLE_EFFICIENCY:
            continue
        read = r["tokens_per_sec_mean"] * r["model_size_bytes"] / 1e9
        out.add(
            "plausibility.roofline",
            "run.jsonl",
            f"{r['cell_id']} {r['workload_id']} {_level_label(r)} {r['phase']}: "
            f"{r['tokens_per_sec_mean']:.4g} tokens/s × {r['model_size_bytes'] / 1e6:.4g} MB "
            f"per token = {read:.4g} GB/s read, {ratio:.3g}× the "
            f"{r['memory_bandwidth_gbs']:.4g} GB/s this run measured",
        )


def _level_label(row: Mapping[str, Any]) -> str:
    """``c4`` for a closed-loop level, ``2/s`` for an open-loop one."""
    rate = row.get("request_rate")
    return f"{rate:g}/s" if rate is not None else f"c{row['concurrency']}"


# --------------------------------------------------------------------------- imported runs


def check_imported(md: Mapping[str, Any], out: Findings) -> None:
    """An imported run's summary statistics name its cells and workloads, each workload's
    sha256 recomputes from its shape and definitions (so its key cannot be made to match
    another's), and an imported run says where it came from."""
    import hashlib

    from bakeoff.jsonio import dumps_line

    f = "metadata.json"
    cells = {c["cell_id"] for c in md["cells"]}
    workloads = md["config"].get("imported_workloads") or []
    wids = {w["id"] for w in workloads}
    for i, w in enumerate(workloads):
        canonical = dumps_line({"definitions": w["definitions"], "shape": w["shape"]}).rstrip("\n")
        if hashlib.sha256(canonical.encode("utf-8")).hexdigest() != w["sha256"]:
            out.add(
                "consistency.imported_workload",
                f,
                f"workload {w['id']!r}: sha256 does not recompute from its shape and definitions",
                pointer=f"/config/imported_workloads/{i}/sha256",
            )
    for i, a in enumerate(md.get("aggregates") or []):
        if a["cell_id"] not in cells:
            out.add(
                "consistency.unplanned_cell",
                f,
                f"cell {a['cell_id']!r} not planned",
                pointer=f"/aggregates/{i}/cell_id",
            )
        if a["workload_id"] not in wids:
            out.add(
                "consistency.unknown_workload",
                f,
                f"workload {a['workload_id']!r} not in config.imported_workloads",
                pointer=f"/aggregates/{i}/workload_id",
            )
    imported = [c["cell_id"] for c in md["cells"] if c["access_level"] == "imported"]
    if (imported or workloads or md.get("aggregates")) and md.get("source") is None:
        out.add(
            "consistency.imported_workload",
            f,
            "imported cells, workloads or statistics without metadata.source",
            pointer="/source",
        )
