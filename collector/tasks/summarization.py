"""The summarization quality task: a frozen prompt template, datasets, and ROUGE per call.

A dataset is a JSONL file, one :class:`collector.models.DatasetItem` per line (see
``docs/datasets.md``); the bundled one is ``seeds/summarization.jsonl``. Each call sends
:func:`render_prompt` of one item with ``max_tokens = MAX_TOKENS`` and is scored with
:func:`score_call`. The run directory keeps ``output_text`` and ``item_id`` per call and a copy
of the items used (:func:`write_dataset_copy`), so the publisher can recompute every score from
the run directory alone with :func:`bakeoff.quality.rouge_scores`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from bakeoff.jsonio import write_atomic
from bakeoff.quality import (
    INSTALL_HINT,
    QualityUnavailableError,
    ensure_available,
    rouge_scores,
)
from bakeoff.resources import seeds_dir
from collector.errors import ConfigError
from collector.models import DatasetItem, TaskRef

TASK_ID = "summarization"
TEMPLATE_ID = "T-SUMMARIZE-v1"
# Frozen: any change to these bytes needs a new TEMPLATE_ID (a test pins the hash).
TEMPLATE_TEXT = (
    "Summarize the following article in two or three sentences of plain prose. "
    "Do not add a title, bullet points or any text before or after the summary.\n"
    "\n"
    "Article:\n"
    "{text}\n"
    "\n"
    "Summary:"
)
TEMPLATE_SHA256 = hashlib.sha256(TEMPLATE_TEXT.encode("utf-8")).hexdigest()
MAX_TOKENS = 160
"""Output bound: a 2–3 sentence summary is about 50–110 tokens; the rest is headroom."""

SEED_FILE = "summarization.jsonl"
DATASETS_DIR = "datasets"
"""Folder of a run directory that holds the dataset copies."""

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class Dataset:
    """A loaded dataset: its name (file stem), the sha256 of the file bytes, and its items."""

    name: str
    sha256: str
    items: tuple[DatasetItem, ...]
    raw: bytes = field(default=b"", repr=False, compare=False)

    def item(self, item_id: str) -> DatasetItem:
        """The item with this id; KeyError when absent."""
        for item in self.items:
            if item.id == item_id:
                return item
        raise KeyError(item_id)

    @property
    def ids(self) -> list[str]:
        """Item ids in file order."""
        return [item.id for item in self.items]


def require_scorer() -> None:
    """Fail early, with the install command, when rouge-score is missing."""
    try:
        ensure_available()
    except QualityUnavailableError as exc:
        raise ConfigError(
            f"the summarization task scores outputs with ROUGE, which needs rouge-score: "
            f"{INSTALL_HINT}"
        ) from exc


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "(line)"
        parts.append(f"field '{field}': {err['msg']}")
    return "; ".join(parts)


def load_dataset(path: Path | None = None) -> Dataset:
    """Load and validate a JSONL dataset; None loads the bundled ``seeds/summarization.jsonl``.

    Blank lines are skipped. Any invalid line raises :class:`ConfigError` naming the file, the
    1-based line number and the field. The dataset name is the file name without ``.jsonl``.
    """
    path = seeds_dir() / SEED_FILE if path is None else path
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read dataset {path}: {exc.strerror or exc}") from exc
    name = path.name.removesuffix(".jsonl")
    if not _NAME_RE.match(name):
        raise ConfigError(
            f"dataset {path}: the file name must be letters, digits, '.', '_' or '-' "
            f"(it names the copy in the run directory), got {path.name!r}"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"dataset {path}: not UTF-8 ({exc.reason} at byte {exc.start})") from exc
    items: list[DatasetItem] = []
    seen: dict[str, int] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"dataset {path}, line {lineno}"
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{where}: invalid JSON: {exc.msg} (column {exc.colno})") from exc
        if not isinstance(raw, dict):
            raise ConfigError(f"{where}: expected a JSON object, got {type(raw).__name__}")
        try:
            item = DatasetItem.model_validate(raw)
        except ValidationError as exc:
            raise ConfigError(f"{where}: {_describe(exc)}") from exc
        if item.id in seen:
            raise ConfigError(
                f"{where}: field 'id': duplicate id {item.id!r} (first on line {seen[item.id]})"
            )
        seen[item.id] = lineno
        items.append(item)
    if not items:
        raise ConfigError(f"dataset {path}: no items")
    return Dataset(name=name, sha256=hashlib.sha256(data).hexdigest(), items=tuple(items), raw=data)


def render_prompt(item: DatasetItem) -> str:
    """The exact prompt text for one item (the template with the article inserted)."""
    # str.replace, not str.format: articles may contain braces.
    return TEMPLATE_TEXT.replace("{text}", item.text)


def score_call(output_text: str, item: DatasetItem) -> dict[str, float]:
    """ROUGE-1/2/L F-measures of one call's output against the item's reference summary."""
    try:
        return rouge_scores(output_text, item.reference)
    except QualityUnavailableError as exc:
        raise ConfigError(f"ROUGE scoring needs rouge-score: {INSTALL_HINT}") from exc


def task_ref(dataset: Dataset, items_used: Iterable[str]) -> TaskRef:
    """The ``config.tasks`` entry of metadata.json for this dataset and the items used."""
    return TaskRef(
        id=TASK_ID,
        template_id=TEMPLATE_ID,
        template_sha256=TEMPLATE_SHA256,
        dataset=dataset.name,
        dataset_sha256=dataset.sha256,
        items=[item.id for item in _select(dataset, items_used)],
        max_tokens=MAX_TOKENS,
    )


def _select(dataset: Dataset, items_used: Iterable[str]) -> list[DatasetItem]:
    wanted = set(items_used)
    unknown = wanted.difference(dataset.ids)
    if unknown:
        raise ValueError(f"items not in dataset {dataset.name}: {', '.join(sorted(unknown))}")
    # File order, not call order, so the copy is the same whatever order calls ran in.
    return [item for item in dataset.items if item.id in wanted]


def dataset_copy_path(run_dir: Path, dataset_name: str) -> Path:
    """Where a run directory keeps the copy of a dataset: ``datasets/<name>.jsonl``."""
    return run_dir / DATASETS_DIR / f"{dataset_name}.jsonl"


def write_dataset_copy(dataset: Dataset, items_used: Iterable[str], run_dir: Path) -> Path:
    """Copy the dataset file, byte for byte, to ``datasets/<name>.jsonl`` in the run directory.

    The whole file, not just the items used: its sha256 then equals ``dataset_sha256`` in
    ``config.tasks``, so the publisher can check that the references it recomputes ROUGE
    against are exactly the ones the run used. ``items_used`` must all be in the dataset.
    """
    _select(dataset, items_used)
    path = dataset_copy_path(run_dir, dataset.name)
    write_atomic(path, dataset.raw)
    return path
