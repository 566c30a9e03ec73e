"""Metric wrappers: hand-worked cases, the Chinese paths, GLEU against JFLEG's published figure, score() checks."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest

from draftsmith.errors import InputError
from draftsmith.evaluation import METRICS, TASK_METRICS, bleu, chrf, distinct_n, gleu, length_stats, rouge, score, ter

DATA = Path(os.environ.get("DRAFTSMITH_DATA") or Path(__file__).resolve().parents[1].parent / "shared" / "data")
JFLEG_TEST = DATA / "jfleg" / "test"


# -- BLEU, chrF, TER ----------------------------------------------------------------------------------------------


def test_identical_output_scores_perfectly() -> None:
    text = ["the quick brown fox jumps over the lazy dog"]
    assert bleu(text, text) == pytest.approx(100.0)
    assert chrf(text, text) == pytest.approx(100.0)
    assert ter(text, text) == pytest.approx(0.0)


def test_empty_output_scores_zero() -> None:
    refs = ["the quick brown fox jumps over the lazy dog"]
    assert bleu([""], refs) == 0.0
    assert chrf([""], refs) == 0.0
    assert ter([""], refs) == pytest.approx(100.0)  # every reference word must be inserted
    assert rouge([""], refs) == {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0}
    assert gleu([""], refs, refs) == 0.0


def test_each_item_keeps_its_closest_reference() -> None:
    hyps = ["the cat sat on the mat today", "a dog ran in the big park"]
    one = bleu(hyps, ["the cat is on the mat today", "a dog ran in a park"])
    two = bleu(hyps, [["the cat is on the mat today", "the cat sat on the mat today"], ["a dog ran in a park"]])
    assert two > one  # a second reference can only add matches; items may have different numbers of them


def test_chinese_bleu_counts_characters() -> None:
    # zh tokenisation: 我 喜 欢 吃 苹 果 vs 我 喜 欢 吃 香 蕉: precisions 4/6, 3/5, 2/4, 1/3, no brevity penalty.
    hyp, ref = ["我喜欢吃苹果"], ["我喜欢吃香蕉"]
    assert bleu(hyp, ref, lang="zh") == pytest.approx(100 * (4 / 6 * 3 / 5 * 2 / 4 * 1 / 3) ** 0.25)
    assert bleu(hyp, ref, lang="en") == 0.0  # unsegmented, the whole sentence is one wrong "word"
    assert ter(hyp, ref, lang="zh") == pytest.approx(100 * 2 / 6)  # two substituted characters


# -- ROUGE --------------------------------------------------------------------------------------------------------


def test_chinese_rouge_sees_overlapping_words() -> None:
    # rouge_score's default tokenizer drops every non-ASCII character, so this pair would score 0.
    # jieba: 我/喜欢/吃/苹果 vs 我/喜欢/吃/香蕉 → 3 of 4 words, 2 of 3 bigrams, LCS 3.
    scores = rouge(["我喜欢吃苹果。"], ["我喜欢吃香蕉。"], lang="zh")
    assert scores["rouge1"] == pytest.approx(75.0)
    assert scores["rouge2"] == pytest.approx(200 / 3)
    assert scores["rougeL"] == pytest.approx(75.0)


def test_english_rouge_matches_a_hand_count() -> None:
    # unigrams: 5 of 6 shared; bigrams: "the cat", "on the", "the mat" of 5; LCS "the cat on the mat" = 5.
    scores = rouge(["The cat sat on the mat."], ["the cat lay on the mat"])
    assert scores["rouge1"] == pytest.approx(100 * 5 / 6)
    assert scores["rouge2"] == pytest.approx(100 * 3 / 5)
    assert scores["rougeL"] == pytest.approx(100 * 5 / 6)


def test_rouge_keeps_accented_words_in_other_languages() -> None:
    assert rouge(["un café très chaud"], ["un café très froid"], lang="fr")["rouge1"] == pytest.approx(75.0)


# -- GLEU ---------------------------------------------------------------------------------------------------------


def test_gleu_hand_computed_corpus() -> None:
    sources = ["the cat sat on mat", "he go to school every day"]
    refs = ["the cat sat on the mat", "he goes to school every day"]
    hyps = ["the cat sat on a mat", "he go to school every day"]
    # Item 1 (no source n-gram kept that the reference changed): n-gram matches 5/6, 3/5, 2/4, 1/3.
    # Item 2 (the source unchanged): matches 5, 3, 2, 1 minus the kept errors "go", "he go"+"go to",
    # "he go to"+"go to school", "he go to school"+"go to school every": 4/6, 1/5, 0/4, and 1-2 floored to 0/3.
    # Corpus: 9/12, 4/10, 2/8, 1/6, equal lengths.
    assert gleu(hyps, refs, sources) == pytest.approx(100 * (9 / 12 * 4 / 10 * 2 / 8 * 1 / 6) ** 0.25)


def test_gleu_of_the_reference_is_perfect_and_copying_the_source_is_penalised() -> None:
    sources, refs = ["he go to school every day ."], ["he goes to school every day ."]
    assert gleu(refs, refs, sources) == pytest.approx(100.0)
    assert gleu(sources, refs, sources) < bleu(sources, refs)  # BLEU does not penalise the kept error


def test_gleu_with_a_duplicated_reference_equals_one_reference() -> None:
    sources = ["she have two cat and one dogs", "I am agree with this opinion"]
    refs = ["she has two cats and one dog", "I agree with this opinion"]
    hyps = ["she has two cat and one dog", "I am agree with this opinion"]
    assert gleu(hyps, [[r, r] for r in refs], sources) == pytest.approx(gleu(hyps, refs, sources))


def test_chinese_gleu_counts_characters() -> None:
    assert gleu(["我昨天去了商店买东西"], ["我昨天去了商店买东西"], ["我昨天去商店了买东西"], lang="zh") == 100.0


@pytest.mark.skipif(not JFLEG_TEST.is_dir(), reason=f"JFLEG data not found at {JFLEG_TEST} (set DRAFTSMITH_DATA)")
def test_gleu_reproduces_the_published_jfleg_source_score() -> None:
    def lines(name: str) -> list[str]:
        return (JFLEG_TEST / name).read_text(encoding="utf-8").split("\n")[:747]

    source = lines("test.src")
    refs = [list(item) for item in zip(*(lines(f"test.ref{k}") for k in range(4)), strict=True)]
    assert round(gleu(source, refs, source), 2) == 40.54  # JFLEG README: SOURCE, test


# -- diversity and length ----------------------------------------------------------------------------------------


def test_distinct_n_on_a_small_example() -> None:
    # words: the cat sat | the cat ran → 4 distinct of 6 unigrams; bigrams "the cat" ×2, "cat sat", "cat ran" → 3/4.
    assert distinct_n(["the cat sat", "the cat ran"]) == {"distinct_1": 4 / 6, "distinct_2": 3 / 4}
    # Chinese counts characters: 我 们 我 们 → 2/4 and bigrams 我们 们我 我们 → 2/3.
    assert distinct_n(["我们我们"], orders=(1, 2)) == {"distinct_1": 0.5, "distinct_2": 2 / 3}
    assert distinct_n([""]) == {"distinct_1": 0.0, "distinct_2": 0.0}


def test_length_stats_counts_words_and_chinese_characters() -> None:
    stats = length_stats(["A short one.", "我们很好"], sources=["A much longer sentence here, too.", "我们今天都很好"])
    assert stats["length_mean"] == pytest.approx(3.5)  # 3 words, 4 characters
    assert stats["length_std"] == pytest.approx(0.5)
    assert stats["compression"] == pytest.approx(7 / 13)  # 6 words + 7 characters in the sources
    assert length_stats(["don't stop", "well-known"])["length_mean"] == pytest.approx(1.5)


# -- score() ------------------------------------------------------------------------------------------------------


def test_score_computes_the_metrics_of_the_task() -> None:
    out = score("rewrite", ["the quick brown fox jumps"], ["the quick brown fox jumps"], ["a quick brown fox leaps"])
    assert set(out) == {"bleu", "chrf", "bleu_vs_source", "chrf_vs_source"}
    assert out["bleu"] == pytest.approx(100.0)
    assert out["chrf_vs_source"] < 100.0
    translated = score("translate", ["我喜欢吃苹果"], [["我喜欢吃香蕉", "我爱吃苹果"]], lang="zh")
    assert set(translated) == {"bleu", "chrf", "ter"}
    assert set(score("continue", ["once upon a time there was a fox"])) >= {"distinct_1", "distinct_2", "length_mean"}


def test_registry_is_consistent() -> None:
    for task, names in TASK_METRICS.items():
        assert names, task
        assert all(name in METRICS for name in names), task


def test_score_rejects_a_metric_that_does_not_fit_the_task() -> None:
    with pytest.raises(InputError, match=r"'rouge' does not fit task 'correct'.*gleu, chrf"):
        score("correct", ["a b"], ["a b"], ["a b"], metrics=["rouge"])
    with pytest.raises(InputError, match="unknown metric 'bluee'"):
        score("translate", ["a b"], ["a b"], metrics=["bluee"])
    with pytest.raises(InputError, match=r"unknown task 'translation'.*translate"):
        score("translation", ["a b"], ["a b"])


def test_score_says_which_field_is_missing() -> None:
    with pytest.raises(InputError, match="'gleu' needs sources"):
        score("correct", ["a b"], ["a b"])
    with pytest.raises(InputError, match="'bleu' needs references"):
        score("translate", ["a b"])
    assert set(score("correct", ["a b"], ["a b"], metrics=["chrf"])) == {"chrf"}


@pytest.mark.parametrize(
    ("hyps", "refs", "message"),
    [
        ([], [], "nothing to score"),
        (["a", "b"], ["a"], "2 outputs but 1 references"),
        (["a"], [[]], "empty list of references"),
        ("a b", ["a b"], "not a single string"),
        ([None], ["a"], "output 1 is not text"),
    ],
)
def test_bad_inputs_are_input_errors(hyps: list[str], refs: list[str], message: str) -> None:
    with pytest.raises(InputError, match=message):
        score("translate", hyps, refs)


def test_unknown_language_is_an_input_error() -> None:
    with pytest.raises(InputError, match="unknown language 'klingon'"):
        bleu(["a"], ["a"], lang="klingon")


def test_scores_are_finite() -> None:
    out = score("summarize", ["x"], ["y"], ["z"])
    assert all(math.isfinite(v) for v in out.values())


def test_length_ratios_with_an_empty_denominator_are_left_out() -> None:
    assert set(length_stats(["some words"], sources=[""], refs=["..."])) == {"length_mean", "length_std"}
