"""The built-in prompt templates and the template engine (no model needed)."""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any

import pytest

from draftsmith.errors import TemplateError
from draftsmith.prompts import registry
from draftsmith.prompts.template import STANDARD_VARIABLES, Template, Variable, parse_template
from draftsmith.style.presets import list_styles

WRITING = {
    "news-headline",
    "news-lede",
    "news-brief",
    "news-summary",
    "academic-abstract",
    "academic-introduction",
    "academic-conclusion",
    "academic-related-work",
    "product-description",
    "ad-copy",
    "marketing-email",
    "press-release",
    "weibo-post",
    "wechat-article",
    "tweet-thread",
    "lesson-outline",
    "exercises",
    "story-continuation",
    "poem",
    "scene",
    "lyrics",
    "weekly-report",
    "quarterly-report",
    "travel-blog",
}

# name -> (task, {variable: (allowed types, required, default)}): a contract the writing operations rely on.
TEXT = ("text", "string")
OPERATIONS: dict[str, tuple[str, dict[str, tuple[tuple[str, ...], bool, Any]]]] = {
    "rewrite": ("rewrite", {"text": (TEXT, True, None), "retry": (("boolean",), False, False)}),
    "translate": (
        "translate",
        {
            "text": (TEXT, True, None),
            "source_language": (("string",), False, ""),
            "glossary": (("list",), False, []),
        },
    ),
    "correct": ("correct", {"text": (TEXT, True, None)}),
    "continue": ("continue", {"text": (TEXT, True, None), "words": (("integer",), False, 100)}),
    "summarize": ("summarize", {"text": (TEXT, True, None), "words": (("integer",), False, 80)}),
    "outline": (
        "outline",
        {
            "text": (TEXT, False, ""),
            "topic": (("string",), False, ""),
            "sections": (("integer",), False, 5),
        },
    ),
    "title": ("title", {"text": (TEXT, True, None), "count": (("integer",), False, 5)}),
}

BUILTIN_NAMES = sorted(WRITING | set(OPERATIONS))


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own data dir, so the user's real templates never leak in."""
    monkeypatch.setenv("DRAFTSMITH_HOME", str(tmp_path))
    return tmp_path


def user_dir(home: Path) -> Path:
    path = home / "data" / "templates"
    path.mkdir(parents=True, exist_ok=True)
    return path


def dummy(name: str, var: Variable) -> Any:
    """A recognisable value of the variable's type."""
    if var.type == "integer":
        return 7
    if var.type == "number":
        return 2.5
    if var.type == "boolean":
        return True
    if var.type == "list":
        return [f"{name}-one", f"{name}-two"]
    if var.type == "choice":
        return (var.choices or ["?"])[0]
    return f"<{name}-value>"


def standard(lang: str = "en", length: int = 123) -> dict[str, Any]:
    names = {"en": "English", "zh": "Simplified Chinese"}
    return {
        "length": length,
        "style": "casual",
        "style_guide": "GUIDE-MARKER: keep it friendly",
        "lang": lang,
        "language": names[lang],
    }


def required_values(template: Template) -> dict[str, Any]:
    return {name: dummy(name, var) for name, var in template.variables.items() if var.required}


def all_values(template: Template) -> dict[str, Any]:
    return {name: dummy(name, var) for name, var in template.variables.items()}


def leftovers(text: str) -> list[str]:
    return [mark for mark in ("{{", "}}", "{%", "%}", "None") if mark in text]


def minimal_template(body: str, front: str = "") -> str:
    return f"---\nname: probe\ndescription: a test template\n{front}---\n{body}\n"


# --- the built-in library ---------------------------------------------------------------------------


def test_library_has_every_builtin_and_all_parse() -> None:
    templates = {t.name: t for t in registry.list_templates()}
    assert set(BUILTIN_NAMES) <= set(templates), sorted(set(BUILTIN_NAMES) - set(templates))
    for name in BUILTIN_NAMES:
        assert templates[name].source == "builtin"
        assert templates[name].description.strip()


@pytest.mark.parametrize("name", sorted(WRITING))
def test_writing_template_metadata(name: str) -> None:
    t = registry.get_template(name)
    assert t.task == "write"
    assert t.style in list_styles(), f"{name}: default style {t.style!r} is not a preset"
    assert isinstance(t.length, int) and t.length > 0
    assert t.system, f"{name} has no system prompt"
    assert "only" in t.system.lower() or "只输出" in t.system, f"{name}: system prompt must ask for the piece only"
    assert any(v.required for v in t.variables.values()), f"{name}: nothing required; what is it about?"
    # Short bodies: small models follow short prompts, and prompt tokens cost time on CPU.
    assert len(t.body.strip().splitlines()) <= 12


@pytest.mark.parametrize("name", BUILTIN_NAMES)
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_builtin_renders_with_required_variables(name: str, lang: str) -> None:
    t = registry.get_template(name)
    values = required_values(t)
    messages = t.render({**values, **standard(lang)})
    assert messages[-1].role == "user"
    assert messages[0].role == ("system" if t.system else "user")
    for message in messages:
        assert message.content.strip()
        assert not leftovers(message.content), f"{name}: {leftovers(message.content)} in {message.content!r}"
    prompt = messages[-1].content
    for var_name, value in values.items():
        assert str(value) in prompt, f"{name}: required {var_name!r} does not reach the prompt"


@pytest.mark.parametrize("name", BUILTIN_NAMES)
def test_every_declared_variable_reaches_the_prompt(name: str) -> None:
    """Setting any variable (optional ones included) changes what the model is told."""
    t = registry.get_template(name)
    values = all_values(t)
    prompt = t.render({**values, **standard()})[-1].content
    assert not leftovers(prompt)
    for var_name, value in values.items():
        if isinstance(value, bool):
            continue
        shown = value if isinstance(value, list) else [value]
        for item in shown:
            assert str(item) in prompt, f"{name}: {var_name}={item!r} is not used in the prompt"


@pytest.mark.parametrize("name", sorted(WRITING))
def test_writing_templates_use_language_length_and_style(name: str) -> None:
    t = registry.get_template(name)
    en = t.render({**required_values(t), **standard("en", length=321)})[-1].content
    zh = t.render({**required_values(t), **standard("zh", length=321)})[-1].content
    assert "English" in en and "Simplified Chinese" in zh
    assert re.search(r"321 (more )?words", en), en
    assert re.search(r"321 ?(more )?(characters|字)", zh), zh
    assert "GUIDE-MARKER" in en


def test_optional_variables_are_left_out_when_empty() -> None:
    t = registry.get_template("press-release")
    base = {"organization": "Acme", "announcement": "a new factory", **standard()}
    plain = t.render(base)[-1].content
    assert "Include this quote" not in plain and "()" not in plain and "media contact" not in plain
    full = t.render({**base, "location": "Lyon", "date": "3 May", "quote": '"Great day," said Ann.'})[-1].content
    assert "(Lyon, 3 May)" in full and '"Great day," said Ann.' in full


def test_weibo_hashtags_use_weibo_format() -> None:
    t = registry.get_template("weibo-post")
    prompt = t.render({"topic": "秋天", "hashtags": ["#秋天", "周末"], **standard("zh")})[-1].content
    assert "#秋天#" in prompt and "#周末#" in prompt and "##" not in prompt.replace("## ", "")


def test_builtin_templates_survive_a_round_trip_through_text() -> None:
    """`templates new --base X` copies X through to_text(); nothing may get lost on the way."""
    for t in registry.list_templates():
        copy = parse_template(t.to_text())
        assert copy.variables == t.variables and copy.examples == t.examples
        assert copy.system == t.system and copy.temperature == t.temperature
        values = {**required_values(t), **standard()}
        assert copy.render(values) == t.render(values)


# --- operation templates: names and variables are a contract ------------------------------------


@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_operation_template_contract(name: str) -> None:
    task, expected = OPERATIONS[name]
    t = registry.get_template(name)
    assert t.task == task
    assert t.category == "operation"
    assert set(t.variables) == set(expected)
    for var_name, (types, required, default) in expected.items():
        var = t.variables[var_name]
        assert var.type in types, f"{name}.{var_name} is {var.type}"
        assert var.required is required, f"{name}.{var_name} required={var.required}"
        if not required:
            assert var.default == default, f"{name}.{var_name} default={var.default!r}"
    assert t.system and "only" in t.system.lower()


def test_translate_prompt_carries_target_glossary_and_placeholders() -> None:
    t = registry.get_template("translate")
    prompt = t.render(
        {
            "text": "# 标题\n- 使用 ⟦0⟧ 显卡",
            "source_language": "Simplified Chinese",
            "glossary": "显卡 => GPU, 模型 => model",
            **standard("en"),
        }
    )[-1].content
    assert "into English" in prompt and "from Simplified Chinese" in prompt
    assert "显卡 => GPU" in prompt and "模型 => model" in prompt
    assert "⟦0⟧" in prompt and "Markdown" in prompt
    assert prompt.rstrip().endswith("- 使用 ⟦0⟧ 显卡")


def test_outline_and_title_state_their_counts() -> None:
    outline = registry.get_template("outline").render({"topic": "tea", "sections": "4", **standard()})
    assert "tea" in outline[-1].content and "4 sections" in outline[-1].content
    assert "## " in outline[-1].content
    title = registry.get_template("title").render({"text": "A story.", "count": 3, **standard()})
    assert "exactly 3" in title[-1].content and '"1. "' in title[-1].content


def test_rewrite_keeps_input_language_unless_told() -> None:
    t = registry.get_template("rewrite")
    told = t.render({"text": "hello", **standard("zh")})[-1].content
    assert "Simplified Chinese" in told
    untold = t.render({"text": "hello", "style": "formal", "style_guide": "Be formal."})[-1].content
    assert "Keep the language of the text" in untold and "None" not in untold


def test_correct_is_greedy_with_minimal_edit_examples() -> None:
    # English: a learner's errors fixed (fluency included: word choice, articles, commas), never a rewrite
    t = registry.get_template("correct")
    assert t.temperature == 0
    assert 3 <= len(t.examples) <= 8
    pairs = [(e.vars["text"], e.output) for e in t.examples]
    assert all(set(e.vars) == {"text"} for e in t.examples)
    assert any(src == out for src, out in pairs), "needs an already-correct example returned unchanged"
    for src, out in pairs:
        assert difflib.SequenceMatcher(None, src, out).ratio() > 0.7, (src, out)
    # Chinese (correct-zh): precision first, every example a small edit in Chinese, one for each kind of error a
    # learner of Chinese makes most (a wrong character, a missing 了 or 是, an extra word, 的 for 地). The first six are
    # MuCGEC dev odd ids past the first 150 used for tuning (719, 651, 623, 841, 635) and one written for it; five
    # written ones follow for the gold edits most frequent on the odd ids (a missing 的 or 会, an extra 了, 、 between
    # listed nouns, a comma after a fronted clause).
    zh = registry.get_template("correct-zh")
    assert zh.temperature == 0 and zh.task == "correct" and zh.category == "operation"
    assert set(zh.variables) == {"text"} and zh.system and "only" in zh.system.lower()
    assert 5 <= len(zh.examples) <= 12
    pairs = [(e.vars["text"], e.output) for e in zh.examples]
    assert all(re.search(r"[\u4e00-\u9fff]", src) for src, _ in pairs), "Chinese examples only"
    assert any(src == out for src, out in pairs), "needs an already-correct example returned unchanged"
    for src, out in pairs:
        assert difflib.SequenceMatcher(None, src, out).ratio() > 0.85, (src, out)
    kinds = {_zh_change(src, out) for src, out in pairs if src != out}
    assert {"missing word", "extra word", "wrong character"} <= kinds, kinds
    assert any("的" in src and "地" in out for src, out in pairs), "needs the adverbial 的 → 地"
    assert any("，" in src and "、" in out for src, out in pairs), "needs the enumeration comma 、"
    assert any(out.count("的") > src.count("的") for src, out in pairs), "needs a missing 的"


def _zh_change(src: str, out: str) -> str:
    """The kind of a one-place change: a word added, a word taken out, or characters swapped."""
    ops = [op for op in difflib.SequenceMatcher(None, src, out, autojunk=False).get_opcodes() if op[0] != "equal"]
    assert len(ops) == 1, (src, out)
    tag = ops[0][0]
    return {"insert": "missing word", "delete": "extra word"}.get(tag, "wrong character")


# --- few-shot examples -----------------------------------------------------------------------------


def test_few_shot_examples_become_ordered_user_assistant_pairs() -> None:
    t = registry.get_template("correct")
    messages = t.render({"text": "He have a cat."})
    roles = [m.role for m in messages]
    assert roles == ["system"] + ["user", "assistant"] * len(t.examples) + ["user"]
    for i, example in enumerate(t.examples):
        assert example.vars["text"] in messages[1 + 2 * i].content
        assert messages[2 + 2 * i].content == example.output
    assert "He have a cat." in messages[-1].content
    assert all(e.vars["text"] not in messages[-1].content for e in t.examples)


def test_few_shot_examples_see_the_standard_variables() -> None:
    t = parse_template(
        minimal_template(
            "In {{ language }}: {{ word }}",
            "variables:\n  word: {type: string, required: true}\n"
            "examples:\n  - vars: {word: one}\n    output: eins\n  - vars: {word: two}\n    output: zwei\n",
        )
    )
    messages = t.render({"word": "three", "language": "German"})
    assert [m.content for m in messages] == [
        "In German: one",
        "eins",
        "In German: two",
        "zwei",
        "In German: three",
    ]


# --- variables: unknown, missing, wrong type ---------------------------------------------------


def test_unknown_variable_lists_what_the_template_takes() -> None:
    t = registry.get_template("travel-blog")
    with pytest.raises(TemplateError) as err:
        t.render({"city": "Kyoto", "citty": "Osaka"})
    message = str(err.value)
    assert "citty" in message
    for name in ("city", "attraction", "season", *STANDARD_VARIABLES):
        assert name in message


def test_missing_required_variable_is_named() -> None:
    t = registry.get_template("press-release")
    with pytest.raises(TemplateError) as err:
        t.render({"organization": "Acme"})
    assert "announcement" in str(err.value) and "needs" in str(err.value)


def test_wrong_type_is_rejected_and_strings_are_coerced() -> None:
    t = registry.get_template("continue")
    with pytest.raises(TemplateError) as err:
        t.render({"text": "Once upon a time", "words": "abc"})
    assert "words" in str(err.value) and "integer" in str(err.value)
    prompt = t.render({"text": "Once upon a time", "words": "40", **standard()})[-1].content
    assert "about 40 more words" in prompt


# --- user templates ----------------------------------------------------------------------------------


def test_user_template_overrides_builtin(isolated_home: Path) -> None:
    (user_dir(isolated_home) / "travel-blog.md").write_text(
        minimal_template("My own travel prompt for {{ city }}.", "variables:\n  city: {type: string}\n").replace(
            "name: probe", "name: travel-blog"
        ),
        encoding="utf-8",
    )
    t = registry.get_template("travel-blog")
    assert t.source == "user"
    assert t.render({"city": "Lima"})[-1].content == "My own travel prompt for Lima."
    listed = [x for x in registry.list_templates() if x.name == "travel-blog"]
    assert len(listed) == 1 and listed[0].source == "user"


def test_broken_user_template_fails_on_use_but_does_not_hide_others(isolated_home: Path) -> None:
    bad = user_dir(isolated_home) / "broken.md"
    bad.write_text("no front matter here\n", encoding="utf-8")
    names = {t.name for t in registry.list_templates()}
    assert "correct" in names and "broken" not in names
    with pytest.raises(TemplateError) as err:
        registry.get_template("broken")
    assert "broken.md" in str(err.value)


def test_unknown_template_suggests_close_names() -> None:
    with pytest.raises(TemplateError) as err:
        registry.get_template("translat")
    assert "translate" in str(err.value)


def test_new_template_writes_a_loadable_file_and_will_not_overwrite(isolated_home: Path) -> None:
    path = registry.new_template("my-post")
    assert path == isolated_home / "data" / "templates" / "my-post.md"
    t = registry.get_template("my-post")
    assert t.source == "user" and t.name == "my-post"
    assert "owls" in t.render({"topic": "owls", **standard()})[-1].content

    path.write_text(path.read_text(encoding="utf-8").replace("Write about", "Please write about"), encoding="utf-8")
    edited = path.read_text(encoding="utf-8")
    with pytest.raises(TemplateError) as err:
        registry.new_template("my-post")
    assert "force" in str(err.value)
    assert path.read_text(encoding="utf-8") == edited, "refusing must leave the user's edits alone"

    registry.new_template("my-post", force=True)
    assert "Please write about" not in path.read_text(encoding="utf-8")


def test_new_template_from_a_builtin_base() -> None:
    registry.new_template("my-correct", base="correct")
    copy, original = registry.get_template("my-correct"), registry.get_template("correct")
    assert copy.name == "my-correct" and copy.source == "user"
    assert copy.variables == original.variables and copy.examples == original.examples
    assert copy.temperature == 0


def test_new_template_rejects_a_bad_name(isolated_home: Path) -> None:
    with pytest.raises(TemplateError):
        registry.new_template("Bad Name")
    assert not list((isolated_home / "data").rglob("*.md"))


# --- malformed templates --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("just a body, no front matter\n", id="no-front-matter"),
        pytest.param("---\nname: probe\ndescription: [unclosed\n---\nbody\n", id="bad-yaml"),
        pytest.param("---\n- a\n- list\n---\nbody\n", id="not-a-mapping"),
        pytest.param(minimal_template("body", "variabels: {}\n"), id="typo-key"),
        pytest.param(minimal_template("{{ n }}", "variables:\n  n: {type: integr}\n"), id="bad-type"),
        pytest.param(minimal_template("body").replace("name: probe", "name: Bad Name"), id="bad-name"),
        pytest.param("---\nname: probe\n---\nbody\n", id="no-description"),
    ],
)
def test_malformed_front_matter_is_a_template_error(text: str) -> None:
    with pytest.raises(TemplateError):
        parse_template(text)


def test_undeclared_body_variable_is_named() -> None:
    with pytest.raises(TemplateError) as err:
        parse_template(minimal_template("{{ topic }} in a {{ mood }} mood", "variables:\n  topic: {type: string}\n"))
    assert "mood" in str(err.value) and "topic" not in str(err.value).split("uses")[1].split("but")[0]


def test_undeclared_variable_in_system_prompt_is_named() -> None:
    with pytest.raises(TemplateError) as err:
        parse_template(minimal_template("hi", "system: You are {{ persona }}.\n"))
    assert "persona" in str(err.value)


def test_jinja_syntax_error_is_a_template_error() -> None:
    with pytest.raises(TemplateError) as err:
        parse_template(minimal_template("{% if language %}unclosed"))
    assert "syntax" in str(err.value).lower()


@pytest.mark.parametrize(
    "body",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ language.__class__.__init__.__globals__ }}",
        "{{ cycler.__init__.__globals__ }}",
    ],
)
def test_sandbox_blocks_attribute_escapes(body: str) -> None:
    t = parse_template(minimal_template(body))
    with pytest.raises(TemplateError) as err:
        t.render({"language": "English"})
    assert "unsafe" in str(err.value)
