"""Matching and the checks of ``bakeoff compare``: regression checks with a bootstrap interval
and a Mann–Whitney U test, the success-rate floor, budgets, and actionable diagnostics.

Regression mode (thresholds from ``seeds/tolerances.json``): for each matched result, the
ratio candidate / baseline of TTFT p50, total p50 and mean tokens/s, a percentile bootstrap
interval of that ratio (both sides resampled, fixed seed) and a two-sided Mann–Whitney U
p-value on the per-call values. A change beyond the threshold is flagged only when the test
also rejects "no change" at ``alpha`` — unless either side has fewer than ``min_n`` successful
calls, when the threshold alone decides and the check says ``low_n``. The success rate is an
absolute floor on the candidate. Budget mode (``seeds/budgets.json``): absolute limits.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import mannwhitneyu

from bakeoff import stats
from publisher.compare.sides import Result, RunSide, level_label, statistic
from publisher.gates import METRICS, Budgets, MetricSpec, RelativeTolerance, Tolerances

_EPS = 1e-9  # "≥ 30%" is inclusive; absorb float noise at the boundary

# --------------------------------------------------------------------------- statistics


def bootstrap_ratio_ci(
    baseline: Sequence[float],
    candidate: Sequence[float],
    name: str,
    *,
    resamples: int,
    seed: int,
    level: float,
) -> tuple[float | None, float | None]:
    """Percentile-bootstrap interval of statistic(candidate) / statistic(baseline).

    Both samples are resampled independently with one fixed-seed generator, so the same input
    always gives the same interval; every statistic is ``bakeoff.stats``'s.
    """
    if not baseline or not candidate:
        return None, None
    rng = np.random.default_rng(seed)
    b = np.asarray(baseline, dtype=float)
    c = np.asarray(candidate, dtype=float)
    b_rows = b[rng.integers(0, len(b), size=(resamples, len(b)))].tolist()
    c_rows = c[rng.integers(0, len(c), size=(resamples, len(c)))].tolist()
    ratios = []
    for b_row, c_row in zip(b_rows, c_rows, strict=True):
        base, cand = statistic(b_row, name), statistic(c_row, name)
        if base is not None and cand is not None and base != 0:
            ratio = stats.finite(cand / base)
            if ratio is not None:
                ratios.append(ratio)
    if not ratios:
        return None, None
    ratios.sort()
    alpha = (1.0 - level) / 2.0
    return (
        stats.percentile_sorted(ratios, 100 * alpha),
        stats.percentile_sorted(ratios, 100 * (1 - alpha)),
    )


def mann_whitney_p(baseline: Sequence[float], candidate: Sequence[float]) -> float | None:
    """Two-sided Mann–Whitney U p-value; None when a side is empty or the test is undefined."""
    if not baseline or not candidate:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        p = float(mannwhitneyu(candidate, baseline, alternative="two-sided").pvalue)
    return p if math.isfinite(p) else None


# --------------------------------------------------------------------------- matching


@dataclass(frozen=True)
class Pair:
    """A baseline and a candidate result with the same signature."""

    baseline: Result
    candidate: Result


def _why_unmatched(r: Result, others: Sequence[Result]) -> str:
    for o in others:
        if o.workload_key == r.workload_key and o.engine == r.engine:
            return (
                f"same workload and engine, different model digest "
                f"({r.model_digest or r.model} vs {o.model_digest or o.model})"
            )
    for o in others:
        if o.workload_key == r.workload_key:
            return f"same workload, different engine ({r.engine} vs {o.engine})"
    for o in others:
        if o.workload_id == r.workload_id and o.engine == r.engine and o.model == r.model:
            return (
                "same prompt/task id, engine and model, but the workload differs (prompt text, "
                f"max_tokens {r.max_tokens} vs {o.max_tokens}, temperature {r.temperature} vs "
                f"{o.temperature} or load level {level_label(r.concurrency, r.request_rate)} vs "
                f"{level_label(o.concurrency, o.request_rate)})"
            )
    return "no result with this workload on the other side"


def match(
    baseline: Sequence[Result], candidate: Sequence[Result]
) -> tuple[list[Pair], list[dict[str, Any]]]:
    """Pair results by signature; everything else is listed (with why), never compared."""
    by_b: dict[str, list[Result]] = {}
    by_c: dict[str, list[Result]] = {}
    for r in baseline:
        by_b.setdefault(r.signature, []).append(r)
    for r in candidate:
        by_c.setdefault(r.signature, []).append(r)
    pairs: list[Pair] = []
    unmatched: list[dict[str, Any]] = []

    def listed(side: str, r: Result, reason: str) -> dict[str, Any]:
        return {
            "side": side,
            "result": r.key,
            "signature": r.signature,
            "cell_id": r.cell_id,
            "workload_id": r.workload_id,
            "concurrency": r.concurrency,
            "request_rate": r.request_rate,
            "engine": r.engine,
            "model": r.model,
            "model_digest": r.model_digest,
            "reason": reason,
        }

    for sig in sorted(set(by_b) | set(by_c)):
        bs, cs = by_b.get(sig, []), by_c.get(sig, [])
        if len(bs) == 1 and len(cs) == 1:
            pairs.append(Pair(bs[0], cs[0]))
            continue
        for side, mine, theirs, other in (
            ("baseline", bs, cs, candidate),
            ("candidate", cs, bs, baseline),
        ):
            for r in mine:
                if len(mine) > 1:
                    reason = (
                        f"ambiguous: {len(mine)} {side} results share this signature; "
                        "select one cell with RUN:CELL"
                    )
                elif not theirs:
                    reason = _why_unmatched(r, other)
                else:
                    reason = "ambiguous: the other side has several results with this signature"
                unmatched.append(listed(side, r, reason))
    pairs.sort(key=lambda p: (p.candidate.key, p.candidate.signature))
    unmatched.sort(key=lambda u: (u["side"], u["result"], u["signature"]))
    return pairs, unmatched


# --------------------------------------------------------------------------- checks


def _num(value: float | None, digits: int = 6) -> float | None:
    """Round to ``digits`` significant digits: readable, and byte-stable across platforms."""
    if value is None or not math.isfinite(value):
        return None
    return float(f"{value:.{digits}g}")


def _thresholds(spec: MetricSpec, tol: RelativeTolerance) -> tuple[float, float]:
    """(regression, improvement) thresholds on the ratio candidate / baseline."""
    if spec.better == "lower":
        return 1.0 + tol.max_regression, 1.0 - tol.min_improvement
    return 1.0 - tol.max_regression, 1.0 + tol.min_improvement


def relative_check(pair: Pair, spec: MetricSpec, tols: Tolerances) -> dict[str, Any]:
    """One regression check of a relative metric; see the module docstring for the rule."""
    tol: RelativeTolerance = getattr(tols.metrics, spec.name)
    assert spec.field is not None
    b_vals = pair.baseline.samples.get(spec.field, [])
    c_vals = pair.candidate.samples.get(spec.field, [])
    base, cand = statistic(b_vals, spec.statistic), statistic(c_vals, spec.statistic)
    ratio = cand / base if base is not None and cand is not None and base > 0 else None
    low, high = bootstrap_ratio_ci(
        b_vals,
        c_vals,
        spec.statistic,
        resamples=tols.bootstrap_resamples,
        seed=tols.bootstrap_seed,
        level=tols.confidence_level,
    )
    p = mann_whitney_p(b_vals, c_vals)
    low_n = min(len(b_vals), len(c_vals)) < tols.min_n
    worse_at, better_at = _thresholds(spec, tol)
    significant = low_n or (p is not None and p < tols.alpha)
    if ratio is None:
        status = "no_data"
    else:
        lower_better = spec.better == "lower"
        worse = ratio >= worse_at - _EPS if lower_better else ratio <= worse_at + _EPS
        better = ratio <= better_at + _EPS if lower_better else ratio >= better_at - _EPS
        if worse or better:
            kind = "regression" if worse else "improvement"
            status = kind if significant else "not_significant"
        else:
            status = "ok"
    return {
        "result": pair.candidate.key,
        "signature": pair.candidate.signature,
        "metric": spec.name,
        "statistic": spec.statistic,
        "better": spec.better,
        "baseline": _num(base),
        "candidate": _num(cand),
        "ratio": _num(ratio, 4),
        "change_pct": _num((ratio - 1.0) * 100.0, 4) if ratio is not None else None,
        "ratio_ci_low": _num(low, 4),
        "ratio_ci_high": _num(high, 4),
        "ci_level": tols.confidence_level,
        "p_value": _num(p, 4),
        "alpha": tols.alpha,
        "n_baseline": len(b_vals),
        "n_candidate": len(c_vals),
        "low_n": low_n,
        "regression_threshold": _num(worse_at),
        "improvement_threshold": _num(better_at),
        "minimum": None,
        "status": status,
        "passed": status != "regression",
    }


def success_check(pair: Pair, tols: Tolerances) -> dict[str, Any]:
    """The absolute success-rate floor on the candidate (the baseline is shown for context)."""
    spec = METRICS["success_rate"]
    base, cand = pair.baseline.value(spec), pair.candidate.value(spec)
    minimum = tols.metrics.success_rate.min
    status = "ok" if cand is not None and cand >= minimum else "below_minimum"
    return {
        "result": pair.candidate.key,
        "signature": pair.candidate.signature,
        "metric": "success_rate",
        "statistic": "rate",
        "better": "higher",
        "baseline": _num(base),
        "candidate": _num(cand),
        "ratio": None,
        "change_pct": None,
        "ratio_ci_low": None,
        "ratio_ci_high": None,
        "ci_level": None,
        "p_value": None,
        "alpha": None,
        "n_baseline": pair.baseline.n,
        "n_candidate": pair.candidate.n,
        "low_n": False,
        "regression_threshold": None,
        "improvement_threshold": None,
        "minimum": minimum,
        "status": status,
        "passed": status == "ok",
    }


def budget_checks(result: Result, budgets: Budgets) -> list[dict[str, Any]]:
    """Every budget that applies to one candidate result."""
    out = []
    for metric, (limit, source) in budgets.limits_for(result.workload_id).items():
        spec = METRICS[metric]
        value = result.value(spec)
        ok_max = limit.max is None or (value is not None and value <= limit.max)
        ok_min = limit.min is None or (value is not None and value >= limit.min)
        status = "no_data" if value is None else "ok" if ok_max and ok_min else "over_budget"
        n = result.n if spec.field is None else len(result.samples.get(spec.field, []))
        out.append(
            {
                "result": result.key,
                "signature": result.signature,
                "metric": metric,
                "statistic": spec.statistic,
                "observed": _num(value),
                "max": limit.max,
                "min": limit.min,
                "source": source,
                "n": n,
                "status": status,
                "passed": status == "ok",
            }
        )
    return out


# --------------------------------------------------------------------------- diagnostics


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "n/a"
    if unit == "%":
        return f"{value:.1%}"
    if isinstance(value, float):
        text = f"{value:.3g}" if abs(value) < 10 else f"{value:,.1f}"
    else:
        text = str(value)
    return f"{text} {unit}".rstrip()


def _context(b: Result | None, c: Result, bs: RunSide | None, cs: RunSide) -> dict[str, Any]:
    def both(get: Any) -> dict[str, Any]:
        return {"baseline": get(b) if b is not None else None, "candidate": get(c)}

    ctx: dict[str, Any] = {
        "engine_version": both(lambda r: r.engine_version),
        "n": both(lambda r: r.n),
        "errors": both(lambda r: r.errors),
        "error_kinds": both(lambda r: r.error_kinds),
        "cold_ttft_ms": both(lambda r: _num(r.cold_ttft_ms)),
        "git_sha": {"baseline": bs.git_sha if bs else None, "candidate": cs.git_sha},
        "load_avg_start": {
            "baseline": bs.load_avg_start if bs else None,
            "candidate": cs.load_avg_start,
        },
        "same_system": bs.system_id == cs.system_id if bs else None,
    }
    return ctx


def _rerun_hint(c: Result) -> str:
    return (
        f"confirm it is not a load-day blip: measure cell {c.cell_id} again with more calls "
        "(`bakeoff run CELLS_FILE --runs 20`, the cells file holding that cell) on a quiet "
        "machine, and compare again"
    )


def regression_diagnostic(
    check: dict[str, Any], pair: Pair, bs: RunSide, cs: RunSide
) -> dict[str, Any]:
    """An actionable failure entry for one failed regression or success-rate check."""
    b, c = pair.baseline, pair.candidate
    spec = METRICS[check["metric"]]
    unit = spec.unit
    hints: list[str] = []
    if b.engine_version != c.engine_version:
        hints.append(
            f"the engine version changed ({b.engine_version} → {c.engine_version}): the first "
            "suspect"
        )
    if bs.system_id != cs.system_id:
        hints.append("baseline and candidate ran on different systems: compare runs of one host")
    if check["metric"] == "success_rate":
        kinds = ", ".join(f"{k}: {v}" for k, v in c.error_kinds.items()) or "none recorded"
        message = (
            f"success rate of {c.key} on cell {c.cell_id} (run {cs.run_id}) is "
            f"{_fmt(check['candidate'], '%')} ({c.errors} of {c.n} warm calls failed; {kinds}), "
            f"below the minimum {check['minimum']}"
        )
        hints.append(
            f"read the error field of the failed call records and run.log of run {cs.run_id}"
        )
        threshold = f">= {check['minimum']}"
    else:
        direction = "slower" if spec.better == "lower" else "lower"
        message = (
            f"{spec.label} of {c.key} on cell {c.cell_id} (run {cs.run_id}) is "
            f"{_fmt(check['candidate'], unit)} vs {_fmt(check['baseline'], unit)} in baseline "
            f"{bs.run_id} (cell {b.cell_id}): ratio {check['ratio']} "
            f"[{round(check['ci_level'] * 100)}% CI {check['ratio_ci_low']}–"
            f"{check['ratio_ci_high']}], p={check['p_value']}, n={check['n_baseline']}/"
            f"{check['n_candidate']}; the tolerance flags ≥ "
            f"{round(abs(check['regression_threshold'] - 1) * 100)}% {direction}"
        )
        if check["low_n"]:
            message += " (low n: flagged on the threshold alone, no significance test)"
        hints.append(_rerun_hint(c))
        op = ">=" if spec.better == "lower" else "<="
        threshold = f"ratio {op} {check['regression_threshold']}"
    return {
        "kind": "success_rate" if check["metric"] == "success_rate" else "regression",
        "metric": check["metric"],
        "threshold": threshold,
        "observed": check["candidate"],
        "baseline": check["baseline"],
        "ratio": check["ratio"],
        "p_value": check["p_value"],
        "low_n": check["low_n"],
        "result": c.key,
        "signature": c.signature,
        "cell_id": c.cell_id,
        "baseline_cell_id": b.cell_id,
        "run_id": cs.run_id,
        "baseline_run_id": bs.run_id,
        "workload_id": c.workload_id,
        "concurrency": c.concurrency,
        "request_rate": c.request_rate,
        "engine": c.engine,
        "model": c.model,
        "model_digest": c.model_digest,
        "context": _context(b, c, bs, cs),
        "message": message,
        "hint": "; ".join(hints),
    }


def budget_diagnostic(
    check: dict[str, Any], result: Result, cs: RunSide, budgets_file: str
) -> dict[str, Any]:
    """An actionable failure entry for one failed budget check."""
    spec = METRICS[check["metric"]]
    bounds = [
        f"<= {check['max']}" if check["max"] is not None else "",
        f">= {check['min']}" if check["min"] is not None else "",
    ]
    threshold = " and ".join(b for b in bounds if b)
    if check["status"] == "no_data":
        observed = "no successful warm call to measure"
    else:
        observed = _fmt(check["observed"], spec.unit)
    return {
        "kind": "budget",
        "metric": check["metric"],
        "threshold": threshold,
        "observed": check["observed"],
        "baseline": None,
        "ratio": None,
        "p_value": None,
        "low_n": False,
        "result": result.key,
        "signature": result.signature,
        "cell_id": result.cell_id,
        "baseline_cell_id": None,
        "run_id": cs.run_id,
        "baseline_run_id": None,
        "workload_id": result.workload_id,
        "concurrency": result.concurrency,
        "request_rate": result.request_rate,
        "engine": result.engine,
        "model": result.model,
        "model_digest": result.model_digest,
        "context": _context(None, result, None, cs),
        "message": (
            f"{spec.label} of {result.key} on cell {result.cell_id} (run {cs.run_id}) is "
            f"{observed}; the budget ({check['source']} in {budgets_file}) is {threshold}"
        ),
        "hint": (
            "fix the cause, or change the limit in the budgets file in a reviewed commit of its own"
        ),
    }


def _no_match_diagnostic(bs: RunSide | None, cs: RunSide) -> dict[str, Any]:
    what = f"baseline {bs.run_id} and candidate {cs.run_id}" if bs else f"candidate {cs.run_id}"
    return {
        "kind": "no_match",
        "metric": None,
        "threshold": None,
        "observed": None,
        "result": None,
        "cell_id": cs.cell,
        "run_id": cs.run_id,
        "baseline_run_id": bs.run_id if bs else None,
        "message": f"nothing to check: {what} have no result in common (see unmatched)",
        "hint": (
            "compare runs of the same prompts/tasks, engine and model digest; select a cell "
            "with RUN:CELL when the cells differ"
        ),
    }
