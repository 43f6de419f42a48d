"""The home page's generated part (included by ``site/docs/index.md``) and the Data page's
download table (included by ``site/docs/data.md``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from publisher.site.escape import html_text
from publisher.site.pages.common import Cell, Col, Output, Tabs, html_table, link_cell, num_cell
from publisher.site.pages.leaderboards import scatter_for, workload_facts
from publisher.site.pages.view import ArchiveView

HOME_TABS = 6


def home_snippet(view: ArchiveView, out: Output) -> str:
    """Counts, the headline scatter per workload (tabs) and links."""
    counts = [
        ("runs", len(view.runs), "generated/runs/index.html"),
        ("systems", len(view.system_ids()), "generated/systems/index.html"),
        ("models", len(view.names("model")), "generated/models/index.html"),
        ("engines", len(view.names("engine")), "generated/engines/index.html"),
        ("workloads", len(view.workloads), "generated/leaderboards/index.html"),
    ]
    tiles = "".join(
        f'<a class="bo-tile" href="{href}"><span class="bo-count">{n:,}</span> {name}</a>'
        for name, n, href in counts
    )
    parts = [f'<div class="bo-tiles">{tiles}</div>']
    order = sorted(
        view.workloads, key=lambda k: (-len(view.entries.get(k, [])), view.workloads[k].label, k)
    )
    tabs = Tabs([0])
    for key in order[:HOME_TABS]:
        w = view.workloads[key]
        spec = scatter_for(view.entries.get(key, []))
        if spec is None:
            continue
        tabs.add(
            w.label,
            workload_facts(w)
            + out.chart(spec, f"Throughput vs TTFT on {w.label}", "generated/")
            + f'<p><a href="generated/leaderboards/{w.page}">Open the leaderboard</a></p>',
        )
    if tabs.items:
        parts.append("## Throughput vs latency")
        parts.append(
            "Each point is the latest comparable warm result of one system × engine × model "
            "configuration on one workload; hover a point to see whose it is. The dashed line is "
            "the best frontier (nothing is both faster to first token and higher in tokens/s). "
            '<a href="generated/compare.html">Compare systems or runs side by side</a>.'
        )
        parts.append(tabs.html())
    else:
        parts.append('<p class="bo-empty">No comparable results yet: publish some runs first.</p>')
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
