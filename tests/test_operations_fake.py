"""The writing operations' plumbing, run on the deterministic FakeModel (no real model, no network)."""

from __future__ import annotations

import re

import pytest

from draftsmith import Assistant
from draftsmith.errors import InputError, TemplateError
from draftsmith.languages import count_words
from draftsmith.models.base import GenParams, Message
from draftsmith.models.fake import FakeModel, echo_responder
from draftsmith.writing import continuation, correct, generate, rewrite, summarize, translate


def after_text_marker(messages: list[Message]) -> str:
    """The user's text in the last prompt: everything after its 'Text:' line."""
    content = messages[-1].content
    assert "Text:\n" in content, content
    return content.rsplit("Text:\n", 1)[1]


def go_to_goes(messages: list[Message], params: GenParams) -> str:
    """A corrector that fixes exactly one kind of mistake and copies everything else."""
    return echo_responder(messages, params).replace(" go ", " goes ")


# -- rewrite ----------------------------------------------------------------------------------------


def test_rewrite_of_a_long_text_with_an_echo_model_returns_the_text_exactly(english_5000: str) -> None:
    model = FakeModel()
    streamed: list[str] = []
    result = rewrite.rewrite(model, english_5000, style="casual", on_text=streamed.append)
    assert result.text == english_5000  # nothing dropped, duplicated or reordered
    assert result.segments >= 5
    from draftsmith.style import features as F
    from draftsmith.style.select import DEFAULT_CANDIDATES, MIN_SCORED, MIN_SENTENCE, SENTENCE_DRAFTS
    from draftsmith.writing.segment import split_segments

    pieces = [english_5000[s.start : s.end] for s in split_segments(english_5000, rewrite.SEGMENT_CHARS)]
    short = sum(F.length(p, "en") < MIN_SCORED["en"] for p in pieces)  # one draft each, streamed as written
    assert len(pieces) == result.segments and short < len(pieces)
    # each piece drafted N times, one chosen; an echo never fits the style better, so each gets a second round and
    # then, if it has two sentences or more, SENTENCE_DRAFTS drafts of each sentence long enough
    drafts = (len(pieces) - short) * DEFAULT_CANDIDATES * 2 + short
    for piece in pieces:
        sentences = rewrite._sentence_parts(piece, "en")[1::2]
        if F.length(piece, "en") >= MIN_SCORED["en"] and len(sentences) > 1:
            drafts += SENTENCE_DRAFTS * sum(F.length(s, "en") >= MIN_SENTENCE["en"] for s in sentences)
    assert drafts > (len(pieces) - short) * DEFAULT_CANDIDATES * 2 + short
    assert len(model.calls) == drafts == result.style_adherence.drafts
    assert "".join(streamed) == english_5000  # what the CLI streams is what the result holds
    assert result.style == "casual" and result.language == "en"


def test_rewrite_sends_the_style_guide_to_the_model() -> None:
    model = FakeModel()
    rewrite.rewrite(model, "A short note about the weather.", style="academic")
    prompt = model.calls[0][-1].content
    assert "academic" in prompt
    assert prompt.rstrip().endswith("A short note about the weather.")


def test_rewrite_in_another_language_names_that_language() -> None:
    model = FakeModel("Une courte note.")
    result = rewrite.rewrite(model, "A short note.", style="formal", lang="fr")
    assert result.text == "Une courte note."
    assert "French" in model.calls[0][-1].content


# -- correct ----------------------------------------------------------------------------------------


def test_correct_reports_the_edit_at_its_place_in_the_original() -> None:
    text = "She go to school every day."
    result = correct.correct(FakeModel(go_to_goes), text)
    assert [(e.start, e.end, e.original, e.replacement) for e in result.edits] == [(4, 6, "go", "goes")]
    assert result.edits[0].category == "grammar"
    assert result.text == "She goes to school every day."
    assert result.original == text


def test_correct_offsets_point_into_the_original_of_a_long_text(english_5000: str) -> None:
    paragraphs = english_5000.split("\n\n")
    assert " go " not in english_5000
    paragraphs[2] = "Every Monday they go to the market by the river. " + paragraphs[2]
    paragraphs[-2] = paragraphs[-2] + " On Sundays we go to the hills."
    text = "\n\n".join(paragraphs)
    result = correct.correct(FakeModel(go_to_goes), text)
    assert result.segments > 5
    starts = [m.start() + 1 for m in re.finditer(" go ", text)]
    assert [(e.start, e.original, e.replacement) for e in result.edits] == [(s, "go", "goes") for s in starts]
    for edit in result.edits:
        assert text[edit.start : edit.end] == "go"
    assert result.text == text.replace(" go ", " goes ")
    assert result.warnings == []


def test_correct_of_correct_text_changes_nothing(english_5000: str) -> None:
    result = correct.correct(FakeModel(), english_5000)
    assert result.edits == [] and result.text == english_5000 and result.warnings == []


def test_correct_refuses_an_answer_that_rewrites_everything() -> None:
    text = "She go to school every day. Her brother go to work."
    model = FakeModel("Completely different words that share nothing with the input at all.")
    result = correct.correct(model, text)
    assert result.edits == []
    assert result.text == text
    assert len(result.warnings) == 1 and "rewrote" in result.warnings[0]


def test_correct_ignores_whitespace_only_changes() -> None:
    text = "Line one.\nLine   two."
    result = correct.correct(FakeModel("Line one. Line two."), text)
    assert result.edits == [] and result.text == text


def test_correct_chinese_gives_a_chinese_reason() -> None:
    model = FakeModel(lambda m, p: echo_responder(m, p).replace("公圆", "公园"))
    result = correct.correct(model, "周末我们去公圆玩。")
    assert [(e.original, e.replacement, e.category) for e in result.edits] == [("圆", "园", "spelling")]
    assert result.language == "zh"
    assert "错别字" in result.edits[0].reason


# -- translate --------------------------------------------------------------------------------------

MARKDOWN = """# Getting started

Draftsmith helps you write. See [the docs](https://example.com/docs/Getting-Started?tab=Install) first.

## Install

1. Install it with `pip install draftsmith`.
2. Run the tests.
10. Tell a friend.

- Fast and local
  - Works offline
    - Even on a train
- Private by default

> Good tools stay out of the way.
> > A nested quote.

```python
def hello(name):
    return f"Hello, {name}"  # Text: not translated
```

- [ ] Open task
- [x] Done task

Final words with *emphasis* and **bold**.
"""

MARKDOWN_UPPER = """# GETTING STARTED

DRAFTSMITH HELPS YOU WRITE. SEE [THE DOCS](https://example.com/docs/Getting-Started?tab=Install) FIRST.

## INSTALL

1. INSTALL IT WITH `pip install draftsmith`.
2. RUN THE TESTS.
10. TELL A FRIEND.

- FAST AND LOCAL
  - WORKS OFFLINE
    - EVEN ON A TRAIN
- PRIVATE BY DEFAULT

> GOOD TOOLS STAY OUT OF THE WAY.
> > A NESTED QUOTE.

```python
def hello(name):
    return f"Hello, {name}"  # Text: not translated
```

- [ ] OPEN TASK
- [x] DONE TASK

FINAL WORDS WITH *EMPHASIS* AND **BOLD**.
"""


def shout(messages: list[Message], params: GenParams) -> str:
    """A 'translation' that is easy to check: the text, upper-cased."""
    return after_text_marker(messages).upper()


def test_translate_keeps_markdown_structure_code_and_links() -> None:
    model = FakeModel(shout)
    result = translate.translate(model, MARKDOWN, to="fr")
    assert result.text == MARKDOWN_UPPER
    assert result.warnings == []
    assert result.language == "fr"
    sent = "\n".join(after_text_marker(call) for call in model.calls)
    assert "def hello" not in sent and "https://" not in sent and "pip install" not in sent


def test_translate_streams_the_whole_document() -> None:
    streamed: list[str] = []
    result = translate.translate(FakeModel(shout), MARKDOWN, to="fr", on_text=streamed.append)
    assert "".join(streamed).rstrip("\n") == result.text.rstrip("\n")


def test_translate_puts_back_a_link_the_model_dropped_and_warns() -> None:
    def drop_placeholders(messages: list[Message], params: GenParams) -> str:
        return re.sub(r"⟦\d+⟧", "", after_text_marker(messages)).upper()

    result = translate.translate(FakeModel(drop_placeholders), "Read [the guide](https://example.com/g).", to="de")
    assert "(https://example.com/g)" in result.text
    assert len(result.warnings) == 1


def test_translate_retries_line_by_line_when_the_model_merges_lines() -> None:
    def merge(messages: list[Message], params: GenParams) -> str:
        return " ".join(after_text_marker(messages).upper().split("\n"))

    text = "- first item\n- second item\n- third item"
    result = translate.translate(FakeModel(merge), text, to="de")
    assert result.text == "- FIRST ITEM\n- SECOND ITEM\n- THIRD ITEM"


def test_translate_into_the_texts_own_language_is_refused() -> None:
    with pytest.raises(InputError, match="--from"):
        translate.translate(FakeModel(), "This is already English.", to="en")


def test_translate_glossary_reaches_the_model() -> None:
    model = FakeModel(shout)
    translate.translate(model, "The draft is ready.", to="zh", glossary={"draft": "草稿"})
    assert "draft => 草稿" in model.calls[0][-1].content


# -- write ------------------------------------------------------------------------------------------


def test_write_with_a_template_renders_its_variables_into_the_prompt() -> None:
    model = FakeModel("Council approves new bridge")
    result = generate.write(
        model,
        template="news-headline",
        variables={"facts": "The council approved a new bridge on Monday.", "count": "3"},
    )
    assert result.text == "Council approves new bridge"
    assert result.template == "news-headline" and result.style == "news"
    prompt = model.calls[0][-1].content
    assert "The council approved a new bridge on Monday." in prompt
    assert "3 alternative news headlines" in prompt


def test_write_from_an_instruction_in_chinese_asks_for_chinese() -> None:
    model = FakeModel("春雨")
    result = generate.write(model, "写一首关于春雨的短诗")
    assert result.language == "zh"
    assert "Simplified Chinese" in model.calls[0][-1].content


def test_write_warns_when_output_hits_the_token_limit() -> None:
    result = generate.write(FakeModel("one two three four five six"), "count", max_tokens=3)
    assert result.text == "one two three"
    assert result.warnings and "--max-tokens" in result.warnings[0]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"template": "no-such-template"}, TemplateError, "unknown template"),
        ({"template": "news-headline", "variables": {}}, TemplateError, "needs facts"),
        ({"template": "news-headline", "variables": {"facts": "x", "colour": "red"}}, TemplateError, "colour"),
        ({"template": "news-headline", "variables": {"facts": "x", "count": "many"}}, TemplateError, "integer"),
        ({"instruction": "Write a poem.", "style": "no-such-style"}, InputError, "unknown style"),
        ({"instruction": "Write a poem.", "lang": "klingon"}, InputError, "unknown language"),
        ({}, InputError, "nothing to write"),
    ],
)
def test_write_rejects_bad_requests_clearly(kwargs: dict, error: type[Exception], message: str) -> None:
    model = FakeModel("never used")
    with pytest.raises(error, match=message):
        generate.write(model, **kwargs)
    assert model.calls == []


# -- continue ---------------------------------------------------------------------------------------

_STORY = " ".join(f"Sentence number {i} tells a little more of the story." for i in range(1, 120))


def test_continue_trims_a_long_answer_to_about_the_asked_length() -> None:
    result = continuation.continue_text(FakeModel(_STORY), "Once upon a time there was a lighthouse.", words=50)
    n = count_words(result.text)
    assert 25 <= n <= 58, n
    assert result.text.endswith(".")  # cut at a sentence end, not mid-sentence
    assert _STORY.startswith(result.text)


def test_continue_drops_the_input_when_the_model_repeats_it_first() -> None:
    start = "The lighthouse keeper climbed the stairs every night."
    result = continuation.continue_text(FakeModel(f"{start} Tonight the lamp was already lit."), start, words=20)
    assert result.text == "Tonight the lamp was already lit."


def test_continue_sends_only_the_end_of_a_long_document(english_5000: str) -> None:
    model = FakeModel("And then it rained.")
    continuation.continue_text(model, english_5000, words=10)
    sent = after_text_marker(model.calls[0])
    assert len(sent) <= continuation.CONTEXT_CHARS
    assert english_5000.rstrip().endswith(sent.rstrip())


# -- title, outline, summarize ----------------------------------------------------------------------


def test_title_parses_numbered_lines() -> None:
    answer = '1. The River Town\n2) "A Quiet Morning"\n3、 **Bridges and Bread**\n- Letters Home\n'
    result = summarize.title(FakeModel(answer), "A story about a river town.", count=3)
    assert result.titles == ["The River Town", "A Quiet Morning", "Bridges and Bread"]
    assert result.text == "The River Town\nA Quiet Morning\nBridges and Bread"


def test_title_skips_a_preamble_line() -> None:
    answer = "Here are three title options:\n1. The River Town\n2. A Quiet Morning\n3. Bridges and Bread"
    result = summarize.title(FakeModel(answer), "A story about a river town.", count=3)
    assert result.titles == ["The River Town", "A Quiet Morning", "Bridges and Bread"]


def test_outline_parses_sections_and_points() -> None:
    answer = "## Introduction\n- Why rivers matter\n- Who lives here\n\n## The Bridge\n- Built in 1900\n"
    model = FakeModel(answer)
    result = summarize.outline(model, topic="river towns", sections=2)
    assert [(s.title, s.points) for s in result.sections] == [
        ("Introduction", ["Why rivers matter", "Who lives here"]),
        ("The Bridge", ["Built in 1900"]),
    ]
    assert "river towns" in model.calls[0][-1].content


def test_summarize_condenses_a_long_text_piece_by_piece(english_5000: str) -> None:
    model = FakeModel("A short summary.")
    result = summarize.summarize(model, english_5000, words=40)
    assert result.text == "A short summary."
    assert len(model.calls) > 2  # the map step, then the final summary
    assert all(len(call[-1].content) < summarize.DIRECT_CHARS + 2000 for call in model.calls)


# -- input checks shared by every operation ---------------------------------------------------------

OPERATIONS = {
    "rewrite": lambda m, t: rewrite.rewrite(m, t, style="casual"),
    "translate": lambda m, t: translate.translate(m, t, to="fr"),
    "correct": lambda m, t: correct.correct(m, t),
    "continue": lambda m, t: continuation.continue_text(m, t),
    "summarize": lambda m, t: summarize.summarize(m, t),
    "title": lambda m, t: summarize.title(m, t),
    "outline": lambda m, t: summarize.outline(m, text=t),
}


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
@pytest.mark.parametrize("text", ["", "   ", "\n\t \n"])
def test_empty_input_is_refused_before_the_model_runs(operation: str, text: str) -> None:
    model = FakeModel()
    with pytest.raises(InputError, match="empty"):
        OPERATIONS[operation](model, text)
    assert model.calls == []


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_huge_input_is_refused_before_the_model_runs(operation: str) -> None:
    model = FakeModel()
    with pytest.raises(InputError, match="too large"):
        OPERATIONS[operation](model, "word " * 100_000)
    assert model.calls == []


def test_binary_looking_input_is_refused() -> None:
    with pytest.raises(InputError, match="NUL"):
        rewrite.rewrite(FakeModel(), "abc\x00def", style="casual")


def test_the_assistant_applies_the_configured_input_limit() -> None:
    assistant = Assistant(FakeModel(), max_input_chars=1000)
    assert assistant.rewrite("x " * 400, style="casual").text == "x " * 400
    with pytest.raises(InputError, match="1,000"):
        assistant.correct("x " * 600)


def test_raising_the_input_limit_lets_a_larger_text_through() -> None:
    # The error for a big text says "raise max_input_chars in the config": doing so must work.
    text = "Some words here. " * 30_000  # 510,000 characters, over the 400,000 default
    assistant = Assistant(FakeModel(), max_input_chars=600_000)
    assert assistant.rewrite(text, style="casual").text == text


def test_unknown_style_and_language_are_clear_errors() -> None:
    with pytest.raises(InputError, match=r"unknown style 'shouty'.*casual"):
        rewrite.rewrite(FakeModel(), "Some text.", style="shouty")
    with pytest.raises(InputError, match=r"unknown language 'xx'.*fr"):
        translate.translate(FakeModel(), "Some text.", to="xx")
    with pytest.raises(InputError, match="unknown language"):
        correct.correct(FakeModel(), "Some text.", lang="xx")


def test_translate_warns_when_a_glossary_term_is_not_used() -> None:
    from draftsmith.models.fake import FakeModel
    from draftsmith.writing.translate import translate

    model = FakeModel("我们参观了西湖。")
    kept = translate(model, "We visited West Lake.", to="zh", glossary={"West Lake": "西湖"})
    assert kept.warnings == []
    lost = translate(model, "We visited West Lake.", to="zh", glossary={"West Lake": "西子湖"})
    assert any("西子湖" in w for w in lost.warnings)
