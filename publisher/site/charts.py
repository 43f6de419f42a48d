"""Plotly chart specs (``{"data": [...], "layout": {...}}``) built from plain rows.

Specs carry data and axis titles only; ``assets/bakeoff.js`` applies the theme (fonts, grid,
palette for light and dark) when it draws them, so one spec serves both colour schemes.
Every label that may come from a run file goes through :func:`chart_text`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from publisher.site.escape import chart_text

Spec = dict[str, Any]
TOOLBAR_MARGIN = 36


@dataclass(frozen=True)
class Point:
    """One result in a throughput-vs-latency scatter: ``label`` (lines separated by newlines)
    is shown on hover, ``short`` next to the point when the chart labels its points."""

    latency_ms: float
    throughput: float
    group: str
    label: str
    short: str = ""


def _lines(text: str) -> str:
    """Escaped plotly text with newlines as line breaks."""
    return "<br>".join(chart_text(line) for line in text.split("\n"))


def pareto_frontier(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """The points no other point beats on both axes (lower x and higher y are better)."""
    frontier: list[tuple[float, float]] = []
    best_y = float("-inf")
    for x, y in sorted(points, key=lambda p: (p[0], -p[1])):
        if y > best_y:
            frontier.append((x, y))
            best_y = y
    return frontier


def _layout(x_title: str, y_title: str, **extra: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "xaxis": {"title": {"text": x_title}, "automargin": True},
        "yaxis": {"title": {"text": y_title}, "automargin": True},
        # The top margin keeps plotly's toolbar (top right, shown on hover) off the plot area.
        "margin": {"l": 10, "r": 10, "t": TOOLBAR_MARGIN, "b": 10},
        "legend": {"orientation": "h", "y": -0.25},
        "hovermode": "closest",
        # An explicit height: with autosize plotly would take the container's height, which
        # is unset until drawn, and the chart would overflow onto the content below.
        "height": 420,
    }
    layout.update(extra)
    return layout


def throughput_latency(
    points: Sequence[Point], throughput_title: str, *, show_labels: bool = False
) -> Spec:
    """Scatter of throughput (y, higher is better) vs TTFT p50 (x, lower is better).

    One trace per group (engine) plus the best frontier as a dashed line. Hovering a point
    names it (``label``); with ``show_labels`` its ``short`` label is also drawn beside it.
    """
    groups: dict[str, list[Point]] = {}
    for p in sorted(points, key=lambda p: (p.group, p.latency_ms, p.throughput, p.label)):
        groups.setdefault(p.group, []).append(p)
    data: list[dict[str, Any]] = []
    for group, members in sorted(groups.items()):
        trace: dict[str, Any] = {
            "type": "scatter",
            "mode": "markers+text" if show_labels else "markers",
            "name": chart_text(group),
            "x": [p.latency_ms for p in members],
            "y": [p.throughput for p in members],
            "hovertext": [_lines(p.label) for p in members],
            "hovertemplate": "%{hovertext}<br>TTFT p50 %{x:.1f} ms<br>%{y:.1f}<extra></extra>",
            "marker": {"size": 10},
        }
        if show_labels:
            trace["text"] = [chart_text(p.short) for p in members]
            trace["textposition"] = "top center"
            trace["textfont"] = {"size": 10}
        data.append(trace)
    front = pareto_frontier([(p.latency_ms, p.throughput) for p in points])
    if len(front) > 1:
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": "best frontier",
                "x": [x for x, _ in front],
                "y": [y for _, y in front],
                "line": {"dash": "dash", "shape": "hv"},
                "hoverinfo": "skip",
            }
        )
    return {
        "data": data,
        "layout": _layout(
            "TTFT p50 (ms) — lower is better", f"{throughput_title} — higher is better"
        ),
    }


def bars(labels: Sequence[str], values: Sequence[float | None], value_title: str) -> Spec:
    """Horizontal bars, one per label (largest first), for comparing configurations."""
    # plotly merges bars of equal category names: a repeated label gets a number.
    seen: dict[str, int] = {}
    unique = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        unique.append(label if seen[label] == 1 else f"{label} ({seen[label]})")
    pairs = sorted(
        ((label, v) for label, v in zip(unique, values, strict=True) if v is not None),
        key=lambda lv: (lv[1], lv[0]),
    )
    return {
        "data": [
            {
                "type": "bar",
                "orientation": "h",
                "y": [chart_text(label) for label, _ in pairs],
                "x": [v for _, v in pairs],
                "hovertemplate": "%{y}: %{x:.2f}<extra></extra>",
            }
        ],
        "layout": _layout(value_title, "", height=max(220, 60 + 28 * len(pairs)), showlegend=False),
    }


def grouped_bars(
    categories: Sequence[str], series: Mapping[str, Sequence[float | None]], value_title: str
) -> Spec:
    """Horizontal grouped bars: one trace per series over shared categories (long labels)."""
    cats = [chart_text(c) for c in categories]
    data = [
        {"type": "bar", "orientation": "h", "name": chart_text(name), "y": cats, "x": list(values)}
        for name, values in series.items()
    ]
    height = max(260, 80 + 22 * len(cats) * max(1, len(series)))
    layout = _layout(value_title, "", barmode="group", height=height)
    layout["yaxis"]["autorange"] = "reversed"
    return {"data": data, "layout": layout}


def boxes(groups: Mapping[str, Sequence[float]], value_title: str) -> Spec:
    """One horizontal box per group (points shown): distributions of per-call values."""
    data = [
        {
            "type": "box",
            "orientation": "h",
            "name": chart_text(name),
            "x": list(values),
            "boxpoints": "all" if len(values) <= 200 else "outliers",
            "jitter": 0.3,
        }
        for name, values in sorted(groups.items())
        if values
    ]
    height = max(240, 80 + 40 * len(data))
    return {"data": data, "layout": _layout(value_title, "", showlegend=False, height=height)}


def lines(
    series: Mapping[str, Sequence[tuple[str | float, float]]], x_title: str, y_title: str
) -> Spec:
    """Lines with markers, one per series; x is a timestamp or a number."""
    data = [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": chart_text(name),
            "x": [x for x, _ in points],
            "y": [y for _, y in points],
        }
        for name, points in sorted(series.items())
        if points
    ]
    return {"data": data, "layout": _layout(x_title, y_title)}


# --------------------------------------------------------------------------- history

# Change points keep one colour and marker in both colour schemes (legible on light and dark).
CHANGE_STYLE: dict[str, dict[str, Any]] = {
    "regression": {"color": "#E4572E", "symbol": "triangle-down", "label": "▼ regression"},
    "improvement": {"color": "#2E9E5B", "symbol": "triangle-up", "label": "▲ improvement"},
}


@dataclass(frozen=True)
class HistoryPoint:
    """One warm result of a series: when (plotly date text), its run, values and change."""

    when: str
    run_id: str
    ttft_ms: float | None
    tokens_per_sec: float | None
    change: str = "none"
    detail: str = ""


def _stacked_axes(titles: Sequence[str], x_title: str, **extra: Any) -> dict[str, Any]:
    """A layout of panels stacked top to bottom sharing one x axis (ticks under the last)."""
    n = len(titles)
    gap = 0.08 if n > 1 else 0.0
    height = (1.0 - gap * (n - 1)) / n
    layout = _layout(x_title, "", height=140 + 200 * n, **extra)
    del layout["yaxis"]
    for i, title in enumerate(titles):
        top = 1.0 - i * (height + gap)
        key = "yaxis" if i == 0 else f"yaxis{i + 1}"
        layout[key] = {
            "title": {"text": title},
            "automargin": True,
            "domain": [round(max(0.0, top - height), 4), round(top, 4)],
            "anchor": "x",
            "rangemode": "tozero",
        }
    layout["xaxis"]["anchor"] = "y" if n == 1 else f"y{n}"
    # The legend above the panels: below, it would collide with the x axis title.
    layout["legend"] = {"orientation": "h", "x": 0, "y": 1.0, "yanchor": "bottom"}
    layout["margin"]["t"] = 40
    return layout


def history(points: Sequence[HistoryPoint]) -> Spec:
    """Tokens/s (top) and TTFT p50 (bottom) over time; change points as coloured markers.

    Every change point stays a marker of its own, so a regression that later recovers is
    still shown (the recovery is an improvement marker after it).
    """
    pts = sorted(points, key=lambda p: (p.when, p.run_id))
    panels = (("y", "tokens_per_sec", "tokens/s"), ("y2", "ttft_ms", "TTFT p50 ms"))
    data: list[dict[str, Any]] = []
    for axis, attr, name in panels:
        data.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": name,
                "xaxis": "x",
                "yaxis": axis,
                "x": [p.when for p in pts],
                "y": [getattr(p, attr) for p in pts],
                "text": [chart_text(p.run_id) for p in pts],
                "hovertemplate": f"run %{{text}}<br>%{{x}}<br>{name} %{{y:.1f}}<extra></extra>",
                "connectgaps": True,
                "marker": {"size": 7},
            }
        )
    for change, style in CHANGE_STYLE.items():
        marked = [p for p in pts if p.change == change]
        if not marked:
            continue
        for i, (axis, attr, _) in enumerate(panels):
            data.append(
                {
                    "type": "scatter",
                    "mode": "markers",
                    "name": change,
                    "legendgroup": change,
                    "showlegend": i == 0,
                    "xaxis": "x",
                    "yaxis": axis,
                    "x": [p.when for p in marked],
                    "y": [getattr(p, attr) for p in marked],
                    "text": [
                        f"{chart_text(change)}: {chart_text(p.detail or '—')}"
                        f"<br>run {chart_text(p.run_id)}"
                        for p in marked
                    ],
                    "hovertemplate": "%{text}<br>%{x}<extra></extra>",
                    "marker": {
                        "size": 14,
                        "symbol": style["symbol"],
                        "color": style["color"],
                        "line": {"width": 1, "color": "#FFFFFF"},
                    },
                }
            )
    layout = _stacked_axes(
        ["tokens/s — higher is better", "TTFT p50 ms — lower is better"], "run start (UTC)"
    )
    layout["xaxis"]["type"] = "date"
    return {"data": data, "layout": layout}


# --------------------------------------------------------------------------- telemetry


def telemetry(
    x: Sequence[float | None],
    panels: Sequence[tuple[str, Mapping[str, Sequence[float | None]]]],
    x_title: str,
) -> Spec:
    """Stacked line panels over a shared numeric x (seconds): one panel per unit."""
    used = [(title, series) for title, series in panels if series]
    data: list[dict[str, Any]] = []
    for i, (_, series) in enumerate(used):
        axis = "y" if i == 0 else f"y{i + 1}"
        for name, values in series.items():
            data.append(
                {
                    "type": "scatter",
                    "mode": "lines",
                    "name": chart_text(name),
                    "xaxis": "x",
                    "yaxis": axis,
                    "x": list(x),
                    "y": list(values),
                    "hovertemplate": "%{y:.2f}",
                }
            )
    layout = _stacked_axes([title for title, _ in used], x_title, hovermode="x unified")
    return {"data": data, "layout": layout}
