"""Styles: stylometric features, learned profiles, the adherence score, the CLI, and styles in rewrite/write."""

from __future__ import annotations

import json
import os
import re
from dataclasses import replace
from pathlib import Path

import pytest

from draftsmith.cli import main
from draftsmith.errors import InputError
from draftsmith.models.fake import FakeModel
from draftsmith.style import features as F
from draftsmith.style import profile as P
from draftsmith.style import select, store
from draftsmith.style.exemplars import rewrite_hints_for, similar
from draftsmith.style.presets import get_style, list_styles
from draftsmith.writing import generate, rewrite

DATA = Path(os.environ.get("DRAFTSMITH_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")
SHAKESPEARE = DATA / "shakespeare"

# Five short texts each in two clearly different English styles, and two Chinese ones.
CHATTY = [
    "Hey! So I finally fixed the bike. Took me ages, honestly. The chain's back on and it's running great. "
    "Wanna ride Sunday? I'm bringing snacks, obviously. You're in, right?",
    "Okay, so the cafe's closed today. Bummer! We'll try the new place by the park instead. It's tiny but the "
    "cakes are amazing. Don't be late, okay? I'm starving already.",
    "Guess what? I got the job! I can't believe it. They called this morning and I basically screamed. "
    "We're celebrating tonight, you're coming, no excuses. It's gonna be so fun!",
    "Ugh, the printer's jammed again. I've tried everything. Kicked it, too. Didn't help! If you're near the "
    "office, can you grab the spare toner? You're a lifesaver. Seriously.",
    "Quick one: the movie's at eight, not seven. My bad! I'll grab the tickets, you grab the popcorn. "
    "Deal? Can't wait. It's supposed to be really, really good.",
]
SCHOLARLY = [
    "The present study examines the relationship between residential density and the frequency of public "
    "transport use in medium-sized European cities. Using survey data from 2,400 households, the analysis "
    "indicates that density is positively associated with ridership, although the association appears to be "
    "moderated by the frequency of service.",
    "Previous research has generally treated informal learning as a residual category, defined primarily by "
    "the absence of formal instruction. This paper proposes an alternative conceptualisation, in which informal "
    "learning is characterised by the degree of learner autonomy and the social context in which it occurs.",
    "Several limitations of the present analysis should be acknowledged. The sample was drawn from a single "
    "region, which may limit the generalisability of the findings. Furthermore, the measures of motivation "
    "relied on self-report and may therefore be subject to social desirability bias.",
    "The results suggest that the intervention had a modest but statistically significant effect on reading "
    "comprehension. However, the effect was considerably smaller among students with lower baseline scores, "
    "which indicates that additional support may be required for this group.",
    "This chapter reviews the theoretical foundations of the proposed framework. It begins by outlining the "
    "principal assumptions of rational choice theory and subsequently considers the criticisms advanced in the "
    "behavioural literature, with particular attention to the concept of bounded rationality.",
]
OFFICIAL_ZH = (
    "为进一步加强和改进基层治理工作，切实提高服务群众水平，根据上级有关部署，现提出如下意见。各地各部门要高度重视，"
    "健全工作机制，强化责任落实，确保各项任务按期完成。"
)
SOCIAL_ZH = (
    "姐妹们！今天挖到一家宝藏咖啡店☕️ 环境超好拍，拿铁也绝了，价格还很友好～周末去打卡吧，记得早点去哈，人超多的！"
)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def write_samples(folder: Path, texts: list[str], stem: str = "s") -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, text in enumerate(texts):
        path = folder / f"{stem}{i}.txt"
        path.write_text(text, encoding="utf-8")
        paths.append(str(path))
    return paths


@pytest.fixture
def chatty() -> P.StyleProfile:
    profile = P.learn("chatty", CHATTY)
    store.save(profile)
    return profile


# --- features -----------------------------------------------------------------------------------------------------


def test_english_features_measure_what_a_writer_sees() -> None:
    text = "I can't go. It's late! Thou art kind, and thy words are good. Do you agree?"
    f = F.extract(text, "en")
    assert f["sent_len"] == pytest.approx((4 + 3 + 8 + 3) / 4)  # words per sentence, "can't" as two
    words = len(F.en_tokens(text))
    assert words == len(F.en_words(text)) + 2
    assert f["contractions"] == pytest.approx(100 * 2 / words)  # can't, it's
    assert f["archaic"] == pytest.approx(100 * 3 / words)  # thou, art, thy
    assert f["exclamations"] == pytest.approx(25.0) and f["questions"] == pytest.approx(25.0)
    assert "mattr" not in f  # too short for a 50-word window: left out, not guessed
    long = " ".join(SCHOLARLY)
    assert 0.5 < F.extract(long, "en")["mattr"] <= 1.0
    assert F.extract(long, "en")["word_len"] > F.extract(" ".join(CHATTY), "en")["word_len"]


def test_a_contraction_counts_as_the_words_it_stands_for() -> None:
    """Contracting changes the contraction rate and nothing else: "you're" still holds a "you" and an "are"."""
    plain = "You are late, and it is cold. I am sure we will not wait. Let us go where the lamps are."
    short = "You're late, and it's cold. I'm sure we won't wait. Let's go where the lamps are."
    a, b = F.extract(plain, "en"), F.extract(short, "en")
    assert a["contractions"] == 0 and b["contractions"] > 10
    for name in ("second_person", "first_person", "first_plural", "fw_it", "fw_is", "fw_not", "fw_are", "word_len"):
        assert b[name] == pytest.approx(a[name]), name
    assert b["sent_len"] == a["sent_len"]
    assert [F.expand_contraction(w) for w in ("can't", "won't", "don't", "i'd")] == [
        ("can", "not"),
        ("will", "not"),
        ("do", "not"),
        ("i", "would"),
    ]
    # a noun's "'s" stays one word (possessive or not, only a parser could tell), and is not shown as an example
    assert F.expand_contraction("olivia's") == ("olivia's",) and F.expand_contraction("it's") == ("it", "is")
    shown = F.marker_words("Olivia's letter: it's here, isn't it? Maria's too.", "en")["contractions"]
    assert shown == ["it's", "isn't"]
    assert F.is_contraction("'tis") and F.expand_contraction("'tis") == ("'tis",)  # Shakespeare's forms stay whole


def test_chinese_features_count_register_markers() -> None:
    official, social = F.extract(OFFICIAL_ZH, "zh"), F.extract(SOCIAL_ZH, "zh")
    assert official["official"] > 1 and social["official"] == 0  # 进一步, 加强, 切实, 有关, 落实 ...
    assert social["slang"] > 0 and official["slang"] == 0  # 姐妹们, 宝藏, 绝了, 打卡
    assert social["emoji"] > 0 and social["particles"] > 0  # ☕️, 吧/哈
    assert official["exclamations"] == 0 and social["exclamations"] > 0
    assert official["sent_len"] > social["sent_len"]
    assert F.zh_words("我们去公园玩") == ["我们", "去", "公园", "玩"]


def test_features_are_fast_enough_to_score_as_you_type() -> None:
    import time

    text = " ".join(SCHOLARLY) * 10
    start = time.perf_counter()
    for _ in range(10):
        F.extract(text, "en")
    assert (time.perf_counter() - start) / 10 < 0.2


# --- learning -----------------------------------------------------------------------------------------------------


def test_learn_needs_five_texts_and_says_how_many_more() -> None:
    with pytest.raises(InputError, match=r"at least 5 sample texts; got 3\. Add 2 more"):
        P.learn("x", CHATTY[:3])


def test_learn_refuses_mixed_languages_and_names_them() -> None:
    with pytest.raises(InputError, match=r"different languages \(English: .*Simplified Chinese: .*one style per"):
        P.learn("x", [*CHATTY[:4], OFFICIAL_ZH], sources=["a", "b", "c", "d", "zh.txt"])


def test_learn_refuses_empty_samples_and_too_little_text() -> None:
    with pytest.raises(InputError, match=r"b\.txt is empty"):
        P.learn("x", [*CHATTY[:4], "  \n"], sources=["a", "c", "d", "e", "b.txt"])
    with pytest.raises(InputError, match=r"only \d+ words in all; a style needs at least"):
        P.learn("x", ["Hi there.", "Yes.", "No way.", "Fine.", "Okay then."])
    with pytest.raises(InputError, match="English and Chinese"):
        P.learn("x", ["これは日本語の文章です。"] * 5)


def test_learned_profile_has_rules_exemplars_and_features() -> None:
    profile = P.learn("chatty", CHATTY)
    assert profile.language == "en" and profile.texts == 5
    assert any("contractions" in rule.lower() for rule in profile.rules)
    contract = next(rule for rule in profile.rules if rule.startswith("Use contractions freely"))
    assert "I'm" in contract and "i'm" not in contract  # the examples as a writer writes them
    assert profile.exemplars and all(e.strip() in " ".join(CHATTY) for e in profile.exemplars)
    assert profile.features["contractions"].mean > 3


# --- adherence ----------------------------------------------------------------------------------------------------


def test_adherence_separates_clearly_different_styles() -> None:
    chatty, scholarly = P.learn("chatty", CHATTY), P.learn("scholarly", SCHOLARLY)
    new_chatty = "Oh wow, you're back! I didn't think you'd make it. Grab a chair, it's pizza night. Yay!"
    new_scholarly = (
        "The findings indicate that the proposed method substantially reduces computational cost. However, "
        "further evaluation on larger datasets is required before general conclusions can be drawn."
    )
    assert P.adherence(new_chatty, chatty).score > P.adherence(new_chatty, scholarly).score + 0.2
    assert P.adherence(new_scholarly, scholarly).score > P.adherence(new_scholarly, chatty).score + 0.2


def test_presets_score_texts_of_their_own_kind_higher() -> None:
    casual, academic = store.load("casual"), store.load("academic")
    assert P.adherence(CHATTY[0], casual).score > P.adherence(CHATTY[0], academic).score
    assert P.adherence(SCHOLARLY[0], academic).score > P.adherence(SCHOLARLY[0], casual).score
    official, social = store.load("zh-official"), store.load("zh-social")
    assert P.adherence(OFFICIAL_ZH, official).score > P.adherence(OFFICIAL_ZH, social).score + 0.2
    assert P.adherence(SOCIAL_ZH, social).score > P.adherence(SOCIAL_ZH, official).score + 0.2


def test_differences_are_sentences_a_writer_understands() -> None:
    long = " ".join(SCHOLARLY[:2])
    report = P.adherence(long, store.load("casual"), top=8)
    assert 0 <= report.score <= 1
    messages = [d.message for d in report.differences]
    assert any(
        re.match(r"Your sentences average \d+ words; this style averages \d+(\.\d)?\. Write shorter", m)
        for m in messages
    )
    assert all(not re.search(r"\d\.\d{3,}", m) for m in messages)  # numbers rounded for people


def test_a_few_short_samples_do_not_make_a_common_word_foreign_to_the_style() -> None:
    casual = store.load("casual")
    assert casual.length < 400 and "of" not in F.en_tokens(" ".join(get_style("casual").examples))
    # learned from six texts without an "of", its rate is drawn towards ordinary English (about 2.5 per 100 words)
    assert 0.5 < casual.features["fw_of"].mean < F.BACKGROUND["en"]["fw_of"] and casual.features["fw_of"].std > 1
    # a profile learned from many passages keeps its own figures
    many = P.learn("many", [" ".join(CHATTY)] * 40)
    assert many.features["fw_of"].mean < min(0.3, casual.features["fw_of"].mean / 3)
    # what differs most is what moves the score most: sentence shape and word choice, not one "as" or "which"
    text = "These two people are as identical as two halves of an apple.\nWhich one is Sebastian?\nHow unbelievable!"
    report = P.adherence(text, casual, top=3)
    assert report.differences and all(d.group != "function_words" for d in report.differences), report.differences


@pytest.mark.skipif(not SHAKESPEARE.is_dir(), reason="needs ../shared/data/shakespeare")
def test_adherence_tells_shakespeare_from_modern_english() -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    from style_attribution import blocks, read

    sides = {"modern": "modern", "shakespeare": "original"}
    profiles = {n: P.learn(n, blocks(read(SHAKESPEARE / f"valid.{s}.nltktok"), 100)) for n, s in sides.items()}
    hits = total = 0
    for name, suffix in sides.items():
        for block in blocks(read(SHAKESPEARE / f"test.{suffix}.nltktok"), 10)[:25]:
            scores = {n: P.adherence(block, p).score for n, p in profiles.items()}
            hits += max(scores, key=scores.__getitem__) == name
            total += 1
    assert hits / total >= 0.85


def test_compare_is_symmetric_and_finds_the_difference() -> None:
    same = P.compare(CHATTY[0] + " " + CHATTY[1], CHATTY[2] + " " + CHATTY[3])
    different = P.compare(CHATTY[0] + " " + CHATTY[1], SCHOLARLY[0] + " " + SCHOLARLY[1])
    assert same.similarity > different.similarity
    assert different.differences and different.differences[0].message.startswith(("A ", "A'"))
    with pytest.raises(InputError, match="different languages"):
        P.compare(CHATTY[0], OFFICIAL_ZH)


def test_scoring_in_the_wrong_language_is_refused_clearly(chatty: P.StyleProfile) -> None:
    with pytest.raises(InputError, match=r"Simplified Chinese but style 'chatty' is English"):
        P.adherence(OFFICIAL_ZH, chatty)
    with pytest.raises(InputError, match=r"'academic' has no Simplified Chinese example"):
        store.load_for_text("academic", OFFICIAL_ZH)
    with pytest.raises(InputError, match="empty"):
        P.adherence("   ", chatty)


# --- storage ------------------------------------------------------------------------------------------------------


def test_learned_styles_are_stored_listed_and_removed(chatty: P.StyleProfile, draftsmith_home: Path) -> None:
    path = draftsmith_home / "data" / "styles" / "chatty.json"
    assert path.is_file()
    assert "chatty" in list_styles()
    assert store.load("chatty").model_dump() == chatty.model_dump()
    assert get_style("chatty").examples == chatty.exemplars
    with pytest.raises(InputError, match="already exists; use --force"):
        store.save(chatty)
    store.save(chatty, force=True)
    with pytest.raises(InputError, match="built-in preset"):
        store.save(chatty.model_copy(update={"name": "academic"}), force=True)
    with pytest.raises(InputError, match="cannot be removed"):
        store.remove("academic")
    store.remove("chatty")
    assert not path.exists()
    with pytest.raises(InputError, match=r"unknown style 'chatty'.*known styles: academic"):
        store.load("chatty")


def test_a_corrupt_profile_file_is_an_input_error(draftsmith_home: Path) -> None:
    styles = draftsmith_home / "data" / "styles"
    styles.mkdir(parents=True)
    (styles / "broken.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(InputError, match=r"broken\.json is invalid.*--force"):
        store.load("broken")


def test_a_profile_learned_with_the_old_feature_set_still_loads_with_a_warning(
    chatty: P.StyleProfile, draftsmith_home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = draftsmith_home / "data" / "styles" / "chatty.json"
    path.write_text(chatty.model_copy(update={"version": 1}).model_dump_json(), encoding="utf-8")
    with caplog.at_level("WARNING", logger="draftsmith.style"):
        assert store.load("chatty").version == 1
    assert "older feature set" in caplog.text and "style learn chatty" in caplog.text
    caplog.clear()
    store.save(chatty, force=True)
    with caplog.at_level("WARNING", logger="draftsmith.style"):
        assert store.load("chatty").version == 2
    assert not caplog.text


def test_an_empty_profile_or_style_file_says_what_a_style_needs(draftsmith_home: Path) -> None:
    styles = draftsmith_home / "data" / "styles"
    styles.mkdir(parents=True)
    (styles / "blank.json").write_text("  \n", encoding="utf-8")
    with pytest.raises(InputError, match=r"blank\.json is empty; learn the style again: draftsmith style learn blank"):
        store.load("blank")
    hollow = P.learn("hollow", CHATTY).model_copy(update={"features": {}})
    (styles / "hollow.json").write_text(hollow.model_dump_json(), encoding="utf-8")
    with pytest.raises(InputError, match=r"hollow\.json holds an empty profile .*at least 5 texts"):
        store.load("hollow")
    (styles / "mine.yaml").write_text("", encoding="utf-8")
    with pytest.raises(InputError, match=r"mine\.yaml is empty; a style file needs name, description, rules"):
        get_style("mine")
    (styles / "mine.yaml").write_text("description: my voice\ncolour: red\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"mine\.yaml is invalid \(no name; unknown field colour\); a style file"):
        get_style("mine")
    (styles / "mine.yaml").write_text("name: mine\ndescription: my voice\n", encoding="utf-8")
    assert get_style("mine").guide() == "my voice"  # usable as a guide, but it cannot score
    with pytest.raises(InputError, match=r"'mine' has no English example text\(s\); scoring .* at least 5"):
        store.load("mine", "en")
    model = FakeModel(FORMAL_NOTE)
    result = rewrite.rewrite(model, CASUAL_NOTE, style="mine", candidates=4)  # no examples: one draft, no score
    assert len(model.calls) == 1 and result.style_adherence is None


def test_every_preset_has_a_profile_from_its_examples() -> None:
    for name in ("academic", "news", "literary", "marketing", "casual", "formal", "concise", "humorous"):
        assert store.load(name).language == "en", name
    for name in ("zh-official", "zh-social"):
        assert store.load(name).language == "zh", name
        assert all(re.search(r"[\u4e00-\u9fff]", e) for e in get_style(name).examples)


# --- in rewrite and write -----------------------------------------------------------------------------------------


def test_similar_exemplars_come_first() -> None:
    pool = ["The bike chain broke on the hill.", "Tea and cake at four.", "Rain all day in the valley."]
    assert similar(pool, "My bike has a new chain.", k=1) == ["The bike chain broke on the hill."]


def test_rewrite_with_a_learned_style_puts_its_closest_exemplars_in_the_prompt(chatty: P.StyleProfile) -> None:
    model = FakeModel()
    text = "The printer is broken and the toner is missing."
    result = rewrite.rewrite(model, text, style="chatty")
    assert result.text == text and result.style == "chatty"
    system, user = model.calls[0][0].content, model.calls[0][-1].content
    assert "Sample lines in this style" in system
    sample_lines = system.split("Sample lines in this style", 1)[1].split("What this text must change", 1)[0]
    shots = re.findall(r"^- (.+)$", sample_lines, re.M)
    assert 1 <= len(shots) <= 4
    assert all(any(shot in exemplar for exemplar in chatty.exemplars) for shot in shots)
    assert "printer" in shots[0]  # the most similar line leads
    assert any(rule in system for rule in chatty.rules)
    assert user.rstrip().endswith(text) and "chatty style" in user


def test_presets_give_rules_but_no_sample_lines() -> None:
    model = FakeModel()
    rewrite.rewrite(model, "The meeting moved to Thursday.", style="news")
    system = model.calls[0][0].content
    assert "Lead with who, what, when and where" in system and "Sample lines" not in system


def test_write_with_a_learned_style_gets_exemplars_too(chatty: P.StyleProfile) -> None:
    model = FakeModel("Done!")
    generate.write(model, "a note about the movie tickets")
    assert "Sample lines" not in model.calls[0][-1].content
    generate.write(model, "a note about the movie tickets", style="chatty")
    prompt = model.calls[1][-1].content
    assert "Sample lines in this style" in prompt
    assert "movie" in prompt.split("Sample lines", 1)[1]


def test_a_learned_style_in_another_language_is_refused(draftsmith_home: Path) -> None:
    zh = [OFFICIAL_ZH, OFFICIAL_ZH[::-1], OFFICIAL_ZH[10:] + OFFICIAL_ZH[:10], OFFICIAL_ZH * 2, OFFICIAL_ZH[5:]]
    store.save(P.learn("gongwen", zh))
    with pytest.raises(InputError, match=r"learned from Simplified Chinese texts but the output is English.*--lang zh"):
        rewrite.rewrite(FakeModel(), "The meeting moved to Thursday.", style="gongwen")
    assert rewrite.rewrite(FakeModel("会议改到周四。"), "The meeting moved.", style="gongwen", lang="zh").text


# --- best-of-n and mechanical edits --------------------------------------------------------------------------------

CASUAL_NOTE = "Hey, it's raining so we're staying in. Don't worry, I'm fine! The library's closed till ten anyway."
FORMAL_NOTE = (
    "It is raining, so we are staying in. Do not worry; I am fine. The library is, in any case, closed until ten."
)


def test_chrf_matches_sacrebleu() -> None:
    sacrebleu = pytest.importorskip("sacrebleu")
    pairs = [(FORMAL_NOTE, CASUAL_NOTE), ("The cat sat.", "The cat sat on the mat."), ("abc", "xyz")]
    for hyp, ref in pairs:
        expected = sacrebleu.metrics.CHRF().sentence_score(hyp, [ref]).score
        assert select.chrf(hyp, ref) == pytest.approx(expected, abs=0.01)


def test_choose_takes_the_most_adherent_draft_that_keeps_the_content() -> None:
    s = [select.Scored("a", 0.9, 30.0), select.Scored("b", 0.7, 80.0), select.Scored("c", 0.8, 60.0)]
    assert select.choose(s, floor=50) == 2  # "a" fits best but lost the content
    assert select.choose(s, floor=20) == 0
    assert select.choose(s, floor=90) == 1  # none keeps enough: the one that keeps the most
    assert select.choose([select.Scored("x", 0.2, None), select.Scored("y", 0.6, None)]) == 1  # write: no source
    one_line = select.Scored("d", 0.95, 60.0, length_ratio=0.35)  # kept one line of three: chrF recall forgives it
    assert select.choose([*s, one_line], floor=50) == 2
    short, whole = select.Scored("e", 0.9, 38.0, length_ratio=0.4), select.Scored("f", 0.7, 35.0, length_ratio=0.9)
    assert select.choose([short, whole], floor=40) == 1  # none keeps enough: the one that still has every line


def test_labels_and_bold_a_model_adds_are_removed() -> None:
    draft = "**Formal version:**\n\n**The Confession:**\n\nA jumbled confession receives a jumbled absolution."
    assert select.strip_added_markup(draft, "A jumbled confession.") == (
        "A jumbled confession receives a jumbled absolution."
    )
    assert select.strip_added_markup("He said:\nGo now.", "He said:\nGo.") == "He said:\nGo now."  # in the source
    assert select.strip_added_markup("**Note** this.", "**Note** that.") == "**Note** this."
    preamble = "Here is the text rewritten in a humorous style, keeping its meaning, facts, names and numbers:"
    assert select.strip_added_markup(f"{preamble}\n\nA jumbled joke.", "A joke.") == "A jumbled joke."
    assert select.strip_added_markup("---\n\nYou and I.", "Me and you.") == "You and I."
    # a title without a colon (the 0.5B, academic, bench/style_transfer.py)
    assert select.strip_added_markup("Academic Style Rewrite\n\nThere is no life.", "No life.") == "There is no life."
    assert select.strip_added_markup("Old style\nNew ways.", "Old style\nNew ways!") == "Old style\nNew ways."


def test_a_closing_note_about_the_rewrite_is_removed() -> None:
    source = "Have you spoken to him?\nSend your man away.\nPeter, wait for me at the gate."
    kept = "Have you spoken to him?\nSend your man away.\nPeter, wait for me at the gate."
    notes = [  # as the bundled models wrote them (bench/style_transfer.py)
        "\n\nThis text is already in the specified style with a focus on persuasiveness and clarity.",
        "\n\n---\n\n*This marketing style follows your style by:\n- Keeping text simple.\n- Using active verbs.",
        "\nThis version maintains the original meaning while adhering to academic formatting guidelines.",
        "\n\nFeel free to adjust the style or add your own content to fit!",
        "\n\nThis news article adheres to the specified style while preserving the original meaning, facts, names.",
        "\nI'm sorry to hear that. Is there anything in particular you'd like help with?",  # the 1.5B, humorous
        "\n\nI hope this meets your requirements!",
    ]
    for note in notes:
        assert select.strip_added_markup(kept + note, source) == kept, note
    marketing = store.load("marketing", "en")  # the note is what made it score as more like the style
    assert select.score(kept + notes[0], marketing, source).adherence > select.score(kept, marketing, source).adherence
    zh = "会议推迟到周四举行。请大家准时参加。"
    note = "\n\n文本的结构、用语、语气和语法与原文本完全一致，仅进行了简单的改写和调整。"
    assert select.strip_added_markup(zh + note, zh) == zh
    story = "This text is mine.\nSend your man away."  # a line that only starts like a note stays
    assert select.strip_added_markup(story, story) == story
    assert select.strip_added_markup(kept + "\n\nThe text is long.", source) == kept + "\n\nThe text is long."
    asks = "Call me tonight.\nLet me know if you need anything at all."  # a sign-off of the writer's own stays
    assert select.strip_added_markup("Call me tonight.\nLet me know if you need anything.", asks).endswith("anything.")


def test_contractions_are_written_out_or_made_only_where_clean() -> None:
    text = "Don't go, it's late. I'm tired and they'll see. Capulet's son can't stay; we've won't."
    assert select.expand_contractions(text) == (
        "Do not go, it is late. I am tired and they will see. Capulet's son cannot stay; we have will not."
    )
    text = "I do not know what it is. It is late and I am tired. Yes, I am. They cannot go. That is, we will see."
    assert select.contract(text) == (
        "I don't know what it is. It's late and I'm tired. Yes, I am. They can't go. That is, we'll see."
    )
    formal, casual = store.load("formal", "en"), store.load("casual", "en")
    assert select.mechanical_edits("It's here.", formal) == "It is here."
    assert select.mechanical_edits("It is here now.", casual) == "It's here now."
    assert select.mechanical_edits("It's here.", store.load("literary", "en")) == "It's here."  # neither extreme
    # …unless that makes the text fit the style less: casual's wording has "I" often and "I'll" seldom
    text = 'Has Romeo killed himself?\nJust say "Yes" and I will turn more poisonous than the snake with the evil eye.'
    assert P.adherence(select.contract(text), casual).score < P.adherence(text, casual).score
    assert select.mechanical_edits(text, casual) == text


def test_a_style_that_never_exclaims_ends_sentences_with_full_stops_but_keeps_quoted_ones() -> None:
    text = 'Give it to me!\nHow unbelievable!! Who is it?! "Stop!" he said. Wow!'
    assert select.calm(text, "en") == 'Give it to me.\nHow unbelievable. Who is it? "Stop!" he said. Wow.'
    assert select.mechanical_edits(text, store.load("news", "en")) == select.calm(text, "en")
    assert select.mechanical_edits("Wow! Great news.", store.load("casual", "en")) == "Wow! Great news."  # exclaims
    assert select.calm("太好了！！他喊道：“快跑！”真的？！", "zh") == "太好了。他喊道：“快跑！”真的？"
    assert select.mechanical_edits("太好了！", store.load("zh-official", "zh")) == "太好了。"
    assert select.mechanical_edits("太好了！", store.load("zh-social", "zh")) == "太好了！"


def test_a_sentence_of_two_clauses_is_split_where_the_style_writes_shorter_ones() -> None:
    teeth = "I'd bet fourteen of my own teeth, but, I'm sorry to say, I only have four teeth, she's not fourteen."
    servant = "I'll find your servant, and he'll update you now and then on your case as it stands here."
    assert [teeth[a:b] for a, b in select.clause_breaks(teeth)] == [", "]
    assert [servant[a:b] for a, b in select.clause_breaks(servant)] == [", "]
    assert [x[a:b] for x in ["It was late; we went home."] for a, b in select.clause_breaks(x)] == ["; "]
    for whole in (
        "Tom, Mary, and I went home.",  # a list, not two clauses
        "Look, and you'll see.",  # an order and what follows from it
        "You can stay, but don't tell anyone.",  # the second clause has no subject of its own
    ):
        assert select.clause_breaks(whole) == ()
    marketing = store.load("marketing", "en")  # sentences of about nine words
    text = teeth + "\nWhether it's even or odd, on the night of Lammas Eve, she'll be fourteen."
    split = select.mechanical_edits(text, marketing, split=True)
    assert split == "I'd bet fourteen of my own teeth. But, I'm sorry to say, I only have four teeth, she's not " + (
        "fourteen.\nWhether it's even or odd, on the night of Lammas Eve, she'll be fourteen."
    )
    assert P.adherence(split, marketing).score > P.adherence(text, marketing).score
    assert select.mechanical_edits(text, marketing) == text  # a model's draft is not split
    academic = store.load("academic", "en")  # long sentences: nothing to split
    assert select.mechanical_edits(servant, academic, split=True) == select.mechanical_edits(servant, academic)
    # the rewrite of a text no draft restyles is the text with the split (the fake model copies it)
    result = rewrite.rewrite(FakeModel(text), text, style="marketing", seed=0, candidates=2)
    assert result.text == split and result.style_adherence.after > result.style_adherence.before


def _by_seed(drafts: list[str]):
    """A fake model whose answer depends on the sampling seed, as a real one's does."""
    return FakeModel(lambda messages, params: drafts[(params.seed or 0) % len(drafts)])


PATH = (  # bench/style_transfer.py's tuning split (Twelfth Night, modern side)
    "Now, you lie there on the path.\nShe said if she were interested in someone, it would be someone who looked "
    "like me.\nBesides, she treats me more respectfully than the other servants."
)


def test_a_draft_that_left_sentences_out_gets_them_back_in_place() -> None:
    two = "Today, you lie there on the path. She said if she were interested in anyone, it would be a man like me."
    assert select.patch(two, PATH, "en") == two + " Besides, she treats me more respectfully than the other servants."
    free = "Today, you lie there on the path. She said that if she fancied anyone, it would be a man like me."
    assert select.patch(free, PATH, "en") is None  # too free to tell which it rewrote: put back, it would repeat
    middle = "Today, you lie there on the path.\nBesides, she treats me with more respect than the other servants."
    assert select.patch(middle, PATH, "en").splitlines()[1].startswith("She said if she were interested")
    one = "Today, you lie there on the path."
    assert select.patch(one, PATH, "en").splitlines() == [one, *PATH.splitlines()[1:]]  # the source's lines
    assert select.patch(PATH, PATH, "en") is None  # nothing left out
    assert select.patch("…", PATH, "en") is None  # nothing of the draft would stay
    assert select.patch("Sebastian looks like half an apple.", PATH, "en") is None  # about something else
    assert select.patch("## Besides, she treats me with respect.", PATH, "en") is None  # Markdown it added
    backwards = "She said she liked men who looked like me. Now, you lie there on the path."
    assert select.patch(backwards, PATH, "en") is None
    assert (
        select.patch("今天天气很好。", "今天天气很好。我们去公园散步吧。", "zh") == "今天天气很好。我们去公园散步吧。"
    )
    split = select.patch("今天天气真好。", "今天天气很好。\n我们去公园散步吧。", "zh")
    assert split == "今天天气真好。\n我们去公园散步吧。"  # the source's line breaks
    news = store.load("news", "en")
    model = _by_seed([PATH, one])
    result = rewrite.rewrite(model, PATH, style="news", seed=0, candidates=2, retry=False)
    assert not select.score(one, news, source=PATH).keeps()  # the draft alone lost two sentences
    assert result.text == select.patch(one, PATH, "en") and result.text.startswith("Today,")
    assert result.style_adherence.after > result.style_adherence.before and result.style_adherence.drafts == 2


def test_rewrite_drafts_several_and_keeps_the_one_that_fits_the_style() -> None:
    unrelated = get_style("formal").examples[0]  # as formal as it gets, but about something else
    drafts = [CASUAL_NOTE, unrelated, FORMAL_NOTE]
    formal = store.load("formal", "en")
    assert select.score(unrelated, formal, CASUAL_NOTE).adherence > select.score(FORMAL_NOTE, formal).adherence
    model = _by_seed(drafts)
    streamed: list[str] = []
    result = rewrite.rewrite(model, CASUAL_NOTE, style="formal", seed=0, candidates=3, on_text=streamed.append)
    assert len(model.calls) == 3
    assert result.text == FORMAL_NOTE  # the unrelated draft may read formal, but it lost the content
    assert "".join(streamed) == result.text and len([s for s in streamed if s]) == 1  # printed once, when chosen
    n = len(F.en_words(CASUAL_NOTE))
    assert P.adherence(result.text, formal, as_length=n).score > P.adherence(CASUAL_NOTE, formal, as_length=n).score


def test_one_candidate_streams_the_draft_as_written() -> None:
    model = FakeModel(CASUAL_NOTE)
    streamed: list[str] = []
    result = rewrite.rewrite(model, FORMAL_NOTE, style="formal", candidates=1, on_text=streamed.append)
    assert len(model.calls) == 1 and result.text == CASUAL_NOTE  # no choosing and no mechanical edits
    assert len([s for s in streamed if s.strip()]) > 5


def test_rewrite_prompt_says_what_this_text_must_change() -> None:
    model = FakeModel()
    rewrite.rewrite(model, CASUAL_NOTE, style="formal", candidates=1)
    system = model.calls[0][0].content
    hints = system.split("What this text must change to fit the style", 1)[1]
    assert "Write out every contraction" in hints
    assert "you" not in hints.lower().replace("yours", "")  # never asks to change who speaks or is addressed


def test_a_style_that_cannot_score_the_language_falls_back_to_one_draft() -> None:
    model = FakeModel("Bonjour à tous, la réunion est reportée à jeudi prochain.")
    result = rewrite.rewrite(
        model, "Bonjour, la réunion est reportée à jeudi.", style="formal", lang="fr", candidates=4
    )
    assert len(model.calls) == 1 and result.text.startswith("Bonjour")


def test_a_piece_too_short_to_score_gets_one_draft_streamed_as_written() -> None:
    model = FakeModel("Yo, see you Thursday!")
    streamed: list[str] = []
    result = rewrite.rewrite(model, "See you on Thursday.", style="casual", candidates=4, on_text=streamed.append)
    assert len(model.calls) == 1 and result.text == "Yo, see you Thursday!"
    assert len([s for s in streamed if s.strip()]) > 1  # token by token, not once chosen
    assert result.style_adherence is not None and result.style_adherence.drafts == 1
    # an echo does not move a short text either, but more drafts would not help: no advice to draw them
    echoed = rewrite.rewrite(FakeModel("The cat sat on the mat."), "The cat sat on the mat.", style="formal")
    assert echoed.style_adherence is not None and not echoed.warnings
    model = FakeModel("会议改期。")
    rewrite.rewrite(model, "会议改到周四。", style="zh-official", candidates=4)  # 7 characters
    assert len(model.calls) == 1
    assert F.length(CASUAL_NOTE, "en") >= select.MIN_SCORED["en"]  # the notes below are long enough to choose


def test_a_rewrite_into_another_script_is_not_held_to_the_texts_content() -> None:
    zh = "会议推迟到下周四举行，请各位同事准时参加，并提前准备好相关材料。"
    model = FakeModel(zh)
    result = rewrite.rewrite(model, CASUAL_NOTE, style="zh-official", lang="zh", candidates=4)
    assert len(model.calls) == 1 and result.text == zh  # chrF to English text would reject every Chinese draft
    assert result.style_adherence is None and not result.warnings


def test_a_second_bolder_round_is_drawn_when_no_draft_fits_the_style_better() -> None:
    seen: list[tuple[float, str]] = []

    def responder(messages, params):
        seen.append((params.temperature, messages[-1].content))
        return "Hey, it's raining so we're staying in." if params.seed < 3 else FORMAL_NOTE  # first: drops lines

    model = FakeModel(responder)
    result = rewrite.rewrite(model, CASUAL_NOTE, style="formal", seed=0, candidates=3)
    assert len(model.calls) == 6 and result.text == FORMAL_NOTE
    assert [t for t, _ in seen] == [0.7] * 3 + [select.RETRY_TEMPERATURE] * 3
    assert all("Do not copy it" in user for _, user in seen[3:])
    assert not any("Do not copy it" in user for _, user in seen[:3])
    shift = result.style_adherence
    assert shift is not None and shift.drafts == 6 and shift.after > shift.before and not result.warnings
    formal = store.load("formal", "en")
    assert shift.before == P.adherence(CASUAL_NOTE, formal).score  # what style score shows for the source
    n = len(F.en_words(CASUAL_NOTE))
    assert shift.after == P.adherence(result.text, formal, as_length=n).score


def test_no_second_round_when_the_first_gains_or_retry_is_off() -> None:
    model = _by_seed([FORMAL_NOTE])
    assert rewrite.rewrite(model, CASUAL_NOTE, style="formal", seed=0, candidates=3).text == FORMAL_NOTE
    assert len(model.calls) == 3
    model = FakeModel(CASUAL_NOTE)
    result = rewrite.rewrite(model, CASUAL_NOTE, style="formal", seed=0, candidates=3, retry=False)
    assert len(model.calls) == 3 and result.style_adherence and result.style_adherence.drafts == 3


def test_a_rewrite_that_cannot_move_the_text_towards_the_style_says_so() -> None:
    model = FakeModel(FORMAL_NOTE)  # never anything but the text itself (literary neither adds nor drops "it's")
    result = rewrite.rewrite(model, FORMAL_NOTE, style="literary", seed=0, candidates=2)
    # two rounds of two drafts, then two drafts of each of its three sentences (each answered with the whole note)
    assert len(model.calls) == 4 + 3 * select.SENTENCE_DRAFTS and result.text == FORMAL_NOTE
    shift = result.style_adherence
    assert shift is not None and shift.after == shift.before and shift.drafts == 4 + 3 * select.SENTENCE_DRAFTS
    assert len(result.warnings) == 1
    assert re.match(
        r"the rewrite did not move the text towards the style 'literary' \(adherence 0\.\d\d before", result.warnings[0]
    )
    result = rewrite.rewrite(FakeModel(FORMAL_NOTE), FORMAL_NOTE, style="literary", candidates=1)  # one draft: too
    assert result.warnings and result.style_adherence and result.style_adherence.drafts == 1
    result = rewrite.rewrite(FakeModel("Bonjour."), "Bonjour, la réunion est jeudi.", style="formal", lang="fr")
    assert result.style_adherence is None and not result.warnings  # a style that cannot score French: no claim


def test_when_no_draft_keeps_the_content_the_text_stays_as_written() -> None:
    model = FakeModel("Hey, it's raining so we're staying in.")  # loses two sentences of three, every time
    result = rewrite.rewrite(model, CASUAL_NOTE, style="formal", seed=0, candidates=2)
    assert len(model.calls) == 4 + 3 * select.SENTENCE_DRAFTS  # and sentence by sentence, it is the first one
    assert result.text == select.mechanical_edits(CASUAL_NOTE, store.load("formal", "en"))  # "it is", "do not"
    assert result.warnings[0] == (
        "no draft kept the content of 1 of 1 piece(s); they are left as written (with only the style's mechanical "
        "edits)"
    )


def test_a_draft_less_in_style_than_the_text_is_not_returned() -> None:
    # the draft keeps the content but reads less formal than the text; returning it would reword for nothing
    draft = select.contract(FORMAL_NOTE)
    formal = store.load("formal", "en")
    assert select.score(draft, formal, source=FORMAL_NOTE).keeps()
    assert select.score(draft, formal, source=FORMAL_NOTE).adherence < P.adherence(FORMAL_NOTE, formal).score
    model = FakeModel(draft)
    result = rewrite.rewrite(model, FORMAL_NOTE, style="formal", seed=0, candidates=2)
    assert len(model.calls) == 4 + 3 * select.SENTENCE_DRAFTS and result.text == FORMAL_NOTE
    assert result.warnings and result.warnings[0].startswith("the rewrite did not move the text towards the style")
    # a draft that gains is still taken
    assert rewrite.rewrite(FakeModel(FORMAL_NOTE), CASUAL_NOTE, style="formal", candidates=2).text == FORMAL_NOTE


def test_a_piece_no_draft_restyles_whole_is_restyled_sentence_by_sentence() -> None:
    formal = {  # what the model makes of each sentence of CASUAL_NOTE alone
        "Hey, it's raining so we're staying in.": "It is raining, and so we are staying indoors.",
        "Don't worry, I'm fine!": "Please do not be concerned; I am well. I hope this helps!",  # adds a sentence
        "The library's closed till ten anyway.": "In any case, the library remains closed until ten.",
    }
    asked: list[str] = []

    def responder(messages, params):
        text = messages[-1].content.split("Text:\n", 1)[1].split("\n\nNow rewrite it", 1)[0].strip()
        asked.append(text)
        return formal.get(text, "Hey, it's raining so we're staying in.")  # the whole: loses two sentences of three

    model = FakeModel(responder)
    result = rewrite.rewrite(model, CASUAL_NOTE, style="formal", seed=0, candidates=2)
    assert asked[:4] == [CASUAL_NOTE] * 4
    assert asked[4:] == [s for s in formal for _ in range(select.SENTENCE_DRAFTS)]  # in order, each alone
    style = store.load("formal", "en")
    kept = select.mechanical_edits("Don't worry, I'm fine!", style)  # its draft said more: not taken
    assert result.text == f"It is raining, and so we are staying indoors. {kept} In any case, the library " + (
        "remains closed until ten."
    )
    shift = result.style_adherence
    assert shift.after > select.score(select.mechanical_edits(CASUAL_NOTE, style), style, source=CASUAL_NOTE).adherence
    assert shift.drafts == 4 + 3 * select.SENTENCE_DRAFTS and not result.warnings
    # a draft of a sentence that loses its content is not taken either, although the piece would keep enough of it
    formal["The library's closed till ten anyway."] = "In any case, it remains so."
    text = rewrite.rewrite(FakeModel(responder), CASUAL_NOTE, style="formal", seed=0, candidates=2).text
    assert text.endswith("library's closed till ten anyway.") and text.startswith("It is raining, and so")
    # one sentence: nothing to do sentence by sentence
    model = FakeModel("Hey.")
    rewrite.rewrite(model, "Hey, it's raining so we're staying in all day long.", style="formal", candidates=2)
    assert len(model.calls) == 4


def test_sentence_spans_are_where_the_sentences_stand() -> None:
    text = 'Now, you lie there.\nShe said "hi." Besides, yes!\n\nWhat?  '
    spans = F.sentence_spans(text, "en")
    assert [text[a:b] for a, b in spans] == ["Now, you lie there.", 'She said "hi."', "Besides, yes!", "What?"]
    zh = "以前粮食总是不够的。因此，“国家开始生产。”\n虽然如此"
    assert [zh[a:b] for a, b in F.sentence_spans(zh, "zh")] == [
        "以前粮食总是不够的。",
        "因此，“国家开始生产。”",
        "虽然如此",
    ]
    assert F.sentence_spans("", "en") == [] and F.sentence_spans(" … ", "en") == []
    # sentence by sentence, a rewrite also cuts at line breaks and leaves the Markdown that opens a line as written
    md = "# The new library\nIt opens at ten. You will love it.\n\n- Tons of books.\n> Comfy chairs"
    parts = rewrite._sentence_parts(md, "en")
    assert "".join(parts) == md
    assert parts[1::2] == ["The new library", "It opens at ten.", "You will love it.", "Tons of books.", "Comfy chairs"]
    assert rewrite._sentence_parts("", "en") == [""]


def test_a_rewrite_that_is_only_the_styles_mechanical_edits_says_so() -> None:
    text = "Give it to me!\nYou are making a terrible racket out here!\nLady Olivia told her servant to throw you out."
    news = store.load("news", "en")
    edited = select.mechanical_edits(text, news)
    assert edited != text and P.adherence(edited, news).score > P.adherence(text, news).score
    result = rewrite.rewrite(FakeModel(text), text, style="news", seed=0, candidates=2)  # the model copies it
    assert result.text == edited and result.style_adherence.after > result.style_adherence.before
    assert result.warnings == [
        "no draft fit the style better than the text with the style's mechanical edits in 1 of 1 piece(s); they have "
        "only those edits (contractions, exclamation marks, long sentences split)"
    ]
    better = (
        "Give it to me. You are making a terrible racket outside, and Lady Olivia has told her man to throw you out."
    )
    assert select.score(better, news, source=text).adherence > select.score(edited, news, source=text).adherence
    assert not rewrite.rewrite(FakeModel(better), text, style="news", seed=0, candidates=2).warnings


def test_a_draft_that_drops_a_sentence_does_not_keep_the_content() -> None:
    source = "Have you spoken to him?\nSend your man away.\nPeter, wait for me at the gate."
    assert select.coverage("Peter, please wait for me at the gate.", source, "en") == 0.0
    assert (
        select.coverage("So you have spoken with him? Send the man away. Peter, wait at the gate.", source, "en") >= 0.5
    )
    formal = store.load("formal", "en")
    dropped = select.score("Have you spoken to him? Peter, wait for me at the gate, please.", formal, source=source)
    assert dropped.content >= select.CONTENT_FLOOR and 0.5 <= dropped.length_ratio <= 2.0  # chrF alone lets it pass
    assert not dropped.keeps()
    assert (
        select.coverage("Hey! Have you talked to him? Send your man away. Peter, wait at the gate.", source, "en")
        >= 0.8
    )
    assert (
        select.coverage(
            "You cannot decide. I hope he goes home soon.",
            "You can't decide. I hope he goes home. Who's calling?",
            "en",
        )
        == 0
    )
    zh = "会议推迟到周四举行。请大家准时参加。"
    assert select.coverage("会议改到周四。", zh, "zh") == 0.0
    assert select.coverage("会议推迟至周四召开，请各位准时出席。", zh, "zh") >= select.COVERAGE_FLOOR  # reworded


def test_a_draft_that_turns_a_question_into_a_statement_or_flips_a_negation_does_not_keep_the_content() -> None:
    source = (
        "Have you spoken to him?\nSend your man away.\nPeter, wait for me at the gate."  # bench inputs (test split)
    )
    marketing = store.load("marketing", "en")
    statement = select.score(
        "I have spoken to you. Send your man away. Peter, wait for me at the gate.", marketing, source
    )
    assert statement.content >= select.CONTENT_FLOOR and statement.coverage >= select.COVERAGE_FLOOR  # else fine
    assert not statement.form and not statement.keeps()
    assert select.keeps_form("Hey! Have you talked to him? Send your man away. Peter, wait at the gate.", source, "en")
    dead = (
        "There is no life, but my love is dead!\nDespised, distressed, hated, martyred, killed!\nWhy did this happen?"
    )
    assert not select.keeps_form(
        "There is life, but my love is dead! Despised and killed! Why did this happen?", dead, "en"
    )
    assert not select.keeps_form("No life, no love: my love is dead! Despised and killed! Why?", dead, "en")  # added
    # a negated list counts once: shorter is the same negation, a new item is not
    knife = "Had you no poison, no sharp knife, no weapon to kill me with? Nothing so mean as banishment?"
    assert select.negations(knife, "en") == 4 and select.negated_lists(knife, "en") == 2
    assert select.keeps_form(
        "Had you no poison, sharp knife or weapon to kill me? Nothing so mean as exile?", knife, "en"
    )
    assert select.keeps_form("Had you neither poison nor knife nor weapon? Nothing as mean as exile?", knife, "en")
    assert not select.keeps_form("Had you no poison, no knife, no weapon, no rope? Nothing so mean?", knife, "en")
    assert not select.keeps_form("Had you no poison, no sharp knife, no weapon? Something so mean?", knife, "en")
    mind = "Everyone says you can't make up your mind."
    assert select.keeps_form("Everyone says you cannot make up your mind.", mind, "en")  # expanded, same negation
    assert not select.keeps_form("Everyone says you can make up your mind.", mind, "en")
    assert select.keeps_form(
        "I know not where he went. Naught is left.", "I don't know where he went. Nothing is left.", "en"
    )
    assert select.keeps_form("Ready to talk? Have you spoken to him?", "Have you spoken to him?", "en")  # one added
    # Chinese (MuCGEC dev, first corrections): 吗/？, and 不/没/别/未… that negate, not the words they only spell
    zh_q = "如此看来，这岂不是既解决不了问题，还制造了些问题吗？"
    assert select.questions(zh_q, "zh") == 1 and select.negations(zh_q, "zh") == 2
    assert not select.keeps_form("如此看来，这既解决不了问题，还制造了些问题。", zh_q, "zh")  # the question is gone
    assert select.questions("你去过北京吗", "zh") == 1 and select.questions("我在吃饭呢。", "zh") == 0
    smoke = "吸烟对人的身体没有一个好处，对社会、环境也没有一个优点，为什么还要吸烟？"
    assert select.negations(smoke, "zh") == 2
    assert not select.keeps_form("吸烟对身体有好处，对社会、环境也没有优点，为什么还要吸烟？", smoke, "zh")
    assert select.keeps_form(
        "家人们谁懂啊！吸烟对身体一点好处都没有，对社会、环境也没啥优点，为啥还要抽？", smoke, "zh"
    )
    assert select.negations("不过他特别喜欢未来的工作，非常不错，不得不说。", "zh") == 0  # but, special, future, very…
    assert select.negations("严禁在公共场所吸烟，请勿随地吐痰。", "zh") == 2  # official "must not"


def test_a_draft_that_adds_line_labels_or_a_code_fence_does_not_keep_the_form() -> None:
    """Seen in bench drafts (1.5B news, 0.5B news, 1.5B literary): the lines turned into a script or a form."""
    source = "Have you spoken to him?\nSend your man away.\nPeter, wait for me at the gate."
    script = "Question: Have you spoken to him?\n\nResponse: Send your man away.\n\nOrder of Action: Peter waits."
    speakers = "Peter: Have you spoken to him?\nNurse: Send your man away. Peter, wait for me at the gate."
    fenced = "```\nHave you spoken to him? Send your man away.\nPeter, wait for me at the gate.\n```"
    for draft in (script, speakers, fenced):
        assert select.questions(draft, "en") == 1 and select.negations(draft, "en") == 0  # else the same form
        assert not select.keeps_form(draft, source, "en"), draft
    assert select.keeps_form("Have you spoken to him? Send your man away: Peter, wait at the gate.", source, "en")
    assert select.keeps_form("Tell me plainly: have you spoken to him? Send your man away.", source, "en")  # a colon
    assert select.keeps_form(
        "What you had: a knife? Have you spoken to him? Wait for me.", source, "en"
    )  # words, no label
    play = "ROMEO: Have you spoken to him?\nNURSE: Not yet."
    assert select.keeps_form("ROMEO: Hast thou spoken to him?\nNURSE: Not yet, good sir.", play, "en")  # kept
    assert select.keeps_form("他说：“你跟他谈过了吗？”", "他说“你跟他谈过了吗？”", "zh")  # Chinese running text
    assert not select.keeps_form("```\n你跟他谈过了吗？\n```", "你跟他谈过了吗？", "zh")
    # lines turned into a list (0.5B marketing, 1.5B concise), unless the source is one
    listed = "- Have you spoken with him?\n- Send your man away.\nPeter, please wait at the gate."
    numbered = "1. Have you spoken to him?\n2. Send your man away.\n3. Peter, wait for me at the gate."
    for draft in (listed, numbered):
        assert not select.keeps_form(draft, source, "en"), draft
    items = "- Buy milk.\n- Call Ana about Tuesday."
    assert select.keeps_form("- Buy some milk.\n- Call Ana about Tuesday, please.", items, "en")
    assert select.keeps_form("Prices fell -2% in May. Sales rose.", "Prices fell -2% in May. Sales rose.", "en")
    assert not select.keeps_form("- 你跟他谈过了吗？\n- 让你的人走吧。", "你跟他谈过了吗？让你的人走吧。", "zh")


def test_a_draft_that_reorders_the_sentences_does_not_keep_the_form() -> None:
    """The 0.5B model's marketing draft of a bench input (test split) answered before it asked, and scored higher."""
    source = "Have you spoken to him?\nSend your man away.\nPeter, wait for me at the gate."
    moved = "Peter, wait for me at the gate.\n\nHave you spoken to him? Send your man away."
    marketing = store.load("marketing", "en")
    scored = select.score(moved, marketing, source)
    assert scored.adherence > select.score(source, marketing, source).adherence  # it looks more like the style
    assert scored.content >= select.CONTENT_FLOOR and scored.coverage >= select.COVERAGE_FLOOR  # else fine
    assert not select.keeps_order(moved, source, "en") and not scored.form and not scored.keeps()
    joined = "Have you spoken to him? Send your man away, and Peter, wait for me at the gate."
    split = "Tell me: have you spoken to him? Send your man away. Go now. Peter, wait for me at the gate, please."
    for draft in (joined, split, source.replace("\n", " ")):
        assert select.keeps_order(draft, source, "en"), draft
    assert select.keeps_order("Have you spoken to him? Send him away.", source, "en")  # a lost line: ``coverage``'s
    assert not select.keeps_order("会议改到周四。我们今天下雨不出门。", "我们今天下雨不出门。会议改到周四。", "zh")
    assert select.keeps_order("今天下雨，我们不出门；会议改到周四。", "我们今天下雨不出门。会议改到周四。", "zh")
    result = rewrite.rewrite(_by_seed([moved, source]), source, style="marketing", seed=0, candidates=2)
    assert result.text != moved


def test_a_draft_that_swaps_who_does_what_to_whom_does_not_keep_the_form() -> None:
    """The 0.5B model's drafts of bench inputs (test split) that scored as more like the style."""
    gate = "Have you spoken to him?\nSend your man away.\nPeter, wait for me at the gate."
    give = "Give it to me!\nLove will give me strength, and strength will help me accomplish this plan."
    teeth = "I'd bet fourteen of my own teeth, but, I'm sorry to say, I only have four teeth."
    for draft, source in (
        ("Have you spoken to him?\nSend your man away.\nPeter, I'm waiting for you at the gate.", gate),  # casual
        ("Give it to me! Love will give you strength, and strength will help you accomplish this plan.", give),
        ("I bet fourteen of my own teeth, but I'm sorry to say, she only has four teeth.", teeth),  # literary
    ):
        assert select.coverage(draft, source, "en") >= select.COVERAGE_FLOOR  # else it keeps the content
        assert select.negations(draft, "en") == select.negations(source, "en") and select.keeps_order(
            draft, source, "en"
        )
        assert not select.keeps_persons(draft, source, "en") and not select.keeps_form(draft, source, "en"), draft
    casual = store.load("casual", "en")
    swapped = select.score(
        "Give it to me! Love will give you strength, and strength will help you do this.", casual, give
    )
    assert swapped.content >= select.CONTENT_FLOOR and not swapped.keeps()
    # the same persons, however written: me → I, you → thee, a pronoun dropped or added alone
    assert select.keeps_persons("Hand it over! Love shall make me strong, and I shall do this.", give, "en")
    assert select.keeps_persons("Hast thou spoken to him? Send thy man away. Peter, wait for me.", gate, "en")
    assert select.keeps_persons("One cannot decide.", "You can't decide.", "en")
    assert select.keeps_persons("You will love it.", "It is good.", "en")
    # Chinese: 我 → 他 swaps; 我国 is 我们国家 ("our country"); 其他 ("other") is no pronoun
    assert not select.keeps_persons("他希望你能来。", "我希望你能来。", "zh")
    assert select.keeps_persons("我们国家经济发展很快，其他国家也是。", "我国经济发展很快，其他国家也一样。", "zh")
    assert select.keeps_persons("您能来吗？", "你能来吗？", "zh")
    assert not select.keeps_persons("你要多吃点。", "我要多吃点。", "zh")
    # fits the style better than the text and keeps everything else: without the check, rewrite would take it
    yours = "Give it to me! Love's gonna give you strength, and that'll help you pull this plan off!"
    scored = select.score(yours, casual, source=give)
    assert scored.adherence > select.score(give, casual, source=give).adherence
    assert scored.content >= select.CONTENT_FLOOR and scored.coverage >= select.COVERAGE_FLOOR and not scored.form
    result = rewrite.rewrite(_by_seed([yours, give]), give, style="casual", seed=0, candidates=2)
    assert "you strength" not in result.text


def test_a_pronoun_turned_into_another_persons_is_put_back_where_no_verb_depends_on_it() -> None:
    her = PATH.replace("looked like me", "looked like her").replace("treats me", "treats you")
    assert select.restore_persons(her, PATH, "en") == PATH
    reworded = (
        "Now you're lying on the path. She claimed she'd want someone who looked just like you. Also, she treats "
        "me better than the other servants."
    )
    assert select.restore_persons(reworded, PATH, "en") == reworded.replace("like you", "like me")
    # a subject is left alone (its verb would have to change), and so is a draft that kept every person
    assert select.restore_persons("How do you love me?", "How does he love me?", "en") is None
    assert select.restore_persons("I told her.", "You told her.", "en") is None
    assert select.restore_persons(PATH.replace("servants", "maids"), PATH, "en") is None
    # capitals follow the draft; two pronouns in one changed stretch are too free a rewording to tell
    assert select.restore_persons("Your lord knows it.", "My lord knows it.", "en") == "My lord knows it."
    assert select.restore_persons("You gave her his book.", "You gave me the book.", "en") is None
    # Chinese has no agreement: any pronoun; 我们 stays one word, 其他 is none
    assert select.restore_persons("她说你们很好。", "她说我们很好。", "zh") == "她说我们很好。"
    assert select.restore_persons("其他人说他很好。", "其他人说我很好。", "zh") == "其他人说我很好。"
    assert select.restore_persons("其他人都来了。", "他们都来了。", "zh") is None


def test_a_number_the_draft_changed_is_put_back_as_the_source_wrote_it() -> None:
    source = TEETH.replace("She's not fourteen.", "On Lammas Eve she'll be fourteen.")
    four = "I would bet four of my own teeth, but, sadly, I only have four teeth.\nOn Lammas Eve she will be four."
    fixed = select.restore_numbers(four, source, "en")
    assert fixed == "I would bet fourteen of my own teeth, but, sadly, I only have four teeth.\nOn Lammas Eve she " \
        "will be fourteen."  # fmt: skip
    assert select.keeps_numbers(fixed, source, "en") and not select.keeps_numbers(four, source, "en")
    # written another way is no change; a number dropped or said in words ("a whole stack") is none to put back
    assert select.restore_numbers("I'd bet 14 of my own teeth, but I only have 4.", TEETH, "en") is None
    stack = "I'd bet a whole stack of my own teeth, but, sadly, I only have four teeth. She's not fourteen."
    assert select.restore_numbers(stack, TEETH, "en") is None
    assert select.restore_numbers("共有三个人参加，他十分高兴。", "共有十三个人参加，他十分高兴。", "zh") == (
        "共有十三个人参加，他十分高兴。"
    )
    # in rewrite: the repaired draft is a candidate, so its rewording can win
    marketing = store.load("marketing", "en")
    better = "I'd bet fourteen of my own teeth! Sorry to say, I only have four. She's not four!"
    result = rewrite.rewrite(_by_seed([better]), TEETH, style="marketing", seed=0, candidates=2).text
    assert select.keeps_numbers(result, TEETH, "en") and "not fourteen" in result
    assert result == select.mechanical_edits(better.replace("not four", "not fourteen"), marketing)


def test_rewrite_takes_a_draft_whose_changed_pronoun_was_put_back() -> None:
    marketing = store.load("marketing", "en")
    draft = (
        "Now, you find yourself on the path.\nShe claimed that if she were interested in someone, it would be "
        "someone who looked just like you.\nMoreover, she treats you with more respect than the other servants."
    )
    fixed = select.restore_persons(draft, PATH, "en")
    assert fixed is not None and not select.score(draft, marketing, PATH).keeps()
    scored = select.score(fixed, marketing, PATH)
    assert scored.keeps() and scored.adherence > select.score(PATH, marketing, PATH).adherence
    result = rewrite.rewrite(_by_seed([draft]), PATH, style="marketing", seed=0, candidates=2)
    assert result.text == select.mechanical_edits(fixed, marketing)
    assert "like me" in result.text and "treats me" in result.text


def test_rewrite_never_chooses_a_draft_that_loses_the_question() -> None:
    source = "Have you spoken to him?\nSend your man away.\nPeter, wait for me at the gate."
    statement = "I have spoken to you. Send your man away. Peter, wait for me at the gate, and you will see."
    question = "Have you spoken to him yet? Send your man away. Peter, please wait for me at the gate."
    marketing = store.load("marketing", "en")
    assert select.score(statement, marketing, source).adherence > select.score(question, marketing, source).adherence
    result = rewrite.rewrite(_by_seed([statement, question]), source, style="marketing", seed=0, candidates=2)
    assert result.text == question  # fits the style less, but still asks


TEETH = "I'd bet fourteen of my own teeth, but, I'm sorry to say, I only have four teeth.\nShe's not fourteen."


def test_a_draft_that_changes_a_number_does_not_keep_the_content() -> None:
    # as the 1.5B wrote it for marketing (bench/style_transfer.py, test split): fourteen became four
    changed = "I bet fourteen of my own teeth, but, sadly, I only have four teeth. She is not four!"
    marketing = store.load("marketing", "en")
    scored = select.score(changed, marketing, TEETH)
    assert scored.content >= select.CONTENT_FLOOR and scored.coverage >= select.COVERAGE_FLOOR and scored.form
    assert not scored.numbers and not scored.keeps()
    # the same numbers written another way are kept: words or digits, hyphens, scales, "a dozen"
    assert select.keeps_numbers("I'd wager 14 of my teeth, yet I have but 4 teeth. She is not 14.", TEETH, "en")
    assert select.numbers("twenty-one men, a hundred and five, $4.2 million, 12,000 homes, a dozen", "en") == (
        {21.0: 1, 105.0: 1, 4200000.0: 1, 12000.0: 1, 12.0: 1},
        0,
    )
    assert select.keeps_numbers("Turnout was 4,200,000 and twelve thousand came.", "Turnout was 4.2 million and "
                                "12,000 came.", "en")  # fmt: skip
    assert not select.keeps_numbers("She is 41.", "She is fourteen.", "en")
    assert not select.keeps_numbers("Two men came, then 3 more.", "Two men came.", "en")  # a number added
    assert not select.keeps_numbers("1. Go now.", "Go now.", "en")  # a list number added
    # a lone "one" is no count: "no one" may become "nobody", "1" may be written "one"
    assert select.keeps_numbers("Nobody came.", "No one came.", "en")
    assert select.keeps_numbers("I have one apple.", "I have 1 apple.", "en")
    assert select.numbers("two three, no one", "en") == ({2.0: 1, 3.0: 1}, 1)  # two numbers, not 23; a lone one
    # Chinese: numerals and digits, not the words they only spell (十分 "very", 一起 "together")
    assert select.keeps_numbers("他今年14岁，有三万五千元。", "他今年十四岁，有35000元。", "zh")
    assert not select.keeps_numbers("会议持续了3个小时。", "会议持续了两个小时。", "zh")
    assert select.keeps_numbers("这非常重要，我们共同去。", "这十分重要，我们一起去。", "zh")
    assert select.keeps_numbers("等了10分钟，占50%。", "等了十分钟，占百分之五十。", "zh")
    assert select.keeps_numbers("群众万事顺利。", "老百姓万事如意。", "zh")  # 百 and 万 alone are no numbers


def test_a_draft_that_says_things_over_and_over_does_not_keep_the_content() -> None:
    source = (
        "My dear fool, because my brother died.\nI think his soul's in hell, my lady.\n"
        "I know his soul's in heaven, fool."
    )
    looped = (  # the 0.5B, literary (valid split): it scored as more literary than the source and kept chrF 44
        "Fool! Because brother died, his soul's in hell. Fool! Fool! Fool!\n\nFool! Brother died, his soul's in hell."
    )
    literary = store.load("literary", "en")
    scored = select.score(looped, literary, source)
    assert (
        scored.content >= select.CONTENT_FLOOR and scored.adherence > select.score(source, literary, source).adherence
    )
    assert scored.repeats and not scored.keeps()
    assert select.repeats(source + "\n\n" + source, source, "en")  # the text written out twice
    assert not select.repeats("My dear Fool, my brother died. I think his soul is in hell; I know it is in heaven.",
                              source, "en")  # fmt: skip
    assert not select.repeats("No, no, no! I will not go.", "No, no, no! I won't go.", "en")  # the source's own
    assert select.repeats("会议推迟。会议推迟。", "会议推迟。", "zh") and not select.repeats(
        "会议推迟到周四。", "会议推迟。", "zh"
    )


def test_a_draft_that_turns_a_command_into_a_statement_does_not_keep_the_form() -> None:
    gate = "Have you spoken to him?\nSend your man away.\nPeter, wait for me at the gate."
    assert select.commands(gate, "en") == 2
    assert select.commands("Leave me and do what I told you to do.", "en") == 2  # two joined
    assert select.commands("Don't ask to see this letter. Let's go.", "en") == 2
    # a line that ends in a comma ends its sentence: verse
    assert select.commands("Ask me tomorrow and you'll find me buried,\nI am done in this world, I know.", "en") == 1
    for slip in (
        "Peter, I'll wait for me at the gate.",  # (the 0.5B model's drafts for three styles)
        "Peter, you will wait for me at the gate.",
        "Peter is speaking with him, and he will leave for me at the gate.",
    ):
        assert select.commands(gate.replace("Peter, wait for me at the gate.", slip), "en") == 1
        assert not select.keeps_form(gate.replace("Peter, wait for me at the gate.", slip), gate, "en")
    assert not select.keeps_form("I give it to me!", "Give it to me!", "en")
    assert not select.keeps_form("You are Pull out your tool now.", "Pull out your tool now.", "en")
    for request in ("Peter, please wait for me at the gate.", "Could you wait for me at the gate, Peter?"):
        assert select.keeps_form(gate.replace("Peter, wait for me at the gate.", request), gate, "en")
    assert select.commands("请在门口等我。", "zh") == 0  # English only


def test_a_draft_with_a_sentence_of_its_own_does_not_keep_the_content() -> None:
    source = "Give it to me!\nLove will give me strength, and strength will help me accomplish this plan.\n" + (
        "Goodbye, dear Father."
    )
    for note in (  # what the 1.5B model ended rewrites with on the report split
        "Feel free to ask if you need any further assistance!",
        "Is there anything specific you'd like me to do with this?",
        "Remember, in formal contexts, it is important to use complete sentences and avoid contractions.",
        "This maintains the original meaning, facts, names, and numbers while adhering to the style.",
    ):
        draft = source + "\n\n" + note
        assert select.adds(draft, source, "en")
        scored = select.score(draft, store.load("formal", "en"), source=source)
        assert scored.content >= select.CONTENT_FLOOR and scored.coverage == 1.0 and scored.form  # all else holds
        assert scored.adds and not scored.keeps()
    assert not select.adds("Hey there! " + source, source, "en")  # too short to say anything of its own
    banished = (
        "Did you have no poison, no sharp knife, no weapon you could use to kill me quickly, nothing so disgraceful, "
        "except banishment?\nOh Friar, damned souls use the word banishment to describe hell."
    )
    reworded = (  # a reworded sentence keeps some of its words
        "Do you have anything to kill me quickly, not even a sharp knife or a poison? There's nothing so shameful as "
        "being banished.\nOh Friar, how many souls use the word banishment to describe hell?"
    )
    assert not select.adds(reworded, banished, "en")
    assert select.adds("会议推迟到周四。欢迎大家关注我们的公众号获取更多信息。", "会议推迟到周四。", "zh")
    assert not select.adds("会议改到周四举行。哈哈！", "会议推迟到周四。", "zh")
    note = source + "\n\nFeel free to ask if you need any further assistance!"
    kept = (
        "Give it to me.\nLove will give me strength, and strength will help me accomplish this plan.\nGoodbye, Father."
    )
    chosen = rewrite.rewrite(_by_seed([note, kept]), source, style="formal", seed=0, candidates=2).text
    assert "assistance" not in chosen


def test_rewrite_never_chooses_a_draft_that_changes_a_number() -> None:
    # "fourteen" → "four or five": too free a change for restore_numbers to put right (two numbers for one)
    four = "I bet fourteen of my own teeth, but, sadly, I only have four teeth. She is not four or five!"
    kept = "I would bet 14 of my teeth; sadly, I only have four teeth. She is not fourteen!"
    marketing = store.load("marketing", "en")
    assert select.restore_numbers(four, TEETH, "en") is None
    assert select.score(four, marketing, TEETH).adherence >= select.score(kept, marketing, TEETH).adherence
    result = rewrite.rewrite(_by_seed([four, kept]), TEETH, style="marketing", seed=0, candidates=2)
    assert result.text != four
    # the kept draft fits the style less than the text itself: the text stays as written, its first sentence split
    assert select.score(kept, marketing, TEETH).adherence < select.score(TEETH, marketing, TEETH).adherence
    assert (
        result.text
        == select.mechanical_edits(TEETH, marketing, split=True)
        == TEETH.replace("teeth, but,", "teeth. But,")
    )
    better = "I'd bet fourteen of my own teeth! Sorry to say, I only have four. She's not fourteen!"
    assert select.score(better, marketing, TEETH).adherence > select.score(TEETH, marketing, TEETH).adherence
    chosen = rewrite.rewrite(_by_seed([four, better]), TEETH, style="marketing", seed=0, candidates=2).text
    assert chosen == select.mechanical_edits(better, marketing) == better.replace("!", ".")  # it never exclaims


def test_an_opening_note_about_the_rewrite_is_removed() -> None:
    kept = "I bet fourteen of my own teeth, but, I'm sorry to say, I only have four teeth. She is not fourteen."
    opener = (  # as the 1.5B wrote it for marketing (bench/style_transfer.py)
        "In this marketing style, we would present the text in a persuasive and confident tone, speaking to the "
        "reader directly. We would also use short, simple sentences and clear, emphatic words.\n\nText:\n"
    )
    assert select.strip_added_markup(opener + kept, TEETH) == kept
    assert select.strip_added_markup("Sure! To make it more formal, I changed the wording.\n" + kept, TEETH) == kept
    assert select.strip_added_markup("I have rewritten the text in a casual tone.\n\n" + kept, TEETH) == kept
    lets = "Let's write this text in a literary style while keeping its meaning, facts, names and numbers. Here it is:"
    assert select.strip_added_markup(f"{lets}\n\n{kept}", TEETH) == kept  # the 0.5B, literary (valid split)
    story = "Sure, I'll come to the party.\nSee you there."  # starts like one, says nothing about the text
    assert select.strip_added_markup(story, "Yeah, I'll come.\nSee ya.") == story
    house = "In this house, we wait.\nSo do I."
    assert select.strip_added_markup(house, "We wait here.\nMe too.") == house
    assert select.strip_added_markup(opener.split("\n")[0], TEETH) == opener.split("\n")[0]  # nothing after it


def test_hints_never_ask_to_join_sentences_and_to_drop_commas() -> None:
    literary = store.load("literary", "en")
    text = "Chat her up, Sir Andrew.\nWhat?\nMy dear Miss Chat-her-up, I look forward to getting to know you better."
    hints = rewrite_hints_for(literary, text)
    assert "join short sentences" in hints and "fewer commas" not in hints


def test_concise_hints_never_ask_to_hedge() -> None:
    # the profile comes from the preset's examples: a concise text states things plainly, so its hints never ask
    # for "may" (they did while its examples said "in May", "by 15 May" and "Cyclists may use the footpath")
    assert F.extract("We open in May. It may rain by 15 May. May 3 is a Monday.", "en")["hedges"] == 100 / 13
    assert F.marker_words("We open in May. It may rain by 15 May.", "en")["hedges"] == ["may"]
    assert "hedges" not in F.marker_words("We open in May.", "en")  # so no rule names it as a hedge
    concise = store.load("concise", "en")
    assert concise.features["hedges"].mean == 0.0
    rambling = (
        "Well, you know, I went down to the shop this morning and I bought some bread and milk, and then I walked "
        "all the way home in the rain."
    )
    assert "Soften claims" not in rewrite_hints_for(concise, rambling)


def test_drafts_that_repeat_the_instructions_are_dropped() -> None:
    def responder(messages, params):
        if params.seed == 0:  # a small model answering with its prompt around the text
            return messages[-1].content
        return FORMAL_NOTE

    model = FakeModel(responder)
    result = rewrite.rewrite(model, CASUAL_NOTE, style="formal", seed=0, candidates=2)
    assert result.text == FORMAL_NOTE and "Rewrite the text below" not in result.text


def test_write_with_candidates_keeps_the_draft_closest_to_the_style() -> None:
    model = _by_seed([CASUAL_NOTE, FORMAL_NOTE])
    result = generate.write(model, "a note about the rain", style="formal", seed=0, candidates=2)
    assert len(model.calls) == 2 and result.text == FORMAL_NOTE
    result = generate.write(_by_seed([CASUAL_NOTE, FORMAL_NOTE]), "a note about the rain", style="casual", seed=0)
    assert result.text == CASUAL_NOTE  # the default for write is one draft


def test_rewrite_help_explains_candidates(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "rewrite", "--help")
    assert code == 0 and "--candidates" in out and "printed once chosen" in re.sub(r"[│\s]+", " ", out)


# --- CLI ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["list", "show", "learn", "score", "compare", "remove"])
def test_style_help(capsys: pytest.CaptureFixture[str], command: str) -> None:
    code, out, _ = run(capsys, "style", command, "--help")
    assert code == 0 and "Usage:" in out


def test_cli_learn_score_compare_show_remove(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    files = write_samples(tmp_path / "chatty", CHATTY)
    code, out, err = run(capsys, "style", "learn", "chatty", *files)
    assert code == 0, err
    assert "learned style 'chatty' from 5 texts" in err and out.strip().endswith("chatty.json")

    code, out, _ = run(capsys, "style", "list", "--json")
    rows = {row["name"]: row for row in json.loads(out)}
    assert rows["chatty"]["kind"] == "learned" and rows["chatty"]["language"] == "en"
    assert rows["zh-official"]["language"] == "zh" and rows["humorous"]["kind"] == "preset"

    mine = tmp_path / "mine.txt"
    mine.write_text(SCHOLARLY[0], encoding="utf-8")
    code, out, _ = run(capsys, "style", "score", str(mine), "--style", "chatty", "--json")
    report = json.loads(out)
    assert code == 0 and 0 <= report["score"] <= 1 and report["differences"]
    code, out, _ = run(capsys, "style", "score", str(mine), "--style", "academic")
    assert code == 0 and re.match(r"0\.\d\d  ", out) and "adherence to 'academic'" in out

    other = tmp_path / "other.txt"
    other.write_text(CHATTY[0], encoding="utf-8")
    code, out, _ = run(capsys, "style", "compare", str(mine), str(other), "--json")
    assert code == 0 and 0 <= json.loads(out)["similarity"] <= 1

    code, out, _ = run(capsys, "style", "show", "chatty")
    assert code == 0 and "Rules" in out and "Exemplars" in out
    code, _, err = run(capsys, "style", "learn", "chatty", *files)
    assert code == 2 and "already exists; use --force" in err
    code, _, err = run(capsys, "style", "learn", "chatty", *files, "--force")
    assert code == 0, err
    code, _, err = run(capsys, "style", "remove", "chatty")
    assert code == 0 and "removed" in err
    code, _, err = run(capsys, "style", "score", str(mine), "--style", "chatty")
    assert code == 2 and err.startswith("error: unknown style 'chatty'")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["learn", "few", "{a}", "{b}"], "at least 5 sample texts; got 2"),
        (["score", "{a}", "--style", "nope"], "unknown style 'nope'"),
        (["score", "{zh}", "--style", "casual"], "no Simplified Chinese example"),
        (["compare", "{a}", "{zh}"], "different languages"),
        (["remove", "academic"], "built-in preset"),
        (["learn", "bad/name", "{a}", "{b}", "{a}", "{b}", "{a}"], "style name 'bad/name'"),
        (["show", "nope"], "unknown style 'nope'"),
    ],
)
def test_cli_errors_are_one_line_with_exit_code_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, args: list[str], fragment: str
) -> None:
    a, b, zh = tmp_path / "a.txt", tmp_path / "b.txt", tmp_path / "zh.txt"
    a.write_text(CHATTY[0], encoding="utf-8")
    b.write_text(CHATTY[1], encoding="utf-8")
    zh.write_text(OFFICIAL_ZH, encoding="utf-8")
    argv = [x.format(a=a, b=b, zh=zh) for x in args]
    code, out, err = run(capsys, "style", *argv)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], err
    assert "Traceback" not in out + err


def test_rewrite_cli_accepts_a_learned_style(capsys: pytest.CaptureFixture[str], chatty: P.StyleProfile) -> None:
    code, out, err = run(capsys, "rewrite", "--model", "fake", "--style", "chatty", "-")
    assert code != 0 or out  # stdin is empty in tests: either an input error or echoed text
    code, out, err = run(capsys, "write", "--model", "fake:Hi!", "--style", "chatty", "a short note")
    assert code == 0 and out.strip() == "Hi!", err


# --- the real model ---------------------------------------------------------------------------------------------


@pytest.mark.model
def test_rewriting_into_a_style_raises_adherence_with_the_real_model() -> None:
    from draftsmith.models.loader import load_model

    model = load_model("qwen2.5-0.5b")
    text = (
        "Honestly the new library is awesome. Tons of books, comfy chairs, and it's open till ten. "
        "You gotta check it out!"
    )
    formal = store.load("formal")
    result = rewrite.rewrite(model, text, style="formal", temperature=0.0, candidates=1)  # one greedy draft
    assert result.text.strip() and result.text != text
    assert "library" in result.text and re.search(r"\bten\b|10", result.text)  # the content is kept
    n = len(F.en_words(text))  # both scored as the same length: cutting words is no gain in style
    before, after = P.adherence(text, formal, as_length=n), P.adherence(result.text, formal, as_length=n)
    assert after.score > before.score, (result.text, before, after)


def _record_drafts(monkeypatch: pytest.MonkeyPatch, model) -> list[str]:
    """Every text ``model`` streams from now on, in order (the drafts a rewrite scores)."""
    raw: list[str] = []
    stream = model.stream

    def recording(messages, params):
        chunks = list(stream(messages, params))
        raw.append("".join(c.text or "" for c in chunks))
        yield from chunks

    monkeypatch.setattr(model, "stream", recording)
    return raw


@pytest.mark.model
def test_best_of_n_with_the_real_model_picks_the_most_adherent_draft_that_keeps_the_content(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from draftsmith.models.loader import load_model
    from draftsmith.writing.base import clean_output

    model = load_model("qwen2.5-0.5b")
    raw = _record_drafts(monkeypatch, model)  # every draft the model writes
    text = "Honestly the new library is awesome. Tons of books, comfy chairs, and it's open till ten. You gotta see it!"
    formal = store.load("formal")
    result = rewrite.rewrite(model, text, style="formal", seed=7, candidates=3)
    assert result.style_adherence and result.style_adherence.drafts == len(raw)
    whole = raw[:6]  # 6: retried; more: then sentence by sentence (two drafts of each of its three sentences)
    assert len(raw) in (3, 6, 6 + 3 * select.SENTENCE_DRAFTS)
    drafts = [select.mechanical_edits(select.strip_added_markup(clean_output(r, text), text), formal) for r in whole]
    scored = [select.score(d, formal, source=text) for d in drafts]
    if len(raw) <= 6:
        assert result.text == drafts[select.choose(scored)]  # the most adherent draft that keeps the content
    chosen = select.score(result.text, formal, source=text)
    assert chosen.keeps() and "library" in result.text.lower()
    assert not re.search(r"n't\b|'(?:m|re|ll|ve)\b|\bit's\b", result.text.replace("’", "'"), re.I)  # formal
    n = len(F.en_words(text))
    assert P.adherence(result.text, formal, as_length=n).score > P.adherence(text, formal, as_length=n).score


@pytest.mark.model
def test_the_real_model_restyles_a_piece_sentence_by_sentence_line_for_line() -> None:
    from draftsmith.config import load_settings
    from draftsmith.models.loader import load_model
    from draftsmith.prompts.registry import get_template
    from draftsmith.style.exemplars import style_guide_for
    from draftsmith.writing.base import Tally, standard_vars, template_params

    model = load_model("qwen2.5-0.5b", load_settings(n_threads=1))
    formal = store.load("formal", "en")
    tpl = get_template("rewrite")
    values = {**standard_vars("en", "formal", None), "style_guide": style_guide_for("formal", PATH, "en"), "text": PATH}
    params = template_params(tpl, None, seed=0, max_tokens=200)
    plain = select.mechanical_edits(PATH, formal)
    out, drawn = rewrite._by_sentence(model, tpl, values, params, PATH, formal, Tally(), range(2))
    assert drawn == 3 * 2  # two drafts of each of its three lines
    assert out is not None, "no sentence's draft of the real model fitted the formal style better"
    lines = out.splitlines()
    assert len(lines) == 3  # each line restyled in place, on its own line
    for line, source in zip(lines, PATH.splitlines(), strict=True):
        assert select.score(line, formal, source=source).keeps(), (line, source)
    scored = select.score(out, formal, source=PATH)
    assert scored.keeps() and scored.adherence > select.score(plain, formal, source=PATH).adherence


@pytest.mark.model
def test_the_real_model_writes_drafts_that_lose_the_question_and_none_is_chosen(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from draftsmith.config import load_settings
    from draftsmith.models.loader import load_model
    from draftsmith.writing.base import clean_output

    model = load_model("qwen2.5-0.5b", load_settings(n_threads=1))
    raw = _record_drafts(monkeypatch, model)
    # Twelfth Night, modern side (the bench's tuning split): one question between two statements with negations
    text = (
        "Don't ask to see this letter.\nMy friends, are you all Lady Olivia's servants?\n"
        "Yes, sir, we're part of her entourage."
    )
    marketing = store.load("marketing", "en")
    result = rewrite.rewrite(model, text, style="marketing", seed=0, candidates=4)
    drafts = [select.mechanical_edits(select.strip_added_markup(clean_output(r, text), text), marketing) for r in raw]
    scored = [select.score(d, marketing, source=text) for d in drafts]
    assert select.keeps_form(result.text, text, "en") and "?" in result.text
    chosen = select.score(result.text, marketing, source=text)
    lost = [s for s in scored if not s.form and replace(s, form=True).keeps() and s.adherence > chosen.adherence]
    assert lost, drafts  # the model did write a better-fitting draft that asks nothing or flips a negation…
    assert all(s.text != result.text for s in lost)  # …and it was not chosen


@pytest.mark.model
def test_the_real_model_writes_drafts_that_turn_a_command_into_a_statement_and_none_is_chosen(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from draftsmith.config import load_settings
    from draftsmith.models.loader import load_model
    from draftsmith.writing.base import clean_output

    model = load_model("qwen2.5-0.5b", load_settings(n_threads=1))
    raw = _record_drafts(monkeypatch, model)
    text = "Give it to me!\nLove will give me strength, and strength will help me accomplish this plan.\n" + (
        "Goodbye, dear Father."  # the report split of bench/style_transfer.py
    )
    humorous = store.load("humorous", "en")
    result = rewrite.rewrite(model, text, style="humorous", seed=0, candidates=4)
    assert select.keeps_form(result.text, text, "en") and select.commands(result.text, "en") >= 1, result.text
    whole = raw[:8]  # the rounds of drafts of the whole piece (then, sentence by sentence)
    drafts = [select.mechanical_edits(select.strip_added_markup(clean_output(r, text), text), humorous) for r in whole]
    slips = [d for d in drafts if select.commands(d, "en") == 0 and select.coverage(d, text, "en") == 1.0]
    assert slips, drafts  # the model did write such a draft, every line there ("Hey, dear son. Love will…")…
    assert result.text not in slips  # …and none was chosen


def test_contraction_hints_follow_how_much_the_style_contracts() -> None:
    talky = "Madam, I've come here to try to make you like him.\nOh, please, I'm begging you, don't mention him again."
    assert "Write out every contraction" in rewrite_hints_for(store.load("formal", "en"), talky)  # formal has none
    literary = rewrite_hints_for(store.load("literary", "en"), talky)  # about one per 100 words
    assert "Use fewer contractions." in literary and "Write out every" not in literary
    casual = rewrite_hints_for(store.load("casual", "en"), talky)  # contracts freely: it said "write out every one"
    assert "contraction" not in casual


def test_chinese_rewrites_get_hints_in_chinese() -> None:
    plain = "电子游戏让人变得孤僻、失去自己的自制力、破坏自己的智力、失去好奇心。小孩子做错了事也一定要批评。"
    social = rewrite_hints_for(store.load("zh-social", "zh"), plain)
    assert "表情符号" in social and "语气词" in social and "网络用语（哈哈" in social
    assert "评论区" not in social and "打卡" not in social  # markers that say what someone did add content
    official = rewrite_hints_for(store.load("zh-official", "zh"), SOCIAL_ZH)
    assert "不用网络用语" in official and "不用表情符号" in official and "不用语气词" in official
    assert "你" not in official and "我" not in official  # never asks to change who speaks or is addressed


def test_chinese_rewordings_keep_the_content_at_a_lower_chrf() -> None:
    source = "我们很先进，但是有一些问题还没解决。\n吴国的孙家存在感比较薄弱。"
    reworded = "我们非常先进，但还有一些问题尚未解决。吴国的孙家显得较为缺乏影响力。"  # the 1.5B, zh-official
    official = store.load("zh-official", "zh")
    scored = select.score(reworded, official, source)
    assert select.CONTENT_FLOOR_ZH <= scored.content < select.CONTENT_FLOOR and scored.keeps()
    assert not scored.keeps(floor=select.CONTENT_FLOOR)
    added = "当村里智叟的笑话引来了众多旁听者的笑声时，愚公并没有因为他们的看法而改变初衷。"  # adds listeners, laughter
    story = "当村里的智叟笑话他的时候，愚公不理会别人的看法，继续去做他要做的大事。"
    assert select.score(added, official, story).content < select.CONTENT_FLOOR_ZH


def test_a_parallel_structure_in_other_words_is_no_loop() -> None:
    source = "对于流行歌曲，有的人说是一种文化，有的人说是我们生活当中不必要的，有的人说是要鼓励的。"
    kept = "对于流行歌曲，有的人认为它是文化，有的人认为它是我们生活当中的不必要的，有的人认为我们应该鼓励。"
    assert not select.repeats(kept, source, "zh")
    assert select.repeats("流行歌曲认为认为认为认为认为认为。", source, "zh")  # more often than any word of the source
    assert not select.repeats("Some think it art, some think it noise, some think it good.",
                              "Some say it's art, some say it's noise, some say it's good.", "en")  # fmt: skip


def test_chinese_titles_and_end_marks_added_around_a_rewrite_are_removed() -> None:
    source = "孩子长大一点了，就会从父母那里学到学校没有教的做人的道理。"
    draft = "【孩子成长】\n\n孩子长大一点了，他们就会从父母那里学到学校没有教的做人的道理。\n\n【结束】"  # the 1.5B
    assert select.strip_added_markup(draft, source) == "孩子长大一点了，他们就会从父母那里学到学校没有教的做人的道理。"
    assert select.strip_added_markup("正文\n\n" + source, source) == source
    assert select.strip_added_markup(source + "\n\n（结束）", source) == source
    assert select.strip_added_markup(source + "\n（注：我很喜欢）", source).endswith(
        "（注：我很喜欢）"
    )  # not an end mark
    notice = "【通知】\n会议推迟。"
    assert select.strip_added_markup(notice, "【通知】\n会议延期。") == notice  # the source has the title


def test_two_writers_saving_one_style_at_once_both_succeed() -> None:
    # two bench runs started together saved "shakespeare" at once and one died on the other's .tmp file
    from concurrent.futures import ThreadPoolExecutor

    chatty = P.learn("chatty", CHATTY)
    with ThreadPoolExecutor(4) as pool:
        paths = list(pool.map(lambda _: store.save(chatty, force=True), range(40)))
    assert len(set(paths)) == 1 and store.load("chatty", "en").name == "chatty"
    assert not list(paths[0].parent.glob("*.tmp"))  # no temporary file left behind
