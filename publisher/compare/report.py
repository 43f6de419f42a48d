"""The reports of ``bakeoff compare`` (regression and budget mode), as data and as text, and
the entry point ``run_compare``; ``publisher.cli`` is the glue.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from bakeoff.resources import seeds_dir
from publisher.compare.checks import (
    Pair,
    _fmt,
    _no_match_diagnostic,
    _num,
    budget_checks,
    budget_diagnostic,
    match,
    regression_diagnostic,
    relative_check,
    success_check,
)
from publisher.compare.sides import (
    PREVIOUS,
    Result,
    RunRef,
    RunSide,
    default_runs_dir,
    load_side,
    parse_ref,
    previous_run,
)
from publisher.errors import CompareError
from publisher.frontend.compile import Options
from publisher.gates import METRICS, Budgets, MetricSpec, Tolerances, load_budgets, load_tolerances

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
        "request_rate": c.request_rate,
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
    """The regression-mode report (config, metrics, checks, failure_diagnostics, passed) as
    plain JSON-able data."""
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


def _comparable(side: RunSide) -> RunSide:
    if not side.comparable:
        raise CompareError(
            f"run {side.run_id} is not comparable ({side.comparable_reason}); "
            "compare runs that measured a full workload"
        )
    return side


def run_compare(req: CompareRequest) -> dict[str, Any]:
    """Resolve the runs, compile them and build the report of the requested gate mode.

    A baseline of ``previous`` (or ``previous:CELL``) is the newest earlier comparable run of
    the candidate's system in the archive. Smoke, probe-only and empty runs are refused.
    """
    runs_dir = req.runs_dir or default_runs_dir()
    options = Options(allow_synthetic=req.allow_synthetic)
    if req.gate_mode == "budget":
        budgets = load_budgets(req.budgets)
        candidate = _comparable(load_side(parse_ref(req.refs[-1], runs_dir), options))
        return budget_report(candidate, budgets, gate_file(req.budgets, "budgets.json"))
    tols = load_tolerances(req.tolerances)
    base_text, cand_text = req.refs
    name, _, cell = base_text.partition(":")
    base_ref = None if name == PREVIOUS else parse_ref(base_text, runs_dir)
    cand_ref = parse_ref(cand_text, runs_dir)
    baseline = _comparable(load_side(base_ref, options)) if base_ref is not None else None
    candidate = _comparable(load_side(cand_ref, options))
    if baseline is None:
        path = previous_run(runs_dir, candidate, options)
        baseline = load_side(RunRef(base_text, path, cell or None), options)
    return regression_report(
        baseline, candidate, tols, gate_file(req.tolerances, "tolerances.json")
    )
