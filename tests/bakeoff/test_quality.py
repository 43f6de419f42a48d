"""ROUGE scoring in the neutral package, checked against cases computed by hand."""

from __future__ import annotations

import pytest

from bakeoff.quality import normalize_output, rouge_scores, summarize_scores


def test_identical_text_scores_one() -> None:
    """Every n-gram and the whole sequence match: P = R = F = 1."""
    assert rouge_scores("The cat sat on the mat.", "the cat sat on the mat") == {
        "rouge1": 1.0,
        "rouge2": 1.0,
        "rougeL": 1.0,
    }


def test_disjoint_text_scores_zero() -> None:
    """No shared token, so no shared bigram and an empty LCS: all F = 0."""
    assert rouge_scores("alpha beta gamma", "delta epsilon zeta") == {
        "rouge1": 0.0,
        "rouge2": 0.0,
        "rougeL": 0.0,
    }


def test_reordered_words_known_overlap() -> None:
    """Reference "the cat sat on the mat", output "the cat on the mat sat" (6 tokens each).

    Words of three letters or fewer are never stemmed, so tokens are the words themselves.
    ROUGE-1: same multiset of 6 unigrams → P = R = 6/6 → F = 1.
    ROUGE-2: reference bigrams the-cat, cat-sat, sat-on, on-the, the-mat; output bigrams
    the-cat, cat-on, on-the, the-mat, mat-sat; shared the-cat, on-the, the-mat → P = R = 3/5
    → F = 0.6.
    ROUGE-L: LCS "the cat on the mat" = 5 → P = R = 5/6 → F = 0.833333.
    """
    assert rouge_scores("the cat on the mat sat", "the cat sat on the mat") == {
        "rouge1": 1.0,
        "rouge2": 0.6,
        "rougeL": 0.833333,
    }


def test_unequal_length_precision_and_recall_differ() -> None:
    """Reference "the cat sat" (3 tokens), output "the cat sat on the mat" (6 tokens).

    ROUGE-1: 3 shared; P = 3/6, R = 3/3 → F = 2·0.5·1/1.5 = 0.666667.
    ROUGE-2: reference the-cat, cat-sat both in the output's 5 bigrams; P = 2/5, R = 1
    → F = 2·0.4/1.4 = 0.571429.
    ROUGE-L: LCS 3 → same as ROUGE-1, 0.666667.
    """
    assert rouge_scores("the cat sat on the mat", "the cat sat") == {
        "rouge1": 0.666667,
        "rouge2": 0.571429,
        "rougeL": 0.666667,
    }


def test_stemming_matches_inflections() -> None:
    """Porter stemming maps "running" and "runs" to "run" (and "daily" to "daili" on both
    sides), so the two sentences become identical token sequences: all F = 1."""
    assert rouge_scores("she running daily", "she runs daily") == {
        "rouge1": 1.0,
        "rouge2": 1.0,
        "rougeL": 1.0,
    }


def test_leading_think_block_is_ignored() -> None:
    """The reasoning block is removed before scoring, leaving the exact reference."""
    output = "  <think>\nwords that do not appear\n</think>\nThe cat sat."
    assert normalize_output(output) == "\nThe cat sat."
    assert rouge_scores(output, "the cat sat")["rouge1"] == 1.0


def test_unclosed_think_block_scores_zero() -> None:
    """An output cut off while thinking has no answer; the reference words inside the
    unfinished reasoning must not count."""
    assert normalize_output("<think>the cat sat") == ""
    assert rouge_scores("<think>the cat sat", "the cat sat")["rougeL"] == 0.0


def test_think_block_later_in_text_is_kept() -> None:
    """Only a leading block is stripped; text before a tag is an answer."""
    assert normalize_output("answer <think>x</think>") == "answer <think>x</think>"


def test_scores_are_rounded_and_recompute_exactly() -> None:
    """Stored and recomputed values compare with ==, and have at most 6 decimals."""
    first = rouge_scores("a quick brown fox jumps", "the quick brown dog jumps high")
    again = rouge_scores("a quick brown fox jumps", "the quick brown dog jumps high")
    assert first == again
    assert all(round(v, 6) == v for v in first.values())


def test_summarize_scores_mean_and_sample_stddev() -> None:
    """rouge1 values 0.5 and 1.0: mean 0.75; sample stddev sqrt(2·0.25²/1) = 0.353553.
    rouge2 appears once: stddev undefined. rougeL never: mean undefined."""
    summary = summarize_scores([{"rouge1": 0.5, "rouge2": 0.2}, {"rouge1": 1.0}])
    assert summary["rouge1"] == {"n": 2, "mean": 0.75, "stddev": 0.353553}
    assert summary["rouge2"] == {"n": 1, "mean": 0.2, "stddev": None}
    assert summary["rougeL"] == {"n": 0, "mean": None, "stddev": None}


@pytest.mark.parametrize("values", [[0.1, 0.1, 0.1], [0.25]])
def test_summarize_constant_values(values: list[float]) -> None:
    """A constant series has stddev 0 (when defined) and mean equal to the value."""
    summary = summarize_scores([{"rouge1": v} for v in values])["rouge1"]
    assert summary["mean"] == values[0]
    assert summary["stddev"] == (0.0 if len(values) > 1 else None)
