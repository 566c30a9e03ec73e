"""Edits between an original and a corrected text: exact spans, sensible categories, readable reasons."""

from __future__ import annotations

import random

import pytest

from draftsmith.writing.edits import Edit, apply_edits, diff_edits


def check_edits(original: str, corrected: str, edits: list[Edit]) -> None:
    """What the editor UI and ``correct --apply`` rely on."""
    pos = 0
    for edit in edits:
        assert edit.start >= pos, "edits overlap or are out of order"
        assert original[edit.start : edit.end] == edit.original
        assert edit.original != edit.replacement
        assert edit.reason.strip(), f"edit {edit} has no reason"
        assert "\n" not in edit.reason, f"reason spans lines: {edit.reason!r}"
        pos = edit.end
    assert apply_edits(original, edits) == corrected


def only_edit(original: str, corrected: str, lang: str = "en") -> Edit:
    edits = diff_edits(original, corrected, lang)
    check_edits(original, corrected, edits)
    assert len(edits) == 1, edits
    return edits[0]


def test_verb_agreement_is_one_grammar_edit_on_the_verb() -> None:
    original = "She go to school every day."
    edit = only_edit(original, "She goes to school every day.")
    assert (edit.original, edit.replacement, edit.category) == ("go", "goes", "grammar")
    assert (edit.start, edit.end) == (4, 6)
    assert "goes" in edit.reason


def test_chinese_wrong_character_is_a_spelling_edit_on_that_character() -> None:
    original = "我们去公圆玩。"
    edit = only_edit(original, "我们去公园玩。", lang="zh")
    assert (edit.original, edit.replacement, edit.category) == ("圆", "园", "spelling")
    assert (edit.start, edit.end) == (4, 5)
    assert "园" in edit.reason


@pytest.mark.parametrize(
    ("original", "corrected", "old", "new", "category", "reason_word"),
    [
        ("I like apples and pears", "I like apples and pears.", "", ".", "punctuation", "punctuation"),
        ("Where are you going.", "Where are you going?", ".", "?", "punctuation", "punctuation"),
        ("We met in london.", "We met in London.", "london", "London", "spelling", "capital"),
        ("She is teacher.", "She is a teacher.", "", "a ", "grammar", "article"),
        ("I recieve many letters.", "I receive many letters.", "recieve", "receive", "spelling", "spell"),
        ("He ate a apple.", "He ate an apple.", "a", "an", "grammar", "article"),
        ("They was late.", "They were late.", "was", "were", "grammar", "verb"),
        ("我今天很高兴", "我今天很高兴。", "", "。", "punctuation", "标点"),
    ],
)
def test_each_kind_of_mistake_gets_its_category_and_a_matching_reason(
    original: str, corrected: str, old: str, new: str, category: str, reason_word: str
) -> None:
    lang = "zh" if "。" in corrected else "en"
    edit = only_edit(original, corrected, lang)
    assert (edit.original, edit.replacement, edit.category) == (old, new, category)
    assert reason_word in edit.reason.lower()


def test_identical_texts_give_no_edits() -> None:
    assert diff_edits("Nothing to fix here.", "Nothing to fix here.") == []


def test_an_insertion_at_the_end_points_past_the_last_character() -> None:
    original = "It works"
    edit = only_edit(original, "It works!")
    assert (edit.start, edit.end) == (len(original), len(original))


def test_applying_edits_in_any_order_gives_the_same_text() -> None:
    original = "She go to school. He go too. They was there."
    corrected = "She goes to school. He goes too. They were there."
    edits = diff_edits(original, corrected)
    assert len(edits) == 3
    assert apply_edits(original, list(reversed(edits))) == corrected


def test_overlapping_edits_are_refused() -> None:
    a = Edit(start=0, end=5, original="hello", replacement="Hello", category="spelling", reason="Capital.")
    b = Edit(start=3, end=8, original="lo w", replacement="x", category="style", reason="Shorter.")
    with pytest.raises(ValueError, match="overlap"):
        apply_edits("hello world", [a, b])


_SENTENCES = [
    "She goes to the library every Saturday morning.",
    "The report, which was late, arrived on Friday.",
    "Can you bring an apple and a pear to the picnic?",
    "We received your letter yesterday; thank you!",
    "In 2023 the town built a new bridge over the river.",
    "He said, “It's not far,” and walked away.",
    "我们去公园玩，然后回家吃饭。",
    "老师说：“明天考试，请早点来。”",
    "Das ist gut. C'est la vie… ¿Qué tal?",
]
_SWAPS = {"goes": "go", "received": "recieved", "an": "a", "was": "were", "the": "a", "is": "are", "园": "圆"}


def _perturb(sentence: str, rng: random.Random) -> str:
    """One to three deterministic 'learner mistakes' in a correct sentence."""
    out = sentence
    for _ in range(rng.randint(1, 3)):
        kind = rng.randrange(8)
        words = out.split(" ")
        i = rng.randrange(len(words))
        if kind == 0 and len(words) > 2:
            del words[i]  # missing word
        elif kind == 1:
            words.insert(i, rng.choice(["the", "a", "very", "also"]))  # extra word
        elif kind == 2:
            words[i] = _SWAPS.get(words[i], words[i][::-1])  # wrong word or scrambled spelling
        elif kind == 3:
            words[i] = words[i].swapcase()  # capitalisation
        elif kind == 4:
            words[i] = words[i].rstrip(".,;!?。，") + rng.choice(["", ",", ";", "。", " ,"])  # punctuation
        elif kind == 5:
            words[i] = words[i] + " "  # doubled space
        elif kind == 6 and len(words[i]) > 3:
            w = words[i]
            words[i] = w[:1] + w[2] + w[1] + w[3:]  # swapped letters
        else:
            words.insert(i, words[i])  # repeated word
        out = " ".join(words)
    return out


def _pairs(n: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    pairs = []
    for _ in range(n):
        correct = " ".join(rng.sample(_SENTENCES, rng.randint(1, 3)))
        pairs.append((_perturb(correct, rng), correct))
    return pairs


def test_applying_the_diff_reproduces_the_corrected_text() -> None:
    # Both directions: correcting the mistakes, and (as a stress test) introducing them.
    pairs = _pairs(300, seed=3)
    assert len({wrong for wrong, _ in pairs}) > 250
    for wrong, right in pairs:
        for a, b in ((wrong, right), (right, wrong)):
            try:
                check_edits(a, b, diff_edits(a, b))
            except AssertionError as exc:
                raise AssertionError(f"{a!r} -> {b!r}: {exc}") from None


def test_a_spacing_fix_says_what_changes() -> None:
    # Shown as-is by the API and the editor: "add ''" tells a learner nothing.
    for wrong, right in (("Wait , what?", "Wait, what?"), ("Two  spaces.", "Two spaces.")):
        edit = only_edit(wrong, right)
        assert edit.original.isspace() and len(edit.replacement.strip()) == 0
        assert len(edit.replacement) < len(edit.original)
        assert "''" not in edit.reason and "add" not in edit.reason.lower(), edit.reason
