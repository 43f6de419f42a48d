"""Load-level charts (issue 15), drawn from warm ``cells`` rows: one point per level.

- the InferenceX view: output tokens/s of all streams together (per accelerator where the
  GPU count is known) against tokens/s per user (1000 / TPOT p50), a line per configuration;
- requests/s and goodput against the offered request rate, with the SLO named;
- TTFT p50 and p99 against the offered request rate;
- for length workloads, the client's and the engine's prefill rate by input tokens.

Levels are curves, never leaderboard rows: a sweep's rates depend on the machine that found
them. The methodology page (``#load``) defines every number drawn here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from publisher.site import charts
from publisher.site.pages.common import level_text, num, tokens_text

Row = Mapping[str, Any]
Namer = Callable[[Row], str]

INFERENCEX = "Throughput vs interactivity (InferenceX view)"
TTFT_VS_RATE = "TTFT vs offered request rate"
PREFILL = "Prefill rate by input tokens (client vs engine)"


def family_label(row: Row) -> str:
    """The workload without its load level: ``L-512-64 · 512/64 tok`` or ``P-EASY · 256 tok``."""
    tokens = tokens_text(row.get("input_tokens"), row.get("output_tokens"), row.get("max_tokens"))
    return f"{row.get('workload_id')} · {tokens}" if tokens else str(row.get("workload_id"))


def _rated(row: Row) -> bool:
    return num(row.get("request_rate")) is not None


def _point(row: Row, x: float, y: float) -> charts.LevelPoint:
    return charts.LevelPoint(x, y, level_text(row.get("concurrency"), row.get("request_rate")))


def inferencex(
    rows: Iterable[Row], name_of: Namer, gpus_of: Callable[[Row], int | None]
) -> tuple[str, charts.Spec] | None:
    """The InferenceX view, or None unless some configuration has two or more levels.

    y is ``aggregate_tokens_per_sec`` ÷ the GPU count where ``gpus_of`` knows one (else the
    whole system's); closed-loop and open-loop levels are separate lines."""
    series: dict[str, list[charts.LevelPoint]] = defaultdict(list)
    per_gpu = whole = False
    for r in rows:
        x, y = num(r.get("tokens_per_sec_per_user")), num(r.get("aggregate_tokens_per_sec"))
        if x is None or y is None:
            continue
        gpus = gpus_of(r)
        if gpus:
            y, per_gpu = y / gpus, True
        else:
            whole = True
        loop = "rates" if _rated(r) else "concurrency"
        series[f"{name_of(r)} · {family_label(r)} · {loop}"].append(_point(r, x, y))
    if not any(len(points) > 1 for points in series.values()):
        return None
    unit = (
        "output tokens/s per accelerator (per system without a GPU)"
        if per_gpu and whole
        else "output tokens/s per accelerator"
        if per_gpu
        else "output tokens/s, all streams"
    )
    spec = charts.curves(
        series,
        "tokens/s per user (1000 / TPOT p50) — higher is better",
        f"{unit} — higher is better",
        frontier=True,
    )
    return INFERENCEX, spec


def slo_text(rows: Iterable[Row]) -> str:
    """The objectives goodput counted against, as a title names them."""
    slos = sorted(
        {(num(r.get("slo_ttft_ms")), num(r.get("slo_tpot_ms"))) for r in rows},
        key=lambda s: (s[0] or -1.0, s[1] or -1.0),
    )
    parts = []
    for ttft, tpot in slos:
        terms = [f"TTFT ≤ {ttft:g} ms"] if ttft is not None else []
        terms += [f"TPOT ≤ {tpot:g} ms"] if tpot is not None else []
        if terms:
            parts.append(", ".join(terms))
    return "SLO " + "; ".join(parts) if parts else "no SLO stated: goodput is null"


def goodput_vs_rate(rows: Iterable[Row], name_of: Namer) -> tuple[str, charts.Spec] | None:
    """Requests/s (solid) and goodput (dashed) against the offered rate, with ``y = x`` as
    the offered load; None without open-loop levels."""
    rated = [r for r in rows if _rated(r)]
    series: dict[str, list[charts.LevelPoint]] = defaultdict(list)
    dash: dict[str, str] = {}
    for r in rated:
        rate = num(r.get("request_rate"))
        assert rate is not None
        base = f"{name_of(r)} · {family_label(r)}"
        for column, suffix in (
            ("requests_per_sec", "req/s"),
            ("goodput_requests_per_sec", "goodput"),
        ):
            value = num(r.get(column))
            if value is not None:
                name = f"{base} · {suffix}"
                series[name].append(_point(r, rate, value))
                if suffix == "goodput":
                    dash[name] = "dash"
    if not series:
        return None
    rates = [num(r.get("request_rate")) or 0.0 for r in rated]
    title = f"Requests/s and goodput vs offered rate ({slo_text(rated)})"
    spec = charts.curves(
        series,
        "offered request rate (req/s)",
        "requests/s completed — higher is better",
        dash=dash,
        reference=("offered", rates),
    )
    return title, spec


def ttft_vs_rate(rows: Iterable[Row], name_of: Namer) -> tuple[str, charts.Spec] | None:
    """TTFT p50 (solid) and p99 (dashed) against the offered rate; None without rates."""
    series: dict[str, list[charts.LevelPoint]] = defaultdict(list)
    dash: dict[str, str] = {}
    for r in rows:
        rate = num(r.get("request_rate"))
        if rate is None:
            continue
        base = f"{name_of(r)} · {family_label(r)}"
        for column, suffix in (("ttft_p50_ms", "p50"), ("ttft_p99_ms", "p99")):
            value = num(r.get(column))
            if value is not None:
                series[f"{base} · {suffix}"].append(_point(r, rate, value))
                if suffix == "p99":
                    dash[f"{base} · {suffix}"] = "dash"
    if not series:
        return None
    spec = charts.curves(
        series, "offered request rate (req/s)", "TTFT ms — lower is better", dash=dash
    )
    return TTFT_VS_RATE, spec


def prefill_by_input(rows: Iterable[Row], name_of: Namer) -> tuple[str, charts.Spec] | None:
    """Client (prompt tokens ÷ TTFT, solid) and engine-reported (dashed) prefill rates of
    length workloads by input tokens, sequential levels only (under load the client's rate
    holds queueing); None without them."""
    series: dict[str, list[charts.LevelPoint]] = defaultdict(list)
    dash: dict[str, str] = {}
    for r in rows:
        tokens = num(r.get("input_tokens"))
        if tokens is None or _rated(r) or num(r.get("concurrency")) != 1:
            continue
        for column, suffix in (
            ("prefill_tokens_per_sec_p50", "client"),
            ("server_prefill_tokens_per_sec_p50", "engine"),
        ):
            value = num(r.get(column))
            if value is not None:
                name = f"{name_of(r)} · {suffix}"
                series[name].append(
                    charts.LevelPoint(tokens, value, f"{family_label(r)} · {tokens:g} tokens")
                )
                if suffix == "engine":
                    dash[name] = "dash"
    if not series:
        return None
    spec = charts.curves(
        series, "input tokens", "prefill tokens/s (p50) — higher is better", dash=dash
    )
    return PREFILL, spec


def level_charts(
    rows: Sequence[Row], name_of: Namer, gpus_of: Callable[[Row], int | None]
) -> list[tuple[str, charts.Spec]]:
    """Every load-level chart the rows support, as (title, spec), in a fixed order."""
    found = [
        inferencex(rows, name_of, gpus_of),
        goodput_vs_rate(rows, name_of),
        ttft_vs_rate(rows, name_of),
        prefill_by_input(rows, name_of),
    ]
    return [c for c in found if c is not None]
