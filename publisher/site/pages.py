"""Generate the site's Markdown pages and data files from the published tables.

Hub pages (home, leaderboards, systems, models, engines) are static Markdown with raw HTML
tables and chart specs; run pages are drawn in the browser from one small JSON file per run
(``data/runs/<run_id>.json``), so the page count stays in the hundreds however many runs the
archive holds. Every run-sourced string is escaped here (see :mod:`publisher.site.escape`) or
inserted with ``textContent`` by ``assets/bakeoff.js``.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import re
import shutil
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from publisher.archive.history import recent_changes
from publisher.errors import SiteError
from publisher.site import charts
from publisher.site.escape import dumps, dumps_utf8, html_text, json_attr, slug, title_text

Row = dict[str, Any]
Tables = dict[str, list[Row]]

MARKER = ".bakeoff-generated"
_SAFE_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
# Tabs and charts per hub page: enough to compare, few enough to keep pages light.
MAX_TABS = 8
HOME_TABS = 6
# Static table rows per page: keeps every page's HTML well under 300 KB.
MAX_TABLE_ROWS = 300
TAB_TABLE_ROWS = 10
MAX_SYSTEM_RUNS = 200
# Telemetry points per run page chart (longer runs are averaged into buckets).
MAX_SAMPLE_POINTS = 600


# --------------------------------------------------------------------------- formatting


_INF = float("inf")


def _num(value: Any) -> float | None:
    if type(value) is float:  # the common case first; NaN and ±inf fail the comparison
        return value if -_INF < value < _INF else None
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        f = float(value)
        return f if -_INF < f < _INF else None
    return None


def fmt(value: Any, digits: int = 1) -> str:
    """Format a number for a table cell; missing values are an em dash."""
    f = _num(value)
    if f is None:
        return "—"
    return f"{f:,.{digits}f}"


def fmt_pct(value: Any) -> str:
    """Format a 0..1 ratio as a percentage."""
    f = _num(value)
    return "—" if f is None else f"{100 * f:.1f}%"


@dataclass(frozen=True)
class Col:
    """A table column: header text and an optional hint (direction, unit)."""

    title: str
    hint: str = ""
    numeric: bool = False


@dataclass(frozen=True)
class Cell:
    """A table cell: already-escaped HTML plus the value sorted on."""

    html: str
    sort: str | float | None = None


def text_cell(value: Any) -> Cell:
    """A cell showing ``value`` as escaped text."""
    return Cell(html_text("—" if value is None or value == "" else value))


def num_cell(value: Any, digits: int = 1) -> Cell:
    """A right-aligned numeric cell sorted by value."""
    return Cell(fmt(value, digits), _num(value))


def pct_cell(value: Any) -> Cell:
    """A percentage cell sorted by value."""
    return Cell(fmt_pct(value), _num(value))


def link_cell(text: Any, href: str | None) -> Cell:
    """A link whose ``href`` was built by this module (never a run-sourced string)."""
    if href is None:
        return text_cell(text)
    return Cell(f'<a href="{html_text(href)}">{html_text(text)}</a>', str(text))


def html_table(
    cols: Sequence[Col],
    rows: Iterable[Sequence[Cell]],
    *,
    exclude: bool = True,
    max_rows: int | None = None,
) -> str:
    """A sortable HTML table; ``exclude`` keeps it out of the search index.

    ``max_rows`` caps the rows written (the caller says where the rest is).
    """
    head = "".join(
        "<th"
        + (' class="bo-num"' if c.numeric else "")
        + (f' title="{html_text(c.hint)}"' if c.hint else "")
        + f">{html_text(c.title)}</th>"
        for c in cols
    )
    # Rows stay lean (they dominate page weight): bakeoff.js parses the numbers for sorting
    # and right-aligns the numeric columns marked in the header.
    body = ["<tr>" + "".join(f"<td>{cell.html}</td>" for cell in row) + "</tr>" for row in rows]
    body = body[:max_rows] if max_rows is not None else body
    if not body:
        return '<p class="bo-empty">No results yet.</p>'
    search = " data-search-exclude" if exclude else ""
    return (
        f'<div class="bo-table-wrap"{search}><table class="bo-table">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )


def chart_div(spec: charts.Spec, title: str = "") -> str:
    """A chart container; ``bakeoff.js`` draws the JSON spec in ``data-spec``."""
    label = f' aria-label="{html_text(title)}"' if title else ""
    return f'<div class="bo-chart" role="img"{label} data-spec="{json_attr(spec)}"></div>'


class Tabs:
    """Content tabs in pymdownx.tabbed's alternate markup, written as raw HTML.

    Raw HTML keeps untrusted labels out of Markdown parsing; Material mounts it like any
    other tab set, and ``bakeoff.js`` resizes charts when a tab is shown.
    """

    def __init__(self, page_counter: list[int]) -> None:
        page_counter[0] += 1
        self.n = page_counter[0]
        self.items: list[tuple[str, str]] = []

    def add(self, label: str, content_html: str) -> None:
        """Add a tab with an (unescaped) label and already-escaped HTML content."""
        self.items.append((label, content_html))

    def html(self) -> str:
        """The tab set's HTML (empty when there are no tabs)."""
        if not self.items:
            return ""
        n, count = self.n, len(self.items)
        inputs = "".join(
            f'<input{" checked" if i == 1 else ""} id="__tabbed_{n}_{i}" '
            f'name="__tabbed_{n}" type="radio">'
            for i in range(1, count + 1)
        )
        labels = "".join(
            f'<label for="__tabbed_{n}_{i}">{html_text(label)}</label>'
            for i, (label, _) in enumerate(self.items, start=1)
        )
        blocks = "".join(f'<div class="tabbed-block">{c}</div>' for _, c in self.items)
        return (
            f'<div class="tabbed-set tabbed-alternate" data-tabs="{n}:{count}">{inputs}'
            f'<div class="tabbed-labels">{labels}</div>'
            f'<div class="tabbed-content">{blocks}</div></div>'
        )


def page(
    title: str,
    body: Sequence[str],
    *,
    search: bool = True,
    wide: bool = True,
    description: str = "",
) -> str:
    """A Markdown page with front matter; ``body`` parts are Markdown or raw HTML blocks."""
    front = [f"title: {json.dumps(title_text(title))}"]
    if description:
        front.append(f"description: {json.dumps(title_text(description))}")
    if wide:
        # Wide tables need the room: hide the (empty) navigation and table of contents.
        front.append("hide:\n  - navigation\n  - toc")
    if not search:
        front.append("search:\n  exclude: true")
    return "---\n" + "\n".join(front) + "\n---\n\n" + "\n\n".join(body).rstrip() + "\n"


# --------------------------------------------------------------------------- the archive model


@dataclass(frozen=True)
class Workload:
    """One leaderboard: every result with the same ``workload_key``."""

    key: str
    workload_id: str
    kind: str
    max_tokens: Any
    temperature: Any
    concurrency: Any

    @property
    def label(self) -> str:
        """Human label, e.g. ``P-EASY · 256 tok · c1``."""
        return f"{self.workload_id} · {self.max_tokens} tok · c{self.concurrency}"

    @property
    def page(self) -> str:
        """Leaderboard page name under ``leaderboards/``."""
        return f"{slug(self.key)}.html"


@dataclass
class Entry:
    """The latest warm result of one configuration on one workload."""

    row: Row
    runs: int
    workload: Workload

    @property
    def throughput(self) -> float | None:
        """Aggregate tokens/s under concurrency, else the per-stream decode rate."""
        conc = _num(self.row.get("concurrency")) or 1
        agg = _num(self.row.get("aggregate_tokens_per_sec"))
        if conc > 1 and agg is not None:
            return agg
        return _num(self.row.get("tokens_per_sec_mean"))

    @property
    def model_label(self) -> str:
        """Model name plus quantization."""
        quant = self.row.get("quantization")
        return f"{self.row.get('model')} ({quant})" if quant else str(self.row.get("model"))

    @property
    def engine_label(self) -> str:
        """Engine kind plus version."""
        version = self.row.get("engine_version")
        return f"{self.row.get('engine')} {version}" if version else str(self.row.get("engine"))


@dataclass
class Archive:
    """Indexes over the tables that every page needs."""

    tables: Tables
    catalogue: dict[str, Any]
    runs: dict[str, Row] = field(default_factory=dict)
    workloads: dict[str, Workload] = field(default_factory=dict)
    entries: dict[str, list[Entry]] = field(default_factory=dict)
    systems: dict[str, Row] = field(default_factory=dict)
    hardware_class: dict[str, str] = field(default_factory=dict)
    _by_run: dict[str, dict[Any, list[Row]]] = field(default_factory=dict)
    _gpu_specs: dict[str, Row] | None = None

    def by_run(self, table: str) -> dict[Any, list[Row]]:
        """The rows of ``table`` by their ``run_id`` (table order kept), indexed once.

        Run pages look rows up per run: scanning each table per run was quadratic.
        """
        index = self._by_run.get(table)
        if index is None:
            index = {}
            rows: Iterable[Row] = self.tables.get(table, [])
            if table == "catalogue":
                rows = self.catalogue.get("runs", [])
            for row in rows:
                index.setdefault(row.get("run_id"), []).append(row)
            self._by_run[table] = index
        return index

    def first_of_run(self, table: str, run_id: Any) -> Row | None:
        """The first row of ``table`` (``catalogue``: catalogue runs) with this ``run_id``."""
        rows = self.by_run(table).get(run_id)
        return rows[0] if rows else None

    def gpu_specs(self) -> dict[str, Row]:
        """``gpu_hardware`` rows by gpu_id (the last row of an id wins), indexed once."""
        if self._gpu_specs is None:
            self._gpu_specs = {str(g.get("gpu_id")): g for g in self.tables.get("gpu_hardware", [])}
        return self._gpu_specs

    @classmethod
    def from_tables(cls, tables: Tables, catalogue: dict[str, Any]) -> Archive:
        """Index the tables: runs by id, workloads, latest warm entry per configuration."""
        arch = cls(tables=tables, catalogue=catalogue)
        for row in sorted(tables.get("runs", []), key=lambda r: str(r.get("run_id"))):
            arch.runs[str(row.get("run_id"))] = row
            if row.get("system_id") is not None:
                arch.hardware_class[str(row["system_id"])] = str(row.get("hardware_class") or "")
        for row in tables.get("system_hardware", []):
            arch.systems[str(row.get("system_id"))] = row
            arch.hardware_class[str(row.get("system_id"))] = str(row.get("hardware_class") or "")
        for system in catalogue.get("systems", []):
            sid = str(system.get("system_id"))
            arch.hardware_class.setdefault(sid, str(system.get("hardware_class") or ""))
        latest: dict[tuple[str, str, str, str, str], tuple[Row, int]] = {}
        for row in tables.get("cells", []):
            if row.get("phase") != "warm" or row.get("workload_key") is None:
                continue
            key = str(row["workload_key"])
            if key not in arch.workloads:
                arch.workloads[key] = Workload(
                    key=key,
                    workload_id=str(row.get("workload_id")),
                    kind=str(row.get("workload_kind") or ""),
                    max_tokens=row.get("max_tokens"),
                    temperature=row.get("temperature"),
                    concurrency=row.get("concurrency"),
                )
            config = (
                key,
                str(row.get("system_id")),
                str(row.get("engine")),
                str(row.get("model_digest") or row.get("model")),
                str(row.get("quantization")),
            )
            order = (str(row.get("started_at") or ""), str(row.get("run_id")))
            previous = latest.get(config)
            if previous is None:
                latest[config] = (row, 1)
            else:
                prow, count = previous
                porder = (str(prow.get("started_at") or ""), str(prow.get("run_id")))
                latest[config] = (row if order > porder else prow, count + 1)
        for config in sorted(latest):
            row, count = latest[config]
            arch.entries.setdefault(config[0], []).append(
                Entry(row=row, runs=count, workload=arch.workloads[config[0]])
            )
        return arch

    def all_entries(self) -> list[Entry]:
        """Every leaderboard entry, in a stable order."""
        return [e for key in sorted(self.entries) for e in self.entries[key]]

    def system_ids(self) -> list[str]:
        """Every system id seen in any table or the catalogue."""
        ids = set(self.systems) | {str(r.get("system_id")) for r in self.runs.values()}
        ids |= {str(s.get("system_id")) for s in self.catalogue.get("systems", [])}
        ids |= {str(e.row.get("system_id")) for e in self.all_entries()}
        return sorted(i for i in ids if i != "None")

    def names(self, table_key: str, catalogue_key: str) -> list[str]:
        """Distinct model or engine names from the catalogue and the cells."""
        names = {str(m.get(table_key)) for m in self.catalogue.get(catalogue_key, [])}
        names |= {str(r.get(table_key)) for r in self.tables.get("cells", [])}
        return sorted(n for n in names if n != "None")

    def hw_label(self, system_id: Any) -> str:
        """A system's hardware class, or its id when unknown."""
        return self.hardware_class.get(str(system_id)) or str(system_id)


def system_page(system_id: Any) -> str:
    """File name of a system's page under ``systems/``."""
    return f"{slug(system_id)}.html"


def run_href(prefix: str, run_id: Any) -> str | None:
    """Link to the run viewer for ``run_id``, or None when the id is not path-safe."""
    rid = str(run_id)
    if not _SAFE_RUN_ID.fullmatch(rid):
        return None
    return f"{prefix}runs/view.html?id={rid}"


# --------------------------------------------------------------------------- leaderboards


def _leaderboard_cols(entries: Sequence[Entry], *, show_workload: bool = False) -> list[Col]:
    cols = [Col("Workload")] if show_workload else []
    cols += [
        Col("Hardware"),
        Col("Engine"),
        Col("Model"),
        Col("TTFT p50 ms", "warm, lower is better", True),
        Col("TTFT p95 ms", "warm, lower is better", True),
        Col(
            "tokens/s",
            "decode rate per stream (aggregate under concurrency), higher is better",
            True,
        ),
        Col("success", "share of calls without error", True),
    ]
    if any(_num(e.row.get("rougeL_mean")) is not None for e in entries):
        cols.append(Col("ROUGE-L", "summarization quality (F-measure), higher is better", True))
    if any(_num(e.row.get("joules_per_output_token")) is not None for e in entries):
        cols.append(Col("J/token", "energy per output token, lower is better", True))
    cols += [Col("runs", "runs of this configuration", True), Col("latest run")]
    return cols


def _leaderboard_rows(
    arch: Archive, entries: Sequence[Entry], cols: Sequence[Col], prefix: str
) -> list[list[Cell]]:
    titles = {c.title for c in cols}
    rows = []
    for e in sorted(entries, key=lambda e: (-(e.throughput or -1.0), e.model_label)):
        r = e.row
        cells: list[Cell] = []
        if "Workload" in titles:
            cells.append(link_cell(e.workload.label, f"{prefix}leaderboards/{e.workload.page}"))
        cells += [
            link_cell(
                arch.hw_label(r.get("system_id")),
                f"{prefix}systems/{system_page(r.get('system_id'))}",
            ),
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
        cells.append(num_cell(e.runs, 0))
        run_id = r.get("run_id")
        cells.append(link_cell(run_id, run_href(prefix, run_id)))
        rows.append(cells)
    return rows


def leaderboard_table(
    arch: Archive,
    entries: Sequence[Entry],
    prefix: str,
    *,
    show_workload: bool = False,
    max_rows: int = MAX_TABLE_ROWS,
) -> str:
    """The sortable table of entries (fastest first), capped at ``max_rows``."""
    cols = _leaderboard_cols(entries, show_workload=show_workload)
    table = html_table(cols, _leaderboard_rows(arch, entries, cols, prefix), max_rows=max_rows)
    if len(entries) > max_rows:
        table += (
            f'<p class="bo-note">Showing the {max_rows} fastest of {len(entries)} configurations; '
            f'every row is in the <code>cells</code> table on the <a href="{prefix}../data.html">'
            "Data</a> page.</p>"
        )
    return table


def scatter_for(entries: Sequence[Entry], arch: Archive) -> charts.Spec | None:
    """Throughput-vs-latency scatter with the best frontier, or None without data."""
    points = []
    for e in entries:
        ttft, tput = _num(e.row.get("ttft_p50_ms")), e.throughput
        if ttft is None or tput is None:
            continue
        label = f"{arch.hw_label(e.row.get('system_id'))} · {e.engine_label} · {e.model_label}"
        points.append(charts.Point(ttft, tput, str(e.row.get("engine")), label))
    if not points:
        return None
    return charts.throughput_latency(points, "tokens/s")


def workload_facts(w: Workload) -> str:
    """One escaped line describing a workload signature."""
    return (
        f'<p class="bo-facts"><strong>{html_text(w.kind or "workload")}</strong> '
        f"<code>{html_text(w.workload_id)}</code> · max_tokens {html_text(w.max_tokens)} · "
        f"temperature {html_text(w.temperature)} · concurrency {html_text(w.concurrency)} · "
        f"workload key <code>{html_text(w.key)}</code></p>"
    )


def leaderboard_page(arch: Archive, w: Workload) -> str:
    """One leaderboard: a scatter and the sortable table, with the comparability rule."""
    entries = arch.entries.get(w.key, [])
    related = [
        o for o in arch.workloads.values() if o.workload_id == w.workload_id and o.key != w.key
    ]
    body = [
        workload_facts(w),
        '<p class="bo-note">Only results with exactly this workload signature (prompt or task '
        "text, max_tokens, temperature and concurrency) are ranked here; each row is the latest "
        'warm result of one configuration. See <a href="../../methodology.html#comparability">'
        "comparability</a>.</p>",
    ]
    spec = scatter_for(entries, arch)
    if spec is not None:
        body.append(chart_div(spec, "Throughput vs TTFT"))
    body.append(leaderboard_table(arch, entries, "../"))
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


def _best(entries: Sequence[Entry]) -> Entry | None:
    ranked = [e for e in entries if e.throughput is not None]
    return max(ranked, key=lambda e: (e.throughput or 0.0, e.model_label)) if ranked else None


def leaderboards_index(arch: Archive) -> str:
    """All workloads, and the fastest configuration per model and workload."""
    wl_rows = []
    best_rows = []
    for w in sorted(arch.workloads.values(), key=lambda w: (w.workload_id, w.key)):
        entries = arch.entries.get(w.key, [])
        best = _best(entries)
        wl_rows.append(
            [
                link_cell(w.label, w.page),
                text_cell(w.kind),
                num_cell(w.max_tokens, 0),
                num_cell(w.concurrency, 0),
                text_cell(w.temperature),
                num_cell(len(entries), 0),
                text_cell(
                    f"{arch.hw_label(best.row.get('system_id'))} · {best.engine_label}"
                    if best
                    else None
                ),
            ]
        )
        by_model: dict[str, list[Entry]] = defaultdict(list)
        for e in entries:
            by_model[e.model_label].append(e)
        for model, group in sorted(by_model.items()):
            top = _best(group)
            if top is None:
                continue
            best_rows.append(
                [
                    link_cell(model, f"../models/{slug(top.row.get('model'))}.html"),
                    link_cell(w.label, w.page),
                    link_cell(
                        arch.hw_label(top.row.get("system_id")),
                        f"../systems/{system_page(top.row.get('system_id'))}",
                    ),
                    text_cell(top.engine_label),
                    num_cell(top.throughput),
                    num_cell(top.row.get("ttft_p50_ms")),
                    num_cell(len(group), 0),
                ]
            )
    body = [
        "Each leaderboard ranks results of one workload signature; results of different "
        "signatures are never mixed. Click a column header to sort.",
        "## Fastest per model and workload",
        html_table(
            [
                Col("Model"),
                Col("Workload"),
                Col("Fastest hardware"),
                Col("Engine"),
                Col("tokens/s", "higher is better", True),
                Col("TTFT p50 ms", "lower is better", True),
                Col("configurations", "", True),
            ],
            best_rows,
        ),
        "## All workloads",
        html_table(
            [
                Col("Workload"),
                Col("Kind"),
                Col("max_tokens", "", True),
                Col("concurrency", "", True),
                Col("temperature"),
                Col("results", "configurations ranked", True),
                Col("Fastest (tokens/s)"),
            ],
            wl_rows,
        ),
    ]
    return page("Leaderboards", body)


# --------------------------------------------------------------------------- hubs by dimension


def _per_workload_tabs(
    arch: Archive,
    entries: Sequence[Entry],
    counter: list[int],
    label_of: Any,
    prefix: str,
) -> list[str]:
    """Tabs (one per workload with the most results) with a bar chart, then one full table."""
    by_wl: dict[str, list[Entry]] = defaultdict(list)
    for e in entries:
        by_wl[e.workload.key].append(e)
    order = sorted(by_wl, key=lambda k: (-len(by_wl[k]), arch.workloads[k].label, k))
    tabs = Tabs(counter)
    for key in order[:MAX_TABS]:
        group = by_wl[key]
        w = arch.workloads[key]
        spec = charts.bars([label_of(e) for e in group], [e.throughput for e in group], "tokens/s")
        tabs.add(
            w.label,
            workload_facts(w)
            + chart_div(spec, f"tokens/s on {w.label}")
            + leaderboard_table(arch, group, prefix, max_rows=TAB_TABLE_ROWS)
            + f'<p><a href="{prefix}leaderboards/{w.page}">'
            + f"Full leaderboard for this workload ({len(group)} here)</a></p>",
        )
    parts = []
    if tabs.items:
        parts.append(tabs.html())
    if len(order) > MAX_TABS:
        links = "".join(
            f'<li><a href="{prefix}leaderboards/{arch.workloads[k].page}">'
            f"{html_text(arch.workloads[k].label)}</a> ({len(by_wl[k])})</li>"
            for k in order[MAX_TABS:]
        )
        parts.append(f"<p>More workloads:</p><ul>{links}</ul>")
    return parts


def model_page(arch: Archive, model: str, counter: list[int]) -> str:
    """One model compared across hardware and engines."""
    entries = [e for e in arch.all_entries() if str(e.row.get("model")) == model]
    cat: dict[str, Any] = next(
        (m for m in arch.catalogue.get("models", []) if m.get("model") == model), {}
    )
    digests = cat.get("digests") or sorted(
        {str(e.row.get("model_digest")) for e in entries if e.row.get("model_digest")}
    )
    body = [
        f'<p class="bo-facts">Model <code>{html_text(model)}</code> · '
        f"{len(cat.get('runs', [])) or len({e.row.get('run_id') for e in entries})} run(s) · "
        f"digests: {', '.join(f'<code>{html_text(d)}</code>' for d in digests) or '—'}</p>",
        *_per_workload_tabs(
            arch,
            entries,
            counter,
            lambda e: f"{arch.hw_label(e.row.get('system_id'))} · {e.engine_label}",
            "../",
        ),
    ]
    return page(f"Model {model}", body)


def engine_page(arch: Archive, engine: str, counter: list[int]) -> str:
    """One engine kind compared across hardware and models."""
    entries = [e for e in arch.all_entries() if str(e.row.get("engine")) == engine]
    cat: dict[str, Any] = next(
        (m for m in arch.catalogue.get("engines", []) if m.get("engine") == engine), {}
    )
    versions = cat.get("versions") or sorted(
        {str(e.row.get("engine_version")) for e in entries if e.row.get("engine_version")}
    )
    body = [
        f'<p class="bo-facts">Engine <code>{html_text(engine)}</code> · versions: '
        f"{', '.join(f'<code>{html_text(v)}</code>' for v in versions) or '—'}</p>",
        *_per_workload_tabs(
            arch,
            entries,
            counter,
            lambda e: f"{arch.hw_label(e.row.get('system_id'))} · {e.model_label}",
            "../",
        ),
    ]
    return page(f"Engine {engine}", body)


def _kv_table(pairs: Sequence[tuple[str, Any]]) -> str:
    rows = "".join(
        f"<tr><th>{html_text(k)}</th><td>{html_text('—' if v is None or v == '' else v)}</td></tr>"
        for k, v in pairs
    )
    return f'<table class="bo-kv"><tbody>{rows}</tbody></table>'


def _gpus_for_run(arch: Archive, run_id: Any) -> list[Row]:
    specs = arch.gpu_specs()
    links = sorted(
        arch.by_run("system_gpu_link").get(run_id, []), key=lambda r: _num(r.get("slot")) or 0
    )
    return [{"slot": link.get("slot"), **specs.get(str(link.get("gpu_id")), {})} for link in links]


_SOFTWARE = (
    "os",
    "kernel_version",
    "python_version",
    "gpu_driver_version",
    "cuda_version",
    "rocm_version",
    "runner_version",
)


def _chart_time(value: Any) -> str:
    """An ISO 8601 UTC time as plotly date text ("2026-01-02 03:04:05"; plotly drops "Z")."""
    return str(value or "").replace("T", " ").removesuffix("Z")


def history_label(row: Row) -> str:
    """A signature's readable label: workload, concurrency, engine and model."""
    return (
        f"{row.get('workload_id')} c{row.get('concurrency')} · "
        f"{row.get('engine')} · {row.get('model')}"
    )


def _change_cell(change: Any) -> Cell:
    style = charts.CHANGE_STYLE.get(str(change))
    if style is None:
        return text_cell(change)
    return Cell(f'<span class="bo-{html_text(change)}">{html_text(style["label"])}</span>', change)


def _history_series(rows: Iterable[Row]) -> dict[str, tuple[str, list[Row]]]:
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


def _change_rows(
    rows: Iterable[Mapping[str, Any]], prefix: str, *, system: Archive | None = None
) -> list[list[Cell]]:
    out = []
    for r in rows:
        cells = [
            text_cell(r.get("started_at")),
            link_cell(r.get("run_id"), run_href(prefix, r.get("run_id"))),
        ]
        if system is not None:
            sid = r.get("system_id")
            cells.append(link_cell(system.hw_label(sid), f"{prefix}systems/{system_page(sid)}"))
        cells += [
            text_cell(f"{r.get('workload_id')} c{r.get('concurrency')}"),
            text_cell(f"{r.get('engine')} · {r.get('model')}"),
            _change_cell(r.get("change")),
            Cell(f'<span class="bo-wrap">{html_text(r.get("change_detail"))}</span>'),
        ]
        out.append(cells)
    return out


def history_section(arch: Archive, system_id: str, counter: list[int]) -> list[str]:
    """A system's "History": per signature a chart over time with change points, and a table
    of every change point (newest first)."""
    rows = [r for r in arch.tables.get("history", []) if str(r.get("system_id")) == system_id]
    if not rows:
        return []
    series = _history_series(rows)
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
        "system: every warm result is compared with the previous one by the thresholds of "
        "<code>seeds/tolerances.json</code> and marked ▼ regression or ▲ improvement. A "
        "recovery is a point of its own, so a regression stays visible after it. "
        '<a href="../changes.html">Recent changes on all systems</a>.</p>',
    ]
    tabs = Tabs(counter)
    for sig in order[:MAX_TABS]:
        label, pts = series[sig]
        points = [
            charts.HistoryPoint(
                when=_chart_time(r.get("started_at")),
                run_id=str(r.get("run_id")),
                ttft_ms=_num(r.get("ttft_p50_ms")),
                tokens_per_sec=_num(r.get("tokens_per_sec_mean")),
                change=str(r.get("change") or "none"),
                detail=str(r.get("change_detail") or ""),
            )
            for r in pts
        ]
        marks = n_changes[sig]
        tabs.add(
            label + (f" ({marks})" if marks else ""),
            chart_div(charts.history(points), f"History of {label}"),
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
    cols = [Col("Time"), Col("Run"), Col("Workload"), Col("Engine · model"), Col("Change")]
    if changed:
        body.append(
            html_table(
                [*cols, Col("Detail")], _change_rows(changed, "../"), max_rows=MAX_TABLE_ROWS
            )
        )
    else:
        body.append('<p class="bo-empty">No regressions or improvements on this system.</p>')
    return body


def changes_page(arch: Archive) -> str:
    """ "Recent changes": the newest change points of every system (``recent_changes``)."""
    changed = recent_changes(arch.tables.get("history", []))
    regressions = sum(1 for r in changed if r.get("change") == "regression")
    cols = [
        Col("Time"),
        Col("Run"),
        Col("System"),
        Col("Workload"),
        Col("Engine · model"),
        Col("Change"),
        Col("Detail"),
    ]
    body = [
        "Regressions and improvements between consecutive warm results of one configuration "
        "(workload × engine × model) on one system, newest first: each result is compared with "
        "the previous one by the thresholds of `seeds/tolerances.json`; a recovery after a "
        "regression is an improvement of its own. Each system page charts its history.",
    ]
    if changed:
        body.append(
            f'<p class="bo-note">{len(changed)} newest change points: {regressions} '
            f"regressions, {len(changed) - regressions} improvements.</p>"
        )
    body.append(html_table(cols, _change_rows(changed, "", system=arch)))
    return page("Recent changes", body)


def system_page_md(arch: Archive, system_id: str, counter: list[int]) -> str:
    """One system: hardware, software snapshots over time, its results, charts and runs."""
    hw = arch.systems.get(system_id, {})
    cat: dict[str, Any] = next(
        (s for s in arch.catalogue.get("systems", []) if s.get("system_id") == system_id), {}
    )
    runs = sorted(
        (r for r in arch.runs.values() if str(r.get("system_id")) == system_id),
        key=lambda r: (str(r.get("started_at") or ""), str(r.get("run_id"))),
    )
    gpus = _gpus_for_run(arch, hw.get("snapshot_run_id")) if hw else []
    gpu_text = (
        "; ".join(f"{g.get('name') or 'GPU'} {fmt(g.get('memory_total_gb'))} GB" for g in gpus)
        or hw.get("gpu_summary")
        or ", ".join(cat.get("gpus", []))
        or None
    )
    body = [
        "## Hardware",
        _kv_table(
            [
                ("Hardware class", arch.hw_label(system_id)),
                ("System id", system_id),
                ("Publisher", hw.get("publisher_id")),
                ("CPU", hw.get("cpu_model") or cat.get("cpu_model")),
                (
                    "Cores / threads",
                    f"{hw.get('cpu_cores') or '—'} / {hw.get('cpu_threads') or '—'}",
                ),
                ("Architecture", hw.get("architecture")),
                ("RAM GiB", fmt(hw.get("ram_total_gb") or cat.get("ram_total_gb"))),
                ("Board", hw.get("board_model")),
                ("Container", "yes" if hw.get("in_container") else "no" if hw else None),
                ("GPUs", gpu_text),
                ("Runs", hw.get("runs_count") or len(runs)),
                (
                    "First / last run",
                    f"{hw.get('first_run_at') or '—'} / {hw.get('last_run_at') or '—'}",
                ),
                ("Hardware changes", hw.get("hardware_changes")),
            ]
        ),
    ]
    # Software snapshots: consecutive runs with identical software collapse into one row.
    software = {str(r.get("run_id")): r for r in arch.tables.get("system_software", [])}
    snaps: list[tuple[tuple[Any, ...], list[str]]] = []
    for run in runs:
        sw = software.get(str(run.get("run_id")))
        if sw is None:
            continue
        values = tuple(sw.get(k) for k in _SOFTWARE)
        if snaps and snaps[-1][0] == values:
            snaps[-1][1].append(str(run.get("run_id")))
        else:
            snaps.append((values, [str(run.get("run_id"))]))
    if snaps:
        body.append("## Software over time")
        body.append(
            html_table(
                [Col("From run"), Col("Runs", "", True), *(Col(k) for k in _SOFTWARE)],
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
    entries = [e for e in arch.all_entries() if str(e.row.get("system_id")) == system_id]
    body += history_section(arch, system_id, counter)
    if entries:
        body.append("## Latest results")
        body += _per_workload_tabs(
            arch, entries, counter, lambda e: f"{e.engine_label} · {e.model_label}", "../"
        )
    body.append("## Runs")
    body.append(
        html_table(
            [
                Col("Run"),
                Col("Started"),
                Col("Status"),
                Col("Completeness"),
                Col("Calls ok", "", True),
                Col("Calls", "", True),
            ],
            [
                [
                    link_cell(r.get("run_id"), run_href("../", r.get("run_id"))),
                    text_cell(r.get("started_at")),
                    text_cell(r.get("status")),
                    text_cell(r.get("completeness")),
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
    return page(f"System {arch.hw_label(system_id)}", body)


def systems_index(arch: Archive) -> str:
    """Every system with its hardware class and run count."""
    rows = []
    for sid in arch.system_ids():
        hw = arch.systems.get(sid, {})
        runs = [r for r in arch.runs.values() if str(r.get("system_id")) == sid]
        rows.append(
            [
                link_cell(arch.hw_label(sid), system_page(sid)),
                text_cell(hw.get("cpu_model")),
                text_cell(hw.get("gpu_summary")),
                num_cell(hw.get("ram_total_gb")),
                num_cell(hw.get("runs_count") or len(runs), 0),
                text_cell(
                    hw.get("last_run_at")
                    or max((str(r.get("started_at")) for r in runs), default=None)
                ),
                text_cell(sid),
            ]
        )
    cols = [
        Col("Hardware"),
        Col("CPU"),
        Col("GPUs"),
        Col("RAM GiB", "", True),
        Col("Runs", "", True),
        Col("Last run"),
        Col("System id"),
    ]
    return page("Systems", ["One page per deduplicated system (host).", html_table(cols, rows)])


def names_index(arch: Archive, title: str, key: str, entries_by: dict[str, list[Entry]]) -> str:
    """Index of models or engines with their result counts and workloads."""
    rows = []
    for name in sorted(entries_by):
        es = entries_by[name]
        rows.append(
            [
                link_cell(name, f"{slug(name)}.html"),
                num_cell(len(es), 0),
                num_cell(len({e.workload.key for e in es}), 0),
                num_cell(len({str(e.row.get("system_id")) for e in es}), 0),
            ]
        )
    cols = [
        Col(key.capitalize()),
        Col("results", "", True),
        Col("workloads", "", True),
        Col("systems", "", True),
    ]
    return page(
        title, [f"One page per {key}, comparing it across hardware.", html_table(cols, rows)]
    )


# --------------------------------------------------------------------------- runs (client-side)


# The call columns ``run_document`` reads (the run pages chart warm calls only).
_CALL_FIELDS = ("cell_id", "workload_id", "phase", "first_delta_ms", "itl_p50_ms")


def _block_kv(title: str, pairs: Sequence[tuple[str, Any]]) -> dict[str, Any]:
    return {"kind": "kv", "title": title, "rows": [[k, _plain(v)] for k, v in pairs]}


def _plain(value: Any) -> Any:
    """JSON-safe scalar: numbers stay numbers (NaN → None), everything else becomes text."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return _num(value)
    return str(value)


class _RunGroups:
    """A table's rows by ``str(run_id)``, for lookups in ascending run_id order.

    With ``fields`` a row is the tuple of those fields' values, else the row dict. A call store
    (``publisher.export.StoredCalls``) is read one run at a time, so millions of call rows are
    never held together; anything else is indexed at once.
    """

    def __init__(self, rows: Iterable[Row], fields: Sequence[str] | None = None) -> None:
        self._index: dict[str, list[Any]] | None = None
        self._head: tuple[str, list[Any]] | None = None
        run_groups = getattr(rows, "run_groups", None)
        if callable(run_groups):  # a call store: already one run at a time, in run_id order
            self._groups: Iterator[tuple[str, list[Any]]] = run_groups(fields)
            return
        index: dict[str, list[Any]] = defaultdict(list)
        for row in rows:
            picked = row if fields is None else tuple(row.get(k) for k in fields)
            index[str(row.get("run_id"))].append(picked)
        self._index = index

    def get(self, run_id: str) -> list[Any]:
        """The rows of ``run_id`` (ascending run_ids from one call to the next)."""
        if self._index is not None:
            return self._index.get(run_id, [])
        while True:
            if self._head is None:
                self._head = next(self._groups, None)
                if self._head is None:
                    return []
            rid, rows = self._head
            if rid > run_id:
                return []
            self._head = None
            if rid == run_id:
                return rows


def run_document(
    arch: Archive, run_id: str, calls: Sequence[tuple[Any, ...]], samples: Sequence[Row]
) -> dict[str, Any]:
    """Everything a run page shows, as blocks that ``bakeoff.js`` renders with textContent.

    ``calls`` are tuples of the ``_CALL_FIELDS`` of the run's calls.
    """
    run = arch.runs.get(run_id, {})
    cat: dict[str, Any] = arch.first_of_run("catalogue", run_id) or {}
    cells = sorted(
        arch.by_run("cells").get(run_id, []),
        key=lambda c: (
            str(c.get("cell_id")),
            str(c.get("workload_id")),
            _num(c.get("concurrency")) or 0,
            str(c.get("phase")),
        ),
    )
    sid = run.get("system_id") or cat.get("system_id")
    blocks: list[dict[str, Any]] = [
        _block_kv(
            "Run",
            [
                ("Run id", run_id),
                ("Status", run.get("status") or cat.get("status")),
                ("Completeness", run.get("completeness") or cat.get("completeness")),
                ("Started", run.get("started_at") or cat.get("started_at")),
                ("Finished", run.get("finished_at") or cat.get("finished_at")),
                ("Host label", run.get("host_label") or cat.get("host_label")),
                (
                    "Calls ok / total",
                    f"{run.get('calls_ok', cat.get('calls_ok'))} / "
                    f"{run.get('calls_total', cat.get('calls_total'))}",
                ),
                (
                    "Cells planned / skipped",
                    f"{run.get('cells_planned')} / {run.get('cells_skipped')}",
                ),
                ("Synthetic", run.get("synthetic")),
            ],
        ),
        {
            "kind": "link",
            "text": f"System: {arch.hw_label(sid)}",
            "href": f"../systems/{system_page(sid)}",
        },
    ]
    # One run has one host: label cells by engine and model (cell ids repeat the host label,
    # and host labels and model names may both contain ":", so ids are not split).
    labels = {c.get("cell_id"): f"{c.get('engine')} · {c.get('model')}" for c in cells}

    def short(cell_id: Any) -> str:
        return labels.get(cell_id) or str(cell_id)

    warm = [c for c in cells if c.get("phase") == "warm"]
    cold = {(c.get("cell_id"), c.get("workload_key")): c for c in cells if c.get("phase") == "cold"}
    if warm:
        blocks.append(
            {
                "kind": "table",
                "title": "Warm results (as in run.md)",
                "columns": [
                    "cell",
                    "engine",
                    "model",
                    "workload",
                    "c",
                    "n",
                    "errors",
                    "TTFT p50 ms",
                    "TTFT p95 ms",
                    "total p50 ms",
                    "tokens/s",
                    "ITL p50 ms",
                    "agg tokens/s",
                    "ROUGE-L",
                    "J/token",
                ],
                "rows": [
                    [
                        _plain(c.get(k))
                        for k in (
                            "cell_id",
                            "engine",
                            "model",
                            "workload_id",
                            "concurrency",
                            "n",
                            "errors",
                            "ttft_p50_ms",
                            "ttft_p95_ms",
                            "total_p50_ms",
                            "tokens_per_sec_mean",
                            "itl_p50_ms",
                            "aggregate_tokens_per_sec",
                            "rougeL_mean",
                            "joules_per_output_token",
                        )
                    ]
                    for c in warm
                ],
            }
        )
    if cold:
        pairs = [(c, cold.get((c.get("cell_id"), c.get("workload_key")))) for c in warm]
        rows = [
            [
                _plain(w.get("cell_id")),
                _plain(w.get("workload_id")),
                _plain(cc.get("ttft_p50_ms")),
                _plain(w.get("ttft_p50_ms")),
                _plain(cc.get("total_p50_ms")),
                _plain(w.get("total_p50_ms")),
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
                        "cell",
                        "workload",
                        "cold TTFT ms",
                        "warm TTFT p50 ms",
                        "cold total ms",
                        "warm total p50 ms",
                    ],
                    "rows": rows,
                }
            )
            cats = [f"{short(r[0])} · {r[1]}" for r in rows]
            blocks.append(
                {
                    "kind": "chart",
                    "title": "Cold vs warm TTFT",
                    "spec": charts.grouped_bars(
                        cats,
                        {"cold": [r[2] for r in rows], "warm p50": [r[3] for r in rows]},
                        "TTFT ms",
                    ),
                }
            )
    ttft: dict[str, list[float]] = defaultdict(list)
    itl: dict[str, list[float]] = defaultdict(list)
    names: dict[tuple[Any, Any], str] = {}
    for cell_id, workload_id, phase, first_delta_ms, itl_p50_ms in calls:
        if phase != "warm":
            continue
        name = names.get((cell_id, workload_id))
        if name is None:
            name = names[cell_id, workload_id] = f"{short(cell_id)} · {workload_id}"
        if (v := _num(first_delta_ms)) is not None:
            ttft[name].append(v)
        if (v := _num(itl_p50_ms)) is not None:
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
            series[f"{short(c.get('cell_id'))} c{c.get('concurrency')}"][
                prompts.index(str(c.get("workload_id")))
            ] = _num(c.get("tokens_per_sec_mean"))
        blocks.append(
            {
                "kind": "chart",
                "title": "Tokens/s per prompt",
                "spec": charts.grouped_bars(prompts, dict(sorted(series.items())), "tokens/s"),
            }
        )
    telemetry = telemetry_block(samples) if samples else None
    if telemetry is not None:
        blocks.append(telemetry)
    metrics = arch.first_of_run("run_hardware_metrics", run_id)
    if metrics:
        blocks.append(
            _block_kv(
                "Hardware telemetry summary",
                [(k, v) for k, v in sorted(metrics.items()) if k not in ("run_id", "system_id")],
            )
        )
    gpus = _gpus_for_run(arch, run_id)
    if gpus:
        blocks.append(
            {
                "kind": "table",
                "title": "GPUs",
                "columns": ["slot", "name", "memory GiB", "interface", "power limit W"],
                "rows": [
                    [
                        _plain(g.get(k))
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
    sw = arch.first_of_run("system_software", run_id)
    if sw:
        blocks.append(_block_kv("Software", [(k, sw.get(k)) for k in _SOFTWARE]))
    blocks.append(
        _block_kv(
            "Provenance",
            [
                ("Harness version", run.get("harness_version")),
                ("Git sha", run.get("git_sha")),
                ("Publisher", run.get("publisher_id") or cat.get("publisher_id")),
                ("License", run.get("license")),
                ("Content sha256", cat.get("content_sha256")),
                ("Raw files", f"runs/{run_id}/ (metadata.json, run.jsonl, run.log, run.md)"),
            ],
        )
    )
    return {"run_id": run_id, "blocks": blocks}


# (panel title, [(column, trace name)]) of the run page's telemetry chart
_TELEMETRY_PANELS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("CPU / GPU %", (("cpu_percent", "system CPU %"), ("gpu_util_percent", "GPU util % (mean)"))),
    ("GiB", (("engine_rss_gb", "engine RSS GiB"), ("memory_used_gb", "system memory GiB"))),
    ("GPU power W", (("gpu_power_w", "GPU power W (sum)"),)),
)
_TELEMETRY_FIELDS = ("t", *(col for _, series in _TELEMETRY_PANELS for col, _ in series))


def downsample(samples: Sequence[Row], limit: int = MAX_SAMPLE_POINTS) -> tuple[list[Row], int]:
    """At most ``limit`` points: consecutive samples averaged in buckets of k; returns (points,
    k). Only the charted fields are kept, rounded to 3 decimals (small run files)."""
    ordered = sorted(samples, key=lambda r: (_num(r.get("seq")) or 0, _num(r.get("t")) or 0))
    k = max(1, -(-len(ordered) // limit))
    points: list[Row] = []
    for start in range(0, len(ordered), k):
        bucket = ordered[start : start + k]
        point: Row = {}
        for name in _TELEMETRY_FIELDS:
            values = [v for r in bucket if (v := _num(r.get(name))) is not None]
            point[name] = round(sum(values) / len(values), 3) if values else None
        points.append(point)
    return points, k


def telemetry_block(samples: Sequence[Row]) -> dict[str, Any] | None:
    """The run page's telemetry chart (CPU %, memory, GPU power/util over time), or None."""
    points, k = downsample(samples)
    points = [p for p in points if p["t"] is not None]
    if not points:
        return None
    panels = []
    for title, series in _TELEMETRY_PANELS:
        values = {
            name: [p[col] for p in points]
            for col, name in series
            if any(p[col] is not None for p in points)
        }
        panels.append((title, values))
    if not any(values for _, values in panels):
        return None
    note = f", mean of {k} per point" if k > 1 else ""
    return {
        "kind": "chart",
        "title": f"Telemetry over time ({len(samples)} samples{note})",
        "spec": charts.telemetry([p["t"] for p in points], panels, "seconds since sampler start"),
    }


def runs_index_data(arch: Archive) -> list[list[Any]]:
    """Rows of the client-side run index (newest first)."""
    cat = {r.get("run_id"): r for r in arch.catalogue.get("runs", [])}
    ids = sorted(set(arch.runs) | {str(k) for k in cat}, reverse=True)
    rows = []
    for rid in ids:
        run = {**cat.get(rid, {}), **arch.runs.get(rid, {})}
        sid = run.get("system_id")
        rows.append(
            [
                rid if _SAFE_RUN_ID.fullmatch(rid) else None,
                rid,
                _plain(run.get("started_at")),
                _plain(run.get("status")),
                _plain(run.get("completeness")),
                arch.hw_label(sid),
                system_page(sid),
                ", ".join(str(m) for m in cat.get(rid, {}).get("models", [])),
                ", ".join(str(m) for m in cat.get(rid, {}).get("engines", [])),
                _plain(run.get("calls_ok")),
                _plain(run.get("calls_total")),
            ]
        )
    return rows


RUNS_INDEX = page(
    "Runs",
    [
        "Every run in the archive, newest first. Type to filter; click a column header to sort.",
        '<div class="bo-runs" data-src="../data/runs.json" data-search-exclude>'
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


# --------------------------------------------------------------------------- home and downloads


def home_snippet(arch: Archive, counter: list[int]) -> str:
    """Counts, the headline scatter per workload (tabs) and links; included by index.md."""
    n_runs = len(set(arch.runs) | {str(r.get("run_id")) for r in arch.catalogue.get("runs", [])})
    counts = [
        ("runs", n_runs, "generated/runs/index.html"),
        ("systems", len(arch.system_ids()), "generated/systems/index.html"),
        ("models", len(arch.names("model", "models")), "generated/models/index.html"),
        ("engines", len(arch.names("engine", "engines")), "generated/engines/index.html"),
        ("workloads", len(arch.workloads), "generated/leaderboards/index.html"),
    ]
    tiles = "".join(
        f'<a class="bo-tile" href="{href}"><span class="bo-count">{n:,}</span> {name}</a>'
        for name, n, href in counts
    )
    parts = [f'<div class="bo-tiles">{tiles}</div>']
    order = sorted(
        arch.workloads, key=lambda k: (-len(arch.entries.get(k, [])), arch.workloads[k].label, k)
    )
    tabs = Tabs(counter)
    for key in order[:HOME_TABS]:
        w = arch.workloads[key]
        spec = scatter_for(arch.entries.get(key, []), arch)
        if spec is None:
            continue
        tabs.add(
            w.label,
            workload_facts(w)
            + chart_div(spec, f"Throughput vs TTFT on {w.label}")
            + f'<p><a href="generated/leaderboards/{w.page}">Open the leaderboard</a></p>',
        )
    if tabs.items:
        parts.append("## Throughput vs latency")
        parts.append(
            "Each point is the latest warm result of one hardware × engine × model configuration "
            "on one workload; the dashed line is the best frontier (nothing is both faster to "
            "first token and higher in tokens/s)."
        )
        parts.append(tabs.html())
    else:
        parts.append('<p class="bo-empty">No results yet: publish some runs first.</p>')
    return "\n\n".join(parts) + "\n"


def downloads_snippet(files: Sequence[tuple[str, int, str]]) -> str:
    """The Data page's download table: (relative path, bytes, sha256)."""
    if not files:
        return (
            '<p class="bo-empty">No exports in this build. Run <code>bakeoff publish</code>, then '
            "<code>bakeoff site build --exports out/exports</code>.</p>\n"
        )
    rows = [
        [
            link_cell(Path(path).name, f"generated/{path}"),
            num_cell(size / 1e6, 2),
            Cell(f"<code>{html_text(sha)}</code>"),
        ]
        for path, size, sha in files
    ]
    return html_table([Col("File"), Col("MB", "", True), Col("sha256")], rows, exclude=False) + "\n"


# --------------------------------------------------------------------------- entry point

_SPEC_ATTR = re.compile(r'data-spec="([^"]*)"')


def externalize_charts(text: str, prefix: str, out_dir: Path) -> str:
    """Move inline chart specs into ``data/charts/<sha256>.json``; pages keep a ``data-src``.

    Chart data then costs no page weight, is fetched only when a chart is drawn, and is
    shared between pages showing the same chart. ``prefix`` leads from the page to ``out_dir``.
    """

    def move(match: re.Match[str]) -> str:
        spec = html.unescape(match.group(1))
        name = hashlib.sha256(spec.encode("utf-8")).hexdigest()[:20] + ".json"
        path = out_dir / "data" / "charts" / name
        if not path.exists():
            _write(path, spec + "\n")
        return f'data-src="{prefix}data/charts/{name}"'

    return _SPEC_ATTR.sub(move, text)


def _write(path: Path, text: str | bytes) -> None:
    if not path.parent.is_dir():  # one stat per file instead of a mkdir attempt
        path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)


def _rows(table: Any) -> list[Row]:
    """An Arrow table as row dicts, timestamps as contract text (what the pages print)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = {}
    for name, column in zip(table.column_names, table.columns, strict=True):
        if pa.types.is_timestamp(column.type):
            # %S of a microsecond timestamp carries the six fractional digits.
            column = pc.strftime(column, format="%Y-%m-%dT%H:%M:%SZ")
        columns[name] = column.to_pylist()
    names = list(columns)
    return [dict(zip(names, values, strict=True)) for values in zip(*columns.values(), strict=True)]


class _LargeRows:
    """The rows of a large table (calls, samples) per run, read from the compiled runs."""

    def __init__(self, reader: Any, table: str, run_ids: Sequence[str]) -> None:
        self.reader, self.table, self.run_ids = reader, table, sorted(run_ids)

    def run_groups(self, fields: Sequence[str] | None) -> Iterator[tuple[str, list[Any]]]:
        for rid in self.run_ids:
            t = self.reader(self.table, rid)
            if fields is None:
                yield rid, _rows(t)
            else:
                yield rid, list(zip(*(t.column(f).to_pylist() for f in fields), strict=True))


def build_pages(archive: Any, reader: Any, out_dir: Path) -> None:
    """Write the site's pages for a built archive (``publisher.archive.build.Archive``);
    ``reader(table, run_id)`` gives a run's rows of a large table (calls, samples)."""
    rows: dict[str, Any] = {name: _rows(t) for name, t in archive.tables.items()}
    run_ids = [str(r) for r in archive.tables["runs"].column("run_id").to_pylist()]
    rows["calls"] = _LargeRows(reader, "calls", run_ids)
    rows["samples"] = _LargeRows(reader, "samples", run_ids)
    build_pages_from_rows(rows, archive.catalogue, out_dir)


def build_pages_from_rows(
    tables: dict[str, list[dict[str, Any]]], catalogue: dict[str, Any], out_dir: Path
) -> None:
    """Write every generated page and data file for the site into ``out_dir``.

    ``tables`` are the published tables of ``docs/tables.md`` keyed by name (missing tables
    are treated as empty); ``catalogue`` is ``catalogue.json`` as a dict. The output replaces
    ``out_dir`` atomically; an existing ``out_dir`` that this function did not write is
    refused. Output is deterministic: the same input gives byte-identical files.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()) and not (out_dir / MARKER).exists():
        raise SiteError(
            f"{out_dir} exists and was not written by build_pages; refusing to replace it "
            "(pass an empty or generated directory, e.g. site/docs/generated)"
        )
    arch = Archive.from_tables(tables, catalogue)
    tmp = out_dir.with_name(out_dir.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    counter = [0]
    _write(tmp / MARKER, "Written by publisher.site.pages.build_pages; replaced on every build.\n")
    _write(
        tmp / "_snippets" / "home.md",
        externalize_charts(home_snippet(arch, counter), "generated/", tmp),
    )
    _write(tmp / "_snippets" / "downloads.md", downloads_snippet([]))

    _write(
        tmp / "leaderboards" / "index.md", externalize_charts(leaderboards_index(arch), "../", tmp)
    )
    for w in arch.workloads.values():
        counter[0] = 0
        _write(
            tmp / "leaderboards" / f"{slug(w.key)}.md",
            externalize_charts(leaderboard_page(arch, w), "../", tmp),
        )

    _write(tmp / "systems" / "index.md", externalize_charts(systems_index(arch), "../", tmp))
    for sid in arch.system_ids():
        counter[0] = 0
        _write(
            tmp / "systems" / f"{slug(sid)}.md",
            externalize_charts(system_page_md(arch, sid, counter), "../", tmp),
        )

    models: dict[str, list[Entry]] = {m: [] for m in arch.names("model", "models")}
    engines: dict[str, list[Entry]] = {m: [] for m in arch.names("engine", "engines")}
    for e in arch.all_entries():
        models.setdefault(str(e.row.get("model")), []).append(e)
        engines.setdefault(str(e.row.get("engine")), []).append(e)
    _write(
        tmp / "models" / "index.md",
        externalize_charts(names_index(arch, "Models", "model", models), "../", tmp),
    )
    for name in models:
        counter[0] = 0
        _write(
            tmp / "models" / f"{slug(name)}.md",
            externalize_charts(model_page(arch, name, counter), "../", tmp),
        )
    _write(
        tmp / "engines" / "index.md",
        externalize_charts(names_index(arch, "Engines", "engine", engines), "../", tmp),
    )
    for name in engines:
        counter[0] = 0
        _write(
            tmp / "engines" / f"{slug(name)}.md",
            externalize_charts(engine_page(arch, name, counter), "../", tmp),
        )

    _write(tmp / "changes.md", changes_page(arch))
    _write(tmp / "runs" / "index.md", RUNS_INDEX)
    _write(tmp / "runs" / "view.md", RUN_VIEW)
    _write(tmp / "data" / "runs.json", dumps(runs_index_data(arch)) + "\n")
    calls_by_run = _RunGroups(tables.get("calls", []), _CALL_FIELDS)
    samples_by_run = _RunGroups(tables.get("samples", []))
    run_ids = set(arch.runs) | {str(r.get("run_id")) for r in catalogue.get("runs", [])}
    for rid in sorted(run_ids):
        if not _SAFE_RUN_ID.fullmatch(rid):
            continue
        doc = run_document(arch, rid, calls_by_run.get(rid), samples_by_run.get(rid))
        _write(tmp / "data" / "runs" / f"{rid}.json", dumps_utf8(doc) + b"\n")

    if out_dir.exists():
        old = out_dir.with_name(out_dir.name + ".old")
        if old.exists():
            shutil.rmtree(old)
        os.replace(out_dir, old)
        os.replace(tmp, out_dir)
        shutil.rmtree(old)
    else:
        os.replace(tmp, out_dir)
