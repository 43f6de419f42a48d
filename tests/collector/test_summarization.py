"""The summarization task: template, bundled seed, dataset loader and run-directory copy."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest

from bakeoff.quality import rouge_scores
from collector.errors import ConfigError
from collector.models import DatasetItem
from collector.tasks import summarization as s

GOOD = {"id": "x-1", "text": "The cat sat on the mat.", "reference": "A cat sat."}


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_template_hash_matches_frozen_text() -> None:
    """TEMPLATE_SHA256 is the hash of the text, and the text is the v1 bytes (pinned)."""
    assert hashlib.sha256(s.TEMPLATE_TEXT.encode("utf-8")).hexdigest() == s.TEMPLATE_SHA256
    # Changing the template needs a new TEMPLATE_ID; this pin makes that a conscious step.
    assert s.TEMPLATE_ID == "T-SUMMARIZE-v1"
    assert s.TEMPLATE_SHA256 == ("f29edf335cfecebd003d4d66640fa961e8d96016cddeaf67a61b76ef2feb721a")


def test_render_prompt_inserts_text_verbatim_even_with_braces() -> None:
    item = DatasetItem(id="b", text="Sets {a, b} and {0}.", reference="r")
    prompt = s.render_prompt(item)
    assert "Article:\nSets {a, b} and {0}.\n\nSummary:" in prompt
    assert prompt.startswith("Summarize the following article")


def test_bundled_seed_has_required_length_mix() -> None:
    """At least 12 items: 4 short (~150 words), 4 medium (~500), 4 long (~1,200)."""
    ds = s.load_dataset(None)
    assert ds.name == "summarization"
    assert len(ds.items) >= 12
    words = {item.id: len(item.text.split()) for item in ds.items}
    short = [n for i, n in words.items() if i.startswith("sum-short-")]
    medium = [n for i, n in words.items() if i.startswith("sum-medium-")]
    long = [n for i, n in words.items() if i.startswith("sum-long-")]
    assert len(short) >= 4 and all(120 <= n <= 200 for n in short), short
    assert len(medium) >= 4 and all(400 <= n <= 600 for n in medium), medium
    assert len(long) >= 4 and all(1000 <= n <= 1400 for n in long), long
    for item in ds.items:
        assert item.license == "CC-BY-4.0"
        assert item.title
        sentences = item.reference.count(". ") + 1
        assert 2 <= sentences <= 3, item.id
    raw = (Path(__file__).parents[2] / "seeds" / "summarization.jsonl").read_bytes()
    assert ds.sha256 == hashlib.sha256(raw).hexdigest()


def test_seed_references_score_one_against_themselves() -> None:
    """Sanity: each reference is scoreable and non-degenerate."""
    for item in s.load_dataset(None).items:
        assert s.score_call(item.reference, item) == {"rouge1": 1.0, "rouge2": 1.0, "rougeL": 1.0}


def test_bad_json_line_names_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "mine.jsonl", [json.dumps(GOOD), "", '{"id": "x-2", "text": '])
    with pytest.raises(ConfigError) as err:
        s.load_dataset(path)
    assert str(path) in str(err.value)
    assert "line 3" in str(err.value)
    assert "invalid JSON" in str(err.value)


def test_missing_field_names_file_line_and_field(tmp_path: Path) -> None:
    bad = {"id": "x-2", "text": "t"}
    path = _write(tmp_path / "mine.jsonl", [json.dumps(GOOD), json.dumps(bad)])
    expected = r"mine\.jsonl, line 2: field 'reference': Field required"
    with pytest.raises(ConfigError, match=expected):
        s.load_dataset(path)


def test_unknown_field_is_reported(tmp_path: Path) -> None:
    """A typo such as "refrence" must fail rather than silently drop the reference."""
    bad = {"id": "x-2", "text": "t", "reference": "r", "refrence": "r"}
    path = _write(tmp_path / "mine.jsonl", [json.dumps(bad)])
    with pytest.raises(ConfigError, match=r"line 1: field 'refrence'"):
        s.load_dataset(path)


def test_duplicate_id_and_non_object_are_errors(tmp_path: Path) -> None:
    dup = _write(tmp_path / "dup.jsonl", [json.dumps(GOOD), json.dumps(GOOD)])
    with pytest.raises(ConfigError, match=r"line 2: field 'id': duplicate id 'x-1'"):
        s.load_dataset(dup)
    arr = _write(tmp_path / "arr.jsonl", ["[1, 2]"])
    with pytest.raises(ConfigError, match=r"line 1: expected a JSON object"):
        s.load_dataset(arr)


def test_empty_missing_and_badly_named_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no items"):
        s.load_dataset(_write(tmp_path / "empty.jsonl", [""]))
    with pytest.raises(ConfigError, match="cannot read dataset"):
        s.load_dataset(tmp_path / "absent.jsonl")
    with pytest.raises(ConfigError, match="file name"):
        s.load_dataset(_write(tmp_path / "has space.jsonl", [json.dumps(GOOD)]))


def test_user_dataset_loads_with_optional_fields(tmp_path: Path) -> None:
    extra = {**GOOD, "id": "xsum-7", "source": "XSum test split", "license": "CC-BY-SA-4.0"}
    path = _write(tmp_path / "xsum-subset.jsonl", [json.dumps(GOOD), json.dumps(extra)])
    ds = s.load_dataset(path)
    assert ds.name == "xsum-subset"
    assert ds.ids == ["x-1", "xsum-7"]
    assert ds.item("xsum-7").source == "XSum test split"


def test_dataset_copy_is_deterministic_and_recomputes_scores(tmp_path: Path) -> None:
    """The copy is the dataset file byte for byte (its sha256 is the recorded one) and is
    enough to recompute ROUGE."""
    ds = s.load_dataset(None)
    used = ["sum-long-01", "sum-short-02", "sum-short-02"]
    first = s.write_dataset_copy(ds, used, tmp_path / "a")
    second = s.write_dataset_copy(ds, list(reversed(used)), tmp_path / "b")
    assert first == tmp_path / "a" / "datasets" / "summarization.jsonl"
    assert first.read_bytes() == second.read_bytes()
    copied = s.load_dataset(first)
    assert copied.sha256 == ds.sha256 and copied.ids == ds.ids
    output = "Photosynthesis turns light into sugar and releases oxygen."
    assert rouge_scores(output, copied.item("sum-short-02").reference) == s.score_call(
        output, ds.item("sum-short-02")
    )
    with pytest.raises(ValueError, match="nope"):
        s.write_dataset_copy(ds, ["nope"], tmp_path / "c")


def test_task_ref_describes_the_run_config() -> None:
    ds = s.load_dataset(None)
    ref = s.task_ref(ds, ["sum-medium-01", "sum-short-01"])
    assert ref.items == ["sum-short-01", "sum-medium-01"]
    assert ref.template_sha256 == s.TEMPLATE_SHA256
    assert ref.dataset_sha256 == ds.sha256
    assert ref.max_tokens == s.MAX_TOKENS == 160


def test_missing_rouge_score_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the quality extra, a summarization run fails early with the install command.

    rouge-score is installed in the dev environment, so its absence is simulated by blocking
    the import (``sys.modules[name] = None`` makes ``import`` raise ImportError).
    """
    from bakeoff import quality

    monkeypatch.setitem(sys.modules, "rouge_score", None)
    monkeypatch.setitem(sys.modules, "rouge_score.rouge_scorer", None)
    quality._scorer.cache_clear()
    try:
        with pytest.raises(ConfigError, match=r"pip install 'bakeoff\[quality\]'"):
            s.require_scorer()
        with pytest.raises(ConfigError, match=r"pip install 'bakeoff\[quality\]'"):
            s.score_call("x", DatasetItem(id="a", text="t", reference="r"))
    finally:
        quality._scorer.cache_clear()
