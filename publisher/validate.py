"""Stage 2 — validate: turn a loaded run directory into findings, collecting all of them.

Checks, in order: structure (files, symlinks, sizes, names), JSON syntax, schema version,
JSON Schema (``schemas/metadata.schema.json`` and ``schemas/ledger-record.schema.json``; the
publisher never imports the collector), consistency, privacy and plausibility. No input may
raise: every problem becomes a finding, so ``bakeoff validate`` never prints a traceback.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

import fastjsonschema
import jsonschema

from bakeoff.resources import load_schema
from publisher.fastcheck import Check, compile_object
from publisher.finding import Finding, finding, json_pointer
from publisher.load import RawRun
from publisher.migrate import LEDGER_STEPS, METADATA_STEPS, VersionError, migrate
from publisher.privacy import scan_text

REQUIRED = ("metadata.json", "run.log", "run.md")
OPTIONAL = ("run.jsonl", "samples.jsonl", "datasets")
MAX_FINDINGS_PER_CODE = 20  # per file; the rest is summarised in one finding
MAX_MESSAGE = 300

# Plausibility bounds: beyond them a number is suspicious, never refused.
MAX_PLAUSIBLE_TOKENS_PER_SEC = 5_000.0
MAX_PLAUSIBLE_DURATION_MS = 3_600_000.0
MAX_PLAUSIBLE_RAM_GB = 65_536.0
MAX_PLAUSIBLE_GPU_MEMORY_GB = 4_096.0

_BIG_NUMBER = re.compile(rb"[0-9][eE]\+?[0-9]{3}|[0-9]{300}")


@dataclass(frozen=True)
class Options:
    """Switches of a validation run."""

    allow_synthetic: bool = False


@dataclass(frozen=True)
class LedgerFacts:
    """What a bulk scan of ``run.jsonl`` established (``publisher.ledger_sql``).

    Every call line was proven schema-valid, consistent and free of privacy findings, so only
    the other lines (``meta``, ``skipped``, …) are parsed here; ``calls`` stay out of Python.
    """

    other_lines: tuple[tuple[int, bytes], ...]
    calls_total: int
    calls_ok: int
    calls_per_cell: tuple[tuple[str, int], ...]


@dataclass
class ValidatedRun:
    """A run whose metadata passed the schema; records are the schema-valid ledger lines."""

    run_id: str
    content_sha256: str
    metadata: dict[str, Any]
    records: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    datasets: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    dataset_sha256: dict[str, str] = field(default_factory=dict)

    @property
    def calls(self) -> list[dict[str, Any]]:
        """The call records, in ledger order."""
        return [r for _, r in self.records if r.get("type") == "call"]


# --------------------------------------------------------------------------- schemas


@dataclass(frozen=True)
class _Validator:
    fast: Callable[[Any], Any]
    detailed: jsonschema.protocols.Validator
    quick: Check | None = None

    def errors(self, doc: Any) -> list[tuple[str, str]]:
        """(pointer, message) for every schema violation; fast when ``doc`` is valid."""
        if self.quick is not None and self.quick(doc):
            return []
        try:
            self.fast(doc)
            return []
        except fastjsonschema.JsonSchemaException:
            pass
        except (RecursionError, ValueError, TypeError):
            pass  # the detailed validator below gives the real answer
        try:
            errs = sorted(self.detailed.iter_errors(doc), key=lambda e: list(e.absolute_path))
        except RecursionError:
            return [("", "document is nested too deeply")]
        out = [(json_pointer(list(e.absolute_path)), _short(e.message)) for e in errs]
        return out or [("", "does not match the schema")]


def _short(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


def _compile(schema: dict[str, Any]) -> _Validator:
    cls = jsonschema.validators.validator_for(schema)
    # fastjsonschema targets draft-07; $defs references resolve as plain JSON pointers.
    fast_schema = {k: v for k, v in schema.items() if k not in ("$schema", "$id")}
    defs = schema.get("$defs", {})
    quick = compile_object(schema, defs)
    return _Validator(fastjsonschema.compile(fast_schema), cls(schema), quick)


@cache
def metadata_validator() -> _Validator:
    """The compiled validator of ``schemas/metadata.schema.json``."""
    return _compile(load_schema("metadata"))


@cache
def record_validators() -> dict[str, _Validator]:
    """One compiled validator per ledger record type, from ``ledger-record.schema.json``."""
    schema = load_schema("ledger-record")
    defs = schema["$defs"]
    out: dict[str, _Validator] = {}
    for name, sub in defs.items():
        rtype = sub.get("properties", {}).get("type", {}).get("const")
        if isinstance(rtype, str):
            out[rtype] = _compile({"$ref": f"#/$defs/{name}", "$defs": defs})
    return out


# --------------------------------------------------------------------------- JSON parsing


class _Invalid(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _reject_constant(name: str) -> Any:
    raise _Invalid("json.nonfinite", f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Invalid("json.nonfinite", f"number {text[:40]} overflows to infinity")
    return value


def parse_json(data: bytes) -> Any:
    """Parse strict JSON: no NaN/Infinity, no overflowing numbers; raises ``_Invalid``."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _Invalid("json.encoding", f"not UTF-8 ({exc.reason} at byte {exc.start})") from exc
    # The slow, checking float parser only runs where an overflow is possible at all.
    parse_float = _finite_float if _BIG_NUMBER.search(data) else float
    try:
        return json.loads(text, parse_constant=_reject_constant, parse_float=parse_float)
    except _Invalid:
        raise
    except RecursionError as exc:
        raise _Invalid("json.too_deep", "nesting exceeds the parser's depth limit") from exc
    except json.JSONDecodeError as exc:
        raise _Invalid("json.invalid", f"{exc.msg} (column {exc.colno})") from exc
    except ValueError as exc:  # e.g. integers beyond Python's digit limit
        raise _Invalid("json.invalid", _short(str(exc))) from exc


# --------------------------------------------------------------------------- the checker


class _Collector:
    """Accumulates findings for one run, capping repeats of one code in one file."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.findings: list[Finding] = []
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
        key = (code, file)
        self._counts[key] += 1
        if self._counts[key] <= MAX_FINDINGS_PER_CODE:
            self.findings.append(
                finding(code, self.run_id, file, message, line=line, pointer=pointer)
            )

    def finish(self) -> list[Finding]:
        for (code, file), n in sorted(self._counts.items()):
            if n > MAX_FINDINGS_PER_CODE:
                extra = n - MAX_FINDINGS_PER_CODE
                self.findings.append(
                    finding(code, self.run_id, file, f"… and {extra} more findings like these")
                )
        return self.findings


def _check_structure(raw: RawRun, out: _Collector, meta_only: bool | None) -> None:
    names = {f.name for f in raw.files}
    for f in raw.files:
        top = f.name.split("/", 1)[0]
        if f.is_symlink:
            out.add("structure.symlink", f.name, "symbolic links are not allowed")
        elif f.too_large:
            out.add("structure.too_large", f.name, f"file is {f.size} bytes, over the limit")
        elif f.unreadable:
            out.add("structure.unreadable", f.name, "file or folder could not be read")
        if f.is_symlink:
            continue
        if f.name == "datasets" and f.is_dir:
            continue
        if top == "datasets" and "/" in f.name:
            rest = f.name.split("/", 1)[1]
            if "/" not in rest and rest.endswith(".jsonl") and not f.is_dir:
                continue
        elif (f.name in REQUIRED or f.name in OPTIONAL) and not f.is_dir:
            continue
        out.add("structure.unexpected_file", f.name, "not part of a run directory")
    for name in REQUIRED:
        if name not in names:
            out.add("structure.missing_file", name, f"{name} is missing")
    if meta_only is False and "run.jsonl" not in names:
        out.add("structure.missing_file", "run.jsonl", "run.jsonl is missing")
    if meta_only and "run.jsonl" in names:
        out.add("structure.ledger_in_meta_only", "run.jsonl", "meta_only run with a ledger")


def _text(raw: RawRun, name: str, out: _Collector) -> str | None:
    f = raw.file(name)
    if f is None or f.data is None or f.is_dir:
        return None
    try:
        return f.data.decode("utf-8")
    except UnicodeDecodeError as exc:
        out.add("json.encoding", name, f"not UTF-8 ({exc.reason} at byte {exc.start})")
        return None


def _load_metadata(raw: RawRun, out: _Collector) -> dict[str, Any] | None:
    f = raw.file("metadata.json")
    if f is None or f.data is None or f.is_dir:
        return None
    try:
        doc = parse_json(f.data)
    except _Invalid as exc:
        out.add(exc.code, "metadata.json", str(exc))
        return None
    if not isinstance(doc, dict):
        out.add("schema.metadata", "metadata.json", "metadata.json must hold one JSON object")
        return None
    try:
        doc = migrate(doc, METADATA_STEPS)
    except VersionError as exc:
        out.add(exc.code, "metadata.json", str(exc), pointer="/schema_version")
        return None
    errors = metadata_validator().errors(doc)
    for pointer, message in errors:
        out.add("schema.metadata", "metadata.json", message, pointer=pointer)
    return None if errors else doc


def metadata_of(raw: RawRun) -> dict[str, Any] | None:
    """The schema-valid (migrated) metadata of a loaded run, else None; findings are dropped."""
    return _load_metadata(raw, _Collector(raw.dir_name))


def _iter_lines(data: bytes) -> Iterator[tuple[int, bytes]]:
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    yield from enumerate(lines, start=1)


def _load_ledger(
    raw: RawRun, out: _Collector, facts: LedgerFacts | None = None
) -> list[tuple[int, dict[str, Any]]]:
    f = raw.file("run.jsonl")
    if f is None or f.is_dir or (f.data is None and facts is None):
        return []
    validators = record_validators()
    records: list[tuple[int, dict[str, Any]]] = []
    steps_version: Any = None
    lines = facts.other_lines if facts is not None else _iter_lines(f.data or b"")
    for lineno, line in lines:
        try:
            rec = parse_json(line)
        except _Invalid as exc:
            out.add(exc.code, "run.jsonl", str(exc), line=lineno)
            continue
        rtype = rec.get("type") if isinstance(rec, dict) else None
        validator = validators.get(rtype) if isinstance(rtype, str) else None
        if not isinstance(rec, dict) or validator is None:
            out.add("schema.ledger", "run.jsonl", f"unknown record type {rtype!r}", line=lineno)
            continue
        if rtype == "meta":
            steps_version = rec.get("schema_version")
        try:
            rec = migrate(
                rec if rtype == "meta" else {**rec, "schema_version": steps_version},
                LEDGER_STEPS,
            )
        except VersionError as exc:
            out.add(exc.code, "run.jsonl", str(exc), line=lineno, pointer="/schema_version")
            continue
        if rtype != "meta":
            rec.pop("schema_version", None)
        errors = validator.errors(rec)
        for pointer, message in errors:
            out.add("schema.ledger", "run.jsonl", message, line=lineno, pointer=pointer)
        if not errors:
            records.append((lineno, rec))
    if facts is None and f.data is not None and not f.data.strip():
        out.add("json.empty_ledger", "run.jsonl", "run.jsonl is empty")
    return records


@cache
def sample_validator() -> _Validator:
    """The compiled validator of ``schemas/sample.schema.json`` (lines of samples.jsonl)."""
    return _compile(load_schema("sample"))


@cache
def dataset_item_validator() -> _Validator:
    """The compiled validator of ``schemas/seed-dataset-item.schema.json``."""
    return _compile(load_schema("seed-dataset-item"))


def _check_jsonl_objects(
    raw: RawRun, name: str, code: str, validator: _Validator, out: _Collector
) -> list[dict[str, Any]]:
    """Parse and schema-check every line of a JSONL file; return the valid objects."""
    f = raw.file(name)
    if f is None or f.data is None or f.is_dir:
        return []
    items: list[Any] = []
    for lineno, line in _iter_lines(f.data):
        try:
            obj = parse_json(line)
        except _Invalid as exc:
            out.add(exc.code, name, str(exc), line=lineno)
            continue
        errors = validator.errors(obj)
        for pointer, message in errors:
            out.add(code, name, message, line=lineno, pointer=pointer)
        if not errors and isinstance(obj, dict):
            items.append(obj)
    return items


def _load_datasets(
    raw: RawRun, out: _Collector
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, str]]:
    datasets: dict[str, list[dict[str, Any]]] = {}
    hashes: dict[str, str] = {}
    for f in raw.files:
        if not (f.name.startswith("datasets/") and f.name.endswith(".jsonl")) or f.data is None:
            continue
        # Keyed by dataset name (the file stem), as config.tasks[].dataset names it.
        base = f.name.split("/", 1)[1].removesuffix(".jsonl")
        validator = dataset_item_validator()
        datasets[base] = _check_jsonl_objects(raw, f.name, "schema.dataset", validator, out)
        hashes[base] = hashlib.sha256(f.data).hexdigest()
    return datasets, hashes


def _ts(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _check_consistency(
    run: ValidatedRun,
    raw: RawRun,
    out: _Collector,
    options: Options,
    facts: LedgerFacts | None = None,
) -> None:
    md = run.metadata
    if md["run_id"] != raw.dir_name:
        out.add("structure.dir_name", ".", f"directory {raw.dir_name!r} ≠ run_id {md['run_id']!r}")
    if md.get("synthetic") and not options.allow_synthetic:
        out.add(
            "consistency.synthetic",
            "metadata.json",
            "metadata marks this run synthetic",
            pointer="/synthetic",
        )
    created, updated = _ts(md["created_at"]), _ts(md["updated_at"])
    started, finished = _ts(md["started_at"]), _ts(md.get("finished_at"))
    if created and updated and updated < created:
        out.add(
            "consistency.timestamps",
            "metadata.json",
            "updated_at < created_at",
            pointer="/updated_at",
        )
    if started and finished and finished < started:
        out.add(
            "consistency.timestamps",
            "metadata.json",
            "finished_at < started_at",
            pointer="/finished_at",
        )
    rhm_sid = md["run_hardware_metrics"].get("system_id")
    if rhm_sid is not None and rhm_sid != md["hardware"]["system_hardware"]["system_id"]:
        out.add(
            "consistency.system_id",
            "metadata.json",
            "system ids differ",
            pointer="/run_hardware_metrics/system_id",
        )
    _check_hardware_plausibility(md, out)
    if md.get("meta_only"):
        _check_summary(md, [], [], out, meta_only=True)
        return
    _check_ledger(run, started, finished, out, facts)


def _check_hardware_plausibility(md: dict[str, Any], out: _Collector) -> None:
    hw = md["hardware"]["system_hardware"]
    ram = hw.get("ram_total_gb")
    if isinstance(ram, int | float) and ram > MAX_PLAUSIBLE_RAM_GB:
        out.add(
            "plausibility.hardware",
            "metadata.json",
            f"{ram} GiB of RAM",
            pointer="/hardware/system_hardware/ram_total_gb",
        )
    cores, threads = hw.get("cpu_cores"), hw.get("cpu_threads")
    if isinstance(cores, int) and isinstance(threads, int) and threads < cores:
        out.add(
            "plausibility.hardware",
            "metadata.json",
            "fewer CPU threads than cores",
            pointer="/hardware/system_hardware/cpu_threads",
        )
    for i, gpu in enumerate(md["hardware"]["gpus"]):
        mem = gpu.get("memory_total_gb")
        if isinstance(mem, int | float) and mem > MAX_PLAUSIBLE_GPU_MEMORY_GB:
            out.add(
                "plausibility.hardware",
                "metadata.json",
                f"GPU with {mem} GiB",
                pointer=f"/hardware/gpus/{i}/memory_total_gb",
            )


def _check_ledger(
    run: ValidatedRun,
    started: datetime | None,
    finished: datetime | None,
    out: _Collector,
    facts: LedgerFacts | None = None,
) -> None:
    md = run.metadata
    records = run.records
    f = "run.jsonl"
    if not records or records[0][1].get("type") != "meta" or records[0][0] != 1:
        out.add("consistency.meta_first", f, "the first line is not a valid meta record", line=1)
    metas = [(n, r) for n, r in records if r["type"] == "meta"]
    for n, _ in metas[1:]:
        out.add("consistency.meta_first", f, "a second meta record", line=n)
    if metas:
        _check_meta(metas[0][0], metas[0][1], md, out)
    cells = {c["cell_id"]: c for c in md["cells"]}
    prompts = {p["id"]: p for p in md["config"]["prompts"]}
    tasks = {t["id"]: t for t in md["config"]["tasks"]}
    calls: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    cold: Counter[tuple[str, str, int]] = Counter()
    batches: set[tuple[str, str, int]] = set()
    for n, rec in records:
        if rec["type"] == "skipped":
            skipped.append(rec)
            if rec["cell_id"] not in cells:
                out.add(
                    "consistency.unplanned_cell",
                    f,
                    f"cell {rec['cell_id']!r} not planned",
                    line=n,
                    pointer="/cell_id",
                )
            _check_time(rec["at"], started, finished, n, "/at", out)
            continue
        if rec["type"] != "call":
            continue
        calls.append(rec)
        cell = cells.get(rec["cell_id"])
        if cell is None:
            out.add(
                "consistency.unplanned_cell",
                f,
                f"cell {rec['cell_id']!r} not planned",
                line=n,
                pointer="/cell_id",
            )
        elif cell["engine"] != rec["backend"]:
            out.add(
                "consistency.backend",
                f,
                f"backend {rec['backend']} ≠ cell engine {cell['engine']}",
                line=n,
                pointer="/backend",
            )
        workload = rec.get("prompt_id") or rec.get("task_id")
        known = rec.get("prompt_id") in prompts if rec.get("prompt_id") else None
        if known is None and rec.get("task_id"):
            task = tasks.get(rec["task_id"])
            known = task is not None and (
                rec.get("item_id") is None or rec.get("item_id") in task["items"]
            )
        if not known:
            out.add(
                "consistency.unknown_workload", f, f"workload {workload!r} not in config", line=n
            )
        _check_call_numbers(rec, n, prompts, tasks, out)
        _check_time(rec["started_at"], started, finished, n, "/started_at", out)
        key = (rec["cell_id"], str(workload) + "|" + str(rec.get("item_id")), rec["concurrency"])
        batches.add(key)
        if rec["phase"] == "cold":
            cold[key] += 1
            if not md["config"]["cold"]:
                out.add(
                    "consistency.cold_calls",
                    f,
                    "cold call although config.cold is false",
                    line=n,
                    pointer="/phase",
                )
            elif cold[key] == 2:
                out.add(
                    "consistency.cold_calls",
                    f,
                    f"second cold call for {key[0]} / {key[1].split('|')[0]}",
                    line=n,
                    pointer="/phase",
                )
    if md["config"]["cold"] and md["status"] == "complete":
        for key in sorted(batches):
            # Task items share the task's one cold call, so only prompt batches are checked.
            if key[2] == 1 and key[1].split("|")[0] in prompts and cold[key] == 0:
                out.add(
                    "plausibility.no_cold_call",
                    f,
                    f"no cold call for {key[0]} / {key[1].split('|')[0]}",
                )
    _check_summary(md, calls, skipped, out, meta_only=False, facts=facts)


def _check_meta(line: int, meta: dict[str, Any], md: dict[str, Any], out: _Collector) -> None:
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
    planned = sorted(c["cell_id"] for c in md["cells"])
    if sorted(meta["cells_planned"]) != planned:
        out.add(
            "consistency.meta_mismatch",
            "run.jsonl",
            "cells_planned ≠ metadata cells",
            line=line,
            pointer="/cells_planned",
        )


def _check_time(
    value: str,
    started: datetime | None,
    finished: datetime | None,
    line: int,
    pointer: str,
    out: _Collector,
) -> None:
    ts = _ts(value)
    if ts is None:
        return
    if (started and ts < started) or (finished and ts > finished):
        out.add(
            "consistency.timestamps",
            "run.jsonl",
            f"{value} is outside the run's time span",
            line=line,
            pointer=pointer,
        )


def _check_call_numbers(
    rec: dict[str, Any],
    n: int,
    prompts: dict[str, Any],
    tasks: dict[str, Any],
    out: _Collector,
) -> None:
    f = "run.jsonl"
    ttft, total = rec["first_delta_ms"], rec["total_duration_ms"]
    tokens, tps = rec["completion_tokens"], rec["tokens_per_sec"]
    if ttft is not None and total is not None and ttft > total:
        out.add(
            "consistency.ttft_after_total",
            f,
            f"first_delta_ms {ttft} > total {total}",
            line=n,
            pointer="/first_delta_ms",
        )
    elif tps is not None:
        if tokens is None or ttft is None or total is None or total <= ttft:
            out.add(
                "consistency.tokens_per_sec",
                f,
                "tokens_per_sec without its inputs",
                line=n,
                pointer="/tokens_per_sec",
            )
        else:
            expected = tokens / ((total - ttft) / 1000.0)
            if abs(tps - expected) > 0.01 + 1e-3 * expected:
                out.add(
                    "consistency.tokens_per_sec",
                    f,
                    f"tokens_per_sec {tps} ≠ recomputed {expected:.6g}",
                    line=n,
                    pointer="/tokens_per_sec",
                )
            if tps > MAX_PLAUSIBLE_TOKENS_PER_SEC:
                out.add(
                    "plausibility.rate",
                    f,
                    f"{tps:.6g} tokens/s in one stream",
                    line=n,
                    pointer="/tokens_per_sec",
                )
    for key in ("first_delta_ms", "total_duration_ms"):
        value = rec[key]
        if value is not None and value > MAX_PLAUSIBLE_DURATION_MS:
            out.add(
                "plausibility.duration", f, f"{key} = {value:.6g} ms", line=n, pointer=f"/{key}"
            )
    for key in ("tpot_ms", "itl_p50_ms", "itl_p95_ms", "itl_max_ms", "start_lag_ms"):
        value = rec.get(key)
        if isinstance(value, int | float) and value < 0:
            out.add(
                "plausibility.duration", f, f"negative {key} = {value}", line=n, pointer=f"/{key}"
            )
    ref = prompts.get(rec.get("prompt_id") or "") or tasks.get(rec.get("task_id") or "")
    if ref is not None and tokens is not None and tokens > ref["max_tokens"] * 1.1 + 1:
        out.add(
            "plausibility.rate",
            f,
            f"{tokens} completion tokens > max_tokens {ref['max_tokens']}",
            line=n,
            pointer="/completion_tokens",
        )


def _check_summary(
    md: dict[str, Any],
    calls: list[dict[str, Any]],
    skipped: list[dict[str, Any]],
    out: _Collector,
    *,
    meta_only: bool,
    facts: LedgerFacts | None = None,
) -> None:
    s = md["summary"]
    checks: list[tuple[str, int, int]] = [("cells_planned", s["cells_planned"], len(md["cells"]))]
    if s["calls_ok"] + s["calls_error"] != s["calls_total"]:
        checks.append(("calls_error", s["calls_error"], s["calls_total"] - s["calls_ok"]))
    if not meta_only:
        ok = sum(1 for c in calls if c["error"] is None)
        n_calls = len(calls)
        per_cell: Counter[str] = Counter(c["cell_id"] for c in calls)
        if facts is not None:  # the call lines were counted by the bulk scan
            ok, n_calls = facts.calls_ok, facts.calls_total
            per_cell = Counter(dict(facts.calls_per_cell))
        checks += [
            ("calls_total", s["calls_total"], n_calls),
            ("calls_ok", s["calls_ok"], ok),
            ("cells_skipped", s["cells_skipped"], len(skipped)),
        ]
        for i, cs in enumerate(s.get("cells", [])):
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


def _pointer_of(obj: Any, needle: str, path: tuple[str | int, ...] = ()) -> str | None:
    """Pointer to the first string (value or key) in ``obj`` that contains ``needle``."""
    if isinstance(obj, str):
        return json_pointer(path) if needle in obj else None
    if isinstance(obj, dict):
        for k, v in obj.items():
            if needle in str(k):
                return json_pointer((*path, k))
            found = _pointer_of(v, needle, (*path, k))
            if found is not None:
                return found
    if isinstance(obj, list):
        for i, v in enumerate(obj):
            found = _pointer_of(v, needle, (*path, i))
            if found is not None:
                return found
    return None


def _check_privacy(raw: RawRun, metadata: dict[str, Any] | None, out: _Collector) -> None:
    for f in raw.files:
        if f.data is None or f.is_dir:
            continue
        text = f.data.decode("utf-8", errors="replace")
        for hit in scan_text(text):
            pointer = None
            try:
                if f.name == "metadata.json" and metadata is not None:
                    pointer = _pointer_of(metadata, hit.value)
                elif f.name.endswith(".jsonl"):
                    pointer = _pointer_of(json.loads(text.splitlines()[hit.line - 1]), hit.value)
            except (ValueError, RecursionError):
                pointer = None
            out.add(hit.code, f.name, f"found {hit.excerpt!r}", line=hit.line, pointer=pointer)


def check_run(
    raw: RawRun, options: Options | None = None, facts: LedgerFacts | None = None
) -> tuple[ValidatedRun | None, list[Finding]]:
    """Validate one loaded run; the run is returned when its metadata passed the schema.

    With ``facts`` (a bulk scan proved every call line clean) the ledger's call lines are not
    read; the run's records then hold only the other lines.
    """
    options = options or Options()
    out = _Collector(raw.dir_name)
    if not raw.is_dir:
        out.add("structure.not_a_directory", ".", f"{raw.dir_name!r} is not a directory")
        return None, out.finish()
    metadata = _load_metadata(raw, out)
    if metadata is not None:
        out.run_id = metadata["run_id"] if metadata["run_id"] == raw.dir_name else raw.dir_name
    meta_only = bool(metadata.get("meta_only")) if metadata is not None else None
    _check_structure(raw, out, meta_only)
    for name in ("run.log", "run.md"):
        _text(raw, name, out)
    records = [] if meta_only else _load_ledger(raw, out, facts)
    _check_jsonl_objects(raw, "samples.jsonl", "schema.samples", sample_validator(), out)
    datasets, hashes = _load_datasets(raw, out)
    _check_privacy(raw, metadata, out)
    if metadata is None:
        return None, out.finish()
    run = ValidatedRun(metadata["run_id"], raw.content_sha256, metadata, records, datasets, hashes)
    _check_consistency(run, raw, out, options, facts)
    for task in metadata["config"]["tasks"]:
        got = hashes.get(task["dataset"])
        if got is not None and got != task["dataset_sha256"]:
            out.add(
                "consistency.dataset_sha256",
                f"datasets/{task['dataset']}",
                "sha256 differs from config.tasks[].dataset_sha256",
            )
    return run, out.finish()
