"""Post-process metrics: ROUGE recomputed from stored outputs and compared with the record.

The references come from the run's own ``datasets/<name>.jsonl`` or, when the run's task used
a bundled dataset, from ``seeds/<name>`` if its sha256 equals the one the run recorded. Scores
are computed by ``bakeoff.quality.rouge_scores`` — the same function the collector used.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

import msgspec

from publisher.frontend.finding import Finding, finding

if TYPE_CHECKING:
    from publisher.frontend.compile import Context
    from publisher.frontend.derive import CallColumns

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
    for line in data.splitlines():
        if line.strip():
            try:
                obj = msgspec.json.decode(line)
            except msgspec.DecodeError:
                continue
            if isinstance(obj, dict):
                items.append(obj)
    return items


def _references(
    md: Mapping[str, Any],
    datasets: Mapping[str, Sequence[Mapping[str, Any]]],
    dataset_sha256: Mapping[str, str],
    seed_datasets: Mapping[str, bytes],
) -> dict[str, dict[str, str] | None]:
    """task id -> {item id: reference}, or None when no trustworthy reference exists."""
    refs: dict[str, dict[str, str] | None] = {}
    for task in md["config"]["tasks"]:
        name = task["dataset"]
        items: Sequence[Mapping[str, Any]] | None = None
        if name in datasets and dataset_sha256.get(name) == task["dataset_sha256"]:
            items = datasets[name]
        elif name in seed_datasets:
            data = seed_datasets[name]
            if hashlib.sha256(data).hexdigest() == task["dataset_sha256"]:
                items = _seed_items(data)
        refs[task["id"]] = (
            None if items is None else {str(i["id"]): str(i["reference"]) for i in items}
        )
    return refs


def check_rouge(
    md: Mapping[str, Any],
    calls: CallColumns,
    datasets: Mapping[str, Sequence[Mapping[str, Any]]],
    dataset_sha256: Mapping[str, str],
    ctx: Context,
) -> list[Finding]:
    """A finding for every call whose recorded ROUGE differs from the recomputed one."""
    cols = calls.columns
    scored = [
        i
        for i in range(len(calls))
        if cols["task_id"][i]
        and cols["output_text"][i] is not None
        and any(cols[m][i] is not None for m in METRICS)
    ]
    if not scored:
        return []
    rid = md["run_id"]
    scorer = ctx.scorer()
    if scorer is None:
        return [finding("quality.rouge_unavailable", rid, "run.jsonl", "ROUGE not recomputed")]
    refs = _references(md, datasets, dataset_sha256, ctx.seed_datasets)
    out: list[Finding] = []
    missing: set[str] = set()
    for i in scored:
        line = calls.lines[i]
        task_id, item_id = cols["task_id"][i], cols["item_id"][i]
        table = refs.get(task_id)
        reference = table.get(str(item_id)) if table is not None else None
        if reference is None:
            key = f"{task_id}/{item_id}"
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
        scores = scorer(cols["output_text"][i], reference)
        for metric in METRICS:
            recorded = cols[metric][i]
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
