"""Chinese hybrid correction keeps small fixes and drops what small models get wrong: rewrites and deleted words."""

from __future__ import annotations

import pytest

from draftsmith.models.fake import FakeModel, echo_responder
from draftsmith.prompts.registry import get_template
from draftsmith.writing import correct

pytest.importorskip("jieba")


def answering(*pairs: tuple[str, str]) -> FakeModel:
    """A model that copies the text with the given replacements made."""

    def respond(messages, params) -> str:
        text = echo_responder(messages, params)
        for old, new in pairs:
            text = text.replace(old, new)
        return text

    return FakeModel(respond)


def test_a_rewritten_phrase_is_dropped_whole_and_a_character_fix_kept() -> None:
    # 很好啊 → 非常不错 rewrites a phrase (four characters): too big to be a correction
    model = answering(("天气很好啊", "天气非常不错"), ("公圆", "公园"))
    result = correct.correct(model, "周末天气很好啊，我们去公圆玩。", mode="hybrid")
    assert result.text == "周末天气很好啊，我们去公园玩。"
    assert [(e.original, e.replacement) for e in result.edits] == [("圆", "园")]
    # the model alone keeps its rewrite
    assert "非常不错" in correct.correct(model, "周末天气很好啊，我们去公圆玩。", mode="llm").text


def test_short_insertions_are_kept_and_a_deleted_word_is_not() -> None:
    model = answering(("我学生", "我是学生"), ("也做", "也能做"), ("很多好吃的菜", "很多菜"))
    result = correct.correct(model, "我学生。冰箱里没什么东西也做很多好吃的菜。", mode="hybrid")
    assert result.text == "我是学生。冰箱里没什么东西也能做很多好吃的菜。"


def test_a_certain_confusion_set_finding_is_applied_when_the_model_copies_it() -> None:
    result = correct.correct(FakeModel(), "学生大概做飞机去北京。", mode="hybrid")
    assert result.text == "学生大概坐飞机去北京。"
    assert result.edits[0].reason  # the detector's explanation
    assert correct.correct(FakeModel(), "学生大概做飞机去北京。", mode="llm").text == "学生大概做飞机去北京。"


def test_english_is_not_limited_to_small_changes() -> None:
    text = "Me and him goes to the store yesterday."
    fixed = "He and I went to the store yesterday."
    assert correct.correct(FakeModel(fixed), text, mode="hybrid").text == fixed


def test_chinese_uses_the_precision_first_prompt_and_english_the_fluency_one() -> None:
    zh, en = FakeModel(), FakeModel()
    correct.correct(zh, "我们去公园玩。", mode="hybrid")
    correct.correct(en, "We go to the park.", mode="hybrid")
    assert zh.calls[0][0].content == get_template("correct-zh").system.strip()
    assert en.calls[0][0].content == get_template("correct").system.strip()
    assert "English teacher" in en.calls[0][0].content and "English teacher" not in zh.calls[0][0].content
