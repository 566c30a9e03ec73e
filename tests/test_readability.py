"""Readability figures on texts whose answers are known by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from draftsmith.checking.readability import count_syllables, readability
from draftsmith.cli import main
from draftsmith.errors import InputError

pytest.importorskip("jieba")


@pytest.mark.parametrize(
    ("word", "syllables"),
    [("the", 1), ("cat", 1), ("make", 1), ("walked", 1), ("table", 2), ("wanted", 2), ("people", 2),
     ("science", 2), ("beautiful", 3), ("university", 5), ("readability", 5)],
)  # fmt: skip
def test_syllable_counter(word: str, syllables: int) -> None:
    assert count_syllables(word) == syllables


def test_english_figures() -> None:
    text = (
        "The cat sat on the mat. The report was written by the committee. She was tired. "
        "Extraordinary administrative circumstances necessitated an unprecedented organisational restructuring "
        "of the international departments, which was announced yesterday by the board of directors."
    )
    r = readability(text)
    assert r.language == "en" and r.sentences.count == 4
    assert r.sentences.longest == 21 and r.sentences.histogram["1-10"] == 3
    assert r.passive_examples[0] == "The report was written by the committee."
    assert "She was tired." not in r.passive_examples  # an adjective, not a passive
    assert 0 < r.passive_share <= 0.5
    assert r.flesch_reading_ease is not None and r.flesch_kincaid_grade is not None
    simple = readability("The cat sat on the mat. The dog ran to the park. We had fun.")
    assert simple.flesch_reading_ease > r.flesch_reading_ease + 30
    assert simple.flesch_kincaid_grade < r.flesch_kincaid_grade
    assert simple.long_word_share == 0 and r.long_word_share > 0.2


def test_regex_passive_fallback() -> None:
    r = readability("The letter was sent yesterday. She was tired. They built a house.", parser="regex")
    assert r.passive_method.startswith("be + past participle")
    assert r.passive_examples == ["The letter was sent yesterday."]


def test_chinese_figures_count_characters_punctuation_and_idioms() -> None:
    r = readability("他们迫不及待地出发了，一路上谈笑风生。今天天气很好！我们去公园玩。")
    assert r.language == "zh" and r.sentences.count == 3
    assert r.words == 29
    assert r.idiom_examples == ["迫不及待", "谈笑风生"]  # 今天天气 (tagged so by jieba) is not an idiom
    assert r.punctuation_per_sentence == round(1 / 3, 2)


def test_bad_input() -> None:
    with pytest.raises(InputError, match="empty"):
        readability("  ")
    with pytest.raises(InputError, match="English"):
        readability("Bonjour tout le monde.", lang="fr")


def test_cli_readability(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("The report was written by the committee. We read it.", encoding="utf-8")
    assert main(["readability", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["sentences"]["count"] == 2 and data["passive_share"] == 0.5
    assert main(["readability", str(path)]) == 0
    assert "Flesch reading ease" in capsys.readouterr().out
