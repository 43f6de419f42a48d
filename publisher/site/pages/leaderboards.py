"""Leaderboards: one page per workload signature, the index of all of them, and a CSV file per
leaderboard table.

Each row is the latest comparable warm result of one configuration (system × engine × model ×
quantization) and says whose it is: hardware class plus system label.
"""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from publisher.site import charts
from publisher.site.escape import html_text, slug
from publisher.site.pages import levels
from publisher.site.pages.common import (
    MEANING_COLUMNS,
    Cell,
    Col,
    Output,
    Row,
    Tabs,
    html_table,
    known_cell,
    link_cell,
    num,
    num_cell,
    page,
    pct_cell,
    run_href,
    system_name,
    text_cell,
)
from publisher.site.pages.view import FAMILY, ArchiveView, Entry, Workload

# Static table rows per page: keeps every page's HTML well under 300 KB.
MAX_TABLE_ROWS = 300
# Scatter points that get a visible label (more would overlap; hover names every point).
LABELLED_POINTS = 12


def _has(entries: Sequence[Entry], column: str) -> bool:
    return any(num(e.row.get(column)) is not None for e in entries)


def leaderboard_cols(entries: Sequence[Entry], *, show_workload: bool = False) -> list[Col]:
    """The columns of a leaderboard table (ROUGE-L and J/token only when some row has them)."""
    cols = [Col("Workload", wrap=True)] if show_workload else []
    cols += [
        Col("System", "hardware class, and the system's label (host label · system id)", wrap=True),
        Col("Engine", wrap=True),
        Col("Model", wrap=True),
        Col("TTFT p50 ms", "warm, lower is better", True),
        Col("TTFT p95 ms", "warm, lower is better", True),
        Col(
            "tokens/s",
            "decode rate per stream (aggregate under concurrency), higher is better",
            True,
        ),
        Col("success", "share of calls without error", True),
    ]
    if _has(entries, "rougeL_mean"):
        cols.append(Col("ROUGE-L", "summarization quality (F-measure), higher is better", True))
    if _has(entries, "joules_per_output_token"):
        cols.append(Col("J/token", "energy per output token, lower is better", True))
    cols += efficiency_cols(entries)
    cols += [
        Col("runs", "comparable runs of this configuration", True),
        Col("latest", "the run of this result (its start, UTC)"),
    ]
    return cols


# Issue 17's columns: cells column → (title, hint, the column saying why it is null). Cost
# gets one column per currency ("EUR/M tok"): costs in different currencies are
# never ranked together.
EFFICIENCY: dict[str, tuple[str, str, str]] = {
    "bandwidth_efficiency": (
        "BW eff.",
        "bandwidth efficiency: decode rate × model size ÷ the memory bandwidth the run's --bench "
        "measured, the share of the memory roofline reached; a dash says why it is unknown",
        "roofline_reason",
    ),
    "tokens_per_joule": (
        "tok/s/W",
        "tokens per joule (= tokens/s per watt) of whole-device energy (CPU package and GPUs), "
        "higher is better; a dash says why it is unknown",
        "energy_reason",
    ),
    "cost_per_million_tokens": (
        "cost / M tok",
        "cost per million output tokens from the prices the run states, lower is better (the "
        "most tokens per currency unit first when sorted ascending); a dash says why it is "
        "unknown",
        "cost_reason",
    ),
}
COST = "cost_per_million_tokens"


def cost_title(currency: str) -> str:
    """The header of the cost column of one currency: ``EUR/M tok``."""
    return f"{currency}/M tok"


def currencies(entries: Sequence[Entry]) -> list[str]:
    """The currencies the entries' costs are stated in, sorted."""
    return sorted(
        {str(e.row.get("cost_currency")) for e in entries if num(e.row.get(COST)) is not None}
    )


def efficiency_cols(entries: Sequence[Entry]) -> list[Col]:
    """Issue 17's columns that some entry has a value for."""
    cols = []
    for column, (title, hint, _) in EFFICIENCY.items():
        if column == COST:
            cols += [Col(cost_title(cur), hint, True) for cur in currencies(entries)]
        elif _has(entries, column):
            cols.append(Col(title, hint, True))
    return cols


def efficiency_cells(row: Row, titles: set[str], shown: Sequence[str]) -> list[Cell]:
    """A row's cells of the shown efficiency columns (``shown``: the cost currencies)."""
    cells = []
    for column, (title, _, reason) in EFFICIENCY.items():
        if column == COST:
            currency = str(row.get("cost_currency"))
            for cur in shown:
                if num(row.get(COST)) is not None and currency != cur:
                    cells.append(known_cell(None, f"stated in {currency}"))
                else:
                    cells.append(known_cell(row.get(COST), row.get(reason), 2))
        elif title in titles:
            pct = column == "bandwidth_efficiency"
            cells.append(known_cell(row.get(column), row.get(reason), 2, pct=pct))
    return cells


def unknown_note(entries: Sequence[Entry], cols: Sequence[Col]) -> str:
    """A footnote naming why shown efficiency, energy or cost values are unknown (each
    reason once, with its count), so a dash is never a bare blank."""
    titles = {c.title for c in cols}
    parts = []
    for column, (title, _, reason) in EFFICIENCY.items():
        if title not in titles and not (column == COST and currencies(entries)):
            continue
        why = Counter(
            str(e.row.get(reason) or "not measured")
            for e in entries
            if num(e.row.get(column)) is None
        )
        parts += [f"{html_text(title)}: {html_text(text)} ({n})" for text, n in sorted(why.items())]
    if not parts:
        return ""
    return '<p class="bo-note bo-unknown">Unknown values (—): ' + "; ".join(parts) + ".</p>"


def leaderboard_rows(
    entries: Sequence[Entry], cols: Sequence[Col], prefix: str
) -> list[list[Cell]]:
    """Table rows, fastest first."""
    titles = {c.title for c in cols}
    shown = [cur for cur in currencies(entries) if cost_title(cur) in titles]
    rows = []
    for e in sorted(entries, key=Entry.order):
        r = e.row
        cells: list[Cell] = []
        if "Workload" in titles:
            cells.append(link_cell(e.workload.label, f"{prefix}leaderboards/{e.workload.page}"))
        cells += [
            e.system.cell(prefix),
            link_cell(e.engine_label, f"{prefix}engines/{slug(r.get('engine'))}.html"),
            link_cell(e.model_label, f"{prefix}models/{slug(r.get('model'))}.html"),
            num_cell(r.get("ttft_p50_ms")),
            num_cell(r.get("ttft_p95_ms")),
            num_cell(e.throughput),
            pct_cell(r.get("success_rate")),
        ]
        if "ROUGE-L" in titles:
            cells.append(num_cell(r.get("rougeL_mean"), 3))
        if "J/token" in titles:
            cells.append(num_cell(r.get("joules_per_output_token"), 3))
        cells += efficiency_cells(r, titles, shown)
        cells.append(num_cell(e.runs, 0))
        run_id = r.get("run_id")
        # The run's date keeps the column narrow; the full id is the link's tooltip.
        day = str(r.get("started_at") or "")[:10] or str(run_id)
        cells.append(link_cell(day, run_href(prefix, run_id), title=f"run {run_id}"))
        rows.append(cells)
    return rows


def leaderboard_table(
    entries: Sequence[Entry],
    prefix: str,
    *,
    show_workload: bool = False,
    max_rows: int = MAX_TABLE_ROWS,
    csv_href: str | None = None,
) -> str:
    """The sortable table of entries (fastest first), capped at ``max_rows``."""
    shown = sorted(entries, key=Entry.order)[:max_rows]  # only the rows written are built
    cols = leaderboard_cols(shown, show_workload=show_workload)
    table = html_table(cols, leaderboard_rows(shown, cols, prefix), csv_href=csv_href)
    table += unknown_note(shown, cols)
    if len(entries) > max_rows:
        table += (
            f'<p class="bo-note">Showing the {max_rows} fastest of {len(entries)} configurations; '
            "the CSV file and the <code>cells</code> table on the "
            f'<a href="{prefix}../data.html">Data</a> page have every row.</p>'
        )
    return table


CSV_COLUMNS = [
    "workload_key",
    "workload_id",
    "concurrency",
    "input_tokens",
    "output_tokens",
    "max_tokens",
    "temperature",
    "hardware_class",
    "system_label",
    "system_id",
    "engine",
    "engine_version",
    "model",
    "quantization",
    "model_digest",
    "ttft_p50_ms",
    "ttft_p95_ms",
    "tokens_per_sec",
    "success_rate",
    "rougeL_mean",
    "joules_per_output_token",
    *MEANING_COLUMNS,
    "runs",
    "latest_run_id",
    "latest_started_at",
]
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_value(value: Any) -> Any:
    """A CSV cell; text that a spreadsheet would run as a formula gets a leading ``'``."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    if isinstance(value, float):
        return num(value)
    return value


def leaderboard_csv(entries: Sequence[Entry]) -> str:
    """Every entry of a leaderboard (not capped), fastest first, as CSV text."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for e in sorted(entries, key=Entry.order):
        r = e.row
        values = {
            **{k: r.get(k) for k in CSV_COLUMNS},
            "tokens_per_sec": e.throughput,
            "runs": e.runs,
            "latest_run_id": r.get("run_id"),
            "latest_started_at": r.get("started_at"),
        }
        writer.writerow([_csv_value(values[k]) for k in CSV_COLUMNS])
    return buf.getvalue()


def scatter_for(entries: Sequence[Entry]) -> charts.Spec | None:
    """Throughput-vs-latency scatter with the best frontier, or None without data.

    Every point's hover names its system, engine and model; with few points each also shows
    its system label, so points of two systems of the same hardware class are told apart.
    """
    points = []
    for e in sorted(entries, key=Entry.order):
        ttft, tput = num(e.row.get("ttft_p50_ms")), e.throughput
        if ttft is None or tput is None:
            continue
        label = f"{e.system.text}\n{e.engine_label} · {e.model_label}"
        points.append(
            charts.Point(ttft, tput, str(e.row.get("engine")), label, e.system.system_label)
        )
    if not points:
        return None
    return charts.throughput_latency(points, "tokens/s", show_labels=len(points) <= LABELLED_POINTS)


def workload_facts(w: Workload) -> str:
    """One escaped line describing a workload signature."""
    lengths = (
        f"input {html_text(w.input_tokens)} / output {html_text(w.output_tokens)} tokens · "
        if w.input_tokens is not None or w.output_tokens is not None
        else ""
    )
    return (
        f'<p class="bo-facts"><strong>{html_text(w.kind or "workload")}</strong> '
        f"<code>{html_text(w.workload_id)}</code> · {lengths}max_tokens "
        f"{html_text(w.max_tokens)} · temperature {html_text(w.temperature)} · concurrency "
        f"{html_text(w.concurrency)} · workload key <code>{html_text(w.key)}</code></p>"
    )


def csv_name(w: Workload) -> str:
    """Path of a leaderboard's CSV file under the generated folder."""
    return f"data/leaderboards/{w.name}.csv"


def leaderboard_page(view: ArchiveView, w: Workload, out: Output) -> str:
    """One leaderboard: a scatter, the sortable table and its CSV, with the comparability rule."""
    entries = view.entries.get(w.key, [])
    out.write(csv_name(w), leaderboard_csv(entries))
    related = [
        o for o in view.workloads.values() if o.workload_id == w.workload_id and o.key != w.key
    ]
    body = [
        workload_facts(w),
        '<p class="bo-note">Only comparable results with exactly this workload signature (prompt '
        "or task text, input and output lengths, max_tokens, temperature and concurrency) are "
        "ranked here; each row is the latest warm result of one configuration. Smoke, "
        "probe-only and empty runs never rank, nor do open-loop (request rate) levels: those "
        "are curves on run and system pages. "
        'See <a href="../../methodology.html#comparability">comparability</a>.</p>',
    ]
    spec = scatter_for(entries)
    if spec is not None:
        body.append(out.chart(spec, "Throughput vs TTFT", "../"))
    curve = family_curves(view, entries)
    if curve is not None:
        title, curve_spec = curve
        body.append(
            f'<p class="bo-chart-title"><strong>{html_text(title)}</strong>: every load level '
            "of this workload (concurrency or offered rate), the latest result of each "
            "configuration; one line per system, engine and model.</p>"
        )
        body.append(out.chart(curve_spec, title, "../"))
    body.append(leaderboard_table(entries, "../", csv_href=f"../{csv_name(w)}"))
    if related:
        links = "".join(
            f'<li><a href="{o.page}">{html_text(o.label)}</a></li>'
            for o in sorted(related, key=lambda o: o.key)
        )
        body.append(
            "<p>The same prompt or task with other settings (not comparable with this page):</p>"
            f"<ul>{links}</ul>"
        )
    return page(f"Leaderboard {w.label}", body)


# Lines in a leaderboard's InferenceX view (the configurations with the highest throughput).
MAX_CURVES = 10


def family_curves(view: ArchiveView, entries: Sequence[Entry]) -> tuple[str, charts.Spec] | None:
    """The InferenceX view over every level of this leaderboard's workload, across systems,
    or None unless a configuration was measured at two or more levels."""
    if not entries:
        return None
    family = tuple(entries[0].row.get(c) for c in FAMILY)
    rows = [
        r
        for points in view.level_rows.values()
        for r in points
        if tuple(r.get(c) for c in FAMILY) == family
    ]

    def config(r: Row) -> tuple[str, ...]:
        return (str(r.get("system_id")), str(r.get("engine")), str(r.get("model")))

    best_of: dict[tuple[str, ...], float] = defaultdict(float)
    for r in rows:
        best_of[config(r)] = max(best_of[config(r)], num(r.get("aggregate_tokens_per_sec")) or 0)
    keep = set(sorted(best_of, key=lambda k: (-best_of[k], k))[:MAX_CURVES])
    gpus = {sid: view.gpu_count(sid) for sid, _, _ in keep}
    return levels.inferencex(
        [r for r in rows if config(r) in keep],
        lambda r: f"{system_name(r).text} · {r.get('engine')} · {r.get('model')}",
        lambda r: gpus.get(str(r.get("system_id"))),
    )


def best(entries: Sequence[Entry]) -> Entry | None:
    """The fastest entry (tokens/s), ties broken as in the tables."""
    ranked = sorted((e for e in entries if e.throughput is not None), key=Entry.order)
    return ranked[0] if ranked else None


FASTEST_CSV = "data/leaderboards/fastest-per-model.csv"
FASTEST_COLUMNS = [
    "model",
    "workload_key",
    "workload_id",
    "concurrency",
    "hardware_class",
    "system_label",
    "system_id",
    "engine",
    "engine_version",
    "tokens_per_sec",
    "ttft_p50_ms",
    "configurations",
    "latest_run_id",
]


def leaderboards_index(view: ArchiveView, out: Output) -> str:
    """All workloads, and the fastest configuration per model and workload (with its CSV)."""
    wl_rows = []
    best_rows = []
    best_csv: list[list[Any]] = []
    for w in sorted(view.workloads.values(), key=lambda w: (w.workload_id, w.key)):
        entries = view.entries.get(w.key, [])
        top_all = best(entries)
        wl_rows.append(
            [
                link_cell(w.label, w.page),
                text_cell(w.kind),
                num_cell(w.max_tokens, 0),
                num_cell(w.concurrency, 0),
                text_cell(w.temperature),
                num_cell(len(entries), 0),
                top_all.system.cell("../") if top_all else text_cell(None),
                text_cell(top_all.engine_label if top_all else None),
            ]
        )
        by_model: dict[str, list[Entry]] = defaultdict(list)
        for e in entries:
            by_model[e.model_label].append(e)
        for model, group in sorted(by_model.items()):
            top = best(group)
            if top is None:
                continue
            best_rows.append(
                [
                    link_cell(model, f"../models/{slug(top.row.get('model'))}.html"),
                    link_cell(w.label, w.page),
                    top.system.cell("../"),
                    text_cell(top.engine_label),
                    num_cell(top.throughput),
                    num_cell(top.row.get("ttft_p50_ms")),
                    num_cell(len(group), 0),
                ]
            )
            r = top.row
            best_csv.append(
                [
                    model,
                    w.key,
                    w.workload_id,
                    w.concurrency,
                    r.get("hardware_class"),
                    r.get("system_label"),
                    r.get("system_id"),
                    r.get("engine"),
                    r.get("engine_version"),
                    top.throughput,
                    r.get("ttft_p50_ms"),
                    len(group),
                    r.get("run_id"),
                ]
            )
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(FASTEST_COLUMNS)
    writer.writerows([[_csv_value(v) for v in row] for row in best_csv])
    out.write(FASTEST_CSV, buf.getvalue())
    body = [
        "Each leaderboard ranks comparable results of one workload signature; results of "
        "different signatures are never mixed. Click a column header to sort.",
        "## Fastest per model and workload",
        html_table(
            [
                Col("Model", wrap=True),
                Col("Workload", wrap=True),
                Col("Fastest system", wrap=True),
                Col("Engine", wrap=True),
                Col("tokens/s", "higher is better", True),
                Col("TTFT p50 ms", "lower is better", True),
                Col("configurations", "", True),
            ],
            best_rows,
            csv_href=f"../{FASTEST_CSV}",
        ),
        "## All workloads",
        html_table(
            [
                Col("Workload", wrap=True),
                Col("Kind"),
                Col("max_tokens", "", True),
                Col("concurrency", "", True),
                Col("temperature"),
                Col("results", "configurations ranked", True),
                Col("Fastest system (tokens/s)", wrap=True),
                Col("Engine", wrap=True),
            ],
            wl_rows,
        ),
    ]
    return page("Leaderboards", body)


# Tabs (and their charts) per hub page: enough to compare, few enough to keep pages light.
MAX_TABS = 8
TAB_TABLE_ROWS = 10


def per_workload_tabs(
    view: ArchiveView,
    entries: Sequence[Entry],
    counter: list[int],
    label_of: Callable[[Entry], str],
    prefix: str,
    out: Output,
) -> list[str]:
    """Tabs (the workloads with the most results) with a bar chart and the top of the
    leaderboard, then links to the other workloads."""
    by_wl: dict[str, list[Entry]] = defaultdict(list)
    for e in entries:
        by_wl[e.workload.key].append(e)
    order = sorted(by_wl, key=lambda k: (-len(by_wl[k]), view.workloads[k].label, k))
    tabs = Tabs(counter)
    for key in order[:MAX_TABS]:
        group = sorted(by_wl[key], key=Entry.order)
        w = view.workloads[key]
        spec = charts.bars([label_of(e) for e in group], [e.throughput for e in group], "tokens/s")
        tabs.add(
            w.label,
            workload_facts(w)
            + out.chart(spec, f"tokens/s on {w.label}", prefix)
            + leaderboard_table(group, prefix, max_rows=TAB_TABLE_ROWS)
            + f'<p><a href="{prefix}leaderboards/{w.page}">'
            + f"Full leaderboard for this workload ({len(group)} here)</a></p>",
        )
    parts = []
    if tabs.items:
        parts.append(tabs.html())
    if len(order) > MAX_TABS:
        links = "".join(
            f'<li><a href="{prefix}leaderboards/{view.workloads[k].page}">'
            f"{html_text(view.workloads[k].label)}</a> ({len(by_wl[k])})</li>"
            for k in order[MAX_TABS:]
        )
        parts.append(f"<p>More workloads:</p><ul>{links}</ul>")
    return parts
