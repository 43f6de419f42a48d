"""The versioned gate files of ``bakeoff compare``: tolerances (regression) and budgets.

    seeds/tolerances.json   allowed relative deltas vs a baseline (the methodology page)
    seeds/budgets.json      absolute limits per metric, optionally per workload id

Both carry ``schema_version``; their JSON Schemas (``schemas/seed-tolerances.schema.json`` and
``schemas/seed-budgets.schema.json``) are generated from the models below. Readers refuse a
newer version with a clear message. The metric *definitions* (which call field, which
statistic, which direction is better) live in code (``METRICS``); the files only set limits.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bakeoff.resources import seeds_dir
from publisher.errors import GateError

GATES_SCHEMA_VERSION = 1

MetricName = Literal[
    "ttft_p50_ms",
    "ttft_p95_ms",
    "total_p50_ms",
    "total_p95_ms",
    "tokens_per_sec_mean",
    "success_rate",
]


@dataclass(frozen=True)
class MetricSpec:
    """How one gated metric is computed from a batch of warm calls."""

    name: str
    field: str | None  # call-record field; None for success_rate (computed from errors)
    statistic: Literal["p50", "p95", "mean", "rate"]
    better: Literal["lower", "higher"]
    label: str
    unit: str


METRICS: dict[str, MetricSpec] = {
    m.name: m
    for m in (
        MetricSpec("ttft_p50_ms", "first_delta_ms", "p50", "lower", "TTFT p50", "ms"),
        MetricSpec("ttft_p95_ms", "first_delta_ms", "p95", "lower", "TTFT p95", "ms"),
        MetricSpec("total_p50_ms", "total_duration_ms", "p50", "lower", "total p50", "ms"),
        MetricSpec("total_p95_ms", "total_duration_ms", "p95", "lower", "total p95", "ms"),
        MetricSpec(
            "tokens_per_sec_mean", "tokens_per_sec", "mean", "higher", "tokens/s mean", "tok/s"
        ),
        MetricSpec("success_rate", None, "rate", "higher", "success rate", "%"),
    )
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RelativeTolerance(_Strict):
    """Allowed relative change of one metric, candidate vs baseline."""

    max_regression: float = Field(
        gt=0,
        lt=1,
        description="Flag a regression when the metric is this fraction worse (0.30: ≥30% "
        "slower for latencies, ≥30% lower for rates).",
    )
    min_improvement: float = Field(
        gt=0, lt=1, description="Report an improvement when the metric is this fraction better."
    )


class MinimumLimit(_Strict):
    """An absolute lower bound on the candidate."""

    min: float = Field(ge=0, le=1, description="Fail when the candidate's value is below this.")


class ToleranceMetrics(_Strict):
    """The gated metrics of regression mode (thresholds: the methodology page)."""

    ttft_p50_ms: RelativeTolerance = Field(description="Warm TTFT median.")
    total_p50_ms: RelativeTolerance = Field(description="Warm total duration median.")
    tokens_per_sec_mean: RelativeTolerance = Field(description="Warm decode rate mean.")
    success_rate: MinimumLimit = Field(description="Warm success rate, absolute, on the candidate.")


class Tolerances(_Strict):
    """``seeds/tolerances.json``: how much a candidate may differ from its baseline."""

    schema_version: Literal[1] = Field(default=1, description="Format version.")
    alpha: float = Field(
        default=0.05, gt=0, lt=1, description="Mann–Whitney U significance level (two-sided)."
    )
    min_n: int = Field(
        default=5,
        ge=2,
        description="With fewer successful warm calls on either side a change is flagged on "
        "the threshold alone (low_n).",
    )
    bootstrap_resamples: int = Field(
        default=2000, ge=100, le=100_000, description="Resamples of the ratio's interval."
    )
    bootstrap_seed: int = Field(default=20261123, ge=0, description="Fixed seed: same report.")
    confidence_level: float = Field(
        default=0.95, gt=0, lt=1, description="Level of the bootstrap interval of the ratio."
    )
    metrics: ToleranceMetrics = Field(description="Thresholds per gated metric.")


class Limit(_Strict):
    """An absolute budget: at least one of ``max`` and ``min``."""

    max: float | None = Field(default=None, description="Fail when the value is above this.")
    min: float | None = Field(default=None, description="Fail when the value is below this.")

    @model_validator(mode="after")
    def _one_bound(self) -> Limit:
        if self.max is None and self.min is None:
            raise ValueError("a limit needs max or min (or both)")
        return self


BudgetMap = dict[MetricName, Limit]


class Budgets(_Strict):
    """``seeds/budgets.json``: absolute limits per metric; per-workload entries win."""

    schema_version: Literal[1] = Field(default=1, description="Format version.")
    defaults: BudgetMap = Field(description="Limits applied to every workload.")
    workloads: dict[str, BudgetMap] = Field(
        default_factory=dict,
        description="Per workload id (prompt or task id): limits that replace the default of "
        "the same metric.",
    )

    def limits_for(self, workload_id: str) -> dict[str, tuple[Limit, str]]:
        """metric → (limit, where it came from) for one workload id."""
        out: dict[str, tuple[Limit, str]] = {
            m: (lim, "defaults") for m, lim in self.defaults.items()
        }
        for m, lim in self.workloads.get(workload_id, {}).items():
            out[m] = (lim, f"workloads.{workload_id}")
        order = list(METRICS)
        return dict(sorted(out.items(), key=lambda kv: order.index(kv[0])))


M = TypeVar("M", bound=BaseModel)


def _load(path: Path, model: type[M], what: str) -> M:
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise GateError(f"{what} file {path} does not exist; pass an existing file") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise GateError(f"cannot read {what} file {path}: {exc}") from exc
    version = data.get("schema_version") if isinstance(data, dict) else None
    if isinstance(version, int) and version > GATES_SCHEMA_VERSION:
        raise GateError(
            f"{path} has schema_version {version}, newer than this bakeoff understands "
            f"({GATES_SCHEMA_VERSION}); upgrade: pip install -U 'bakeoff[publish]'"
        )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = "/".join(str(p) for p in first["loc"]) or "(top level)"
        raise GateError(
            f"invalid {what} file {path}: {where}: {first['msg']} "
            f"({exc.error_count()} problem(s); see the schema in schemas/)"
        ) from exc


def default_tolerances_path() -> Path:
    """The bundled ``seeds/tolerances.json``."""
    return seeds_dir() / "tolerances.json"


def default_budgets_path() -> Path:
    """The bundled ``seeds/budgets.json``."""
    return seeds_dir() / "budgets.json"


def load_tolerances(path: Path | None = None) -> Tolerances:
    """Read and check a tolerances file (the bundled one by default)."""
    return _load(path or default_tolerances_path(), Tolerances, "tolerances")


def load_budgets(path: Path | None = None) -> Budgets:
    """Read and check a budgets file (the bundled one by default)."""
    return _load(path or default_budgets_path(), Budgets, "budgets")
