"""vLLM's ``vllm bench serve --save-result``: the result JSON, with or without ``--save-detailed``.

The format is the ``result_json`` dict of ``vllm/benchmarks/serve.py`` (``main_async`` and
``benchmark``): setup keys (``date`` in local time ``%Y%m%d-%H%M%S``, ``backend``,
``model_id``, ``num_prompts``, ``request_rate``, ``burstiness``, ``max_concurrency``), totals
(``completed``, ``failed``, ``total_input_tokens``, ``total_output_tokens``,
``request_throughput``, ``output_throughput``, …) and ``{mean,median,std,pNN}_{ttft,tpot,itl,
e2el}_ms``; ``--save-detailed`` adds per-request lists (``input_lens``, ``output_lens``,
``ttfts``, ``itls``, ``latencies``, ``start_times``, ``errors``, ``generated_texts``).
``--append-result`` writes one such JSON document per line. No version, no hardware and no
dataset name is recorded.

None of vLLM's latency definitions equals the archive's (``definitions.MAPPINGS``), so every
number keeps vLLM's name and per-request records are marked ``definitions: vllm-bench``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from collector.importers.base import (
    ImportedCell,
    ImportFormatError,
    InputFile,
    ParsedImport,
    finite_number,
    load_workload,
    stream_fields,
)
from collector.importers.definitions import lookup, metric_name
from collector.models import AggregateStat, ImportTool

TOOL = ImportTool.VLLM_BENCH
_LATENCIES = ("ttft", "tpot", "itl", "e2el")
_SCALARS = ("output_throughput", "request_throughput", "request_goodput")


def _documents(file: InputFile) -> list[dict[str, Any]]:
    try:
        docs = [file.json()]
    except ImportFormatError:
        docs = file.json_lines()  # --append-result: one document per line
    if not docs or not all(isinstance(d, dict) for d in docs):
        raise ImportFormatError(f"{file.name}: a vllm bench result is a JSON object")
    for i, doc in enumerate(docs, start=1):
        missing = [k for k in ("model_id", "completed", "duration") if k not in doc]
        if missing:
            where = file.name if len(docs) == 1 else f"{file.name} line {i}"
            raise ImportFormatError(
                f"{where}: not a `vllm bench serve --save-result` file (no {', '.join(missing)})"
            )
    return docs


def _local_time(text: str, name: str) -> datetime:
    """vLLM's ``date``: local time of the importing host (the file names no zone)."""
    try:
        local = datetime.strptime(text, "%Y%m%d-%H%M%S")
    except ValueError:
        raise ImportFormatError(f"{name}: date {text!r} is not vLLM's %Y%m%d-%H%M%S") from None
    return local.astimezone().astimezone(UTC)


def _number(doc: dict[str, Any], key: str) -> float | None:
    return finite_number(doc.get(key))


def parse(files: list[InputFile]) -> ParsedImport:
    """One vLLM result file (one or more documents) as an import."""
    if len(files) != 1:
        raise ImportFormatError("vllm-bench: give one result file per import")
    file = files[0]
    files[0] = InputFile(file.name, file.data, "json", file.role)
    docs = _documents(file)
    cells: dict[tuple[str, str], ImportedCell] = {}
    workloads = {}
    aggregates: list[tuple[str, AggregateStat]] = []
    calls: list[tuple[str, dict[str, Any]]] = []
    spans = []
    levels = []
    notes = [
        "vLLM's result file records no vLLM version, hardware or dataset name; the workload is "
        "identified by its API, achieved mean lengths and concurrency cap (or arrival rate)"
    ]
    for doc in docs:
        backend = str(doc.get("backend") or doc.get("endpoint_type") or "openai")
        model = str(doc["model_id"])
        key = (backend, model)
        if key not in cells:
            cells[key] = ImportedCell(
                key=f"c{len(cells)}",
                engine="openai",
                api="chat" if "chat" in backend else "completions",
                model=model,
            )
        cell = cells[key]
        completed = int(doc["completed"])
        num_prompts = doc.get("num_prompts")
        cap = doc.get("max_concurrency")
        rate = doc.get("request_rate", "inf")
        concurrency = int(cap) if isinstance(cap, int) and cap > 0 else int(num_prompts or 1)
        levels.append(concurrency)
        mean_in = doc.get("total_input_tokens", 0) / completed if completed else None
        mean_out = doc.get("total_output_tokens", 0) / completed if completed else None
        finite = rate not in ("inf", None)
        wl = load_workload(
            cell.api,
            mean_in,
            mean_out,
            concurrency if cap or not finite else None,
            float(rate) if finite else None,
            "vllm-bench",
            extra=f"vllm bench serve, {num_prompts} requests, request rate {rate}",
        )
        wid = wl.id
        workloads[wid] = wl
        for metric in _LATENCIES:
            if f"mean_{metric}_ms" not in doc:
                continue
            mapping = lookup(TOOL, metric)
            pct = {p: _number(doc, f"p{p}_{metric}_ms") for p in (90, 95, 99)}
            aggregates.append(
                (
                    cell.key,
                    AggregateStat(
                        cell_id="?",
                        workload_id=wid,
                        concurrency=concurrency,
                        metric=metric_name(mapping),
                        source_field=f"{{mean,median,std,pNN}}_{metric}_ms",
                        mapped=False,
                        unit="ms",
                        n=completed,
                        mean=_number(doc, f"mean_{metric}_ms"),
                        std=_number(doc, f"std_{metric}_ms"),
                        p50=_number(doc, f"median_{metric}_ms"),
                        p90=pct[90],
                        p95=pct[95],
                        p99=pct[99],
                    ),
                )
            )
        for name in _SCALARS:
            value = _number(doc, name)
            if value is None:
                continue
            mapping = lookup(TOOL, name)
            aggregates.append(
                (
                    cell.key,
                    AggregateStat(
                        cell_id="?",
                        workload_id=wid,
                        concurrency=concurrency,
                        metric=metric_name(mapping),
                        source_field=name,
                        mapped=False,
                        unit=mapping.unit,
                        n=completed,
                        mean=value,
                    ),
                )
            )
        end = _local_time(str(doc.get("date", "")), file.name)
        start = end - timedelta(seconds=float(doc["duration"]))
        spans.append((start, end))
        calls += [(cell.key, c) for c in _calls(doc, wid, concurrency, start, end)]
    return ParsedImport(
        tool=TOOL,
        tool_version=None,
        started_at=min(s for s, _ in spans),
        finished_at=max(e for _, e in spans),
        time_basis=(
            "finished_at: the file's `date` (local time, read in the importing host's time "
            "zone); started_at: that minus `duration`; per-request starts from `start_times` "
            "relative to the first request"
        ),
        recorded_at=str(docs[0].get("date")),
        cells=list(cells.values()),
        workloads=list(workloads.values()),
        aggregates=aggregates,
        calls=calls,
        temperature=_number(docs[0], "temperature"),
        concurrency=levels,
        notes=notes,
    )


def _calls(
    doc: dict[str, Any], wid: str, concurrency: int, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    """Per-request call records from ``--save-detailed`` lists (none without them)."""
    ttfts = doc.get("ttfts")
    if not isinstance(ttfts, list):
        return []
    n = len(ttfts)
    lists = {
        k: doc.get(k)
        for k in ("input_lens", "output_lens", "itls", "latencies", "start_times", "errors")
    }
    for name, values in lists.items():
        if values is not None and (not isinstance(values, list) or len(values) != n):
            raise ImportFormatError(f"{name} has {len(values or [])} entries, ttfts has {n}")
    starts = lists["start_times"] or []
    first = min((float(s) for s in starts), default=0.0)
    out = []
    for i in range(n):
        itl = [float(v) * 1000 for v in (lists["itls"] or [[]] * n)[i] or []]
        error = (lists["errors"] or [""] * n)[i] or None
        ttft = float(ttfts[i]) * 1000 if ttfts[i] is not None else None
        latency = (lists["latencies"] or [None] * n)[i]
        total = (
            float(latency) * 1000
            if latency is not None
            else (ttft + sum(itl) if ttft is not None else None)
        )
        tokens = (lists["output_lens"] or [None] * n)[i]
        if error is not None:
            ttft = total = None
            tokens = None
        decode_ms = (total - ttft) if total is not None and ttft is not None else None
        at = start + timedelta(seconds=float(starts[i]) - first) if starts else start
        at = min(max(at, start), end)
        out.append(
            {
                "type": "call",
                "backend": "openai",
                "prompt_id": wid,
                "run_idx": i,
                "phase": "warm",
                "cold_kind": None,
                "concurrency": concurrency,
                "started_at": at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "first_delta_ms": ttft,
                "first_content_ms": None,
                "total_duration_ms": total,
                "prompt_tokens": (lists["input_lens"] or [None] * n)[i],
                "completion_tokens": tokens,
                "token_count_source": "tool_reported" if tokens is not None else "none",
                "tokens_per_sec": tokens / (decode_ms / 1000)
                if tokens and decode_ms and decode_ms > 0
                else None,
                "tpot_ms": decode_ms / (tokens - 1)
                if tokens and tokens > 1 and decode_ms is not None
                else None,
                **stream_fields(ttft, itl),
                "finish_reason": None,
                "http_status": None,
                "error": error,
                "error_kind": "other" if error else None,
                "definitions": "vllm-bench",
            }
        )
    return out
