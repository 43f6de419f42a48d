"""ROUGE recomputation: recorded scores are checked against the stored outputs, by the same
front end validate, publish and compare use (``compile_run`` with a scorer in its context)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path

import pytest

from bakeoff.resources import seeds_dir
from publisher.frontend.compile import Context, Options, compile_run
from publisher.frontend.finding import Finding
from publisher.frontend.quality import Scorer, default_scorer
from tests.synthetic import make_run


def fake_scorer(output: str, reference: str) -> dict[str, float]:
    """Deterministic stand-in: the share of output words found in the reference."""
    words = output.split()
    ref = set(reference.split())
    share = round(sum(w in ref for w in words) / max(1, len(words)), 6)
    return {"rouge1": share, "rouge2": share / 2, "rougeL": share}


def quality_findings(
    path: Path, scorer: Scorer | None, seeds: Mapping[str, bytes] | None = None
) -> list[Finding]:
    ctx = Context(seed_datasets=seeds or {}, scorer=lambda: scorer)
    artifact = compile_run(path, Options(allow_synthetic=True), ctx)
    assert all(f.code.startswith("quality.") for f in artifact.findings), artifact.findings
    return list(artifact.findings)


def test_recorded_scores_match(tmp_path: Path) -> None:
    path = make_run(tmp_path, seed=1, with_quality=True, scorer=fake_scorer)
    assert '"rouge1": 0' in (path / "run.jsonl").read_text()
    assert quality_findings(path, fake_scorer) == []


def test_mismatch_is_an_error_with_line_and_pointer(tmp_path: Path) -> None:
    path = make_run(tmp_path, seed=1, with_quality=True, scorer=fake_scorer)
    lines = (path / "run.jsonl").read_text().splitlines()
    idx = next(i for i, line in enumerate(lines) if '"rouge1": 0' in line)
    rec = json.loads(lines[idx])
    rec["rouge2"] = round(rec["rouge2"] + 0.01, 6)
    lines[idx] = json.dumps(rec)
    (path / "run.jsonl").write_text("\n".join(lines) + "\n")
    findings = quality_findings(path, fake_scorer)
    assert [(f.code, f.severity, f.line, f.pointer) for f in findings] == [
        ("quality.rouge_mismatch", "error", idx + 1, "/rouge2")
    ]


def test_missing_reference_and_missing_scorer_warn(tmp_path: Path) -> None:
    path = make_run(tmp_path, seed=1, with_quality=True, scorer=fake_scorer)
    (path / "datasets" / "summarization.jsonl").unlink()
    (path / "datasets").rmdir()
    assert {f.code for f in quality_findings(path, fake_scorer)} == {"quality.reference_missing"}
    assert [f.code for f in quality_findings(path, None)] == ["quality.rouge_unavailable"]


def test_bundled_seed_dataset_is_used_when_its_hash_matches(tmp_path: Path) -> None:
    path = make_run(tmp_path, seed=1, with_quality=True, scorer=fake_scorer)
    data = (path / "datasets" / "summarization.jsonl").read_bytes()
    (path / "datasets" / "summarization.jsonl").unlink()
    (path / "datasets").rmdir()
    assert quality_findings(path, fake_scorer, {"summarization": data}) == []
    other = b'{"id": "x", "text": "t", "reference": "r"}\n'
    assert hashlib.sha256(other).hexdigest() != hashlib.sha256(data).hexdigest()
    found = quality_findings(path, fake_scorer, {"summarization": other})
    assert {f.code for f in found} == {"quality.reference_missing"}


def test_real_rouge_scores_round_trip(tmp_path: Path) -> None:
    scorer = default_scorer()
    if scorer is None:
        pytest.skip("rouge-score is not installed (pip install 'bakeoff[quality]')")
    path = make_run(tmp_path, seed=2, with_quality=True, scorer=scorer)
    assert quality_findings(path, scorer) == []
    assert (seeds_dir() / "summarization.jsonl").exists()
