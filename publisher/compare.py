"""``bakeoff compare``: gate a candidate run against a baseline run, or against budgets.

A *result* is one (cell, workload, concurrency) batch of warm calls. Results are matched by
workload ``signature`` (``docs/tables.md``: workload id + sha256, max_tokens, temperature,
concurrency, engine kind, model digest), never by cell id: the cell id carries the host label,
which may differ between the two runs. Unmatched results are listed, never compared.

Regression mode (reference 002 §7, thresholds from ``seeds/tolerances.json``): for each matched
result, the ratio candidate / baseline of TTFT p50, total p50 and mean tokens/s, a percentile
bootstrap interval of that ratio (both sides resampled, fixed seed) and a two-sided
Mann–Whitney U p-value on the per-call values. A change beyond the threshold is flagged only
when the test also rejects "no change" at ``alpha`` — unless either side has fewer than
``min_n`` successful calls, when the threshold alone decides and the check says ``low_n``.
The success rate is an absolute floor on the candidate.

Budget mode (``seeds/budgets.json``): absolute limits per metric on every candidate result.

Everything here is plain data in, plain data out; ``publisher.cli_compare`` is the glue.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from scipy.stats import mannwhitneyu

from bakeoff.resources import checkout_path, seeds_dir
from publisher import stats
from publisher.derive import derive_run
from publisher.errors import PublisherError
from publisher.finding import Finding, has_errors
from publisher.gates import (
    METRICS,
    Budgets,
    MetricSpec,
    RelativeTolerance,
    Tolerances,
    load_budgets,
    load_tolerances,
)
from publisher.load import iter_run_dirs, load_run
from publisher.validate import Options, check_run

REPORT_SCHEMA_VERSION = 1
GateMode = Literal["regression", "budget"]
RELATIVE_METRICS = ("ttft_p50_ms", "total_p50_ms", "tokens_per_sec_mean")
# Reported for every result (flattened into ``metrics``), gated or not.
REPORTED_METRICS = (
    "ttft_p50_ms",
    "ttft_p95_ms",
    "total_p50_ms",
    "total_p95_ms",
    "tokens_per_sec_mean",
    "success_rate",
)
_EPS = 1e-9  # "≥ 30%" is inclusive; absorb float noise at the boundary
_RUN_ID = re.compile(r"^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}$")


class CompareError(PublisherError):
    """A run or cell given to ``bakeoff compare`` cannot be used."""


class RunNotFoundError(CompareError):
    """Neither a run directory nor a run id in the archive."""


class RunInvalidError(CompareError):
    """A run failed validation; carries the findings (errors are printed by the CLI)."""

    def __init__(self, run: str, findings: list[Finding]) -> None:
        self.findings = findings
        errors = [f for f in findings if f.severity == "error"]
        synthetic = any(f.code == "consistency.synthetic" for f in errors)
        super().__init__(
            f"run {run} failed validation ({len(errors)} error(s)); nothing was compared. "
            + (
                "It is a synthetic test run: pass --allow-synthetic to compare it anyway"
                if synthetic and len(errors) == 1
                else f"See `bakeoff validate {run}` and fix the run first"
            )
        )


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class RunRef:
    """A run directory and, optionally, one cell within it (``RUN[:CELL]``)."""

    text: str
    path: Path
    cell: str | None = None


def default_runs_dir() -> Path:
    """``runs/`` of the source checkout, else ``./runs``."""
    return checkout_path("runs")


def parse_ref(text: str, runs_dir: Path) -> RunRef:
    """Resolve ``RUN[:CELL]``: RUN is a run directory or a run id under ``runs_dir``.

    Run ids and host labels contain no ``:``, so the first ``:`` separates the cell, which may
    itself contain colons (``host:engine:model``, or ``engine:model`` without the host label).
    """
    run, sep, cell = text.partition(":")
    tries = [(text, None)] + ([(run, cell)] if sep else [])
    for name, sel in tries:
        if not name:
            continue
        for path in (Path(name), runs_dir / name):
            if path.is_dir():
                return RunRef(text, path, sel or None)
    recent = [p.name for p in iter_run_dirs(runs_dir) if _RUN_ID.match(p.name)][-3:]
    hint = f"; latest run ids there: {', '.join(reversed(recent))}" if recent else ""
    raise RunNotFoundError(
        f"run {run or text!r} not found: it is not a directory and {runs_dir / (run or text)} "
        f"does not exist (pass a run directory, or a run id with --runs DIR pointing at the "
        f"archive){hint}"
    )


@dataclass(frozen=True)
class Result:
    """One (cell, workload, concurrency) batch of warm calls of one run."""

    key: str
    signature: str
    workload_key: str
    cell_id: str
    engine: str
    engine_version: str | None
    model: str
    model_digest: str | None
    quantization: str | None
    workload_id: str
    max_tokens: int | None
    temperature: float
    concurrency: int
    n: int
    errors: int
    error_kinds: dict[str, int]
    samples: dict[str, list[float]]
    cold_ttft_ms: float | None

    def value(self, spec: MetricSpec) -> float | None:
        """The metric's statistic over this batch (success rate over all warm calls)."""
        if spec.field is None:
            return (self.n - self.errors) / self.n if self.n else None
        return statistic(self.samples.get(spec.field, []), spec.statistic)


@dataclass(frozen=True)
class RunSide:
    """One side of a comparison: the run, the selected cell and its results."""

    run_id: str
    cell: str | None
    system_id: str
    host_label: str
    started_at: str
    git_sha: str | None
    harness_version: str
    synthetic: bool
    load_avg_start: list[float] | None
    results: list[Result]

    def info(self) -> dict[str, Any]:
        """What the report's ``config`` says about this side."""
        return {
            "run_id": self.run_id,
            "cell": self.cell,
            "system_id": self.system_id,
            "host_label": self.host_label,
            "started_at": self.started_at,
            "git_sha": self.git_sha,
            "harness_version": self.harness_version,
            "synthetic": self.synthetic,
            "results": len(self.results),
        }


def _select_cells(cell_ids: Iterable[str], selector: str | None, run_id: str) -> set[str]:
    ids = sorted(set(cell_ids))
    if selector is None:
        return set(ids)
    chosen = {c for c in ids if c == selector or c.partition(":")[2] == selector}
    if not chosen:
        raise CompareError(
            f"cell {selector!r} is not in run {run_id}; its cells are: {', '.join(ids) or 'none'} "
            "(write RUN:CELL with a full cell id, or with engine:model without the host label)"
        )
    return chosen


def side_from_rows(ref: RunRef, md: dict[str, Any], rows: dict[str, Any]) -> RunSide:
    """Build one side from a run's metadata and its derived rows (``derive.derive_run``)."""
    run_id = md["run_id"]
    if md.get("meta_only"):
        raise CompareError(
            f"run {run_id} is meta-only (no run.jsonl): it has no calls to compare; "
            "pick a run with measurements"
        )
    cells: list[dict[str, Any]] = rows["cells"]
    chosen = _select_cells((r["cell_id"] for r in cells), ref.cell, run_id)
    calls: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for c in rows["calls"]:
        calls.setdefault((c["cell_id"], c["workload_id"], c["concurrency"], c["phase"]), []).append(
            c
        )
    cold = {
        (r["cell_id"], r["workload_id"], r["concurrency"]): r["ttft_p50_ms"]
        for r in cells
        if r["phase"] == "cold"
    }
    results = []
    for r in cells:
        if r["phase"] != "warm" or r["cell_id"] not in chosen:
            continue
        batch = calls.get((r["cell_id"], r["workload_id"], r["concurrency"], "warm"), [])
        ok = [c for c in batch if c.get("error") is None]
        failed = Counter(
            str(c.get("error_kind") or "unknown") for c in batch if c.get("error") is not None
        )
        results.append(
            Result(
                key=f"{r['workload_id']}/c{r['concurrency']}/{r['engine']}:{r['model']}",
                signature=r["signature"],
                workload_key=r["workload_key"],
                cell_id=r["cell_id"],
                engine=r["engine"],
                engine_version=r.get("engine_version"),
                model=r["model"],
                model_digest=r.get("model_digest"),
                quantization=r.get("quantization"),
                workload_id=r["workload_id"],
                max_tokens=r.get("max_tokens"),
                temperature=r["temperature"],
                concurrency=r["concurrency"],
                n=len(batch),
                errors=len(batch) - len(ok),
                error_kinds=dict(sorted(failed.items())),
                samples={
                    name: stats.clean(c.get(name) for c in ok)
                    for name in ("first_delta_ms", "total_duration_ms", "tokens_per_sec")
                },
                cold_ttft_ms=cold.get((r["cell_id"], r["workload_id"], r["concurrency"])),
            )
        )
    results.sort(key=lambda x: (x.key, x.signature))
    load = md.get("environment", {}).get("load_avg_start")
    return RunSide(
        run_id=run_id,
        cell=ref.cell,
        system_id=md["hardware"]["system_hardware"]["system_id"],
        host_label=md["host_label"],
        started_at=md["started_at"],
        git_sha=md["harness"].get("git_sha"),
        harness_version=md["harness"]["version"],
        synthetic=bool(md.get("synthetic")),
        load_avg_start=list(load) if isinstance(load, list) else None,
        results=results,
    )


def load_side(ref: RunRef, options: Options) -> RunSide:
    """Load, validate and derive one run directory (the publisher's own stages)."""
    run, findings = check_run(load_run(ref.path), options)
    if run is None or has_errors(findings):
        raise RunInvalidError(ref.path.name, findings)
    return side_from_rows(ref, run.metadata, derive_run(run))


# --------------------------------------------------------------------------- statistics


def statistic(values: Sequence[float], name: str) -> float | None:
    """p50 / p95 (numpy linear interpolation) or mean of ``values``; None when empty."""
    if name == "mean":
        return stats.mean(values)
    return stats.percentile(values, 95.0 if name == "p95" else 50.0)


def _batched(data: np.ndarray[Any, Any], name: str) -> np.ndarray[Any, Any]:
    if name == "mean":
        return np.asarray(np.mean(data, axis=1))
    return np.asarray(np.percentile(data, 95.0 if name == "p95" else 50.0, axis=1))


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
    always gives the same interval. (``stats.bootstrap_median_ci`` covers one sample only.)
    """
    if not baseline or not candidate:
        return None, None
    rng = np.random.default_rng(seed)
    b = np.asarray(baseline, dtype=float)
    c = np.asarray(candidate, dtype=float)
    b_stat = _batched(b[rng.integers(0, len(b), size=(resamples, len(b)))], name)
    c_stat = _batched(c[rng.integers(0, len(c), size=(resamples, len(c)))], name)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = c_stat / b_stat
    ratios = ratios[np.isfinite(ratios)]
    if ratios.size == 0:
        return None, None
    alpha = (1.0 - level) / 2.0
    low, high = np.percentile(ratios, [100 * alpha, 100 * (1 - alpha)])
    return float(low), float(high)


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
                f"{o.temperature} or concurrency {r.concurrency} vs {o.concurrency})"
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
        f"re-run the cell with more calls to confirm (bakeoff run --runs 20, cell {c.cell_id}) "
        "— reference 002 §7 asks whether it is a real regression or a load-day blip"
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


# --------------------------------------------------------------------------- report


@dataclass(frozen=True)
class GateFile:
    """A tolerances or budgets file as the report names it (path as given, content sha256)."""

    name: str
    sha256: str


def gate_file(path: Path | None, default: str) -> GateFile:
    """Name a gate file for the report: the bundled default by its repo path, else as given."""
    real = path or seeds_dir() / default
    digest = hashlib.sha256(real.read_bytes()).hexdigest()
    return GateFile(f"seeds/{default}" if path is None else str(path), digest)


@dataclass
class _Builder:
    metrics: dict[str, Any] = field(default_factory=dict)

    def add(self, r: Result, side: str) -> None:
        for name in REPORTED_METRICS:
            self.metrics[f"{r.key}/{name}/{side}"] = _num(r.value(METRICS[name]))
        self.metrics[f"{r.key}/n/{side}"] = r.n
        self.metrics[f"{r.key}/errors/{side}"] = r.errors


def _matched(pair: Pair) -> dict[str, Any]:
    b, c = pair.baseline, pair.candidate
    return {
        "result": c.key,
        "signature": c.signature,
        "workload_id": c.workload_id,
        "workload_key": c.workload_key,
        "max_tokens": c.max_tokens,
        "temperature": c.temperature,
        "concurrency": c.concurrency,
        "engine": c.engine,
        "model": c.model,
        "model_digest": c.model_digest,
        "quantization": c.quantization,
        "baseline_cell_id": b.cell_id,
        "candidate_cell_id": c.cell_id,
        "baseline_engine_version": b.engine_version,
        "candidate_engine_version": c.engine_version,
    }


def regression_report(
    baseline: RunSide, candidate: RunSide, tols: Tolerances, tol_file: GateFile
) -> dict[str, Any]:
    """The regression-mode report (reference 003 shape) as plain JSON-able data."""
    pairs, unmatched = match(baseline.results, candidate.results)
    builder = _Builder()
    checks: list[dict[str, Any]] = []
    diagnostics: list[dict[str, Any]] = []
    for pair in pairs:
        builder.add(pair.baseline, "baseline")
        builder.add(pair.candidate, "candidate")
        for check in [
            *(relative_check(pair, METRICS[m], tols) for m in RELATIVE_METRICS),
            success_check(pair, tols),
        ]:
            checks.append(check)
            if not check["passed"]:
                diagnostics.append(regression_diagnostic(check, pair, baseline, candidate))
    if not pairs:
        diagnostics.append(_no_match_diagnostic(baseline, candidate))
    statuses = Counter(c["status"] for c in checks)
    return {
        "schema_version": REPORT_SCHEMA_VERSION,
        "gate_mode": "regression",
        "config": {
            "baseline": baseline.info(),
            "candidate": candidate.info(),
            "tolerances_file": tol_file.name,
            "tolerances_sha256": tol_file.sha256,
            "tolerances": tols.model_dump(mode="json"),
            "match_on": "signature (docs/tables.md)",
            "phase": "warm",
        },
        "matched": [_matched(p) for p in pairs],
        "unmatched": unmatched,
        "metrics": dict(sorted(builder.metrics.items())),
        "regression_checks": checks,
        "failure_diagnostics": diagnostics,
        "summary": {
            "matched": len(pairs),
            "unmatched": len(unmatched),
            "checks": len(checks),
            "failed": sum(1 for c in checks if not c["passed"]),
            "regressions": statuses["regression"],
            "improvements": statuses["improvement"],
            "not_significant": statuses["not_significant"],
            "below_minimum": statuses["below_minimum"],
            "low_n": sum(1 for c in checks if c["low_n"]),
        },
        "passed": bool(pairs) and not diagnostics,
    }


def budget_report(candidate: RunSide, budgets: Budgets, bud_file: GateFile) -> dict[str, Any]:
    """The budget-mode report: every candidate result against absolute limits."""
    builder = _Builder()
    checks: list[dict[str, Any]] = []
    diagnostics: list[dict[str, Any]] = []
    for r in candidate.results:
        builder.add(r, "candidate")
        for check in budget_checks(r, budgets):
            checks.append(check)
            if not check["passed"]:
                diagnostics.append(budget_diagnostic(check, r, candidate, bud_file.name))
    if not candidate.results:
        diagnostics.append(_no_match_diagnostic(None, candidate))
    return {
        "schema_version": REPORT_SCHEMA_VERSION,
        "gate_mode": "budget",
        "config": {
            "baseline": None,
            "candidate": candidate.info(),
            "budgets_file": bud_file.name,
            "budgets_sha256": bud_file.sha256,
            "budgets": budgets.model_dump(mode="json"),
            "phase": "warm",
        },
        "results": [
            {"result": r.key, "signature": r.signature, "cell_id": r.cell_id}
            for r in candidate.results
        ],
        "metrics": dict(sorted(builder.metrics.items())),
        "budget_checks": checks,
        "failure_diagnostics": diagnostics,
        "summary": {
            "results": len(candidate.results),
            "checks": len(checks),
            "failed": sum(1 for c in checks if not c["passed"]),
        },
        "passed": bool(candidate.results) and not diagnostics,
    }


# --------------------------------------------------------------------------- text


_VERDICT = {
    "ok": "ok",
    "regression": "REGRESSION",
    "improvement": "improvement",
    "not_significant": "not significant",
    "below_minimum": "BELOW MINIMUM",
    "no_data": "no data",
    "over_budget": "OVER BUDGET",
}


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    lines = []
    for row in [list(header), *rows]:
        cells = [
            c.ljust(w) if i in (0, len(widths) - 1) else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append(indent + "  ".join(cells).rstrip())
    return lines


def _side_line(label: str, side: dict[str, Any] | None) -> str:
    if side is None:
        return f"{label:<9}  (none: budget mode)"
    cell = f"  cell {side['cell']}" if side["cell"] else ""
    return (
        f"{label:<9}  {side['run_id']}  host {side['host_label']}  system "
        f"{side['system_id'][:8]}  started {side['started_at']}{cell}"
    )


def _label(spec: MetricSpec) -> str:
    return f"{spec.label} ({spec.unit})" if spec.unit and spec.unit != "%" else spec.label


def _regression_rows(checks: Sequence[dict[str, Any]]) -> list[list[str]]:
    rows = []
    for c in checks:
        spec = METRICS[c["metric"]]
        pct = "%" if spec.unit == "%" else ""
        ci = (
            f"{c['ratio_ci_low']:.2f}–{c['ratio_ci_high']:.2f}"
            if c["ratio_ci_low"] is not None and c["ratio_ci_high"] is not None
            else "—"
        )
        verdict = _VERDICT[c["status"]]
        if c["low_n"] and c["status"] in ("regression", "improvement", "ok"):
            verdict += " (low n, threshold only)"
        if c["metric"] == "success_rate":
            verdict += f" (min {c['minimum']})"
        rows.append(
            [
                _label(spec),
                _fmt(c["baseline"], pct),
                _fmt(c["candidate"], pct),
                f"{c['ratio']:.2f}" if c["ratio"] is not None else "—",
                ci,
                f"{c['p_value']:.3g}" if c["p_value"] is not None else "—",
                f"{c['n_baseline']}/{c['n_candidate']}",
                verdict,
            ]
        )
    return rows


def render_text(report: dict[str, Any]) -> str:
    """The human-readable table of a report (what ``bakeoff compare`` prints)."""
    cfg = report["config"]
    regression = report["gate_mode"] == "regression"
    gate_file_name = cfg["tolerances_file"] if regression else cfg["budgets_file"]
    lines = [
        f"bakeoff compare — {report['gate_mode']} gate ({gate_file_name}), warm calls, "
        "matched by workload signature",
        _side_line("baseline", cfg["baseline"]),
        _side_line("candidate", cfg["candidate"]),
        "",
    ]
    key = "regression_checks" if regression else "budget_checks"
    by_result: dict[str, list[dict[str, Any]]] = {}
    for c in report[key]:
        by_result.setdefault(f"{c['result']}  [signature {c['signature']}]", []).append(c)
    for title, checks in by_result.items():
        lines.append(title)
        if regression:
            header = [
                "metric",
                "baseline",
                "candidate",
                "ratio",
                f"{round(cfg['tolerances']['confidence_level'] * 100)}% CI",
                "p",
                "n b/c",
                "verdict",
            ]
            lines += _table(header, _regression_rows(checks))
        else:
            rows = []
            for c in checks:
                spec = METRICS[c["metric"]]
                limit = " ".join(
                    x
                    for x in (
                        f"≤ {_fmt(c['max'], '%' if spec.unit == '%' else '')}"
                        if c["max"] is not None
                        else "",
                        f"≥ {_fmt(c['min'], '%' if spec.unit == '%' else '')}"
                        if c["min"] is not None
                        else "",
                    )
                    if x
                )
                rows.append(
                    [
                        _label(spec),
                        _fmt(c["observed"], "%" if spec.unit == "%" else ""),
                        limit,
                        c["source"],
                        str(c["n"]),
                        _VERDICT[c["status"]],
                    ]
                )
            lines += _table(["metric", "observed", "budget", "from", "n", "verdict"], rows)
        lines.append("")
    unmatched = report.get("unmatched", [])
    if unmatched:
        lines.append(f"not compared ({len(unmatched)} result(s) without a match):")
        for u in unmatched:
            lines.append(f"  {u['side']:<9}  {u['result']}  [signature {u['signature']}]")
            lines.append(f"             {u['reason']}")
        lines.append("")
    diagnostics = report["failure_diagnostics"]
    if diagnostics:
        lines.append(f"failures ({len(diagnostics)}):")
        for d in diagnostics:
            lines.append(f"  - {d['message']}")
            if d.get("hint"):
                lines.append(f"    what to do: {d['hint']}")
        lines.append("")
    s = report["summary"]
    if regression:
        parts = [
            (s["regressions"], "regression(s)"),
            (s["below_minimum"], "below the success-rate minimum"),
            (s["improvements"], "improvement(s)"),
            (s["not_significant"], "beyond the threshold but not significant"),
            (s["low_n"], "check(s) with low n (threshold only)"),
        ]
        counts = ", ".join(f"{n} {what}" for n, what in parts if n) or "no change beyond tolerance"
        tally = f"{s['matched']} matched, {s['unmatched']} unmatched; {counts}"
    else:
        tally = f"{s['results']} result(s), {s['checks']} check(s), {s['failed']} failed"
    lines.append(f"{'PASSED' if report['passed'] else 'FAILED'}: {tally}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- entry point


@dataclass(frozen=True)
class CompareRequest:
    """Everything ``bakeoff compare`` was asked (already parsed)."""

    refs: tuple[str, ...]
    gate_mode: GateMode = "regression"
    runs_dir: Path | None = None
    tolerances: Path | None = None
    budgets: Path | None = None
    allow_synthetic: bool = False


PREVIOUS = "previous"


def previous_run(runs_dir: Path, candidate: RunSide) -> Path:
    """The newest run in ``runs_dir`` on the candidate's system that started before it."""
    for path in reversed(list(iter_run_dirs(runs_dir))):
        if not _RUN_ID.match(path.name) or path.name >= candidate.run_id:
            continue
        try:
            md = json.loads((path / "metadata.json").read_text(encoding="utf-8"))
            system_id = md["hardware"]["system_hardware"]["system_id"]
        except (OSError, ValueError, KeyError, TypeError):
            continue  # not readable here; `bakeoff validate` reports it
        if system_id == candidate.system_id and not md.get("meta_only"):
            return path
    raise RunNotFoundError(
        f"no earlier run of system {candidate.system_id} (host {candidate.host_label}) before "
        f"{candidate.run_id} in {runs_dir}; pass the baseline run explicitly, or --runs DIR"
    )


def run_compare(req: CompareRequest) -> dict[str, Any]:
    """Resolve the runs, load them and build the report of the requested gate mode.

    A baseline of ``previous`` (or ``previous:CELL``) is the newest earlier run of the
    candidate's system in the archive.
    """
    runs_dir = req.runs_dir or default_runs_dir()
    options = Options(allow_synthetic=req.allow_synthetic)
    if req.gate_mode == "budget":
        budgets = load_budgets(req.budgets)
        candidate = load_side(parse_ref(req.refs[-1], runs_dir), options)
        return budget_report(candidate, budgets, gate_file(req.budgets, "budgets.json"))
    tols = load_tolerances(req.tolerances)
    base_text, cand_text = req.refs
    name, _, cell = base_text.partition(":")
    base_ref = None if name == PREVIOUS else parse_ref(base_text, runs_dir)
    cand_ref = parse_ref(cand_text, runs_dir)
    baseline = load_side(base_ref, options) if base_ref is not None else None
    candidate = load_side(cand_ref, options)
    if baseline is None:
        path = previous_run(runs_dir, candidate)
        baseline = load_side(RunRef(base_text, path, cell or None), options)
    return regression_report(
        baseline, candidate, tols, gate_file(req.tolerances, "tolerances.json")
    )
