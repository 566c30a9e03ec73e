"""ChERRANT char-level F0.5: hand-worked cases, and edits checked against ChERRANT's own sample output."""

from __future__ import annotations

import pytest

from draftsmith.evaluation.cherrant import Counts, char_edits, corpus_f05, f_beta, sentence_counts

SRC = "我们去公圆玩。"
REF = "我们去公园玩。"


def test_unchanged_output_scores_no_edits_and_misses_the_error():
    # no system edits: P is 1 by ChERRANT's convention (not undefined), R is 0, so F0.5 is 0
    assert sentence_counts(SRC, SRC, [REF]) == (0, 0, 1)
    scores = corpus_f05([SRC], [SRC], [[REF]])
    assert (scores["p"], scores["r"], scores["f05"]) == (1.0, 0.0, 0.0)


def test_nothing_to_fix_and_nothing_changed_is_perfect():
    assert corpus_f05([REF], [REF], [[REF]])["f05"] == 1.0


def test_one_correct_substitution():
    assert dict(char_edits(SRC, REF)) == {(4, 5, "园"): 1}
    assert sentence_counts(SRC, REF, [REF]) == (1, 0, 0)
    assert corpus_f05([SRC], [REF], [[REF]])["f05"] == 1.0


def test_one_wrong_edit_is_a_false_positive_and_a_miss():
    assert sentence_counts(SRC, "我们去公元玩。", [REF]) == (0, 1, 1)
    # a change to a correct sentence is only a false positive
    assert sentence_counts(REF, "我们去公元玩。", [REF]) == (0, 1, 0)
    scores = corpus_f05([SRC, REF], [REF, "我们去公元玩。"], [[REF], [REF]])
    assert scores["tp"] == 1 and scores["fp"] == 1 and scores["fn"] == 0
    assert scores["f05"] == pytest.approx(f_beta(1, 1, 0)[2]) == pytest.approx(1.25 * 0.5 / (0.25 * 0.5 + 1))


def test_missing_character_is_an_insertion_at_its_position():
    assert dict(char_edits("我学生。", "我是学生。")) == {(1, 1, "是"): 1}
    assert sentence_counts("我学生。", "我是学生。", ["我是学生。"]) == (1, 0, 0)
    # the right character in the wrong place is wrong
    assert sentence_counts("我学生。", "是我学生。", ["我是学生。"]) == (0, 1, 1)


def test_adjacent_changes_merge_into_one_edit():
    assert dict(char_edits("我很高兴。", "我非常高兴。")) == {(1, 2, "非常"): 1}
    assert dict(char_edits("这样，你就会尝到泰国人死爱的味道。", "这样，你就会尝到泰国人爱死的味道。")) == {
        (11, 13, "爱死"): 1
    }


def test_the_best_matching_reference_is_chosen():
    src = "因为在冰箱里没什么东西也做很好吃的菜。"
    ref_a = "即使在冰箱里没什么东西也能做很好吃的菜。"
    ref_b = "即使在冰箱里没什么东西，也能做很好吃的菜。"
    # against ref_a the comma would be a false positive; ref_b matches all three edits
    assert sentence_counts(src, ref_b, [ref_a, ref_b]) == (3, 0, 0)
    assert sentence_counts(src, ref_b, [ref_b, ref_a]) == (3, 0, 0)
    # with no system edits every reference gives F0.5 = 0: the one with fewer misses is kept
    assert sentence_counts(src, src, [ref_b, ref_a]) == (0, 0, 2)


def test_reference_choice_follows_the_running_corpus_score():
    # three substitutions at characters 0, 4 and 8; reference x shares one of them and wants another at 2 (TP 1,
    # FP 2, FN 1); reference y shares two and wants six more (TP 2, FP 1, FN 6)
    src = "天地玄黄宇宙洪荒日月盈昃辰宿列张寒来暑往秋收冬藏"
    new = "甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳午未申酉戌亥乾坤"

    def changed(*positions: int) -> str:
        return "".join(new[i] if i in positions else ch for i, ch in enumerate(src))

    hyp, ref_x, ref_y = changed(0, 4, 8), changed(0, 2), changed(0, 4, 12, 14, 16, 18, 20, 22)
    # on its own, y gives the better F0.5 (0.77 against 0.36)
    assert sentence_counts(src, hyp, [ref_x, ref_y]) == (2, 1, 6)
    # after 20 TP and nothing else, x keeps the corpus F0.5 higher (0.921 against 0.917), so x is chosen
    assert sentence_counts(src, hyp, [ref_x, ref_y], Counts(tp=20)) == (1, 2, 1)


def test_whitespace_is_ignored_and_unannotatable_sentences_count_nothing():
    assert sentence_counts("我们 去公圆玩。", "我们去 公园玩。", [REF]) == (1, 0, 0)
    assert sentence_counts(SRC, "我们去公元玩。", ["无法标注"]) == (0, 0, 0)


@pytest.mark.parametrize(
    ("source", "target", "expected"),
    [
        # pairs and edits from ChERRANT's samples/demo.ref.m2.char (MuCGEC repository, Apache-2.0)
        (
            "那些空气污染也没有助于人生的身体建康。",
            "那些空气污染也无助于人的身体健康。",
            {(7, 9, "无"), (12, 13, ""), (16, 17, "健")},
        ),
        (
            "另外，冬阴功对外国人的喜爱不断地增加。",
            "另外，外国人对冬阴功的喜爱不断地增加。",
            {(3, 10, "外国人对冬阴功")},
        ),
        (
            "每天会有不少的毒气体泄漏从工厂里出来。",
            "每天会有不少的有毒气体从工厂里泄漏出来。",
            {(7, 7, "有"), (10, 16, "从工厂里泄漏")},
        ),
        (
            "不官是从口、眼、鼻子进去这样会伤害身体的建康。",
            "不管是从口、眼还是鼻子进去，都会伤害身体的健康。",
            {(1, 2, "管"), (7, 8, "还是"), (12, 14, "，都"), (20, 21, "健")},
        ),
        (
            "对一个生名来说空气污染是很危害的问题，对身体不好。",
            "对一个生命来说空气污染是很有危害的，对身体不好。",
            {(4, 5, "命"), (13, 13, "有"), (16, 18, "")},
        ),
    ],
)
def test_edits_match_cherrant_sample_output(source, target, expected):
    assert set(char_edits(source, target)) == expected
