"""System pages (hardware, software over time, history, latest results, runs) and their index.

A system's rankings and history use comparable results only; its run table lists every run
and marks the ones that are not comparable, with the reason.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

from publisher.site import charts
from publisher.site.escape import html_text
from publisher.site.pages import levels
from publisher.site.pages.common import (
    Cell,
    Col,
    Output,
    Row,
    SystemName,
    Tabs,
    fmt,
    html_table,
    kv_table,
    level_text,
    link_cell,
    num,
    num_cell,
    page,
    run_href,
    system_name,
    system_page,
    text_cell,
)
from publisher.site.pages.leaderboards import MAX_TABLE_ROWS, MAX_TABS, per_workload_tabs
from publisher.site.pages.view import ArchiveView, Entry

MAX_SYSTEM_RUNS = 200
SOFTWARE = (
    "os",
    "kernel_version",
    "python_version",
    "gpu_driver_version",
    "cuda_version",
    "rocm_version",
    "runner_version",
)


def chart_time(value: Any) -> str:
    """An ISO 8601 UTC time as plotly date text ("2026-01-02 03:04:05"; plotly drops "Z")."""
    return str(value or "").replace("T", " ").removesuffix("Z")


def history_label(row: Row) -> str:
    """A signature's readable label: workload, load level, engine and model."""
    return (
        f"{row.get('workload_id')} {level_text(row.get('concurrency'), row.get('request_rate'))} "
        f"· {row.get('engine')} · {row.get('model')}"
    )


def change_cell(change: Any) -> Cell:
    """A change point's kind, in its chart colour."""
    style = charts.CHANGE_STYLE.get(str(change))
    if style is None:
        return text_cell(change)
    return Cell(f'<span class="bo-{html_text(change)}">{html_text(style["label"])}</span>', change)


def history_series(rows: Iterable[Row]) -> dict[str, tuple[str, list[Row]]]:
    """History rows by signature → (readable label, points in time order).

    Labels that would collide (same workload id, engine and model, but another digest, token
    limit or temperature) get the signature's first 8 characters.
    """
    by_sig: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        by_sig[str(row.get("signature"))].append(row)
    labels = {sig: history_label(points[0]) for sig, points in by_sig.items()}
    counts: dict[str, int] = defaultdict(int)
    for label in labels.values():
        counts[label] += 1
    return {
        sig: (
            labels[sig] + (f" ({sig[:8]})" if counts[labels[sig]] > 1 else ""),
            sorted(
                points,
                key=lambda r: (str(r.get("started_at") or ""), str(r.get("run_id")), r.get("seq")),
            ),
        )
        for sig, points in sorted(by_sig.items())
    }


def change_rows(
    rows: Iterable[Mapping[str, Any]], prefix: str, *, with_system: bool
) -> list[list[Cell]]:
    """Rows of a change-point table (newest first as given)."""
    out = []
    for r in rows:
        cells = [
            text_cell(r.get("started_at")),
            link_cell(r.get("run_id"), run_href(prefix, r.get("run_id"))),
        ]
        if with_system:
            cells.append(system_name(dict(r)).cell(prefix))
        cells += [
            text_cell(
                f"{r.get('workload_id')} {level_text(r.get('concurrency'), r.get('request_rate'))}"
            ),
            text_cell(f"{r.get('engine')} · {r.get('model')}"),
            change_cell(r.get("change")),
            Cell(f'<span class="bo-wrap">{html_text(r.get("change_detail"))}</span>'),
        ]
        out.append(cells)
    return out


def history_section(rows: list[Row], counter: list[int], out: Output) -> list[str]:
    """A system's "History" from its history points: per signature a chart over time with
    change points, and a table of every change point (newest first)."""
    if not rows:
        return []
    series = history_series(rows)
    changed = [r for r in rows if r.get("change") in charts.CHANGE_STYLE]
    n_changes = {
        sig: sum(1 for r in pts if r.get("change") in charts.CHANGE_STYLE)
        for sig, (_, pts) in series.items()
    }
    # Series with change points first, then the longest; a series of one run has no history.
    order = sorted(
        (sig for sig, (_, pts) in series.items() if len(pts) > 1),
        key=lambda sig: (-n_changes[sig], -len(series[sig][1]), series[sig][0], sig),
    )
    body = [
        "## History",
        '<p class="bo-note">Each configuration (workload × engine × model) over time on this '
        "system, comparable runs only: every warm result is compared with the previous one by "
        "the thresholds of <code>seeds/tolerances.json</code> and marked ▼ regression or "
        "▲ improvement. A recovery is a point of its own, so a regression stays visible after "
        'it. <a href="../changes.html">Recent changes on all systems</a>.</p>',
    ]
    tabs = Tabs(counter)
    for sig in order[:MAX_TABS]:
        label, pts = series[sig]
        points = [
            charts.HistoryPoint(
                when=chart_time(r.get("started_at")),
                run_id=str(r.get("run_id")),
                ttft_ms=num(r.get("ttft_p50_ms")),
                tokens_per_sec=num(r.get("tokens_per_sec_mean")),
                change=str(r.get("change") or "none"),
                detail=str(r.get("change_detail") or ""),
            )
            for r in pts
        ]
        marks = n_changes[sig]
        tabs.add(
            label + (f" ({marks})" if marks else ""),
            out.chart(charts.history(points), f"History of {label}", "../"),
        )
    if tabs.items:
        body.append(tabs.html())
        if len(order) > MAX_TABS:
            body.append(
                f'<p class="bo-note">Charts for the {MAX_TABS} configurations with the most '
                f"changes and runs of {len(order)}; the table below lists every change point, "
                "the <code>history</code> table in the downloads has every point.</p>"
            )
    else:
        body.append('<p class="bo-empty">Every configuration has a single run so far.</p>')
    changed.sort(key=lambda r: (str(r.get("started_at") or ""), str(r.get("run_id"))), reverse=True)
    body.append("### Change points")
    cols = [
        Col("Time"),
        Col("Run"),
        Col("Workload"),
        Col("Engine · model", wrap=True),
        Col("Change"),
    ]
    if changed:
        body.append(
            html_table(
                [*cols, Col("Detail", wrap=True)],
                change_rows(changed, "../", with_system=False),
                max_rows=MAX_TABLE_ROWS,
            )
        )
    else:
        body.append('<p class="bo-empty">No regressions or improvements on this system.</p>')
    return body


def load_levels_section(view: ArchiveView, system_id: str, out: Output) -> list[str]:
    """A system's load-level curves (the InferenceX view, goodput and TTFT against the
    offered rate, prefill by input tokens), latest comparable results; nothing without
    workloads measured at several levels or lengths."""
    rows = view.level_rows.get(system_id, [])
    gpus = view.gpu_count(system_id)
    found = levels.level_charts(
        rows, lambda r: f"{r.get('engine')} · {r.get('model')}", lambda r: gpus
    )
    if not found:
        return []
    body = [
        "## Load levels",
        '<p class="bo-note">The latest comparable result of each configuration at each load '
        "level (concurrency or offered request rate) and input length. Levels are curves, not "
        "leaderboard rows: a sweep's rates depend on the machine that found them. "
        '<a href="../../methodology.html#load">How these are measured</a>.</p>',
    ]
    for title, spec in found:
        body.append(f'<p class="bo-chart-title"><strong>{html_text(title)}</strong></p>')
        body.append(out.chart(spec, title, "../"))
    return body


def _yes_no(value: Any) -> str:
    """``yes``/``no`` for a known flag, ``unknown`` for null (a file that does not say)."""
    return "unknown" if value is None else ("yes" if value else "no")


def comparable_text(run: Mapping[str, Any]) -> str:
    """ "yes", or "no: <reason>" for a run that never ranks."""
    if run.get("comparable"):
        return "yes"
    return f"no: {run.get('comparable_reason') or run.get('mode') or 'not comparable'}"


def system_page_md(
    view: ArchiveView, system_id: str, history: list[Row], entries: list[Entry], out: Output
) -> str:
    """One system: hardware, software snapshots over time, history, results and runs."""
    hw = view.systems.get(system_id, {})
    name = view.system(system_id)
    runs = view.runs_by_system.get(system_id, [])
    counter = [0]
    gpus = view.snapshot_gpus.get(str(hw.get("snapshot_run_id")), []) if hw else []
    gpu_text = (
        "; ".join(f"{g.get('name') or 'GPU'} {fmt(g.get('memory_total_gb'))} GB" for g in gpus)
        or hw.get("gpu_summary")
        or None
    )
    comparable = [r for r in runs if r.get("comparable")]
    compare = html_text(f"../compare.html?systems={quote(system_id, safe='')}")
    body = [
        f'<p class="bo-facts">System <strong>{html_text(name.system_label)}</strong> · '
        f"{html_text(name.hardware_class)} · "
        f'<a href="{compare}">Compare with other systems</a></p>',
        "## Hardware",
        kv_table(
            [
                ("Hardware class", name.hardware_class),
                ("System label", name.system_label),
                ("System id", system_id),
                ("Publisher", hw.get("publisher_id")),
                ("CPU", hw.get("cpu_model")),
                (
                    "Cores / threads",
                    f"{hw.get('cpu_cores') or '—'} / {hw.get('cpu_threads') or '—'}",
                ),
                ("Architecture", hw.get("architecture")),
                ("RAM GiB", fmt(hw.get("ram_total_gb"))),
                ("Board", hw.get("board_model")),
                ("Container", _yes_no(hw.get("in_container"))),
                ("GPUs", gpu_text),
                ("Runs (comparable)", f"{len(runs)} ({len(comparable)})"),
                (
                    "First / last run",
                    f"{hw.get('first_run_at') or '—'} / {hw.get('last_run_at') or '—'}",
                ),
                ("Hardware changes", hw.get("hardware_changes")),
            ]
        ),
    ]
    # Software snapshots: consecutive runs with identical software collapse into one row.
    software = view.software
    snaps: list[tuple[tuple[Any, ...], list[str]]] = []
    for run in runs:
        sw = software.get(str(run["run_id"]))
        if sw is None:
            continue
        values = tuple(sw.get(k) for k in SOFTWARE)
        if snaps and snaps[-1][0] == values:
            snaps[-1][1].append(str(run["run_id"]))
        else:
            snaps.append((values, [str(run["run_id"])]))
    if snaps:
        body.append("## Software over time")
        body.append(
            html_table(
                [Col("From run"), Col("Runs", "", True), *(Col(k) for k in SOFTWARE)],
                [
                    [
                        link_cell(ids[0], run_href("../", ids[0])),
                        num_cell(len(ids), 0),
                        *(text_cell(v) for v in values),
                    ]
                    for values, ids in snaps
                ],
            )
        )
    body += history_section(history, counter, out)
    body += load_levels_section(view, system_id, out)
    if entries:
        body.append("## Latest results")
        body += per_workload_tabs(
            view,
            entries,
            counter,
            lambda e: f"{e.engine_label} · {e.model_label}",
            "../",
            out,
        )
    body.append("## Runs")
    body.append(
        html_table(
            [
                Col("Run"),
                Col("Started"),
                Col("Mode"),
                Col("Status"),
                Col("Comparable", "smoke, probe-only and empty runs never rank", wrap=True),
                Col("Calls ok", "", True),
                Col("Calls", "", True),
            ],
            [
                [
                    link_cell(r.get("run_id"), run_href("../", r.get("run_id"))),
                    text_cell(r.get("started_at")),
                    text_cell(r.get("mode")),
                    text_cell(r.get("status")),
                    text_cell(comparable_text(r)),
                    num_cell(r.get("calls_ok"), 0),
                    num_cell(r.get("calls_total"), 0),
                ]
                for r in list(reversed(runs))[:MAX_SYSTEM_RUNS]
            ],
        )
    )
    if len(runs) > MAX_SYSTEM_RUNS:
        body.append(
            f'<p class="bo-note">The {MAX_SYSTEM_RUNS} newest of {len(runs)} runs; the '
            '<a href="../runs/index.html">run index</a> lists all of them.</p>'
        )
    return page(f"System {name.text}", body)


def systems_index(view: ArchiveView) -> str:
    """Every system with its hardware class, label and run counts."""
    rows = []
    for sid in view.system_ids():
        hw = view.systems.get(sid, {})
        runs = view.runs_by_system.get(sid, [])
        name: SystemName = view.system(sid)
        rows.append(
            [
                name.cell("../"),
                text_cell(hw.get("cpu_model")),
                text_cell(hw.get("gpu_summary")),
                num_cell(hw.get("ram_total_gb")),
                num_cell(len(runs), 0),
                num_cell(sum(1 for r in runs if r.get("comparable")), 0),
                text_cell(max((str(r["started_at"]) for r in runs), default=None)),
            ]
        )
    cols = [
        Col("System", "hardware class, and the system's label (host label · system id)", wrap=True),
        Col("CPU", wrap=True),
        Col("GPUs", wrap=True),
        Col("RAM GiB", "", True),
        Col("Runs", "", True),
        Col("comparable", "runs that rank (not smoke, probe-only or empty)", True),
        Col("Last run"),
    ]
    return page("Systems", ["One page per deduplicated system (host).", html_table(cols, rows)])


def write_system_pages(view: ArchiveView, out: Output) -> None:
    """The systems index and one page per system."""
    out.write("systems/index.md", systems_index(view))
    history = view.history_by_system()
    entries: dict[str, list[Entry]] = {}
    for e in view.all_entries():
        entries.setdefault(str(e.row.get("system_id")), []).append(e)
    for sid in view.system_ids():  # ascending, as history_by_system reads them
        page_md = system_page_md(view, sid, history.get(sid), entries.get(sid, []), out)
        out.write(f"systems/{system_page(sid).removesuffix('.html')}.md", page_md)
