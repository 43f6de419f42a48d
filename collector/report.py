"""``run.md``: aggregated tables generated from ``run.jsonl`` (the shape of a run summary).

Deterministic and idempotent: the same ledger always gives the same bytes. The matrix of warm
TTFT p50 comes first, then per cell a cold table and a warm table, one row per workload, and an
across-workloads summary. New columns go at the end of a table; existing ones never move.
Percentiles use linear interpolation between closest ranks (numpy's default).
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from bakeoff.jsonio import write_atomic
from collector.errors import ConfigError
from collector.measure import percentile

Row = dict[str, Any]


def read_ledger(path: Path) -> list[Row]:
    """All records of a run.jsonl (a torn last line from a crash is ignored)."""
    records: list[Row] = []
    with path.open(encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    for idx, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except ValueError as exc:
            if idx == len(lines) - 1:
                break
            raise ConfigError(f"{path}:{idx + 1}: not valid JSON ({exc})") from exc
    return records


def _int(value: object) -> str:
    return "–" if value is None else str(value)


def _fmt(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _p(values: list[float], q: float) -> float | None:
    return percentile(values, q) if values else None


def _mean(values: list[float]) -> float | None:
    return statistics.fmean(values) if values else None


def _workload(call: Row) -> str:
    if call.get("prompt_id"):
        return str(call["prompt_id"])
    task = str(call.get("task_id") or "?")
    return task


def _cell_order(metadata: Row | None, calls: Iterable[Row]) -> list[str]:
    seen: list[str] = []
    if metadata:
        seen = [c["cell_id"] for c in metadata.get("cells", [])]
    for call in calls:
        if call["cell_id"] not in seen:
            seen.append(call["cell_id"])
    return seen


def render_report(records: list[Row], metadata: Row | None) -> str:
    """The Markdown text of run.md."""
    meta = next((r for r in records if r.get("type") == "meta"), {})
    calls = [r for r in records if r.get("type") == "call"]
    skipped = [r for r in records if r.get("type") == "skipped"]
    run_id = meta.get("run_id") or (metadata or {}).get("run_id", "?")
    cells = _cell_order(metadata, calls)
    by: dict[tuple[str, str, str, int], list[Row]] = defaultdict(list)
    workloads: list[str] = []
    for call in calls:
        wl = _workload(call)
        if wl not in workloads:
            workloads.append(wl)
        by[(call["cell_id"], wl, call["phase"], int(call.get("concurrency", 1)))].append(call)

    out = [f"# Run {run_id}", ""]
    if metadata:
        status = metadata.get("status", "?")
        reason = metadata.get("status_reason")
        out.append(f"Status: **{status}**" + (f" — {_line(reason)}" if reason else ""))
        out.append("")
        if metadata.get("comparable", True) is False:
            out += [f"Not comparable: {_line(metadata.get('comparable_reason') or '?')}", ""]
    if not calls:
        return _no_calls(out, metadata, skipped)
    cells = [c for c in cells if any(k[0] == c for k in by)]  # skipped cells: listed below
    out += ["## Warm TTFT p50 (ms)", ""]
    out.append("| cell | " + " | ".join(workloads) + " |")
    out.append("|---|" + "---:|" * len(workloads))
    for cell in cells:
        row = []
        for wl in workloads:
            ok = [c["first_delta_ms"] for c in by.get((cell, wl, "warm", 1), []) if _ok(c)]
            row.append(_fmt(_p(ok, 50)))
        out.append(f"| {cell} | " + " | ".join(row) + " |")
    out.append("")
    for cell in cells:
        out += _cell_section(cell, workloads, by)
    out += _skipped_section(skipped)
    levels = sorted({k[3] for k in by if k[3] > 1})
    if levels:
        out += _concurrency_section(cells, workloads, by, levels)
    return "\n".join(out).rstrip("\n") + "\n"


def _line(text: str) -> str:
    """Text on one line: line breaks become ' | ' (a reason may hold an engine's log tail)."""
    return " | ".join(part.strip() for part in str(text).splitlines() if part.strip())


def _cell(text: object) -> str:
    """Text for one Markdown table cell: one line, ``|`` escaped."""
    return _line(str(text)).replace("|", "\\|")


def _skipped_section(skipped: list[Row]) -> list[str]:
    if not skipped:
        return []
    out = ["## Skipped cells", "", "| cell | reason |", "|---|---|"]
    out += [f"| {_cell(s['cell_id'])} | {_cell(s['reason'])} |" for s in skipped]
    out.append("")
    return out


def _no_calls(out: list[str], metadata: Row | None, skipped: list[Row]) -> str:
    """run.md of a run that measured nothing: say so, then what the health checks found."""
    out += ["No call was measured.", ""]
    infos = (metadata or {}).get("cells") or []
    if infos:
        out += ["## Health checks", "", "| cell | health check |", "|---|---|"]
        for info in infos:
            result = "passed" if info.get("available") else "failed"
            out.append(f"| {_cell(info.get('cell_id', '?'))} | {result} |")
        out.append("")
    out += _skipped_section(skipped)
    return "\n".join(out).rstrip("\n") + "\n"


def _ok(call: Row) -> bool:
    return call.get("error") is None and call.get("first_delta_ms") is not None


def _cell_section(
    cell: str, workloads: list[str], by: dict[tuple[str, str, str, int], list[Row]]
) -> list[str]:
    out = [f"## {cell}", "", "### Cold", ""]
    out.append(
        "| workload | first_delta_ms | total_duration_ms | completion_tokens | tokens_per_sec "
        "| cold_kind |"
    )
    out.append("|---|---:|---:|---:|---:|---|")
    cold_rows = 0
    for wl in workloads:
        for c in by.get((cell, wl, "cold", 1), []):
            cold_rows += 1
            out.append(
                f"| {wl} | {_fmt(c.get('first_delta_ms'))} | {_fmt(c.get('total_duration_ms'))} "
                f"| {_int(c.get('completion_tokens'))} "
                f"| {_fmt(c.get('tokens_per_sec'))} | {c.get('cold_kind') or '–'} |"
            )
    if not cold_rows:
        del out[-2:]  # no table without rows
        out.append("No cold call.")
    out += ["", "### Warm", ""]
    if not any(by.get((cell, wl, "warm", 1)) for wl in workloads):
        out.append("No warm call.")
        return out + _errors_section(cell, by)
    out.append(
        "| workload | n | first_delta_ms p50 | first_delta_ms p95 | total_duration_ms p50 "
        "| total_duration_ms p95 | completion_tokens mean | tokens_per_sec mean | success_rate "
        "| itl_p50_ms mean | rouge1 mean | rougeL mean |"
    )
    out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    all_ttft: list[float] = []
    all_tps: list[float] = []
    n_all = errors_all = 0
    for wl in workloads:
        warm = by.get((cell, wl, "warm", 1), [])
        if not warm:
            continue
        ok = [c for c in warm if _ok(c)]
        ttft = [c["first_delta_ms"] for c in ok]
        total = [c["total_duration_ms"] for c in ok if c.get("total_duration_ms") is not None]
        tps = [c["tokens_per_sec"] for c in ok if c.get("tokens_per_sec") is not None]
        toks = [c["completion_tokens"] for c in ok if c.get("completion_tokens") is not None]
        itl = [c["itl_p50_ms"] for c in ok if c.get("itl_p50_ms") is not None]
        r1 = [c["rouge1"] for c in ok if c.get("rouge1") is not None]
        rl = [c["rougeL"] for c in ok if c.get("rougeL") is not None]
        all_ttft += ttft
        all_tps += tps
        n_all += len(warm)
        errors_all += len(warm) - len(ok)
        out.append(
            f"| {wl} | {len(warm)} | {_fmt(_p(ttft, 50))} | {_fmt(_p(ttft, 95))} "
            f"| {_fmt(_p(total, 50))} | {_fmt(_p(total, 95))} | {_fmt(_mean(toks))} "
            f"| {_fmt(_mean(tps))} | {len(ok) / len(warm):.2f} | {_fmt(_mean(itl), 2)} "
            f"| {_fmt(_mean(r1), 3)} | {_fmt(_mean(rl), 3)} |"
        )
    if n_all:
        out.append(
            f"| **all workloads** | {n_all} | {_fmt(_p(all_ttft, 50))} | {_fmt(_p(all_ttft, 95))} "
            f"| – | – | – | {_fmt(_mean(all_tps))} | {(n_all - errors_all) / n_all:.2f} "
            "| – | – | – |"
        )
    return out + _errors_section(cell, by)


def _errors_section(cell: str, by: dict[tuple[str, str, str, int], list[Row]]) -> list[str]:
    """The cell's failed calls (when any), and the blank line that ends the cell's section."""
    out: list[str] = []
    errors = [c for k, v in by.items() if k[0] == cell for c in v if c.get("error")]
    if errors:
        out += [
            "",
            "### Errors",
            "",
            "| workload | phase | run_idx | error_kind | error |",
            "|---|---|---:|---|---|",
        ]
        for c in errors:
            msg = str(c["error"]).replace("|", "\\|").replace("\n", " ")[:160]
            out.append(
                f"| {_workload(c)} | {c['phase']} | {c['run_idx']} | {c['error_kind']} | {msg} |"
            )
    out.append("")
    return out


def _concurrency_section(
    cells: list[str],
    workloads: list[str],
    by: dict[tuple[str, str, str, int], list[Row]],
    levels: list[int],
) -> list[str]:
    out = [
        "## Concurrency",
        "",
        "| cell | workload | concurrency | n | aggregate tokens/s | TTFT p50 "
        "| start lag p99 (ms) |",
    ]
    out.append("|---|---|---:|---:|---:|---:|---:|")
    for cell in cells:
        for wl in workloads:
            for level in levels:
                calls = by.get((cell, wl, "warm", level), [])
                if not calls:
                    continue
                ok = [c for c in calls if _ok(c)]
                agg = aggregate_tokens_per_sec(ok)
                lags = [c["start_lag_ms"] for c in calls if c.get("start_lag_ms") is not None]
                ttft = [c["first_delta_ms"] for c in ok]
                out.append(
                    f"| {cell} | {wl} | {level} | {len(calls)} | {_fmt(agg)} "
                    f"| {_fmt(_p(ttft, 50))} "
                    f"| {_fmt(_p(lags, 99), 2)} |"
                )
    out.append("")
    return out


def aggregate_tokens_per_sec(calls: list[Row]) -> float | None:
    """Σ completion tokens / (last end − first start) over a set of concurrent calls."""
    spans = []
    tokens = 0
    for c in calls:
        if c.get("completion_tokens") is None or c.get("total_duration_ms") is None:
            continue
        start = datetime.fromisoformat(c["started_at"].replace("Z", "+00:00")).timestamp()
        spans.append((start, start + c["total_duration_ms"] / 1000))
        tokens += c["completion_tokens"]
    if not spans:
        return None
    width = max(e for _, e in spans) - min(s for s, _ in spans)
    return tokens / width if width > 0 else None


def write_report(run_dir: Path) -> Path:
    """Regenerate ``run_dir/run.md`` from its ledger and metadata (an imported run's from its
    metadata, and its ledger when it has per-request records)."""
    ledger = run_dir / "run.jsonl"
    metadata: Row | None = None
    meta_path = run_dir / "metadata.json"
    if meta_path.is_file():
        try:
            metadata = json.loads(meta_path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise ConfigError(f"{meta_path}: not valid JSON ({exc})") from exc
    if isinstance(metadata, dict) and metadata.get("source"):
        from collector.importers.report import render

        records = read_ledger(ledger) if ledger.is_file() else []
        write_atomic(run_dir / "run.md", render(metadata, records))
        return run_dir / "run.md"
    if not ledger.is_file():
        raise ConfigError(f"{run_dir}: no run.jsonl to report on (is this a run directory?)")
    text = render_report(read_ledger(ledger), metadata)
    target = run_dir / "run.md"
    write_atomic(target, text)
    return target
