"""Every writing operation on the real bundled 0.5B model, asserting what a user would see."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from draftsmith.models.base import GenParams, Message, collect
from draftsmith.models.loader import load_model
from draftsmith.writing import continuation, correct, generate, rewrite, summarize, translate

pytestmark = pytest.mark.model
MODEL = "qwen2.5-0.5b"
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def model():
    return load_model(MODEL)


def test_stream_joins_to_the_completion(model):
    messages = [Message(role="user", content="Name three colours, comma separated.")]
    params = GenParams(max_tokens=24, temperature=0.0, top_k=1)
    chunks = list(model.stream(messages, params))
    assert len([c for c in chunks if c.text]) > 1
    assert chunks[-1].finish_reason in ("stop", "length")
    assert chunks[-1].usage.completion_tokens > 0
    again = collect(model.name, model.stream(messages, params))
    assert "".join(c.text for c in chunks) == again.text
    assert again.timings.first_token_s is not None


def test_json_schema_output_validates(model):
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "country": {"type": "string"}},
        "required": ["city", "country"],
    }
    data = model.json(
        [Message(role="user", content="Give the capital of France as JSON.")],
        schema,
        GenParams(max_tokens=60, temperature=0.0),
    )
    assert set(data) >= {"city", "country"}
    assert "paris" in data["city"].lower()


def test_score_prefers_the_likely_continuation(model):
    good = model.score("The capital of France is", " Paris")
    bad = model.score("The capital of France is", " banana")
    assert good.tokens >= 1 and bad.tokens >= 1
    assert good.logprob > bad.logprob
    again = model.score("The capital of France is", " Paris")  # the context's KV is reused this time
    assert abs(again.logprob - good.logprob) < 1e-3
    params = GenParams(max_tokens=8, temperature=0.0, top_k=1)
    messages = [Message(role="user", content="Say hello.")]
    before = model.complete(messages, params).text
    model.score("Completely different context", " here")
    assert model.complete(messages, params).text == before  # scoring leaves generation intact


def test_speculative_decoding_gives_the_same_text(model):
    text = "Yesterday I go to the market and buyed three apple. They was very fresh."
    plain = correct.correct(model, text, speculative=False)
    fast = correct.correct(model, text, speculative=True)
    assert plain.text == fast.text


def test_correct_english(model):
    text = "She go to school every day."
    result = correct.correct(model, text)
    assert "goes" in result.text and "every day" in result.text
    assert result.edits
    for edit in result.edits:
        assert text[edit.start : edit.end] == edit.original
        assert edit.reason and "\n" not in edit.reason


def test_correct_keeps_a_correct_sentence(model):
    text = "The committee will meet on Friday to discuss the budget."
    assert correct.correct(model, text).text == text


def test_correct_chinese(model):
    text = "我们周末去公圆玩。"
    result = correct.correct(model, text)
    assert "公园" in result.text
    assert all(text[e.start : e.end] == e.original for e in result.edits)


def test_correct_chinese_lists_take_the_enumeration_comma(model):
    # the correct-zh prompt's worked example for 、 between listed items carries over to other lists (with the
    # prompt's first six examples alone the 0.5B left the comma)
    result = correct.correct(model, "她喜欢唱歌，跳舞和画画。", lang="zh")
    assert result.text == "她喜欢唱歌、跳舞和画画。"
    assert [(e.original, e.replacement) for e in result.edits] == [("，", "、")]


def test_translate_to_chinese_keeps_markdown(model):
    doc = (
        "# Travel notes\n\nWe walked around the lake in the morning.\n\n"
        "- Bring water\n- Wear good shoes\n\n```bash\necho keep me\n```\n\nSee [the map](https://example.com/map).\n"
    )
    result = translate.translate(model, doc, to="zh")
    lines = result.text.split("\n")
    assert lines[0].startswith("# ") and CJK.search(lines[0])
    assert sum(1 for ln in lines if ln.startswith("- ")) == 2
    assert "```bash\necho keep me\n```" in result.text
    assert "(https://example.com/map)" in result.text
    assert len(CJK.findall(result.text)) > 10


def test_translate_chinese_to_english(model):
    result = translate.translate(model, "今天天气很好，我们去公园散步。", to="en")
    assert not CJK.search(result.text)
    assert re.search(r"weather|park", result.text, re.I)


def test_rewrite_changes_style_and_keeps_language(model):
    text = "hey guys, the meeting got moved to friday cause the boss is sick. don't be late!"
    result = rewrite.rewrite(model, text, style="formal", temperature=0.0)
    assert result.text and result.text != text
    assert re.search(r"friday", result.text, re.I)
    assert not CJK.search(result.text)


def test_write_from_template_in_chinese(model):
    result = generate.write(
        model,
        template="travel-blog",
        variables={"city": "Hangzhou", "attraction": "West Lake"},
        length=80,
        lang="zh",
        temperature=0.0,
        max_tokens=160,
    )
    assert len(CJK.findall(result.text)) > 20
    assert result.template == "travel-blog" and result.usage.completion_tokens > 0


def test_write_from_instruction(model):
    result = generate.write(model, "Write one sentence about the sea.", temperature=0.0, max_tokens=60)
    assert re.search(r"sea|ocean|wave", result.text, re.I)
    assert result.language == "en"


def test_continue_in_the_same_language(model):
    text = "The old lighthouse keeper climbed the stairs every evening. Tonight, the storm was worse than ever,"
    result = continuation.continue_text(model, text, words=30, temperature=0.0)
    assert result.text and not result.text.startswith(text[:30])
    assert len(result.text.split()) <= 45
    zh = continuation.continue_text(model, "秋天的西湖很美，湖边的柳树", words=30, temperature=0.0)
    assert CJK.search(zh.text)


def test_summarize_outline_title(model):
    text = (
        "Remote work has changed how small teams operate. Meetings moved online, documents became the main "
        "way to share decisions, and hiring opened up to people in other cities. Some teams report better "
        "focus and less commuting, while others struggle with loneliness and slower onboarding of new staff."
    )
    summary = summarize.summarize(model, text, words=30, temperature=0.0)
    assert 0 < len(summary.text.split()) < len(text.split())
    plan = summarize.outline(model, topic="remote work for small teams", sections=3, temperature=0.0)
    assert len(plan.sections) >= 2
    titles = summarize.title(model, text, count=3, temperature=0.0)
    assert len(titles.titles) == 3 and all(t.strip() for t in titles.titles)


def _cli(*args: str, **kw) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-c", "from draftsmith.cli import entry; entry()", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kw)


def test_cli_correct_json_and_in_place(tmp_path):
    path = tmp_path / "essay.txt"
    path.write_text("She go to school every day.\n", encoding="utf-8")
    proc = _cli("correct", str(path), "--json", "--model", MODEL)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert "goes" in data["text"]
    original = path.read_text(encoding="utf-8")
    for edit in data["edits"]:
        assert original[edit["start"] : edit["end"]] == edit["original"]
    proc = _cli("correct", str(path), "--in-place", "--model", MODEL)
    assert proc.returncode == 0, proc.stderr
    assert path.read_text(encoding="utf-8") == "She goes to school every day.\n"


def test_cli_ctrl_c_mid_stream_exits_cleanly():
    cmd = [
        sys.executable,
        "-c",
        "from draftsmith.cli import entry; entry()",
        "write",
        "Write a long story about a dragon.",
        "--model",
        MODEL,
        "--max-tokens",
        "400",
        "--length",  # a story the model ends after ~100 words could finish before the signal (seen once in CI)
        "300",
        "--seed",
        "0",
    ]

    def as_from_a_terminal() -> None:
        # a child inherits its parent's signal mask and ignored signals: earlier tests in the same pytest process can
        # leave SIGINT blocked in this thread, and then the Ctrl-C below would never arrive (seen in CI, full suite)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=as_from_a_terminal
    )
    # well into the stream: a signal during the model's load can land in llama.cpp's log callback, where ctypes
    # swallows the KeyboardInterrupt (seen in CI when something was printed before the load ended)
    assert proc.stdout.read(40)
    time.sleep(0.3)
    os.kill(proc.pid, signal.SIGINT)
    _, stderr = proc.communicate(timeout=180)  # generous: CI machines can be heavily loaded
    assert proc.returncode == 130, (signal.pthread_sigmask(signal.SIG_BLOCK, set()), stderr[-2000:])
    assert "interrupted" in stderr and "Traceback" not in stderr


def test_prefix_cache_survives_a_new_process(tmp_path):
    """A second model instance (as in a new CLI run) loads the template prefix from disk, same output."""
    from draftsmith.models.llamacpp import LlamaCppModel
    from draftsmith.models.loader import resolve_gguf

    path = resolve_gguf(MODEL)
    messages = [
        Message(role="system", content="You are a terse assistant. Answer in one short sentence."),
        Message(role="user", content="What colour is the sky on a clear day?"),
    ]
    params = GenParams(max_tokens=16, temperature=0.0, top_k=1)
    first = LlamaCppModel(path, n_ctx=1024, prefix_cache=tmp_path)
    text = first.complete(messages, params).text
    assert first.last_prefix == "miss" and list(tmp_path.glob("*.kv"))
    again = first.complete(messages, params)
    assert first.last_prefix == "hit-memory" and again.text == text
    second = LlamaCppModel(path, n_ctx=1024, prefix_cache=tmp_path)
    assert second.complete(messages, params).text == text
    assert second.last_prefix == "hit-disk"
    for kv in tmp_path.glob("*.kv"):  # a damaged cache file is recomputed, not trusted
        kv.write_bytes(b"garbage")
    third = LlamaCppModel(path, n_ctx=1024, prefix_cache=tmp_path)
    assert third.complete(messages, params).text == text
    assert third.last_prefix == "miss"


def test_a_prompt_longer_than_the_context_is_an_input_error(model):
    from draftsmith.errors import InputError

    with pytest.raises(InputError, match="context window"):
        list(model.stream([Message(role="user", content="word " * 9000)], GenParams(max_tokens=16)))
