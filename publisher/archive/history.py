"""History: per system and workload signature, the series of warm results over time.

A pure function from rows of the ``cells`` table to rows of the ``history`` table. Each point
is compared with the *previous* point of its series by the regression thresholds of
``seeds/tolerances.json`` (the methodology page states them) and marked ``regression``,
``improvement`` or ``none``. Comparing with the previous point, not a fixed baseline, keeps a
regression visible after a later recovery: the recovery is its own ``improvement`` point —
also when that step alone is under the threshold (+40% is undone by −29%), as long as it
brings the metric back within tolerance of its level before the regression ("(recovered)" in
``change_detail``). A slow drift of steps each under the threshold is not marked.

The cells table has batch aggregates only (no per-call values), so history uses the thresholds
alone — no significance test; ``low_n`` marks points with fewer than ``min_n`` warm calls on
either side. ``bakeoff compare`` is the tool that adds the Mann–Whitney U test and intervals.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from publisher.frontend.tables import HISTORY
from publisher.gates import METRICS, Tolerances, load_tolerances

RATIO_COLUMNS = {
    "ttft_p50_ms": "ttft_p50_ratio",
    "total_p50_ms": "total_p50_ratio",
    "tokens_per_sec_mean": "tokens_per_sec_ratio",
}
_EPS = 1e-9


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _relative(
    metric: str, prev: float | None, cur: float | None, tols: Tolerances
) -> tuple[float | None, str | None]:
    """(ratio cur/prev, 'regression' | 'improvement' | None) for one relative metric."""
    if prev is None or cur is None or prev <= 0:
        return None, None
    ratio = cur / prev
    tol = getattr(tols.metrics, metric)
    if METRICS[metric].better == "lower":
        worse, better = (
            ratio >= 1 + tol.max_regression - _EPS,
            ratio <= 1 - tol.min_improvement + _EPS,
        )
    else:
        worse, better = (
            ratio <= 1 - tol.max_regression + _EPS,
            ratio >= 1 + tol.min_improvement - _EPS,
        )
    return ratio, "regression" if worse else "improvement" if better else None


def _point_change(
    prev: Mapping[str, Any] | None,
    cur: Mapping[str, Any],
    tols: Tolerances,
    regressed_from: dict[str, float],
) -> dict[str, Any]:
    """Change columns of ``cur`` vs ``prev``; ``regressed_from`` (metric → the value before
    an open regression) is the series' state, updated in place."""
    out: dict[str, Any] = {col: None for col in RATIO_COLUMNS.values()}
    out.update(previous_run_id=None, low_n=False, change="none", change_detail="")
    if prev is None:
        return out
    out["previous_run_id"] = prev.get("run_id")
    n_prev, n_cur = prev.get("n") or 0, cur.get("n") or 0
    out["low_n"] = min(n_prev, n_cur) < tols.min_n
    found: dict[str, list[str]] = {"regression": [], "improvement": []}
    for metric, column in RATIO_COLUMNS.items():
        before, now = _num(prev.get(metric)), _num(cur.get(metric))
        ratio, kind = _relative(metric, before, now, tols)
        out[column] = ratio
        if ratio is None:
            continue
        note = ""
        if kind == "regression" and before is not None:
            regressed_from.setdefault(metric, before)
        elif (
            metric in regressed_from
            and _relative(metric, regressed_from[metric], now, tols)[1] != "regression"
        ):
            # Back within tolerance of the level before the regression: a recovery, marked
            # as an improvement even when this step alone is under the threshold (+40% is
            # undone by -29%).
            del regressed_from[metric]
            kind, note = "improvement", " (recovered)"
        if kind is not None:
            found[kind].append(f"{METRICS[metric].label} {ratio - 1:+.0%}{note}")
    floor = tols.metrics.success_rate.min
    sr_prev, sr_cur = _num(prev.get("success_rate")), _num(cur.get("success_rate"))
    if sr_prev is not None and sr_cur is not None:
        if sr_cur < floor <= sr_prev:
            found["regression"].append(f"success rate {sr_prev:.0%} → {sr_cur:.0%}")
        elif sr_prev < floor <= sr_cur:
            found["improvement"].append(f"success rate {sr_prev:.0%} → {sr_cur:.0%}")
    # A point that regresses on one metric and improves on another is a regression: the
    # worse news must not be hidden; the detail lists both.
    if found["regression"]:
        out["change"] = "regression"
    elif found["improvement"]:
        out["change"] = "improvement"
    out["change_detail"] = "; ".join(found["regression"] + found["improvement"])
    return out


def _order(row: Mapping[str, Any]) -> tuple[int, str, str]:
    # started_at: microseconds since the epoch (the tables' timestamp unit).
    return (int(row.get("started_at") or 0), str(row.get("run_id")), str(row.get("cell_id")))


def build_history(
    cells_rows: Iterable[Mapping[str, Any]], tolerances: Tolerances | None = None
) -> list[dict[str, Any]]:
    """History rows (``tables.HISTORY``) from ``cells`` rows: warm phase, one series per
    (system_id, signature), ordered by the run's start; sorted by series, then time.

    The caller passes comparable rows only (smoke and empty runs never make a point);
    ``started_at`` is in microseconds since the epoch."""
    tols = tolerances or load_tolerances()
    series: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for row in cells_rows:
        if row.get("phase") != "warm":
            continue
        series.setdefault((str(row["system_id"]), str(row["signature"])), []).append(row)
    out: list[dict[str, Any]] = []
    for key in sorted(series):
        prev: Mapping[str, Any] | None = None
        regressed_from: dict[str, float] = {}
        for seq, row in enumerate(sorted(series[key], key=_order)):
            point = {name: row.get(name) for name, _ in HISTORY}
            point["seq"] = seq
            point.update(_point_change(prev, row, tols, regressed_from))
            out.append(point)
            prev = row
    return out


def recent_changes(
    history_rows: Sequence[Mapping[str, Any]], limit: int = 100
) -> list[Mapping[str, Any]]:
    """Points marked regression or improvement, newest first (for a "recent changes" page)."""
    changed = [r for r in history_rows if r.get("change") in ("regression", "improvement")]
    changed.sort(key=lambda r: (str(r.get("started_at") or ""), str(r.get("run_id"))), reverse=True)
    return changed[:limit]
