"""GuideLLM's benchmark report (``benchmarks.json`` or ``.yaml``, ``metadata.version`` 2).

The format is ``GenerativeBenchmarksReport`` (``src/guidellm/benchmark/schemas/generative/
report.py``): ``metadata`` (``version``, ``guidellm_version``), ``args`` (target, model, data,
profile, rate) and ``benchmarks``, one per strategy of the profile. Each benchmark has
``config.strategy`` (``type_``: synchronous, concurrent, throughput, constant, poisson; with
``streams`` or ``rate``), ``scheduler_metrics`` (Unix times ``measure_start_time`` and
``measure_end_time``) and ``metrics`` (``GenerativeMetrics`` in ``…/generative/metrics.py``):
per metric a ``StatusDistributionSummary`` whose ``successful`` part is a
``DistributionSummary`` (``mean``, ``median``, ``std_dev``, ``min``, ``max``, ``count``,
``percentiles.p50…p999``).

No GuideLLM latency is defined as the archive defines it (``definitions.MAPPINGS``), so every
metric keeps GuideLLM's name. Per-request entries in ``requests`` are a sample of the requests
(``sample_requests``), not every request, so they are not imported as call records.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

import yaml

from collector.engines.base import endpoint_kind
from collector.importers.base import (
    ImportedCell,
    ImportFormatError,
    InputFile,
    ParsedImport,
    finite_number,
    load_workload,
)
from collector.importers.definitions import MAPPINGS, lookup, metric_name
from collector.models import AggregateStat, ImportTool

TOOL = ImportTool.GUIDELLM
VERSIONS = (2,)


def _load(file: InputFile) -> dict[str, Any]:
    text = file.text()
    if text.lstrip().startswith("{"):
        fmt = "json"
        try:
            doc = json.loads(text)
        except ValueError as exc:
            raise ImportFormatError(f"{file.name}: not valid JSON ({exc})") from None
    else:
        fmt = "yaml"
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ImportFormatError(f"{file.name}: not valid YAML ({exc})") from None
    if not isinstance(doc, dict) or "benchmarks" not in doc:
        raise ImportFormatError(f"{file.name}: not a GuideLLM report (no benchmarks)")
    version = (doc.get("metadata") or {}).get("version")
    if version not in VERSIONS:
        raise ImportFormatError(
            f"{file.name}: GuideLLM report metadata.version {version!r}; bakeoff reads version "
            f"{', '.join(map(str, VERSIONS))} (re-run the benchmark with a current GuideLLM)"
        )
    doc["_format"] = fmt
    return doc


def _data_text(source: Any) -> str:
    """A data source of the scenario in a few words (kind and lengths), never a path."""
    if not isinstance(source, dict):
        return str(source)
    keys = ("prompt_tokens", "output_tokens")
    lengths = ",".join(f"{k}={source[k]}" for k in keys if source.get(k) is not None)
    return f"{source.get('kind', '?')}" + (f"({lengths})" if lengths else "")


def _successful(block: Any) -> dict[str, Any] | None:
    if not isinstance(block, dict):
        return None
    part = block.get("successful")
    return part if isinstance(part, dict) else None


def parse(files: list[InputFile]) -> ParsedImport:
    """One GuideLLM report (every benchmark of it) as an import."""
    if len(files) != 1:
        raise ImportFormatError("guidellm: give one report per import")
    file = files[0]
    doc = _load(file)
    files[0] = InputFile(file.name, file.data, doc.pop("_format"), file.role)
    # The report's arguments: ``config.spec`` (GuideLLM 0.8's BenchmarkScenario) or ``args``.
    args = doc.get("args") or {}
    spec = (doc.get("config") or {}).get("spec") or {}
    backend_spec = spec.get("backend") or {}
    meta = doc.get("metadata") or {}
    benchmarks = doc["benchmarks"]
    if not isinstance(benchmarks, list) or not benchmarks:
        raise ImportFormatError(f"{file.name}: the report holds no benchmark")
    target = str(args.get("target") or backend_spec.get("target") or "")
    cells: dict[str, ImportedCell] = {}
    workloads = {}
    aggregates: list[tuple[str, AggregateStat]] = []
    levels = []
    spans = []
    known = [m.source for m in MAPPINGS if m.tool == TOOL]
    data = args.get("data") or [_data_text(d) for d in spec.get("data") or []]
    data_text = json.dumps(data, sort_keys=True) if not isinstance(data, str) else data
    for i, bench in enumerate(benchmarks):
        config = bench.get("config") or {}
        backend = config.get("backend") or {}
        model = str(
            backend.get("model") or args.get("model") or backend_spec.get("model") or "unknown"
        )
        if model not in cells:
            request_type = str(
                args.get("request_type")
                or backend.get("request_format")
                or backend_spec.get("request_format")
                or ""
            )
            cells[model] = ImportedCell(
                key=f"c{len(cells)}",
                engine="openai",
                # text_completions (args) or /v1/completions (0.8's request_format)
                api="completions"
                if "text" in request_type
                or (request_type.endswith("/completions") and "chat" not in request_type)
                else "chat",
                model=model,
                endpoint_kind=endpoint_kind(target) if target else "unknown",
            )
        cell = cells[model]
        strategy = config.get("strategy") or {}
        kind = str(strategy.get("type_") or strategy.get("type") or "unknown")
        streams, rate = strategy.get("streams"), strategy.get("rate")
        metrics = bench.get("metrics") or {}
        conc_block = _successful(metrics.get("request_concurrency")) or {}
        if kind == "synchronous":
            concurrency = 1
        elif isinstance(streams, int) and streams > 0:
            concurrency = streams
        else:  # rate-based: the most requests GuideLLM recorded in flight
            concurrency = max(1, math.ceil(finite_number(conc_block.get("max")) or 1))
        levels.append(concurrency)
        prompt = _successful(metrics.get("prompt_token_count")) or {}
        output = _successful(metrics.get("output_token_count")) or {}
        closed = kind in ("synchronous", "concurrent") or isinstance(streams, int)
        wl = load_workload(
            cell.api,
            finite_number(prompt.get("mean")),
            finite_number(output.get("mean")),
            concurrency if closed or kind == "throughput" else None,
            finite_number(rate) if not closed else None,
            "guidellm",
            extra=f"GuideLLM {kind} benchmark on data {data_text}",
        )
        wid = wl.id
        workloads[wid] = wl
        totals = metrics.get("request_totals") or {}
        n = totals.get("successful") if isinstance(totals.get("successful"), int) else None
        for name in known:
            dist = _successful(metrics.get(name))
            if dist is None:
                continue
            mapping = lookup(TOOL, name)
            pct = dist.get("percentiles") or {}
            count = dist.get("count")
            aggregates.append(
                (
                    cell.key,
                    AggregateStat(
                        cell_id="?",
                        workload_id=wid,
                        concurrency=concurrency,
                        metric=metric_name(mapping),
                        source_field=f"metrics.{name}.successful",
                        mapped=False,
                        unit=mapping.unit,
                        n=int(count) if isinstance(count, int) else n,
                        mean=finite_number(dist.get("mean")),
                        std=finite_number(dist.get("std_dev")),
                        min=finite_number(dist.get("min")),
                        max=finite_number(dist.get("max")),
                        p50=finite_number(dist.get("median", pct.get("p50"))),
                        p90=finite_number(pct.get("p90")),
                        p95=finite_number(pct.get("p95")),
                        p99=finite_number(pct.get("p99")),
                    ),
                )
            )
        sched = bench.get("scheduler_metrics") or {}
        start = finite_number(sched.get("measure_start_time")) or finite_number(
            bench.get("start_time")
        )
        end = finite_number(sched.get("measure_end_time")) or finite_number(bench.get("end_time"))
        if start is None or end is None:
            raise ImportFormatError(f"{file.name} benchmark {i}: no measure start/end time")
        spans.append((datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC)))
    return ParsedImport(
        tool=TOOL,
        tool_version=str(meta["guidellm_version"]) if meta.get("guidellm_version") else None,
        format_version=str(meta.get("version")),
        started_at=min(s for s, _ in spans),
        finished_at=max(e for _, e in spans),
        time_basis="scheduler_metrics.measure_start_time and measure_end_time (Unix time) of "
        "the first and last benchmark",
        recorded_at=None,
        cells=list(cells.values()),
        workloads=list(workloads.values()),
        aggregates=aggregates,
        concurrency=levels,
        notes=[
            "GuideLLM's per-request entries are a sample (sample_requests), not every request: "
            "not imported as call records",
        ],
    )
