"""NVIDIA AIPerf: ``profile_export_aiperf.json`` and, when given, ``profile_export.jsonl``.

The summary is ``JsonMetricResult`` per metric tag (``src/aiperf/common/models/export_models.py``,
documented in ``docs/reference/json-export-schema.md``): ``{unit, avg, min, max, p1…p99, std,
count}`` at the top level (older exports nest them under ``records``), with ``schema_version``,
``aiperf_version``, ``start_time``/``end_time`` (UTC), ``input_config`` (endpoint, loadgen) and
``run_info.cli_command``. The per-request file has one ``{metadata, metrics, error}`` object
per request: ``metadata.request_start_ns``/``request_end_ns`` (wall clock, ns),
``metadata.benchmark_phase``, and ``metrics.<tag> = {value, unit}``.

AIPerf's TTFT (first content response), request latency (last content response) and ITL
(= vLLM's TPOT) are the archive's ``first_delta_ms``, ``total_duration_ms`` and ``tpot_ms``
for AIPerf 0.13 and later, the versions whose metric code was read (``definitions``). Output
token counts come from AIPerf's tokenizer unless ``--use-server-token-count`` was set.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from collector.engines.base import endpoint_kind
from collector.importers.base import (
    FileHardware,
    ImportedCell,
    ImportFormatError,
    InputFile,
    ParsedImport,
    finite_number,
    load_workload,
    parse_utc,
    stream_fields,
)
from collector.importers.definitions import MAPPINGS, lookup, metric_name
from collector.models import AggregateStat, ImportTool

TOOL = ImportTool.AIPERF
SUMMARY = "profile_export_aiperf.json"
RECORDS = "profile_export.jsonl"
VERIFIED_FROM = (0, 13)  # the AIPerf version whose TTFT/latency code was read
_UNITS_MS = {"ms": 1.0, "ns": 1e-6, "us": 1e-3, "s": 1000.0, "sec": 1000.0}
_STATS = {
    "mean": "avg",
    "std": "std",
    "min": "min",
    "max": "max",
    "p50": "p50",
    "p90": "p90",
    "p95": "p95",
    "p99": "p99",
}


def group(files: list[InputFile]) -> list[list[InputFile]]:
    """Each summary with the per-request file given after it (at most one), in order."""
    groups: list[list[InputFile]] = []
    for f in files:
        if f.name.endswith(".jsonl"):
            if not groups or len(groups[-1]) > 1:
                raise ImportFormatError(
                    f"{f.name}: a per-request file goes after its {SUMMARY} "
                    f"(bakeoff import aiperf {SUMMARY} {RECORDS})"
                )
            groups[-1].append(InputFile(f.name, f.data, "jsonl", "per-request records"))
        else:
            groups.append([InputFile(f.name, f.data, "json", "results")])
    return groups


def _version(text: Any) -> tuple[int, ...] | None:
    try:
        return tuple(int(p) for p in str(text).split("+")[0].split(".")[:2])
    except ValueError:
        return None


def _metrics(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    records = doc.get("records")
    block: dict[str, Any] = records if isinstance(records, dict) else doc
    return {k: v for k, v in block.items() if isinstance(v, dict) and "unit" in v}


def _scale(unit: str, mapped: bool) -> float:
    # Latencies of mapped metrics are kept in ms (the archive's unit); others as given.
    return _UNITS_MS.get(unit, 1.0) if mapped and unit in _UNITS_MS else 1.0


def _stat(block: dict[str, Any], key: str, scale: float) -> float | None:
    value = finite_number(block.get(key))
    return value * scale if value is not None else None


def parse(files: list[InputFile]) -> ParsedImport:
    """One AIPerf profile run: its summary JSON, and its per-request JSONL when given."""
    summary = files[0]
    doc = summary.json()
    if not isinstance(doc, dict) or "input_config" not in doc:
        raise ImportFormatError(
            f"{summary.name}: not an AIPerf {SUMMARY} (no input_config); give the summary "
            "first, then the per-request profile_export.jsonl"
        )
    version = doc.get("aiperf_version")
    verified = (_version(version) or (0,)) >= VERIFIED_FROM
    config = doc["input_config"]
    endpoint = config.get("endpoint") or {}
    # Two layouts of input_config: the documented one (endpoint.model_names, loadgen,
    # input.prompt) and AIPerf 0.13's (models.items, phases, datasets[].prompts).
    loadgen = config.get("loadgen") or _profiling_phase(config)
    items = (config.get("models") or {}).get("items") or []
    models = endpoint.get("model_names") or [i.get("name") for i in items if i.get("name")]
    url = str(endpoint.get("url") or (endpoint.get("urls") or [""])[0] or "")
    cell = ImportedCell(
        key="c0",
        engine="openai",
        api="chat" if endpoint.get("type", "chat") == "chat" else "completions",
        model=str(models[0]) if models else "unknown",
        endpoint_kind=endpoint_kind(url if "://" in url else f"http://{url}") if url else "unknown",
    )
    concurrency = int(loadgen.get("concurrency") or 1)
    prompt = (config.get("input") or {}).get("prompt") or {}
    datasets = config.get("datasets") or [{}]
    prompts = datasets[0].get("prompts") or {} if isinstance(datasets[0], dict) else {}
    isl = (prompt.get("input_tokens") or prompts.get("isl") or {}).get("mean")
    osl = (prompt.get("output_tokens") or prompts.get("osl") or {}).get("mean")
    rate = loadgen.get("request_rate", loadgen.get("rate"))
    # The workload's metrics follow the archive's definitions only where every ranked one does.
    definitions = "bakeoff" if verified else "aiperf"
    achieved = _metrics(doc)
    mean_in = _stat(achieved.get("input_sequence_length") or {}, "avg", 1.0)
    mean_out = _stat(achieved.get("output_sequence_length") or {}, "avg", 1.0)
    wl = load_workload(
        cell.api,
        mean_in if mean_in is not None else finite_number(isl),
        mean_out if mean_out is not None else finite_number(osl),
        concurrency,
        finite_number(rate),
        definitions,
        extra=f"AIPerf profile, {loadgen.get('request_count')} requests",
    )
    wid = wl.id
    known = {m.source for m in MAPPINGS if m.tool == TOOL}
    aggregates: list[tuple[str, AggregateStat]] = []
    for tag, block in sorted(_metrics(doc).items()):
        if tag not in known:
            continue
        mapping = lookup(TOOL, tag)
        mapped = mapping.archive is not None and verified
        scale = _scale(str(block.get("unit")), mapped)
        count = block.get("count")
        aggregates.append(
            (
                cell.key,
                AggregateStat(
                    cell_id="?",
                    workload_id=wid,
                    concurrency=concurrency,
                    metric=metric_name(mapping) if mapped else f"aiperf:{tag}",
                    source_field=tag,
                    mapped=mapped,
                    unit="ms" if mapped else str(block.get("unit")),
                    n=int(count) if isinstance(count, int) else None,
                    **{k: _stat(block, v, scale) for k, v in _STATS.items()},
                ),
            )
        )
    started = _time(doc.get("start_time"), summary.name)
    finished = _time(doc.get("end_time"), summary.name)
    notes = []
    if not verified:
        notes.append(
            f"AIPerf {version or '(version not recorded)'}: older than the 0.13 metric code "
            "that was read, so no metric is mapped to the archive's definitions"
        )
    calls = []
    if len(files) > 1:
        calls = _calls(files[1], wid, concurrency, definitions, started, finished)
    gpus = []
    for ep in ((doc.get("telemetry_data") or {}).get("endpoints") or {}).values():
        for gpu in (ep.get("gpus") or {}).values():
            if gpu.get("gpu_name"):
                gpus.append(str(gpu["gpu_name"]))
    run_info = doc.get("run_info") or {}
    command = run_info.get("cli_command") or config.get("cli_command")
    server_counts = bool((config.get("tokenizer") or {}).get("use_server_token_count")) or bool(
        endpoint.get("use_server_token_count")
    )
    for record in calls:
        if record["completion_tokens"] is not None:
            record["token_count_source"] = "server_usage" if server_counts else "client_estimate"
    return ParsedImport(
        tool=TOOL,
        tool_version=str(version) if version else None,
        format_version=str(doc.get("schema_version")) if doc.get("schema_version") else None,
        started_at=started,
        finished_at=max(finished, started),
        time_basis="start_time and end_time of the summary (UTC, as AIPerf writes them); "
        "per-request starts from metadata.request_start_ns (wall clock)",
        recorded_at=str(doc.get("start_time")),
        command=str(command) if command else None,
        cells=[cell],
        workloads=[wl],
        aggregates=aggregates,
        calls=[(cell.key, c) for c in calls],
        hardware=FileHardware(
            gpu_names=gpus, recorded={f"gpu_{i}": name for i, name in enumerate(gpus)}
        ),
        concurrency=[concurrency],
        notes=notes,
    )


def _profiling_phase(config: dict[str, Any]) -> dict[str, Any]:
    """AIPerf 0.13's load settings: the profiling phase of ``input_config.phases``."""
    for phase in config.get("phases") or []:
        if isinstance(phase, dict) and phase.get("kind", phase.get("name")) == "profiling":
            return {**phase, "request_count": phase.get("requests")}
    return {}


def _time(value: Any, name: str) -> datetime:
    if not isinstance(value, str):
        raise ImportFormatError(f"{name}: no start_time/end_time")
    text = value if value.endswith("Z") or "+" in value[10:] else value + "Z"  # UTC by schema
    return parse_utc(text, f"{name} time")


def _value(metrics: dict[str, Any], tag: str, to_ms: bool = False) -> Any:
    block = metrics.get(tag)
    if not isinstance(block, dict):
        return None
    value = block.get("value")
    if to_ms and value is not None:
        factor = _UNITS_MS.get(str(block.get("unit")), 1.0)
        if isinstance(value, list):
            return [float(v) * factor for v in value]
        return float(value) * factor
    return value


def _calls(
    file: InputFile,
    wid: str,
    concurrency: int,
    definitions: str,
    started: datetime,
    finished: datetime,
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for n, rec in enumerate(file.json_lines(), start=1):
        if not isinstance(rec, dict) or "metadata" not in rec or "metrics" not in rec:
            raise ImportFormatError(
                f"{file.name} line {n}: not an AIPerf record ({{metadata, metrics, error}})"
            )
        meta, metrics = rec["metadata"], rec["metrics"] or {}
        if meta.get("benchmark_phase", "profiling") != "profiling":
            continue  # warm-up requests are not part of the profile
        start_ns = meta.get("request_start_ns")
        at = datetime.fromtimestamp(start_ns / 1e9, UTC) if isinstance(start_ns, int) else started
        at = min(max(at, started), finished)
        error = rec.get("error")
        ttft = _value(metrics, "time_to_first_token", True)
        total = _value(metrics, "request_latency", True)
        tokens = _value(metrics, "output_token_count")
        if tokens is None:
            tokens = _value(metrics, "output_sequence_length")
        gaps = _value(metrics, "inter_chunk_latency", True) or []
        if error:
            ttft = total = tokens = None
            gaps = []
        decode = total - ttft if total is not None and ttft is not None else None
        message = None
        if error:
            message = str(error.get("error_message") or error.get("error_type") or error)[:500]
        out.append(
            {
                "type": "call",
                "backend": "openai",
                "prompt_id": wid,
                "run_idx": len(out),
                "phase": "warm",
                "cold_kind": None,
                "concurrency": concurrency,
                "started_at": at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "first_delta_ms": ttft,
                "first_content_ms": _value(metrics, "time_to_first_output_token", True),
                "total_duration_ms": total,
                "prompt_tokens": _value(metrics, "input_sequence_length"),
                "completion_tokens": int(tokens) if tokens is not None else None,
                "token_count_source": "none",
                "tokens_per_sec": tokens / (decode / 1000) if tokens and decode else None,
                "tpot_ms": decode / (tokens - 1) if tokens and tokens > 1 and decode else None,
                **stream_fields(ttft, gaps),
                "finish_reason": None,
                "http_status": None,
                "error": message,
                "error_kind": "other" if error else None,
                "definitions": None if definitions == "bakeoff" else "aiperf",
            }
        )
    return out
