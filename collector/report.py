"""``run.md``: aggregated tables generated from ``run.jsonl`` (the shape of a run summary).

Deterministic and idempotent: the same ledger always gives the same bytes. The matrix of warm
TTFT p50 comes first, then per cell a cold table and a warm table, one row per workload, and an
across-workloads summary; then the length workloads (target and achieved lengths, prefill
rates), the concurrency levels and the request-rate levels (throughput, goodput, latency
percentiles). New columns go at the end of a table; existing ones never move. Statistics come
from ``bakeoff.stats``, the code every command shares (percentiles by linear interpolation
between closest ranks, numpy's default).
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from bakeoff import stats
from bakeoff.jsonio import write_atomic
from collector.errors import ConfigError
from collector.measure import percentile

Row = dict[str, Any]
Level = tuple[str, float]  # ("c", concurrency) for closed loops, ("r", rate) for open ones
SEQUENTIAL: Level = ("c", 1)


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
    by: dict[tuple[str, str, str, Level], list[Row]] = defaultdict(list)
    workloads: list[str] = []
    for call in calls:
        wl = _workload(call)
        if wl not in workloads:
            workloads.append(wl)
        by[(call["cell_id"], wl, call["phase"], _level(call))].append(call)
    slo = ((metadata or {}).get("config") or {}).get("slo") or {}

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
            ok = [c["first_delta_ms"] for c in by.get((cell, wl, "warm", SEQUENTIAL), []) if _ok(c)]
            row.append(_fmt(_p(ok, 50)))
        out.append(f"| {cell} | " + " | ".join(row) + " |")
    out.append("")
    for cell in cells:
        out += _cell_section(cell, workloads, by)
    out += _skipped_section(skipped)
    out += _lengths_section(cells, calls)
    levels = sorted({k[3] for k in by if k[3][0] == "c" and k[3][1] > 1})
    if levels:
        out += _concurrency_section(cells, workloads, by, levels, slo)
    rates = sorted({k[3] for k in by if k[3][0] == "r"})
    if rates:
        out += _rates_section(cells, workloads, by, rates, slo)
    return "\n".join(out).rstrip("\n") + "\n"


def _level(call: Row) -> Level:
    rate = call.get("request_rate")
    if rate is not None:
        return ("r", float(rate))
    return ("c", int(call.get("concurrency") or 1))


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
    cell: str, workloads: list[str], by: dict[tuple[str, str, str, Level], list[Row]]
) -> list[str]:
    out = [f"## {cell}", "", "### Cold", ""]
    out.append(
        "| workload | first_delta_ms | total_duration_ms | completion_tokens | tokens_per_sec "
        "| cold_kind |"
    )
    out.append("|---|---:|---:|---:|---:|---|")
    cold_rows = 0
    for wl in workloads:
        for c in by.get((cell, wl, "cold", SEQUENTIAL), []):
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
    if not any(by.get((cell, wl, "warm", SEQUENTIAL)) for wl in workloads):
        out.append("No warm call.")
        return out + _errors_section(cell, by)
    out.append(
        "| workload | n | first_delta_ms p50 | first_delta_ms p95 | total_duration_ms p50 "
        "| total_duration_ms p95 | completion_tokens mean | tokens_per_sec mean | success_rate "
        "| itl_p50_ms mean | rouge1 mean | rougeL mean | prompt_tokens mean "
        "| prefill_tokens_per_sec p50 | server_prefill_tokens_per_sec p50 |"
    )
    out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    all_ttft: list[float] = []
    all_tps: list[float] = []
    n_all = errors_all = 0
    for wl in workloads:
        warm = by.get((cell, wl, "warm", SEQUENTIAL), [])
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
        prompt = _values(ok, "prompt_tokens")
        prefill = _values(ok, "prefill_tokens_per_sec")
        server_prefill = _values(ok, "server_prefill_tokens_per_sec")
        all_ttft += ttft
        all_tps += tps
        n_all += len(warm)
        errors_all += len(warm) - len(ok)
        out.append(
            f"| {wl} | {len(warm)} | {_fmt(_p(ttft, 50))} | {_fmt(_p(ttft, 95))} "
            f"| {_fmt(_p(total, 50))} | {_fmt(_p(total, 95))} | {_fmt(_mean(toks))} "
            f"| {_fmt(_mean(tps))} | {len(ok) / len(warm):.2f} | {_fmt(_mean(itl), 2)} "
            f"| {_fmt(_mean(r1), 3)} | {_fmt(_mean(rl), 3)} | {_fmt(stats.mean(prompt))} "
            f"| {_fmt(stats.percentile(prefill, 50))} "
            f"| {_fmt(stats.percentile(server_prefill, 50))} |"
        )
    if n_all:
        out.append(
            f"| **all workloads** | {n_all} | {_fmt(_p(all_ttft, 50))} | {_fmt(_p(all_ttft, 95))} "
            f"| – | – | – | {_fmt(_mean(all_tps))} | {(n_all - errors_all) / n_all:.2f} "
            "| – | – | – | – | – | – |"
        )
    return out + _errors_section(cell, by)


def _errors_section(cell: str, by: dict[tuple[str, str, str, Level], list[Row]]) -> list[str]:
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


def _values(calls: Iterable[Row], key: str) -> list[float]:
    return [float(c[key]) for c in calls if c.get(key) is not None]


def _level_stats(calls: list[Row], slo: Row) -> Row:
    """Throughput, goodput and latency percentiles of one level (``bakeoff.stats``)."""
    ok = [c for c in calls if _ok(c)]
    spans = [
        (_start_us(c), float(c["total_duration_ms"]))
        for c in ok
        if c.get("total_duration_ms") is not None
    ]
    seconds = stats.span_seconds(spans)
    tokens = sum(int(c["completion_tokens"]) for c in ok if c.get("completion_tokens") is not None)
    tpot = _values(ok, "tpot_ms")
    tpot_p50 = stats.percentile(tpot, 50)
    good = None
    if slo:
        good = sum(
            1
            for c in ok
            if stats.meets_slo(
                c.get("first_delta_ms"),
                c.get("tpot_ms"),
                c.get("completion_tokens"),
                slo.get("ttft_ms"),
                slo.get("tpot_ms"),
            )
        )
    ttft = _values(ok, "first_delta_ms")
    return {
        "n": len(calls),
        "requests_per_sec": stats.per_second(len(ok), seconds),
        "goodput": stats.per_second(good, seconds) if good is not None else None,
        "attainment": good / len(calls) if good is not None and calls else None,
        "tokens_per_sec": stats.per_second(tokens, seconds),
        "ttft_p50": stats.percentile(ttft, 50),
        "ttft_p99": stats.percentile(ttft, 99),
        "tpot_p50": tpot_p50,
        "tpot_p99": stats.percentile(tpot, 99),
        "per_user": stats.finite(1000 / tpot_p50) if tpot_p50 else None,
        "lag_p99": stats.percentile(_values(calls, "start_lag_ms"), 99),
    }


def _start_us(call: Row) -> int:
    start = datetime.fromisoformat(call["started_at"].replace("Z", "+00:00"))
    return round(start.timestamp() * 1e6)


def _slo_line(slo: Row) -> list[str]:
    if not slo:
        return ["Goodput: no `slo` in the cells file, so none is counted.", ""]
    parts = [
        f"{name} ≤ {slo[key]:g} ms"
        for key, name in (("ttft_ms", "TTFT"), ("tpot_ms", "TPOT"))
        if slo.get(key) is not None
    ]
    objectives = " and ".join(parts)
    return [f"Goodput counts successful calls with {objectives} (the cells file's slo).", ""]


def _concurrency_section(
    cells: list[str],
    workloads: list[str],
    by: dict[tuple[str, str, str, Level], list[Row]],
    levels: list[Level],
    slo: Row,
) -> list[str]:
    out = [
        "## Concurrency",
        "",
        "| cell | workload | concurrency | n | aggregate tokens/s | TTFT p50 "
        "| start lag p99 (ms) | requests/s | goodput (req/s) | TPOT p50 (ms) "
        "| tokens/s per user |",
    ]
    out.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
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
                got = _level_stats(calls, slo)
                out.append(
                    f"| {cell} | {wl} | {level[1]:g} | {len(calls)} | {_fmt(agg)} "
                    f"| {_fmt(_p(ttft, 50))} "
                    f"| {_fmt(_p(lags, 99), 2)} | {_fmt(got['requests_per_sec'], 3)} "
                    f"| {_fmt(got['goodput'], 3)} | {_fmt(got['tpot_p50'])} "
                    f"| {_fmt(got['per_user'])} |"
                )
    out.append("")
    return out + _slo_line(slo)


def _rates_section(
    cells: list[str],
    workloads: list[str],
    by: dict[tuple[str, str, str, Level], list[Row]],
    rates: list[Level],
    slo: Row,
) -> list[str]:
    """Open-loop levels: what each offered rate achieved, and within the objectives."""
    out = [
        "## Request rates (open loop)",
        "",
        "| cell | workload | rate (req/s) | n | requests/s | goodput (req/s) | SLO met "
        "| output tokens/s | TTFT p50 | TTFT p99 | TPOT p50 (ms) | TPOT p99 (ms) "
        "| tokens/s per user | start lag p99 (ms) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for cell in cells:
        for wl in workloads:
            for level in rates:
                calls = by.get((cell, wl, "warm", level), [])
                if not calls:
                    continue
                got = _level_stats(calls, slo)
                met = "–" if got["attainment"] is None else f"{got['attainment']:.0%}"
                out.append(
                    f"| {cell} | {wl} | {level[1]:g} | {got['n']} "
                    f"| {_fmt(got['requests_per_sec'], 3)} | {_fmt(got['goodput'], 3)} | {met} "
                    f"| {_fmt(got['tokens_per_sec'])} | {_fmt(got['ttft_p50'])} "
                    f"| {_fmt(got['ttft_p99'])} | {_fmt(got['tpot_p50'])} "
                    f"| {_fmt(got['tpot_p99'])} | {_fmt(got['per_user'])} "
                    f"| {_fmt(got['lag_p99'], 2)} |"
                )
    out.append("")
    return out + _slo_line(slo)


def _lengths_section(cells: list[str], calls: list[Row]) -> list[str]:
    """Length workloads per cell: target and achieved lengths of every call, prefill rates, and
    a line naming the calls more than 1 % off their target (``length_off_target``)."""
    rows = [c for c in calls if c.get("target_prompt_tokens") is not None]
    if not rows:
        return []
    out = [
        "## Length workloads",
        "",
        "| cell | workload | n | prompt_tokens target | prompt_tokens min–max "
        "| completion_tokens target | completion_tokens min–max | off target "
        "| prefill_tokens_per_sec p50 | server_prefill_tokens_per_sec p50 |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    off: list[Row] = []
    groups: dict[tuple[str, str], list[Row]] = defaultdict(list)
    for c in rows:
        groups[(c["cell_id"], str(c["prompt_id"]))].append(c)
    for cell in cells:
        for (group_cell, wl), members in groups.items():
            if group_cell != cell:
                continue
            bad = [c for c in members if c.get("length_off_target")]
            off += bad
            first = members[0]
            prefill = stats.percentile(_values(members, "prefill_tokens_per_sec"), 50)
            server = stats.percentile(_values(members, "server_prefill_tokens_per_sec"), 50)
            out.append(
                f"| {cell} | {wl} | {len(members)} | {first['target_prompt_tokens']} "
                f"| {_range(members, 'prompt_tokens')} | {first['target_completion_tokens']} "
                f"| {_range(members, 'completion_tokens')} | {len(bad)} "
                f"| {_fmt(prefill)} | {_fmt(server)} |"
            )
    out.append("")
    if off:
        shown = ", ".join(
            f"{c['prompt_id']} {c['phase']}#{c['run_idx']}"
            + (f" @{c['request_rate']:g}/s" if c.get("request_rate") is not None else "")
            + (f" c{c['concurrency']}" if (c.get("concurrency") or 1) > 1 else "")
            + f" ({_int(c.get('prompt_tokens'))}/{_int(c.get('completion_tokens'))})"
            for c in off[:20]
        )
        more = f" and {len(off) - 20} more" if len(off) > 20 else ""
        out += [
            f"**{len(off)} call(s) more than 1 % off their length target** "
            f"(prompt/completion tokens achieved): {shown}{more}.",
            "",
        ]
    return out


def _range(calls: list[Row], key: str) -> str:
    values = [int(c[key]) for c in calls if c.get(key) is not None]
    if not values:
        return "–"
    low, high = min(values), max(values)
    return str(low) if low == high else f"{low}–{high}"


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
