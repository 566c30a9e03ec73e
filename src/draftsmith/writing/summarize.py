"""summarize, outline and title: short derived texts. Long inputs are summarised piece by piece first."""

from __future__ import annotations

import re

from pydantic import BaseModel, Field

from draftsmith.languages import language_name
from draftsmith.models.base import Model
from draftsmith.prompts.registry import get_template
from draftsmith.writing.base import (
    MAX_INPUT_CHARS,
    OnText,
    Result,
    Tally,
    ask,
    check_text,
    clean_output,
    max_tokens_for,
    output_language,
    require_output,
    run_template,
    template_params,
    trim_to_words,
)
from draftsmith.writing.segment import split_segments

DIRECT_CHARS = 6000  # inputs longer than this are condensed segment by segment first


def _condense(model: Model, text: str, lang: str, tally: Tally, words: int) -> str:
    """Map step for long inputs: summarise each segment, join the summaries."""
    if len(text) <= DIRECT_CHARS:
        return text
    tpl = get_template("summarize")
    parts = []
    spans = split_segments(text, DIRECT_CHARS // 2)
    for span in spans:
        piece = text[span.start : span.end]
        params = template_params(tpl, None, default=0.3, max_tokens=max_tokens_for(words, lang))
        values = {"lang": lang, "language": language_name(lang), "text": piece, "words": words}
        parts.append(clean_output(run_template(model, tpl, values, params, None, tally).text))
    return "\n\n".join(parts)


def summarize(
    model: Model,
    text: str,
    *,
    words: int = 80,
    lang: str | None = None,
    on_text: OnText | None = None,
    max_chars: int = MAX_INPUT_CHARS,
    temperature: float | None = None,
    seed: int | None = None,
) -> Result:
    check_text(text, max_chars=max_chars)
    language = output_language(lang, text)
    tally = Tally()
    source = _condense(model, text, language, tally, max(words, 60))
    tpl = get_template("summarize")
    params = template_params(tpl, temperature, default=0.3, seed=seed, max_tokens=max_tokens_for(words, language))
    values = {"lang": language, "language": language_name(language), "text": source, "words": words}
    out = require_output(
        trim_to_words(ask(model, tpl, values, params, tally, on_text), words, language), model, tpl.name
    )
    return tally.result(
        Result,
        model,
        operation="summarize",
        text=out,
        language=language,
        template=tpl.name,
    )


class Section(BaseModel):
    title: str
    points: list[str] = Field(default_factory=list)


class OutlineResult(Result):
    sections: list[Section] = Field(default_factory=list)


def parse_outline(text: str) -> list[Section]:
    sections: list[Section] = []
    for line in text.splitlines():
        heading = re.match(r"^\s*(?:#{1,4}\s+|\d+[.)]\s+|[IVX]+\.\s+)(.+)$", line) or re.match(
            r"^\s*\*\*([^*]+)\*\*:?\s*$", line
        )
        bullet = re.match(r"^\s*[-*+•]\s+(.+)$", line)
        if heading and not bullet:
            sections.append(Section(title=heading.group(1).strip().strip("*")))
        elif bullet:
            if not sections:
                sections.append(Section(title=""))
            sections[-1].points.append(bullet.group(1).strip())
    return sections


def outline(
    model: Model,
    *,
    topic: str = "",
    text: str = "",
    sections: int = 5,
    lang: str | None = None,
    on_text: OnText | None = None,
    max_chars: int = MAX_INPUT_CHARS,
    temperature: float | None = None,
    seed: int | None = None,
) -> OutlineResult:
    check_text(topic or text, "topic or text", max_chars=max_chars)
    language = output_language(lang, topic or text)
    tally = Tally()
    source = _condense(model, text, language, tally, 120) if text else ""
    tpl = get_template("outline")
    params = template_params(tpl, temperature, default=0.5, seed=seed, max_tokens=60 * sections + 100)
    values = {
        "lang": language,
        "language": language_name(language),
        "topic": topic,
        "text": source,
        "sections": sections,
    }
    out = ask(model, tpl, values, params, tally, on_text)
    return tally.result(
        OutlineResult,
        model,
        operation="outline",
        text=out,
        sections=parse_outline(out),
        language=language,
        template=tpl.name,
    )


class TitleResult(Result):
    titles: list[str] = Field(default_factory=list)


def title(
    model: Model,
    text: str,
    *,
    count: int = 5,
    lang: str | None = None,
    on_text: OnText | None = None,
    max_chars: int = MAX_INPUT_CHARS,
    temperature: float | None = None,
    seed: int | None = None,
) -> TitleResult:
    check_text(text, max_chars=max_chars)
    language = output_language(lang, text)
    tally = Tally()
    source = _condense(model, text, language, tally, 100)
    tpl = get_template("title")
    params = template_params(tpl, temperature, default=0.7, seed=seed, max_tokens=40 * count + 40)
    values = {"lang": language, "language": language_name(language), "text": source, "count": count}
    out = ask(model, tpl, values, params, tally, on_text)
    lines = out.splitlines()
    listed = [ln for ln in lines if re.match(r"^\s*(?:\d+[.)、]|[-*•])\s*\S", ln)]
    titles = []
    for line in listed or lines:
        line = re.sub(r"^\s*(?:\d+[.)、]|[-*•])\s*", "", line).strip().strip('"“”*#').strip()
        if line:
            titles.append(line)
    return tally.result(
        TitleResult,
        model,
        operation="title",
        text="\n".join(titles[:count]),
        titles=titles[:count],
        language=language,
        template=tpl.name,
    )
