"""What every page family shares: number formatting, sortable tables, tabs, page front matter,
links, the way a system is named, and the output folder (pages and ``.js`` data files).

Every run-sourced string is escaped here (:mod:`publisher.site.escape`) or inserted with
``textContent`` by ``assets/bakeoff.js``.

Data files are JavaScript, not JSON: a page opened from ``file://`` may load a ``<script>`` but
not ``fetch()`` a file, so every data file is one call ``__bakeoffData("<key>", <JSON>)`` that
``bakeoff.js`` receives; the same file works over HTTP.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from publisher.site import charts
from publisher.site.escape import dumps, dumps_utf8, html_text, slug, title_text

Row = dict[str, Any]

MARKER = ".bakeoff-generated"
# The marker file's text: it names the layout, so pages of an older layout are recognised.
MARKER_TEXT = "Written by publisher.site.pages.build_pages; replaced on every build. layout 2\n"
SAFE_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
# The function every data file calls (assets/bakeoff.js defines it).
DATA_CALLBACK = "__bakeoffData"

_INF = float("inf")


# --------------------------------------------------------------------------- formatting


def num(value: Any) -> float | None:
    """A finite float, or None (bools, NaN, ±inf and non-numbers)."""
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
    f = num(value)
    if f is None:
        return "—"
    return f"{f:,.{digits}f}"


def fmt_pct(value: Any) -> str:
    """Format a 0..1 ratio as a percentage."""
    f = num(value)
    return "—" if f is None else f"{100 * f:.1f}%"


def level_text(concurrency: Any, request_rate: Any) -> str:
    """A load level as the site writes it: ``c4`` (closed loop, 4 streams) or ``0.5 req/s``
    (open loop: its concurrency is null, never 1)."""
    rate = num(request_rate)
    if rate is not None:
        return f"{rate:g} req/s"
    conc = num(concurrency)
    return "—" if conc is None else f"c{conc:g}"


def throughput(row: Mapping[str, Any]) -> float | None:
    """The tokens/s a result is ranked by: the aggregate over all streams on a load level
    (concurrency above 1, or any open-loop rate), else the per-stream decode rate."""
    agg = num(row.get("aggregate_tokens_per_sec"))
    conc = num(row.get("concurrency"))
    loaded = num(row.get("request_rate")) is not None or (conc is not None and conc > 1)
    if loaded and agg is not None:
        return agg
    return num(row.get("tokens_per_sec_mean"))


def plain(value: Any) -> Any:
    """JSON-safe scalar: numbers stay numbers (NaN → None), everything else becomes text."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return num(value)
    return str(value)


# --------------------------------------------------------------------------- tables


@dataclass(frozen=True)
class Col:
    """A table column: header text, an optional hint (direction, unit), and its kind.

    ``wrap`` columns (names) may break onto several lines, so wide tables fit the page.
    """

    title: str
    hint: str = ""
    numeric: bool = False
    wrap: bool = False


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
    return Cell(fmt(value, digits), num(value))


def pct_cell(value: Any) -> Cell:
    """A percentage cell sorted by value."""
    return Cell(fmt_pct(value), num(value))


def known_cell(value: Any, reason: Any, digits: int = 1, *, pct: bool = False) -> Cell:
    """A number that may be unknown for a stated reason: the value (a percentage with
    ``pct``), else a dash whose tooltip says why it is unknown."""
    f = num(value)
    if f is None:
        why = str(reason) if reason else "not measured"
        return Cell(f'<span class="bo-null" title="{html_text(why)}">—</span>')
    return Cell(fmt_pct(f) if pct else fmt(f, digits), f)


def link_cell(text: Any, href: str | None, title: str | None = None) -> Cell:
    """A link whose ``href`` was built by this package (never a run-sourced string)."""
    if href is None:
        return text_cell(text)
    tip = f' title="{html_text(title)}"' if title else ""
    return Cell(f'<a href="{html_text(href)}"{tip}>{html_text(text)}</a>', str(text))


def html_table(
    cols: Sequence[Col],
    rows: Iterable[Sequence[Cell]],
    *,
    exclude: bool = True,
    max_rows: int | None = None,
    csv_href: str | None = None,
) -> str:
    """A sortable HTML table; ``exclude`` keeps it out of the search index.

    ``max_rows`` caps the rows written (the caller says where the rest is); ``csv_href``
    adds a download button for the table's CSV file.
    """
    head = "".join(
        "<th"
        + (' class="bo-num"' if c.numeric else ' class="bo-wrap-col"' if c.wrap else "")
        + (f' title="{html_text(c.hint)}"' if c.hint else "")
        + f">{html_text(c.title)}</th>"
        for c in cols
    )
    # Rows stay lean (they dominate page weight): bakeoff.js parses the numbers for sorting
    # and marks the numeric and wrapping columns from the header.
    body = ["<tr>" + "".join(f"<td>{cell.html}</td>" for cell in row) + "</tr>" for row in rows]
    body = body[:max_rows] if max_rows is not None else body
    if not body:
        return '<p class="bo-empty">No results yet.</p>'
    search = " data-search-exclude" if exclude else ""
    button = ""
    if csv_href is not None:
        button = (
            f'<p class="bo-download"><a class="md-button bo-csv" href="{html_text(csv_href)}" '
            "download>Download CSV</a></p>"
        )
    return (
        f'<div class="bo-table-wrap"{search}><table class="bo-table">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>{button}"
    )


def kv_table(pairs: Sequence[tuple[str, Any]]) -> str:
    """A two-column key/value table (escaped)."""
    rows = "".join(
        f"<tr><th>{html_text(k)}</th><td>{html_text('—' if v is None or v == '' else v)}</td></tr>"
        for k, v in pairs
    )
    return f'<table class="bo-kv"><tbody>{rows}</tbody></table>'


class Tabs:
    """Content tabs in pymdownx.tabbed's alternate markup, written as raw HTML.

    Raw HTML keeps untrusted labels out of Markdown parsing; Material mounts it like any
    other tab set, and ``bakeoff.js`` draws or resizes charts when a tab is shown.
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


# --------------------------------------------------------------------------- links and names


def system_page(system_id: Any) -> str:
    """File name of a system's page under ``systems/``."""
    return f"{slug(system_id)}.html"


def run_href(prefix: str, run_id: Any) -> str | None:
    """Link to the run viewer for ``run_id``, or None when the id is not path-safe."""
    rid = str(run_id)
    if not SAFE_RUN_ID.fullmatch(rid):
        return None
    return f"{prefix}runs/view.html?id={rid}"


@dataclass(frozen=True)
class SystemName:
    """How a system is named on every page: its hardware class (what it is) and its label
    (which one: host label plus the system id's first 8 characters), so two hosts of the same
    hardware class never look identical."""

    system_id: str
    hardware_class: str
    system_label: str

    @property
    def text(self) -> str:
        """One line, for charts and CSV: ``<hardware class> · <system label>``."""
        return f"{self.hardware_class or 'unknown hardware'} · {self.system_label}"

    def cell(self, prefix: str) -> Cell:
        """A table cell: the class as a link to the system page, the label under it."""
        href = html_text(f"{prefix}systems/{system_page(self.system_id)}")
        return Cell(
            f'<a href="{href}">{html_text(self.hardware_class or "unknown hardware")}</a>'
            f'<br><span class="bo-sub">{html_text(self.system_label)}</span>',
            self.text,
        )


def system_name(row: Mapping[str, Any]) -> SystemName:
    """The name of the system of a row that carries system_id, hardware_class and
    system_label (cells, history, runs, system_hardware)."""
    sid = str(row.get("system_id") or "")
    label = row.get("system_label") or sid[:8] or "unknown"
    return SystemName(sid, str(row.get("hardware_class") or ""), str(label))


# --------------------------------------------------------------------------- output


def data_script(key: str, payload: Any) -> bytes:
    """A data file's bytes: one call that hands the JSON payload to ``bakeoff.js``."""
    return f"{DATA_CALLBACK}({dumps(key)},".encode() + dumps_utf8(payload) + b");\n"


class Output:
    """The folder being generated: pages, data files and charts, written once each."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._dirs: set[Path] = set()
        self._charts: set[str] = set()

    def write(self, rel: str, content: str | bytes) -> None:
        """Write one file under the root (``rel`` uses ``/``)."""
        path = self.root / rel
        if path.parent not in self._dirs:  # one mkdir per folder, not per file
            path.parent.mkdir(parents=True, exist_ok=True)
            self._dirs.add(path.parent)
        path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)

    def reuse(self, rel: str, source: Path, sha256: str) -> bool:
        """Hard-link (or copy) ``source`` to ``rel`` when its bytes have this sha256; False
        when they do not or it cannot be read (the caller writes the file afresh)."""
        try:
            content = source.read_bytes()
        except OSError:
            return False
        if hashlib.sha256(content).hexdigest() != sha256:
            return False
        path = self.root / rel
        if path.parent not in self._dirs:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._dirs.add(path.parent)
        try:
            os.link(source, path)
        except OSError:  # another file system, or links not allowed
            path.write_bytes(content)
        return True

    def data(self, key: str, payload: Any) -> None:
        """Write ``data/<key>.js`` (``key`` is path-safe, built by this package)."""
        self.write(f"data/{key}.js", data_script(key, payload))

    def chart(self, spec: charts.Spec, title: str, prefix: str) -> str:
        """A chart container whose spec lives in ``data/charts/<sha256>.js``: no page weight,
        loaded when the chart is first shown, shared by every page that shows it."""
        text = dumps(spec)
        key = "charts/" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]
        if key not in self._charts:
            self._charts.add(key)
            self.data(key, spec)
        label = f' aria-label="{html_text(title)}"' if title else ""
        return f'<div class="bo-chart" role="img"{label} data-src="{prefix}data/{key}.js"></div>'


# The issue-17 columns of a cells row: efficiency, energy and cost, each with its null reason.
MEANING_COLUMNS = [
    "tokens_per_joule",
    "energy_reason",
    "bandwidth_efficiency",
    "roofline_reason",
    "cost_per_million_tokens",
    "cost_currency",
    "cost_reason",
]


def tokens_text(input_tokens: Any, output_tokens: Any, max_tokens: Any) -> str:
    """A workload's token budget: ``512/64 tok`` (exact lengths), ``256 tok`` (max_tokens), or
    "" when the workload states neither (an imported summary)."""
    if input_tokens is not None or output_tokens is not None:
        return f"{input_tokens if input_tokens is not None else '?'}/" + (
            f"{output_tokens if output_tokens is not None else '?'} tok"
        )
    return f"{max_tokens} tok" if max_tokens is not None else ""
