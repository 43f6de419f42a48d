"""Post-process metrics: ROUGE recomputed from stored outputs and compared with the record.

The references come from the run's own ``datasets/<name>.jsonl`` or, when the run's task used
a bundled dataset, from ``seeds/<name>`` if its sha256 equals the one the run recorded. Scores
are computed by ``bakeoff.quality.rouge_scores`` — the same function the collector used.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

from publisher.finding import Finding, finding
from publisher.validate import ValidatedRun

Scorer = Callable[[str, str], dict[str, float]]
TOLERANCE = 1e-6
METRICS = ("rouge1", "rouge2", "rougeL")


@cache
def default_scorer() -> Scorer | None:
    """``bakeoff.quality.rouge_scores``, or None when rouge-score is not installed."""
    try:
        from bakeoff import quality

        quality.ensure_available()
    except ImportError:
        return None
    return quality.rouge_scores


def _seed_items(data: bytes) -> list[dict[str, Any]]:
    items = []
    for line in data.decode("utf-8").splitlines():
        if line.strip():
            obj = json.loads(line)
            if isinstance(obj, dict):
                items.append(obj)
    return items


def _references(
    run: ValidatedRun, seed_datasets: Mapping[str, bytes]
) -> dict[str, dict[str, str] | None]:
    """task id -> {item id: reference}, or None when no trustworthy reference exists."""
    refs: dict[str, dict[str, str] | None] = {}
    for task in run.metadata["config"]["tasks"]:
        name = task["dataset"]
        items: list[dict[str, Any]] | None = None
        if name in run.datasets and run.dataset_sha256.get(name) == task["dataset_sha256"]:
            items = run.datasets[name]
        elif name in seed_datasets:
            data = seed_datasets[name]
            if hashlib.sha256(data).hexdigest() == task["dataset_sha256"]:
                items = _seed_items(data)
        refs[task["id"]] = (
            None if items is None else {str(i["id"]): str(i["reference"]) for i in items}
        )
    return refs


def scored_calls(run: ValidatedRun) -> list[tuple[int, dict[str, Any]]]:
    """(line, record) of every call with a stored output and a recorded ROUGE score."""
    return [
        (line, rec)
        for line, rec in run.records
        if rec.get("type") == "call"
        and rec.get("task_id")
        and rec.get("output_text") is not None
        and any(rec.get(m) is not None for m in METRICS)
    ]


def check_rouge(
    run: ValidatedRun, scorer: Scorer | None, seed_datasets: Mapping[str, bytes]
) -> list[Finding]:
    """A finding for every call whose recorded ROUGE differs from the recomputed one."""
    scored = scored_calls(run)
    if not scored:
        return []
    rid = run.run_id
    if scorer is None:
        return [finding("quality.rouge_unavailable", rid, "run.jsonl", "ROUGE not recomputed")]
    refs = _references(run, seed_datasets)
    out: list[Finding] = []
    missing: set[str] = set()
    for line, rec in scored:
        table = refs.get(rec["task_id"])
        reference = table.get(str(rec.get("item_id"))) if table is not None else None
        if reference is None:
            key = f"{rec['task_id']}/{rec.get('item_id')}"
            if key not in missing:
                missing.add(key)
                out.append(
                    finding(
                        "quality.reference_missing",
                        rid,
                        "run.jsonl",
                        f"no reference for {key}",
                        line=line,
                    )
                )
            continue
        scores = scorer(rec["output_text"], reference)
        for metric in METRICS:
            recorded = rec.get(metric)
            if recorded is not None and abs(recorded - scores[metric]) > TOLERANCE:
                out.append(
                    finding(
                        "quality.rouge_mismatch",
                        rid,
                        "run.jsonl",
                        f"{metric} recorded {recorded}, recomputed {scores[metric]}",
                        line=line,
                        pointer=f"/{metric}",
                    )
                )
    return out
