"""The Chinese rules beyond the confusion sets (checking.chinese_rules and the fixed corrections), on real sentences.

Sentences marked MuCGEC are learner sentences from MuCGEC dev's odd ids (the tuning half, Apache-2.0); each must be
flagged at its exact place with the fix its reference has. The clean ones must come back with no certain finding.
"""

from __future__ import annotations

import pytest

from draftsmith.checking import check_text
from draftsmith.models.fake import FakeModel, echo_responder
from draftsmith.writing import correct

pytest.importorskip("jieba")


def certain(text: str) -> list[tuple[str, str, str]]:
    out = []
    for p in check_text(text, "zh"):
        assert text[p.start : p.end] == p.flagged
        if p.certain:
            out.append((p.rule_id, p.flagged, p.suggestions[0]))
    return out


MUST_FLAG = [
    # MuCGEC 233: a traditional character in simplified text
    ("在中国，送礼物给别人的時候，千万不能送手绢。", ("ZH_TRADITIONAL", "時", "时")),
    ("相对而言，特別是在陷入贫困处境的家庭里，孩子可能会受到坏影响。", ("ZH_TRADITIONAL", "別", "别")),
    # MuCGEC 211: 时后 → 时候
    ("交朋友的时后，很可能会碰到矛盾。", ("ZH_COMMON_MISWRITING", "后", "候")),
    # MuCGEC 113: 什幺 → 什么
    ("我的汉语水平不够高，解释不了为什幺这样。", ("ZH_COMMON_MISWRITING", "幺", "么")),
    ("我觉的这个办法很好。", ("ZH_COMMON_MISWRITING", "的", "得")),
    # MuCGEC 167 and 53: an adverbial + 的 + a verb takes 地
    ("不要盲目的阻止他们。", ("ZH_DE_DI_DE", "的", "地")),
    ("很多国家的科学家为了多生产绿色食品，拼命的研究。", ("ZH_DE_DI_DE", "的", "地")),
    # MuCGEC 37: a half-width full stop between Chinese sentences
    ("许多吸烟者在孩子的眼前吸烟.他们随时随地带着烟。", ("ZH_HALF_WIDTH_PUNCT", ".", "。")),
    ("这是我的的书。", ("ZH_DOUBLED", "的的", "的")),
    # MuCGEC 67: a paragraph cut after a quotation starts with its closing quote, and the next one never closes
    ("”我指着那个标志之后说：“是的。", ("ZH_STRAY_MARK", "”", "")),
    ("我指着那个标志之后说：“是的。", ("ZH_STRAY_MARK", "", "”")),
    # MuCGEC 527: a stray ] between two characters
    ("每个人都有吸烟的权力，可是不应该]给别人添麻烦。", ("ZH_STRAY_MARK", "]", "")),
    # MuCGEC 239 and 1101: 作 for 做, 象 for 像
    ("我喜欢语言，比如我想作翻译。", ("ZH_COMMON_MISWRITING", "作", "做")),
    ("人类食用后，不会象施肥的农作物那样。", ("ZH_COMMON_MISWRITING", "象", "像")),
    # MuCGEC 1107
    ("总得来说，对孩子的教育很重要。", ("ZH_COMMON_MISWRITING", "得", "的")),
    ("他们有四个猫。", ("ZH_MEASURE_WORD", "个", "只")),
]

MUST_NOT_FLAG = [
    "台灣的朋友說這個很好，我們明天見。",  # a traditional text is not "corrected" to simplified
    "这是一种自觉的行为，我感觉的确不错。",  # 觉的 inside 自觉的 / 感觉的
    "一个小时后我们出发，同时后面的人也跟上。",  # 时后 inside 小时后 / 同时后面
    "我们吃不了了。",  # 了了 is right here
    "问题是是否值得去。",  # 是是否
    "他的的确确是个好人。",  # 的的确确 is a word
    "我们用的是Python 3.8.这个版本很好。",  # the full stop follows a digit, not a Chinese character
    "这个猫很可爱，那个电影也很好看。",  # 这个/那个 + noun is common speech
    "他们认真的态度让老师很满意。",  # 的 before a noun stays
    "我们对这个问题有充分的了解。",  # 了解 is the object of 有 here: 的 is right
    "他向大会作报告，动物园里有一头象。",  # 作报告 is an abstract act; 一头象 is an elephant
    "他说：“我明天来。”然后走了。",  # a closed quotation
    "这是一个现象，给我留下了深刻的印象。",
]


@pytest.mark.parametrize(("text", "expected"), MUST_FLAG, ids=[t for t, _ in MUST_FLAG])
def test_each_error_is_flagged_with_its_fix(text: str, expected: tuple[str, str, str]) -> None:
    assert expected in certain(text)


@pytest.mark.parametrize("text", MUST_NOT_FLAG)
def test_clean_text_gets_no_certain_finding(text: str) -> None:
    assert certain(text) == []


def test_detectors_mode_applies_the_new_rules() -> None:
    text = "交朋友的时后，不要盲目的阻止他们.在中国，送礼物给别人的時候要小心。"
    fixed = "交朋友的时候，不要盲目地阻止他们。在中国，送礼物给别人的时候要小心。"
    assert correct.correct(None, text, lang="zh", mode="detectors").text == fixed


def test_hybrid_applies_a_finding_the_model_copied() -> None:
    # the model (here one that copies its input) leaves the traditional character; the hybrid mode fixes it
    result = correct.correct(FakeModel(), "在中国，送礼物给别人的時候，千万不能送手绢。", lang="zh", mode="hybrid")
    assert result.text == "在中国，送礼物给别人的时候，千万不能送手绢。"


# -- the certain findings win over an overlapping model edit (writing.correct_zh) --------------------


def findings_applied(source: str, model_answer: str) -> str:
    from draftsmith.checking import Checker
    from draftsmith.checking.text import paragraphs_of
    from draftsmith.writing.correct_zh import apply_certain_findings
    from draftsmith.writing.edits import apply_edits, diff_edits

    problems = list(Checker("zh", words=[]).iter_paragraphs(paragraphs_of(source)))
    edits = diff_edits(source, model_answer, "zh")
    return apply_edits(source, apply_certain_findings(source, edits, problems))


def test_a_finding_replaces_the_model_edit_on_its_span() -> None:
    # MuCGEC 211: told 时后 → 时候, the 1.5B model wrote 候后; the detector's fix is applied instead
    source = "交朋友的时后，很可能会碰到矛盾。"
    assert findings_applied(source, "交朋友的候后，很可能会碰到矛盾。") == "交朋友的时候，很可能会碰到矛盾。"
    # model edits elsewhere are kept, and a model edit that makes the finding's fix stays as it is
    answer = "交朋友的时候，很可能会遇到矛盾。"
    assert findings_applied(source, answer) == answer


def test_without_certain_findings_the_model_edits_are_kept() -> None:
    source = "我们周末去公园玩，天气很好。"
    answer = "我们周末去公园玩了，天气很好。"
    assert findings_applied(source, answer) == answer


def test_hybrid_applies_the_finding_over_the_models_own_edit() -> None:
    # the model rewrites the flagged span its own way (候后); the certain finding wins
    model = FakeModel(lambda m, p: echo_responder(m, p).replace("时后", "候后"))
    result = correct.correct(model, "交朋友的时后，很可能会碰到矛盾。", lang="zh", mode="hybrid")
    assert result.text == "交朋友的时候，很可能会碰到矛盾。"


@pytest.mark.model
def test_the_real_model_and_the_findings_fix_a_mixed_script_sentence() -> None:
    from draftsmith.models.loader import load_model

    model = load_model("qwen2.5-0.5b")
    result = correct.correct(model, "在中国，送礼物给别人的時候，千万不能送手绢。", lang="zh", mode="hybrid")
    assert "時" not in result.text and "时候" in result.text
    assert all(result.original[e.start : e.end] == e.original for e in result.edits)
