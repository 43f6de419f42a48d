"""llama.cpp's ``llama-bench``: ``-o json``, ``jsonl``, ``csv``, ``sql`` and ``md``.

The format is defined by ``struct test`` and the printers in ``tools/llama-bench/llama-bench.cpp``
of llama.cpp (``get_fields``, ``get_field_type``, ``json_printer``, ``jsonl_printer``,
``csv_printer``, ``sql_printer``, ``markdown_printer``). Each row is one test: ``n_prompt``
tokens of prompt processing (pp), ``n_gen`` generated tokens (tg) or both (pg), after
``n_depth`` tokens of context, repeated ``len(samples_ns)`` times; ``avg_ts`` is the mean over
the repetitions of ``1e9 · (n_prompt + n_gen) / ns`` and ``stddev_ts`` their sample standard
deviation. The field list is not frozen (``flash_attn`` went from a bool to -1/0/1), so fields
are read by name and anything missing is left out, never guessed.

pp rows become the archive's engine-timed prefill rate and tg rows its engine-timed decode rate
(``engine_prefill_tokens_per_sec``, ``engine_decode_tokens_per_sec``, methodology page); pg
rows mix both and keep llama-bench's own name.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from collector.importers.base import (
    FileHardware,
    ImportedCell,
    ImportFormatError,
    InputFile,
    ParsedImport,
    base_name,
    parse_utc,
    workload,
)
from collector.importers.definitions import lookup, metric_name
from collector.models import AggregateStat, ImportTool

TOOL = ImportTool.LLAMA_BENCH
FORMATS = ("json", "jsonl", "csv", "sql", "md")
# Settings that tell two configurations of one model apart (recorded verbatim on the cell).
SETTINGS = (
    "n_threads",
    "n_batch",
    "n_ubatch",
    "n_gpu_layers",
    "flash_attn",
    "type_k",
    "type_v",
    "split_mode",
    "main_gpu",
    "no_kv_offload",
    "cpu_mask",
    "cpu_strict",
    "poll",
    "n_cpu_moe",
    "tensor_split",
    "tensor_buft_overrides",
    "devices",
    "embeddings",
    "no_op_offload",
    "use_mmap",
)
_INT_FIELDS = {"n_prompt", "n_gen", "n_depth", "model_size", "model_n_params", "build_number"}
_FLOAT_FIELDS = {"avg_ts", "stddev_ts", "avg_ns", "stddev_ns"}


def detect_format(file: InputFile) -> str:
    """json, jsonl, csv, sql or md from the file's first non-blank character or line."""
    text = file.text().lstrip()
    if text.startswith("["):
        return "json"
    if text.startswith("{"):
        return "jsonl"
    if text.upper().startswith(("CREATE TABLE", "INSERT INTO")):
        return "sql"
    if text.startswith("|"):
        return "md"
    if text.startswith(("build_commit", '"build_commit"')):
        return "csv"
    raise ImportFormatError(
        f"{file.name}: not a llama-bench result (json, jsonl, csv, sql or md output of "
        "`llama-bench -o FORMAT`)"
    )


def read_rows(file: InputFile, fmt: str) -> list[dict[str, Any]]:
    """The test rows of a llama-bench file as dicts of typed values."""
    if fmt == "json":
        data = file.json()
        if not isinstance(data, list):
            raise ImportFormatError(f"{file.name}: a llama-bench json file is a list of tests")
        rows = data
    elif fmt == "jsonl":
        rows = file.json_lines()
    elif fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(file.text())))
    elif fmt == "sql":
        rows = _sql_rows(file)
    elif fmt == "md":
        rows = _md_rows(file)
    else:
        raise ImportFormatError(f"{file.name}: unknown llama-bench format {fmt!r}")
    out = []
    for i, row in enumerate(rows, start=1):
        if not isinstance(row, dict):
            raise ImportFormatError(f"{file.name} test {i}: not an object")
        out.append({k: _typed(k, v, file.name, i) for k, v in row.items()})
    if not out:
        raise ImportFormatError(f"{file.name}: no llama-bench test rows")
    return out


def _typed(key: str, value: Any, name: str, i: int) -> Any:
    if value is None or not isinstance(value, str):
        return value
    try:
        if key in _INT_FIELDS:
            return int(value)
        if key in _FLOAT_FIELDS:
            return float(value)
    except ValueError:
        raise ImportFormatError(f"{name} test {i}: {key} {value!r} is not a number") from None
    if key in ("samples_ns", "samples_ts"):
        return [float(v) for v in value.split(",") if v.strip()]
    return value


_SQL_INSERT = re.compile(r"INSERT INTO\s+\w+\s*\(([^)]*)\)\s*VALUES\s*\((.*)\);\s*$", re.I)
_SQL_VALUE = re.compile(r"'((?:[^']|'')*)'")


def _sql_rows(file: InputFile) -> list[dict[str, Any]]:
    rows = []
    for n, line in enumerate(file.text().splitlines(), start=1):
        m = _SQL_INSERT.match(line.strip())
        if not m:
            continue
        fields = [f.strip() for f in m.group(1).split(",")]
        values = [v.replace("''", "'") for v in _SQL_VALUE.findall(m.group(2))]
        if len(fields) != len(values):
            raise ImportFormatError(
                f"{file.name} line {n}: {len(fields)} fields, {len(values)} values"
            )
        rows.append(dict(zip(fields, values, strict=True)))
    return rows


_MD_TEST = re.compile(r"^(?:pp(\d+))?\+?(?:tg(\d+))?(?: @ d(\d+))?$")
_MD_RATE = re.compile(r"^([0-9.]+)\s*±\s*([0-9.]+)$")
_MD_BUILD = re.compile(r"^build: (\S+) \((\d+)\)")
_MD_NAMES = {
    "ngl": "n_gpu_layers",
    "threads": "n_threads",
    "fa": "flash_attn",
    "sm": "split_mode",
    "nkvo": "no_kv_offload",
    "dev": "devices",
    "ts": "tensor_split",
}


def _md_rows(file: InputFile) -> list[dict[str, Any]]:
    """The markdown table llama-bench prints (and people paste): model, backend, settings,
    test and ``t/s`` as ``mean ± std``; the build line below it. Size and parameter count are
    rounded there, so they are not read."""
    lines = [ln.strip() for ln in file.text().splitlines()]
    table = [ln for ln in lines if ln.startswith("|")]
    if len(table) < 3:
        raise ImportFormatError(f"{file.name}: no llama-bench markdown table")
    header = [h.strip() for h in table[0].strip("|").split("|")]
    build = next((m for ln in lines if (m := _MD_BUILD.match(ln))), None)
    rows = []
    for n, line in enumerate(table[2:], start=3):
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) != len(header):
            raise ImportFormatError(
                f"{file.name} table row {n}: {len(cells)} columns, header has {len(header)}"
            )
        raw = dict(zip(header, cells, strict=True))
        test = _MD_TEST.match(raw.get("test", ""))
        rate = _MD_RATE.match(raw.get("t/s", ""))
        if not test or not rate or not (test.group(1) or test.group(2)):
            raise ImportFormatError(
                f"{file.name} table row {n}: test {raw.get('test')!r} or "
                f"t/s {raw.get('t/s')!r} is not llama-bench's notation"
            )
        row: dict[str, Any] = {
            "model_type": raw.get("model"),
            "backends": raw.get("backend"),
            "n_prompt": str(int(test.group(1) or 0)),
            "n_gen": str(int(test.group(2) or 0)),
            "n_depth": str(int(test.group(3) or 0)),
            "avg_ts": rate.group(1),
            "stddev_ts": rate.group(2),
        }
        for key, value in raw.items():
            if key not in ("model", "size", "params", "backend", "test", "t/s"):
                row[_MD_NAMES.get(key, key)] = value
        if build:
            row["build_commit"], row["build_number"] = build.group(1), build.group(2)
        rows.append(row)
    return rows


def _test_name(n_prompt: int, n_gen: int, n_depth: int) -> tuple[str, str]:
    """llama-bench's own test name (pp512, tg128, pp512+tg128, with ' @ d<depth>') and kind."""
    if n_prompt > 0 and n_gen == 0:
        name, kind = f"pp{n_prompt}", "pp"
    elif n_gen > 0 and n_prompt == 0:
        name, kind = f"tg{n_gen}", "tg"
    else:
        name, kind = f"pp{n_prompt}+tg{n_gen}", "pg"
    # llama-bench writes "tg128 @ d512"; "@" would read as user@host to the privacy rules.
    return (f"{name}-d{n_depth}" if n_depth else name), kind


def parse(files: list[InputFile]) -> ParsedImport:
    """One llama-bench result file (any of its output formats) as an import."""
    if len(files) != 1:
        raise ImportFormatError("llama-bench: give one result file per import")
    file = files[0]
    fmt = detect_format(file)
    file = InputFile(file.name, file.data, fmt, file.role)
    files[0] = file
    rows = read_rows(file, fmt)
    notes: list[str] = []
    cells: dict[tuple[Any, ...], ImportedCell] = {}
    workloads = {}
    aggregates: list[tuple[str, AggregateStat]] = []
    times = []
    for i, row in enumerate(rows, start=1):
        try:
            n_prompt, n_gen = int(row["n_prompt"]), int(row["n_gen"])
            avg_ts = float(row["avg_ts"])
        except (KeyError, TypeError, ValueError):
            raise ImportFormatError(
                f"{file.name} test {i}: needs n_prompt, n_gen and avg_ts"
            ) from None
        n_depth = int(row.get("n_depth") or 0)
        test, kind = _test_name(n_prompt, n_gen, n_depth)
        model = base_name(str(row.get("model_filename") or row.get("model_type") or "unknown"))
        settings = {k: _text(row[k]) for k in SETTINGS if k in row and row[k] is not None}
        # Pasted results mix builds: a cell is one model at one build with one set of settings.
        key = (model, _version(row), tuple(sorted(settings.items())))
        if key not in cells:
            cells[key] = ImportedCell(
                key=f"c{len(cells)}",
                engine="llamacpp",
                api="in_process",
                model=model,
                engine_version=_version(row),
                engine_build=_text(row["build_commit"]) if row.get("build_commit") else None,
                endpoint_kind="loopback",
                quantization=_quantization(row.get("model_type")),
                model_size_bytes=_int(row.get("model_size")),
                model_parameters=_int(row.get("model_n_params")),
                settings=settings,
            )
            size = cells[key]
            if size.model_size_bytes is not None or size.model_parameters is not None:
                size.model_size_source = "llama_bench"
        cell = cells[key]
        wid = f"llama-bench:{test}"
        mapping = lookup(TOOL, f"avg_ts:{kind}")
        definitions = "bakeoff" if mapping.archive else "llama-bench"
        shape = {
            "tool": "llama-bench",
            "test": kind,
            "n_prompt": n_prompt,
            "n_gen": n_gen,
            "n_depth": n_depth,
        }
        what = {
            "pp": f"prompt processing of {n_prompt} tokens",
            "tg": f"generation of {n_gen} tokens, one at a time",
            "pg": f"{n_prompt} prompt tokens then {n_gen} generated tokens, timed together",
        }
        workloads[wid] = workload(
            wid,
            what[kind] + (f", after {n_depth} tokens of context" if n_depth else ""),
            shape,
            definitions,
            n_gen or None,
        )
        samples = [float(v) for v in row.get("samples_ts") or []]
        aggregates.append(
            (
                cell.key,
                AggregateStat(
                    cell_id="?",
                    workload_id=wid,
                    concurrency=1,
                    metric=metric_name(mapping),
                    source_field="avg_ts",
                    mapped=mapping.archive is not None,
                    unit=mapping.unit,
                    n=len(samples) if samples else None,
                    mean=avg_ts,
                    std=_float(row.get("stddev_ts")),
                    samples=samples,
                ),
            )
        )
        if row.get("test_time"):
            start = parse_utc(str(row["test_time"]), f"{file.name} test {i} test_time")
            spent = sum(float(v) for v in row.get("samples_ns") or []) / 1e9
            times.append((start, start + timedelta(seconds=spent)))
    if len(cells) > 1:
        _label_cells(list(cells.values()))
    if fmt == "md":
        notes.append(
            "markdown table: no per-repetition samples (n unknown), no test time; size and "
            "parameter count are rounded there, so not read"
        )
    elif fmt in ("csv", "sql"):
        notes.append(f"{fmt} output: no per-repetition samples (n unknown)")
    if times:
        started, finished = min(t for t, _ in times), max(t for _, t in times)
        basis = (
            "started_at: the earliest test_time (UTC, as llama-bench writes it); "
            "finished_at: the latest test_time plus that test's timed repetitions"
        )
    else:
        started = finished = datetime.now(UTC)
        basis = "the file records no time (markdown output): started_at is the import time"
    first = rows[0]
    hardware = FileHardware(
        cpu_model=_text(first["cpu_info"]) if first.get("cpu_info") else None,
        gpu_names=[g.strip() for g in str(first.get("gpu_info") or "").split(",") if g.strip()],
        recorded={
            k: _text(first[k])
            for k in ("cpu_info", "gpu_info", "backends", "build_commit", "build_number")
            if first.get(k) not in (None, "")
        },
    )
    return ParsedImport(
        tool=TOOL,
        tool_version=_version(first),
        tool_build=_text(first["build_commit"]) if first.get("build_commit") else None,
        started_at=started,
        finished_at=finished,
        time_basis=basis,
        recorded_at=str(first["test_time"]) if first.get("test_time") else None,
        cells=list(cells.values()),
        workloads=list(workloads.values()),
        aggregates=aggregates,
        hardware=hardware,
        temperature=None,
        seed=None,
        concurrency=[1],
        notes=notes,
    )


def _label_cells(cells: list[ImportedCell]) -> None:
    """Builds and settings that differ between cells of one model, as a short label
    (``t4-fa1``, ``b5000-fa0``)."""
    by_model: dict[str, list[ImportedCell]] = {}
    for cell in cells:
        by_model.setdefault(cell.model, []).append(cell)
    short = {
        "n_threads": "t",
        "n_batch": "b",
        "n_ubatch": "ub",
        "n_gpu_layers": "ngl",
        "flash_attn": "fa",
        "type_k": "ctk",
        "type_v": "ctv",
    }
    for group in by_model.values():
        if len(group) < 2:
            continue
        facts = [{**c.settings, "build": c.engine_version or "?"} for c in group]
        keys = sorted({k for f in facts for k in f})
        differ = [k for k in keys if len({f.get(k) for f in facts}) > 1]
        for cell, fact in zip(group, facts, strict=True):
            parts = [
                fact["build"] if k == "build" else f"{short.get(k, k)}{fact.get(k, '')}"
                for k in differ
            ]
            cell.label = "-".join(parts) or cell.key


def _version(row: dict[str, Any]) -> str | None:
    number = row.get("build_number")
    return f"b{number}" if number not in (None, "") else None


def _quantization(model_type: Any) -> str | None:
    # llama_model_desc: "<arch> <size> <ftype name>", e.g. "gemma3 270M Q4_K - Medium".
    if not isinstance(model_type, str):
        return None
    parts = model_type.split(" ", 2)
    return parts[2] if len(parts) == 3 else None


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def _int(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _float(value: Any) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None
