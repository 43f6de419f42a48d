"""Runs: the run index and one run page, both drawn in the browser from data files.

Run pages are one page (``runs/view.html?id=<run_id>``) plus one data file per run
(``data/runs/<run_id>.js``), so the page count stays in the hundreds however many runs the
archive holds. A run document carries display blocks (rendered with ``textContent`` by
``bakeoff.js``) and its warm ``results``, which the compare view reads too.

Every run is browsable, comparable or not; a run that is not comparable says why at the top.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from bakeoff.codeid import source_digest
from publisher.site import charts
from publisher.site.escape import dumps
from publisher.site.pages import levels
from publisher.site.pages.common import (
    MEANING_COLUMNS,
    SAFE_RUN_ID,
    Output,
    Row,
    data_script,
    level_text,
    num,
    page,
    plain,
    system_name,
    system_page,
    throughput,
)
from publisher.site.pages.systems import SOFTWARE, comparable_text
from publisher.site.pages.view import ArchiveView, GroupedRows

Reader = Callable[[str, str], pa.Table]

# Telemetry points per run page chart (longer runs are averaged into buckets).
MAX_SAMPLE_POINTS = 600

# The warm result fields a run document carries (the run page table and the compare view).
RESULT_FIELDS = [
    "cell_id",
    "engine",
    "engine_version",
    "model",
    "quantization",
    "workload_id",
    "workload_key",
    "signature",
    "max_tokens",
    "temperature",
    "concurrency",
    "request_rate",
    "n",
    "errors",
    "success_rate",
    "ttft_p50_ms",
    "ttft_p95_ms",
    "total_p50_ms",
    "tokens_per_sec_mean",
    "itl_p50_ms",
    "aggregate_tokens_per_sec",
    "rougeL_mean",
    "joules_per_output_token",
]
# Fields a result carries only when set: a length workload's targets (the compare view's
# labels); most results have none, and a run file is read whole by its page.
SPARSE_FIELDS = ["input_tokens", "output_tokens"]
# Cells columns the run page's level table, charts and efficiency block read (the run file
# carries what they draw, not the columns).
LEVEL_FIELDS = [
    "workload_kind",
    "ttft_p99_ms",
    "tpot_p50_ms",
    "tokens_per_sec_per_user",
    "requests_per_sec",
    "goodput_requests_per_sec",
    "slo_attainment",
    "slo_ttft_ms",
    "slo_tpot_ms",
    "prefill_tokens_per_sec_p50",
    "server_prefill_tokens_per_sec_p50",
    "off_target_calls",
    *MEANING_COLUMNS,
]
# (title, field, decimals) of the run page's results table, in order.
RESULT_COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("engine", "engine", -1),
    ("model", "model", -1),
    ("workload", "workload_id", -1),
    ("level", "level", -1),
    ("n", "n", 0),
    ("errors", "errors", 0),
    ("TTFT p50 ms", "ttft_p50_ms", 1),
    ("TTFT p95 ms", "ttft_p95_ms", 1),
    ("total p50 ms", "total_p50_ms", 1),
    ("tokens/s", "tokens_per_sec_mean", 1),
    ("ITL p50 ms", "itl_p50_ms", 2),
    ("agg tokens/s", "aggregate_tokens_per_sec", 1),
    ("ROUGE-L", "rougeL_mean", 3),
    ("J/token", "joules_per_output_token", 3),
)
# Columns shown only when some row has a value.
_OPTIONAL = {"aggregate_tokens_per_sec", "rougeL_mean", "joules_per_output_token"}
# (title, field, decimals) of the run page's load-level table (levels and length workloads).
LEVEL_COLUMNS: tuple[tuple[str, str, int, str], ...] = (
    ("agg tok/s", "aggregate_tokens_per_sec", 1, "output tokens/s of all streams together"),
    ("tok/s/user", "tokens_per_sec_per_user", 1, "tokens/s per user: 1000 / TPOT p50"),
    ("req/s", "requests_per_sec", 2, "successful requests per second"),
    ("goodput", "goodput_requests_per_sec", 2, "requests/s that met the SLO"),
    ("SLO met", "slo_attainment", 2, "share of the level's calls that met the SLO"),
    ("TTFT p99", "ttft_p99_ms", 1, "ms"),
    ("TPOT p50", "tpot_p50_ms", 2, "ms per output token after the first"),
    ("prefill client", "prefill_tokens_per_sec_p50", 0, "prompt tokens / TTFT, tokens/s p50"),
    ("prefill engine", "server_prefill_tokens_per_sec_p50", 0, "the engine's own, tokens/s"),
    ("off target", "off_target_calls", 0, "calls more than 1 % off a length target"),
)
_CELL_FIELDS = (
    *RESULT_FIELDS,
    *SPARSE_FIELDS,
    *LEVEL_FIELDS,
    "phase",
)
_RUN_CELL_FIELDS = [
    "cell_id",
    "engine",
    "engine_version",
    "model",
    "quantization",
    "access_level",
    "endpoint_kind",
    "available",
    "skip_reason",
    "calls_ok",
    "calls_total",
]
# The call columns a run page charts (warm calls only).
CALL_FIELDS = (
    "cell_id",
    "workload_id",
    "concurrency",
    "request_rate",
    "phase",
    "first_delta_ms",
    "itl_p50_ms",
)
# The call columns of the table of calls more than 1 % off a length target.
OFF_TARGET_FIELDS = (
    "cell_id",
    "workload_id",
    "concurrency",
    "request_rate",
    "phase",
    "run_idx",
    "prompt_tokens",
    "target_prompt_tokens",
    "completion_tokens",
    "target_completion_tokens",
    "finish_reason",
)
# Marked calls listed on a run page (the calls table has every one).
MAX_OFF_TARGET_ROWS = 100


# --------------------------------------------------------------------------- run index


RUN_INDEX_COLUMNS = [
    "link_id",
    "run_id",
    "started_at",
    "mode",
    "status",
    "comparable",
    "comparable_text",
    "system_id",
    "hardware_class",
    "system_label",
    "system_page",
    "models",
    "engines",
    "calls_ok",
    "calls_total",
]


def runs_index_data(view: ArchiveView) -> dict[str, Any]:
    """The client-side run index (newest first): column names and one list per run."""
    lists = view.run_lists()
    rows = []
    for rid in sorted(view.runs, reverse=True):
        run = view.runs[rid]
        name = system_name(run)
        cat = lists.get(rid, {})
        rows.append(
            [
                rid if SAFE_RUN_ID.fullmatch(rid) else None,
                rid,
                plain(run.get("started_at")),
                plain(run.get("mode")),
                plain(run.get("status")),
                bool(run.get("comparable")),
                comparable_text(run),
                name.system_id,
                name.hardware_class,
                name.system_label,
                system_page(name.system_id),
                ", ".join(str(m) for m in cat.get("models", [])),
                ", ".join(str(m) for m in cat.get("engines", [])),
                plain(run.get("calls_ok")),
                plain(run.get("calls_total")),
            ]
        )
    return {"columns": RUN_INDEX_COLUMNS, "rows": rows}


RUNS_INDEX = page(
    "Runs",
    [
        "Every run in the archive, newest first. Type to filter; click a column header to sort. "
        "Runs marked not comparable (smoke, probe-only, empty) are kept and browsable but never "
        "ranked.",
        '<div class="bo-runs" data-src="../data/runs.js" data-search-exclude>'
        '<p class="bo-loading">Loading the run index…</p></div>',
    ],
    search=False,
)

RUN_VIEW = page(
    "Run",
    [
        '<div class="bo-run" data-src="../data/runs/" data-search-exclude>'
        '<p class="bo-loading">Loading the run…</p></div>',
        '<p><a href="index.html">All runs</a></p>',
    ],
    search=False,
)


# --------------------------------------------------------------------------- run rows


# A run file's inputs as bytes for its key: exact (floats as binary64, dicts in their order)
# and 10x cheaper than repr; a type msgpack lacks is keyed by its repr.
_KEY_ENCODER = msgspec.msgpack.Encoder(enc_hook=repr)


def _by_run(view: ArchiveView, sql: str) -> dict[str, list[Row]]:
    out: dict[str, list[Row]] = defaultdict(list)
    for row in view.con.sql(sql).to_arrow_table().to_pylist():
        out[str(row["run_id"])].append(row)
    return out


# --------------------------------------------------------------------------- run documents


def _kv(title: str, pairs: Sequence[tuple[str, Any]]) -> dict[str, Any]:
    return {"kind": "kv", "title": title, "rows": [[k, plain(v)] for k, v in pairs]}


def _result(row: Row) -> dict[str, Any]:
    out = {k: plain(row.get(k)) for k in RESULT_FIELDS}
    out.update((k, plain(v)) for k in SPARSE_FIELDS if (v := row.get(k)) is not None)
    out["level"] = level_text(row.get("concurrency"), row.get("request_rate"))
    out["throughput"] = throughput(row)
    return out


class RunInputs(NamedTuple):
    """What a run document is made of, besides the run's calls and samples."""

    run: Mapping[str, Any]
    cells: list[Row]
    planned: list[Row]
    metrics: Mapping[str, Any] | None
    gpus: list[Row]
    software: Mapping[str, Any] | None
    listed: Mapping[str, Any]


class RunDocuments:
    """Builds each run's document from the archive and the run's calls and samples."""

    def __init__(self, view: ArchiveView, reader: Reader) -> None:
        self.view = view
        self.reader = reader
        self.cells = GroupedRows(
            view,
            "cells",
            "run_id",
            _CELL_FIELDS,
            "cell_id, workload_id, concurrency, request_rate, phase",
        )
        self.run_cells = GroupedRows(view, "run_cells", "run_id", _RUN_CELL_FIELDS, "cell_id")
        self.metrics = {
            rid: rows[0]
            for rid, rows in _by_run(view, "SELECT * FROM run_hardware_metrics").items()
        }
        self.software = {
            rid: rows[0] for rid, rows in _by_run(view, "SELECT * FROM system_software").items()
        }
        self.gpus = _by_run(
            view,
            """
            SELECT l.run_id, l.slot, g.name, g.memory_total_gb, g.interface_type, g.power_limit_w
            FROM system_gpu_link l LEFT JOIN gpu_hardware g USING (gpu_id)
            ORDER BY l.run_id, l.slot
            """,
        )
        self.lists = view.run_lists()

    def inputs(self, run_id: str) -> RunInputs:
        """The archive rows a run's document is made of (besides its calls and samples).
        Runs must be asked for in ascending run id order (rows are read group by group)."""
        return RunInputs(
            self.view.runs.get(run_id, {}),
            self.cells.get(run_id),
            self.run_cells.get(run_id),
            self.metrics.get(run_id),
            self.gpus.get(run_id, []),
            self.software.get(run_id),
            self.lists.get(run_id, {}),
        )

    def document(self, run_id: str, inputs: RunInputs | None = None) -> dict[str, Any]:
        """Everything a run page shows, as blocks, plus its warm results."""
        inputs = inputs if inputs is not None else self.inputs(run_id)
        run, cells, planned = inputs.run, inputs.cells, inputs.planned
        name = system_name(run)
        comparable = bool(run.get("comparable"))
        blocks: list[dict[str, Any]] = []
        if not comparable:
            reason = run.get("comparable_reason") or "not comparable"
            blocks.append(
                {
                    "kind": "notice",
                    "text": f"Not comparable: {reason}. This run is kept and browsable, but it "
                    "is never ranked, charted in a history or compared "
                    f"(mode {run.get('mode') or '—'}, status {run.get('status') or '—'}).",
                }
            )
        tool = run.get("source_tool")
        if tool:
            blocks.append(
                {
                    "kind": "notice",
                    "text": f"Imported from {tool}: its numbers are translated to this archive's "
                    "definitions only where the definitions agree, and otherwise kept under the "
                    "tool's own names; summary rows are the tool's statistics as it states them, "
                    "not per-call data (methodology, Imported results).",
                }
            )
        blocks.append(
            _kv(
                "Run",
                [
                    ("Run id", run_id),
                    ("Mode", run.get("mode")),
                    ("Comparable", comparable_text(run)),
                    ("Status", run.get("status")),
                    ("Completeness", run.get("completeness")),
                    ("Started", run.get("started_at")),
                    ("Finished", run.get("finished_at")),
                    ("Host label", run.get("host_label")),
                    ("Calls ok / total", f"{run.get('calls_ok')} / {run.get('calls_total')}"),
                    (
                        "Cells planned / skipped",
                        f"{run.get('cells_planned')} / {run.get('cells_skipped')}",
                    ),
                    ("Synthetic", run.get("synthetic")),
                ],
            )
        )
        blocks.append(
            {
                "kind": "link",
                "text": f"System: {name.text}",
                "href": f"../systems/{system_page(name.system_id)}",
            }
        )
        if comparable and SAFE_RUN_ID.fullmatch(run_id):
            blocks.append(
                {
                    "kind": "link",
                    "text": "Compare this run with others",
                    "href": f"../compare.html?runs={run_id}",
                }
            )
        warm = [c for c in cells if c.get("phase") == "warm"]
        results = [_result(c) for c in warm]
        if results:
            columns = [
                [title, key, digits]
                for title, key, digits in RESULT_COLUMNS
                if key not in _OPTIONAL or any(num(r.get(key)) is not None for r in results)
            ]
            blocks.append(
                {"kind": "results", "title": "Warm results (as in run.md)", "columns": columns}
            )
        if planned:
            blocks.append(
                {
                    "kind": "table",
                    "title": "Planned cells",
                    "columns": [
                        "engine",
                        "version",
                        "model",
                        "quantization",
                        "access",
                        "endpoint",
                        "available",
                        "skip reason",
                        "calls ok",
                        "calls",
                    ],
                    "rows": [
                        [
                            plain(c.get(k))
                            for k in (
                                "engine",
                                "engine_version",
                                "model",
                                "quantization",
                                "access_level",
                                "endpoint_kind",
                            )
                        ]
                        + [
                            "yes" if c.get("available") else "no",
                            plain(c.get("skip_reason")),
                            plain(c.get("calls_ok")),
                            plain(c.get("calls_total")),
                        ]
                        for c in planned
                    ],
                }
            )
        blocks += self._charts(run_id, cells, warm, len(inputs.gpus))
        metrics = inputs.metrics
        if metrics:
            blocks.append(
                _kv(
                    "Hardware telemetry summary",
                    [
                        (k, v)
                        for k, v in sorted(metrics.items())
                        if k not in ("run_id", "system_id")
                    ],
                )
            )
        gpus = inputs.gpus
        if gpus:
            blocks.append(
                {
                    "kind": "table",
                    "title": "GPUs",
                    "columns": ["slot", "name", "memory GiB", "interface", "power limit W"],
                    "rows": [
                        [
                            plain(g.get(k))
                            for k in (
                                "slot",
                                "name",
                                "memory_total_gb",
                                "interface_type",
                                "power_limit_w",
                            )
                        ]
                        for g in gpus
                    ],
                }
            )
        sw = inputs.software
        if sw:
            blocks.append(_kv("Software", [(k, sw.get(k)) for k in SOFTWARE]))
        cat = inputs.listed
        blocks.append(
            _kv(
                "Provenance",
                [
                    ("Harness version", run.get("harness_version")),
                    ("Git sha", run.get("git_sha")),
                    ("Publisher", run.get("publisher_id")),
                    ("License", run.get("license")),
                    ("Content sha256", run.get("content_sha256") or cat.get("content_sha256")),
                    ("Raw files", f"runs/{run_id}/ (metadata.json, run.jsonl, run.log, run.md)"),
                ],
            )
        )
        return {
            "run_id": run_id,
            "started_at": plain(run.get("started_at")),
            "mode": plain(run.get("mode")),
            "comparable": comparable,
            "comparable_reason": plain(run.get("comparable_reason")),
            "system": {
                "system_id": name.system_id,
                "hardware_class": name.hardware_class,
                "system_label": name.system_label,
                "page": system_page(name.system_id),
            },
            "results": results,
            "blocks": blocks,
        }

    def _charts(
        self, run_id: str, cells: list[Row], warm: list[Row], gpus: int
    ) -> list[dict[str, Any]]:
        blocks: list[dict[str, Any]] = []
        # One run has one host: label cells by engine and model (cell ids repeat the host label).
        labels = {c.get("cell_id"): f"{c.get('engine')} · {c.get('model')}" for c in cells}

        def short(cell_id: Any) -> str:
            return labels.get(cell_id) or str(cell_id)

        calls = self.reader("calls", run_id)
        blocks += level_table(warm, short)
        blocks += efficiency_block(warm, short)
        blocks += off_target_blocks(warm, calls, short)
        for title, spec in levels.level_charts(
            warm, lambda r: short(r.get("cell_id")), lambda r: gpus or None
        ):
            blocks.append({"kind": "chart", "title": title, "spec": spec})

        cold = {
            (c.get("cell_id"), c.get("workload_key")): c for c in cells if c.get("phase") == "cold"
        }
        pairs = [(w, cold.get((w.get("cell_id"), w.get("workload_key")))) for w in warm]
        rows = [
            [
                f"{short(w.get('cell_id'))} · {w.get('workload_id')}",
                plain(cc.get("ttft_p50_ms")),
                plain(w.get("ttft_p50_ms")),
                plain(cc.get("total_p50_ms")),
                plain(w.get("total_p50_ms")),
            ]
            for w, cc in pairs
            if cc is not None
        ]
        if rows:
            blocks.append(
                {
                    "kind": "table",
                    "title": "Cold vs warm",
                    "columns": [
                        "engine · model · workload",
                        "cold TTFT ms",
                        "warm TTFT p50 ms",
                        "cold total ms",
                        "warm total p50 ms",
                    ],
                    "rows": rows,
                }
            )
            blocks.append(
                {
                    "kind": "chart",
                    "title": "Cold vs warm TTFT",
                    "spec": charts.grouped_bars(
                        [str(r[0]) for r in rows],
                        {"cold": [r[1] for r in rows], "warm p50": [r[2] for r in rows]},
                        "TTFT ms",
                    ),
                }
            )
        ttft: dict[str, list[float]] = defaultdict(list)
        itl: dict[str, list[float]] = defaultdict(list)
        columns = [calls.column(f).to_pylist() for f in CALL_FIELDS]
        names: dict[tuple[Any, ...], str] = {}
        for cell_id, workload_id, conc, rate, phase, first_delta_ms, itl_p50_ms in zip(
            *columns, strict=True
        ):
            if phase != "warm":
                continue
            key = (cell_id, workload_id, conc, rate)
            name = names.get(key)
            if name is None:
                name = names[key] = f"{short(cell_id)} · {workload_id} {level_text(conc, rate)}"
            if (v := num(first_delta_ms)) is not None:
                ttft[name].append(v)
            if (v := num(itl_p50_ms)) is not None:
                itl[name].append(v)
        if ttft:
            blocks.append(
                {
                    "kind": "chart",
                    "title": "TTFT distribution (warm calls)",
                    "spec": charts.boxes(ttft, "TTFT ms"),
                }
            )
        if itl:
            blocks.append(
                {
                    "kind": "chart",
                    "title": "Inter-token latency distribution (per-call median)",
                    "spec": charts.boxes(itl, "ITL p50 ms"),
                }
            )
        if warm:
            prompts = sorted({str(c.get("workload_id")) for c in warm})
            series: dict[str, list[float | None]] = defaultdict(lambda: [None] * len(prompts))
            for c in warm:
                level = level_text(c.get("concurrency"), c.get("request_rate"))
                series[f"{short(c.get('cell_id'))} {level}"][
                    prompts.index(str(c.get("workload_id")))
                ] = num(c.get("tokens_per_sec_mean"))
            blocks.append(
                {
                    "kind": "chart",
                    "title": "Tokens/s per prompt",
                    "spec": charts.grouped_bars(prompts, dict(sorted(series.items())), "tokens/s"),
                }
            )
        telemetry = telemetry_block(self.reader("samples", run_id))
        if telemetry is not None:
            blocks.append(telemetry)
        return blocks


# --------------------------------------------------------------------------- issue 17, 15


def _known(value: Any, reason: Any, text: str) -> str:
    """A value's text, or why it is unknown (never a bare blank)."""
    return text if num(value) is not None else f"— ({reason or 'not measured'})"


def _has_levels(row: Row) -> bool:
    conc = num(row.get("concurrency"))
    return (
        num(row.get("request_rate")) is not None
        or row.get("input_tokens") is not None
        or (conc is not None and conc > 1)
    )


def level_table(warm: Sequence[Row], short: Callable[[Any], str]) -> list[dict[str, Any]]:
    """The load levels and length workloads of a run, one row per level, with the numbers
    its curves draw; nothing for a run without them."""
    rows = [r for r in warm if _has_levels(r)]
    if not rows:
        return []
    shown = [c for c in LEVEL_COLUMNS if any(num(r.get(c[1])) is not None for r in rows)]
    return [
        {
            "kind": "table",
            "title": "Load levels",
            "columns": [
                {"title": "engine · model", "wrap": True},
                "workload",
                "level",
                *({"title": title, "hint": hint, "numeric": True} for title, _, _, hint in shown),
            ],
            "rows": [
                [
                    short(r.get("cell_id")),
                    str(r.get("workload_id")),
                    level_text(r.get("concurrency"), r.get("request_rate")),
                    *(_rounded(r.get(field), digits) for _, field, digits, _ in shown),
                ]
                for r in rows
            ],
        }
    ]


def _rounded(value: Any, digits: int) -> float | None:
    f = num(value)
    return None if f is None else round(f, digits)


def efficiency_block(warm: Sequence[Row], short: Callable[[Any], str]) -> list[dict[str, Any]]:
    """Bandwidth efficiency, energy and cost of each warm result, each with the reason it is
    unknown where it is; nothing for a run whose rows carry neither values nor reasons."""
    fields = (
        "bandwidth_efficiency",
        "roofline_reason",
        "tokens_per_joule",
        "energy_reason",
        "cost_per_million_tokens",
        "cost_reason",
    )
    if not any(r.get(f) is not None for r in warm for f in fields):
        return []
    values = ("bandwidth_efficiency", "tokens_per_joule", "cost_per_million_tokens")
    if not any(num(r.get(f)) is not None for r in warm for f in values):
        # nothing known: the reasons once each, not a row of dashes per result
        return [
            _kv(
                "Efficiency, energy and cost",
                [
                    (
                        title,
                        "unknown: "
                        + "; ".join(sorted({str(r.get(why) or "not measured") for r in warm})),
                    )
                    for title, why in (
                        ("Bandwidth efficiency", "roofline_reason"),
                        ("Tokens/s per W (whole device)", "energy_reason"),
                        ("Cost per M output tokens", "cost_reason"),
                    )
                ],
            )
        ]
    rows = []
    for r in warm:
        eff, tpj, jpt = (
            num(r.get("bandwidth_efficiency")),
            num(r.get("tokens_per_joule")),
            num(r.get("joules_per_output_token")),
        )
        cost = num(r.get("cost_per_million_tokens"))
        rows.append(
            [
                f"{short(r.get('cell_id'))} · {r.get('workload_id')} "
                f"{level_text(r.get('concurrency'), r.get('request_rate'))}",
                _known(eff, r.get("roofline_reason"), f"{100 * (eff or 0):.1f}%"),
                _known(tpj, r.get("energy_reason"), f"{tpj or 0:,.2f}"),
                _known(jpt, r.get("energy_reason"), f"{jpt or 0:,.3f}"),
                _known(
                    cost,
                    r.get("cost_reason"),
                    f"{cost or 0:,.2f} {r.get('cost_currency') or ''}".rstrip(),
                ),
            ]
        )
    return [
        {
            "kind": "table",
            "title": "Efficiency, energy and cost",
            "columns": [
                "engine · model · workload level",
                "bandwidth efficiency",
                "tokens/s per W (tokens/J, whole device)",
                "J/token",
                "cost per M output tokens",
            ],
            "rows": rows,
        }
    ]


def off_target_blocks(
    warm: Sequence[Row], calls: pa.Table, short: Callable[[Any], str]
) -> list[dict[str, Any]]:
    """A badge counting a run's calls more than 1 % off a length target, and those calls."""
    total = sum(int(num(r.get("off_target_calls")) or 0) for r in warm)
    if "length_off_target" not in calls.column_names:
        return []
    mask = pc.fill_null(calls.column("length_off_target"), False)
    if total == 0 and not pc.any(mask).as_py():  # the common case: no call is marked
        return []
    marked = calls.filter(mask)
    count = max(total, marked.num_rows)
    blocks: list[dict[str, Any]] = [
        {
            "kind": "badge",
            "text": f"{count} call{'s' if count != 1 else ''} off target: more than 1 % away "
            "from a length workload's input or output tokens (see the methodology page).",
        }
    ]
    rows = marked.select(list(OFF_TARGET_FIELDS)).slice(0, MAX_OFF_TARGET_ROWS).to_pylist()
    if rows:
        blocks.append(
            {
                "kind": "table",
                "title": "Calls off target"
                + (f" (first {MAX_OFF_TARGET_ROWS})" if marked.num_rows > len(rows) else ""),
                "columns": [
                    "engine · model",
                    "workload level",
                    "phase",
                    "call",
                    "prompt tokens",
                    "target",
                    "completion tokens",
                    "target",
                    "finish",
                ],
                "rows": [
                    [
                        short(c["cell_id"]),
                        f"{c['workload_id']} {level_text(c['concurrency'], c['request_rate'])}",
                        plain(c["phase"]),
                        plain(c["run_idx"]),
                        plain(c["prompt_tokens"]),
                        plain(c["target_prompt_tokens"]),
                        plain(c["completion_tokens"]),
                        plain(c["target_completion_tokens"]),
                        plain(c["finish_reason"]),
                    ]
                    for c in rows
                ],
            }
        )
    return blocks


# --------------------------------------------------------------------------- telemetry

# (panel title, [(column, trace name)]) of the run page's telemetry chart
_TELEMETRY_PANELS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("CPU / GPU %", (("cpu_percent", "system CPU %"), ("gpu_util_percent", "GPU util % (mean)"))),
    ("GiB", (("engine_rss_gb", "engine RSS GiB"), ("memory_used_gb", "system memory GiB"))),
    ("GPU power W", (("gpu_power_w", "GPU power W (sum)"),)),
)
TELEMETRY_FIELDS = ("t", *(col for _, series in _TELEMETRY_PANELS for col, _ in series))


def downsample(
    samples: pa.Table, limit: int = MAX_SAMPLE_POINTS
) -> tuple[dict[str, list[float | None]], int]:
    """At most ``limit`` points: consecutive samples averaged in buckets of k; returns (one
    list per charted field, k). Values are rounded to 3 decimals (small run files); a bucket
    without a finite value of a field is None there, and buckets without a time are left out."""
    n = samples.num_rows
    if n == 0:
        return {name: [] for name in TELEMETRY_FIELDS}, 1
    order = pc.sort_indices(samples, [("seq", "ascending"), ("t", "ascending")])
    k = max(1, -(-n // limit))
    starts = np.arange(0, n, k)
    means: dict[str, np.ndarray] = {}
    counts: dict[str, np.ndarray] = {}
    for name in TELEMETRY_FIELDS:
        column = samples.column(name).take(order)
        values = column.cast(pa.float64()).to_numpy(zero_copy_only=False)
        finite = np.isfinite(values)  # nulls arrive as NaN
        total = np.add.reduceat(np.where(finite, values, 0.0), starts)
        counts[name] = np.add.reduceat(finite.astype(np.int64), starts)
        with np.errstate(invalid="ignore", divide="ignore"):
            means[name] = np.round(total / counts[name], 3)
    timed = counts["t"] > 0
    series: dict[str, list[float | None]] = {}
    for name in TELEMETRY_FIELDS:
        present = counts[name][timed] > 0
        values = means[name][timed]
        if present.all():
            series[name] = values.tolist()
        else:
            series[name] = [
                v if ok else None for v, ok in zip(values.tolist(), present, strict=True)
            ]
    return series, k


def telemetry_block(samples: pa.Table) -> dict[str, Any] | None:
    """The run page's telemetry chart (CPU %, memory, GPU power/util over time), or None."""
    series, k = downsample(samples)
    if not series["t"]:
        return None
    panels = []
    for title, fields in _TELEMETRY_PANELS:
        values = {
            name: series[col] for col, name in fields if series[col].count(None) < len(series[col])
        }
        panels.append((title, values))
    if not any(values for _, values in panels):
        return None
    note = f", mean of {k} per point" if k > 1 else ""
    return {
        "kind": "chart",
        "title": f"Telemetry over time ({samples.num_rows} samples{note})",
        "spec": charts.telemetry(series["t"], panels, "seconds since sampler start"),
    }


# Beside the generated pages: the key of each run's data file (not deployed: MkDocs leaves
# dot-files out), so the next build links an unchanged run's file instead of making it again.
RUN_KEYS = ".run-keys.json"


def write_run_pages(
    view: ArchiveView, reader: Reader, out: Output, previous: Path | None = None
) -> None:
    """The run index, the run viewer page, and one data file per run.

    A run's data file is a function of its archive rows (``RunInputs``), its calls and
    samples (named by the reader's ``key`` and the run's content hash) and this package's
    code. When ``previous`` (the last generated folder) holds a file made from the same
    inputs, and its bytes are those recorded, it is hard-linked instead of rebuilt; a reader
    without a ``key`` turns reuse off."""
    out.write("runs/index.md", RUNS_INDEX)
    out.write("runs/view.md", RUN_VIEW)
    out.data("runs", runs_index_data(view))
    docs = RunDocuments(view, reader)
    reader_key = getattr(reader, "key", None)
    code = f"{source_digest(__name__)}\0{reader_key}\0".encode()
    before = _previous_keys(previous) if reader_key is not None else {}
    keys: dict[str, list[str]] = {}
    for rid in sorted(view.runs):
        if not SAFE_RUN_ID.fullmatch(rid):
            continue
        inputs = docs.inputs(rid)
        key = hashlib.sha256(code + _KEY_ENCODER.encode(inputs)).hexdigest()
        rel = f"data/runs/{rid}.js"
        old = before.get(rid)
        if (
            previous is not None
            and old is not None
            and old[0] == key
            and out.reuse(rel, previous / rel, old[1])
        ):
            keys[rid] = old
            continue
        content = data_script(f"runs/{rid}", docs.document(rid, inputs))
        out.write(rel, content)
        keys[rid] = [key, hashlib.sha256(content).hexdigest()]
    if reader_key is not None:
        out.write(RUN_KEYS, dumps(keys))


def _previous_keys(previous: Path | None) -> dict[str, list[str]]:
    if previous is None:
        return {}
    try:
        keys = json.loads((previous / RUN_KEYS).read_bytes())
    except (OSError, ValueError):
        return {}
    if not isinstance(keys, dict):
        return {}
    return {
        k: v
        for k, v in keys.items()
        if isinstance(v, list) and len(v) == 2 and all(isinstance(x, str) for x in v)
    }
