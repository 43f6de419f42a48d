"""Quality scores shared by the collector (at run time) and the publisher (recomputation).

Both sides call :func:`rouge_scores` on the same stored inputs (``output_text`` of a call and
the ``reference`` of its dataset item) and must get the same numbers, so everything that could
vary is fixed here:

* Scorer: ``rouge_score.rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"],
  use_stemmer=True)`` with its default tokenizer, which lower-cases, replaces every character
  outside ``[a-z0-9]`` with a space, splits on whitespace and Porter-stems tokens longer than
  three characters. Non-ASCII letters therefore never match; this is rouge-score's behaviour
  and is kept so numbers compare with other rouge-score users.
* Normalisation (:func:`normalize_output`): a leading ``<think>…</think>`` block (after optional
  whitespace) is removed, because reasoning models emit it before the answer and it is not part
  of the summary. An opening ``<think>`` that is never closed means the output was cut off while
  thinking: the whole text is dropped and the call scores 0. Only the output is normalised; the
  reference is scored as written.
* Reported value: the F-measure of each metric, rounded to 6 decimals, so a stored value and a
  recomputed one compare with ``==``.

``rouge-score`` is an optional dependency (``pip install 'bakeoff[quality]'``); it is imported
only when a score is computed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from functools import cache
from typing import Any, TypedDict

ROUGE_METRICS: tuple[str, ...] = ("rouge1", "rouge2", "rougeL")
"""The metrics stored per call, in this order."""

ROUGE_USE_STEMMER = True
"""Porter stemming on: "running" and "runs" both become "run"."""

DECIMALS = 6
"""Rounding applied to every score and aggregate."""

INSTALL_HINT = "pip install 'bakeoff[quality]'"

_THINK_RE = re.compile(r"\A\s*<think>(.*?)</think>", re.DOTALL)
_THINK_OPEN_RE = re.compile(r"\A\s*<think>", re.DOTALL)


class QualityUnavailableError(ImportError):
    """rouge-score is not installed; the message says how to install it."""


class MetricSummary(TypedDict):
    """Aggregate of one metric over a cell's calls."""

    n: int
    mean: float | None
    stddev: float | None


@cache
def _scorer() -> Any:
    try:
        from rouge_score import rouge_scorer
    except ImportError as exc:
        raise QualityUnavailableError(
            f"ROUGE scoring needs the rouge-score package: {INSTALL_HINT}"
        ) from exc
    return rouge_scorer.RougeScorer(list(ROUGE_METRICS), use_stemmer=ROUGE_USE_STEMMER)


def ensure_available() -> None:
    """Raise :class:`QualityUnavailableError` now if rouge-score cannot be imported.

    Callers use it to fail before a run starts rather than after the first generated output.
    """
    _scorer()


def rouge_version() -> str | None:
    """The installed rouge-score version, recorded next to the scores; None if absent."""
    from importlib import metadata

    try:
        return metadata.version("rouge-score")
    except metadata.PackageNotFoundError:
        return None


def normalize_output(text: str) -> str:
    """Strip a leading ``<think>…</think>`` block; an unclosed one empties the text."""
    match = _THINK_RE.match(text)
    if match:
        return text[match.end() :]
    if _THINK_OPEN_RE.match(text):
        return ""
    return text


def rouge_scores(output_text: str, reference: str) -> dict[str, float]:
    """ROUGE-1, ROUGE-2 and ROUGE-L F-measures of ``output_text`` against ``reference``.

    The output is normalised with :func:`normalize_output`; values are rounded to 6 decimals.
    Raises :class:`QualityUnavailableError` when rouge-score is not installed.
    """
    scores = _scorer().score(reference, normalize_output(output_text))
    return {name: round(float(scores[name].fmeasure), DECIMALS) for name in ROUGE_METRICS}


def summarize_scores(scores: Sequence[dict[str, float]]) -> dict[str, MetricSummary]:
    """Mean and sample standard deviation (n − 1) of each ROUGE metric over calls.

    A metric missing from a call's dict is left out of that metric's count. ``stddev`` is None
    for fewer than two values, ``mean`` None for none. Results are rounded to 6 decimals.
    """
    out: dict[str, MetricSummary] = {}
    for name in ROUGE_METRICS:
        values = [float(s[name]) for s in scores if name in s]
        n = len(values)
        mean = math.fsum(values) / n if n else None
        stddev = None
        if mean is not None and n >= 2:
            stddev = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
        out[name] = MetricSummary(
            n=n,
            mean=None if mean is None else round(mean, DECIMALS),
            stddev=None if stddev is None else round(stddev, DECIMALS),
        )
    return out
