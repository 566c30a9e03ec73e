"""article: outline first, then section by section, grounded in a knowledge base, with references.

The stages are functions with typed input and output, each usable alone:

1. ``plan_outline``: topic (+ passages about it) → ``Outline`` (sections with points and word budgets).
   ``Outline.markdown()`` round-trips through ``parse_outline_file``, so a user can edit it in between.
2. ``draft_section``: one section → retrieval for that section → a draft that sees a short extract of the
   sections before it (so it does not repeat them) → citations checked against its passages → length kept
   near the section's budget (extended when short, cut at a sentence end when long).
3. ``write_article``: the whole pipeline; citations are renumbered across the article in order of first use
   and the references listed at the end. Total length is checked against the request (±20%) and the
   sections furthest off are adjusted.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, Field

from draftsmith.errors import InputError
from draftsmith.knowledge.embed import Embedder, default_embedder
from draftsmith.knowledge.retrieve import Passage, retrieve_passages
from draftsmith.languages import count_words, is_cjk
from draftsmith.models.base import Model
from draftsmith.prompts.registry import get_template
from draftsmith.store.db import Store
from draftsmith.writing.base import (
    Tally,
    check_text,
    clean_output,
    max_tokens_for,
    output_language,
    run_template,
    standard_vars,
    template_params,
)
from draftsmith.writing.grounded import (
    _CITE,
    GroundedResult,
    Grounding,
    Reference,
    Sentence,
    check_citations,
    format_passages,
    numbering_for,
    references_for,
    references_text,
    relevant,
    render,
    renumbered,
    strip_reference_list,
    unsupported_warning,
)
from draftsmith.writing.summarize import parse_outline

TOLERANCE = 0.2
SECTION_WORDS = 220  # about one section per this many words requested
PASSAGES_PER_SECTION = 4
EXTEND_PER_WORDS = 150  # a short section may be extended once per this many words of its budget
TOP_UP_ROUNDS = 2  # rounds of extending the shortest sections while the whole article is short
OnSection = Callable[[int, int, str], None]


class PlannedSection(BaseModel):
    title: str
    points: list[str] = Field(default_factory=list)
    words: int = 0


class Outline(BaseModel):
    title: str
    sections: list[PlannedSection]

    def markdown(self) -> str:
        lines = [f"# {self.title}", ""]
        for s in self.sections:
            lines.append(f"## {s.title}")
            lines.extend(f"- {p}" for p in s.points)
            lines.append("")
        return "\n".join(lines).rstrip() + "\n"


class SectionDraft(BaseModel):
    title: str
    text: str = ""
    words: int = 0
    target: int = 0
    sentences: list[Sentence] = Field(default_factory=list)


class ArticleResult(GroundedResult):
    title: str = ""
    outline: Outline | None = None
    sections: list[SectionDraft] = Field(default_factory=list)
    words: int = 0
    target_words: int = 0


def words_of(text: str) -> int:
    """Length as a writer counts it: words (CJK characters), citation markers not included."""
    return count_words(_CITE.sub("", text))


def section_count(words: int) -> int:
    return max(2, min(8, round(words / SECTION_WORDS)))


def budget(outline: Outline, words: int) -> Outline:
    """Share the requested length over the sections (headings count towards it)."""
    heading_words = words_of(outline.title) + sum(words_of(s.title) for s in outline.sections)
    each = max(40, (words - heading_words) // max(len(outline.sections), 1))
    return outline.model_copy(update={"sections": [s.model_copy(update={"words": each}) for s in outline.sections]})


# -- 1. outline ---------------------------------------------------------------------------------------


def parse_outline_file(text: str, topic: str = "") -> Outline:
    """A Markdown outline: an optional ``# Title``, then ``## Section`` headings with ``- point`` bullets."""
    title = ""
    rest = []
    for line in text.splitlines():
        m = re.match(r"^\s*#\s+(.+?)\s*$", line)
        if m and not title and not rest:
            title = m.group(1)
        else:
            rest.append(line)
    sections = [PlannedSection(title=s.title, points=s.points) for s in parse_outline("\n".join(rest)) if s.title]
    if not sections:
        raise InputError("the outline has no sections; write one '## Heading' line per section, '- point' under it")
    return Outline(title=title or topic or sections[0].title, sections=sections)


def plan_outline(
    model: Model,
    topic: str,
    *,
    words: int,
    lang: str | None = None,
    store: Store | None = None,
    kb: str | None = None,
    sections: int | None = None,
    embedder: Embedder | None = None,
    temperature: float | None = None,
    seed: int | None = None,
    tally: Tally | None = None,
) -> Outline:
    check_text(topic, "topic", max_chars=2000)
    language = output_language(lang, topic)
    count = sections or section_count(words)
    passages: list[Passage] = []
    if store is not None and kb:
        passages = retrieve_passages(store, kb, topic, 6, embedder=embedder)
    block, _ = format_passages({i: p for i, p in enumerate(passages, start=1)}) if passages else ("", [])
    tpl = get_template("article-outline")
    values = {**standard_vars(language, None, None), "topic": topic, "sections": count, "passages": block}
    tally = tally or Tally()
    found: list[PlannedSection] = []
    for attempt in range(2):
        params = template_params(tpl, temperature if attempt == 0 else 0.2, default=0.4, seed=seed,
                                 max_tokens=60 * count + 120)  # fmt: skip
        out = clean_output(run_template(model, tpl, values, params, None, tally).text)
        found = [PlannedSection(title=_clean_title(s.title), points=s.points) for s in parse_outline(out) if s.title]
        found = [s for s in found if s.title and s.title.lower() != topic.lower()]
        if len(found) >= 2:
            break
    if len(found) < 2:
        found = [PlannedSection(title=t) for t in _fallback_titles(language)[:count]]
    return budget(Outline(title=topic.strip(), sections=found[:count]), words)


def _clean_title(title: str) -> str:
    title = re.sub(r"^(?:section|part|第.{1,3}[部节章])\s*\d*\s*[:：.、-]\s*", "", title.strip(), flags=re.I)
    return title.strip().strip("*#").strip()


def _fallback_titles(lang: str) -> list[str]:
    if is_cjk(lang):
        return ["背景", "主要事实", "细节", "影响", "现状", "展望", "争议", "结论"]
    return ["Background", "Key facts", "Details", "Impact", "Today", "Outlook", "Debates", "Conclusion"]


# -- 2. sections --------------------------------------------------------------------------------------


class _Registry:
    """Global passage numbers across the article: a passage keeps its number in every section."""

    def __init__(self) -> None:
        self.by_chunk: dict[int, int] = {}
        self.passages: dict[int, Passage] = {}

    def number(self, passages: list[Passage]) -> dict[int, Passage]:
        out = {}
        for p in passages:
            n = self.by_chunk.setdefault(p.chunk_id, len(self.by_chunk) + 1)
            self.passages[n] = p
            out[n] = p
        return out


def earlier_extract(drafts: list[SectionDraft], per_section: int = 45) -> str:
    """What the earlier sections said, as a line each: the heading and the first sentences."""
    lines = []
    for d in drafts:
        said = []
        for s in d.sentences:
            said.append(s.text)
            if words_of(" ".join(said)) >= per_section:
                break
        lines.append(f"- {d.title}: {' '.join(said)}")
    return "\n".join(lines)


def _body_only(raw: str, title: str) -> str:
    out = strip_reference_list(raw)
    lines = out.splitlines()
    while lines and (not lines[0].strip() or re.match(r"^\s*#{1,6}\s", lines[0]) or lines[0].strip("*# ") == title):
        lines.pop(0)
    return "\n".join(ln for ln in lines if not re.match(r"^\s*#{1,6}\s", ln)).strip()


def _sentences_words(g: Grounding) -> int:
    return sum(words_of(s.text) for s in g.sentences())


def _trim(g: Grounding, limit: int) -> Grounding:
    """Drop whole sentences from the end until the section fits ``limit`` words (keeps at least one)."""
    total = _sentences_words(g)
    lines = [list(line) if not isinstance(line, str) else line for line in g.lines]
    for i in range(len(lines) - 1, -1, -1):
        line = lines[i]
        if isinstance(line, str):
            continue
        while line and total > limit and sum(1 for ln in lines if not isinstance(ln, str) for _ in ln) > 1:
            total -= words_of(line.pop().text)
        if total <= limit:
            break
    lines = [ln for ln in lines if isinstance(ln, str) or ln]
    return Grounding(lines=lines, dropped=g.dropped)


def _extend(
    model: Model,
    text: str,
    section: PlannedSection,
    block: str,
    more: int,
    *,
    language: str,
    style: str | None,
    tally: Tally,
    temperature: float | None,
    seed: int | None,
) -> str:
    """The section with about ``more`` words added by the model (unchanged if it adds nothing)."""
    tpl = get_template("article-extend")
    values = {**standard_vars(language, style, None), "section": section.title, "text": text, "words": more,
              "passages": block}  # fmt: skip
    params = template_params(tpl, temperature, default=0.5, seed=seed,
                             max_tokens=max_tokens_for(int(more * 1.3), language))  # fmt: skip
    added = _body_only(clean_output(run_template(model, tpl, values, params, None, tally).text), "")
    return f"{text}\n\n{added}".strip() if added.strip() else text


def draft_section(
    model: Model,
    topic: str,
    section: PlannedSection,
    numbered: dict[int, Passage],
    earlier: list[SectionDraft],
    *,
    language: str,
    style: str | None,
    embedder: Embedder | None,
    tally: Tally,
    temperature: float | None = None,
    seed: int | None = None,
    max_extensions: int | None = None,
) -> tuple[SectionDraft, Grounding, str]:
    """Draft one section; returns the draft, its checked citations and its raw text (for later extension).
    A draft short of its budget is extended (by default up to once per ~150 words of budget, at least twice)
    while each extension still adds words."""
    block, _ = format_passages(numbered)
    tpl = get_template("article-section")
    values: dict[str, Any] = {
        **standard_vars(language, style, None),
        "topic": topic,
        "section": section.title,
        "points": "\n".join(f"- {p}" for p in section.points),
        "words": section.words,
        "earlier": earlier_extract(earlier),
        "passages": block,
    }
    params = template_params(tpl, temperature, default=0.5, seed=seed,
                             max_tokens=max_tokens_for(int(section.words * 1.3), language))  # fmt: skip
    text = _body_only(clean_output(run_template(model, tpl, values, params, None, tally).text), section.title)
    if max_extensions is None:
        max_extensions = max(2, -(-section.words // EXTEND_PER_WORDS))
    for _ in range(max_extensions):
        have = words_of(text)
        if have >= section.words * (1 - TOLERANCE / 2):
            break
        longer = _extend(model, text, section, block, section.words - have, language=language, style=style,
                         tally=tally, temperature=temperature, seed=seed)  # fmt: skip
        if longer == text:
            break
        text = longer
    draft, grounding = _checked(section, text, numbered, embedder)
    return draft, grounding, text


def _checked(
    section: PlannedSection, text: str, numbered: dict[int, Passage], embedder: Embedder | None
) -> tuple[SectionDraft, Grounding]:
    grounding = check_citations(text, numbered, embedder=embedder)
    if _sentences_words(grounding) > section.words * (1 + TOLERANCE / 2):
        grounding = _trim(grounding, int(section.words * (1 + TOLERANCE / 2)))
    draft = SectionDraft(title=section.title, target=section.words, sentences=grounding.sentences())
    draft.words = _sentences_words(grounding)
    return draft, grounding


# -- 3. the article -----------------------------------------------------------------------------------


def write_article(
    model: Model,
    topic: str,
    *,
    store: Store | None,
    kb: str | None,
    words: int = 1500,
    outline: Outline | None = None,
    lang: str | None = None,
    style: str | None = None,
    sections: int | None = None,
    embedder: Embedder | None = None,
    temperature: float | None = None,
    seed: int | None = None,
    on_section: OnSection | None = None,
) -> ArticleResult:
    """Outline (given or planned) → sections with per-section retrieval → references. ``kb`` may be None
    for an ungrounded article (then there are no passages, citations or references)."""
    check_text(topic, "topic", max_chars=2000)
    if words < 100 or words > 20_000:
        raise InputError(f"--words must be between 100 and 20,000 (got {words})")
    language = output_language(lang, topic)
    embedder = (embedder or default_embedder()) if kb else embedder
    tally = Tally()
    if outline is None:
        if on_section:
            on_section(0, 0, "outline")
        outline = plan_outline(model, topic, words=words, lang=language, store=store, kb=kb, sections=sections,
                               embedder=embedder, temperature=temperature, seed=seed, tally=tally)  # fmt: skip
    else:
        outline = budget(outline, words)
    registry = _Registry()
    drafts: list[SectionDraft] = []
    groundings: list[Grounding] = []
    raws: list[str] = []
    blocks: list[dict[int, Passage]] = []
    for i, section in enumerate(outline.sections, start=1):
        if on_section:
            on_section(i, len(outline.sections), section.title)
        numbered: dict[int, Passage] = {}
        if kb and store is not None:
            query = " ".join([topic, section.title, *section.points])[:1000]
            found = retrieve_passages(store, kb, query, PASSAGES_PER_SECTION, embedder=embedder)
            numbered = registry.number(relevant(found))
        draft, grounding, raw = draft_section(model, outline.title, section, numbered, drafts, language=language,
                                              style=style, embedder=embedder, tally=tally, temperature=temperature,
                                              seed=seed)  # fmt: skip
        drafts.append(draft)
        groundings.append(grounding)
        raws.append(raw)
        blocks.append(numbered)
    # Too short overall (the model would not write more in a section): extend the sections furthest below
    # their budget, one extension each per round, for a few rounds while extensions still add words.
    lower = int(words * (1 - TOLERANCE * 0.75)) + 1  # aim inside the tolerance, not at its edge
    for _ in range(TOP_UP_ROUNDS):
        before = _total(outline, drafts)
        for i in sorted(range(len(drafts)), key=lambda j: drafts[j].words - drafts[j].target):
            if _total(outline, drafts) >= lower:
                break
            section = outline.sections[i]
            more = max(min(lower - _total(outline, drafts), section.words), section.words - drafts[i].words, 40)
            raws[i] = _extend(model, raws[i], section, format_passages(blocks[i])[0], more, language=language,
                              style=style, tally=tally, temperature=temperature, seed=seed)  # fmt: skip
            target = section.model_copy(update={"words": drafts[i].words + more})
            drafts[i], groundings[i] = _checked(target, raws[i], blocks[i], embedder)
            drafts[i].target = section.words
        if _total(outline, drafts) >= lower or _total(outline, drafts) <= before:
            break
    _fit_total(outline, drafts, groundings, words)
    return _assemble(outline, drafts, groundings, registry, words, language, style, tally, model)


def _total(outline: Outline, drafts: list[SectionDraft]) -> int:
    return words_of(outline.title) + sum(words_of(d.title) + d.words for d in drafts)


def _fit_total(outline: Outline, drafts: list[SectionDraft], groundings: list[Grounding], words: int) -> None:
    """Cut the longest sections (at sentence ends) while the article is over the tolerance (aiming a
    quarter of it inside, as a sentence cut is coarse)."""
    limit = int(words * (1 + TOLERANCE * 0.75))
    while _total(outline, drafts) > limit:
        i = max(range(len(drafts)), key=lambda j: drafts[j].words - drafts[j].target)
        excess = _total(outline, drafts) - limit
        before = drafts[i].words
        groundings[i] = _trim(groundings[i], max(1, before - excess))
        drafts[i].sentences = groundings[i].sentences()
        drafts[i].words = _sentences_words(groundings[i])
        if drafts[i].words == before:
            break


def _assemble(
    outline: Outline,
    drafts: list[SectionDraft],
    groundings: list[Grounding],
    registry: _Registry,
    words: int,
    language: str,
    style: str | None,
    tally: Tally,
    model: Model,
) -> ArticleResult:
    all_sentences = [s for g in groundings for s in g.sentences()]
    numbering = numbering_for(all_sentences)
    parts = [f"# {outline.title}"]
    for d, g in zip(drafts, groundings, strict=True):
        d.text = render(g, numbering, language)
        d.sentences = renumbered(g.sentences(), numbering)
        parts.append(f"## {d.title}\n\n{d.text}")
    body = "\n\n".join(parts)
    refs: list[Reference] = references_for(numbering, registry.passages)
    refs_block = references_text(refs, language)
    total = words_of(body)
    unsupported = sum(s.flagged for s in all_sentences)
    warnings = []
    if abs(total - words) > TOLERANCE * words:
        warnings.append(f"the article has {total} words, more than 20% off the {words} asked for")
    if unsupported:
        warnings.append(unsupported_warning(all_sentences))
    dropped = sorted({n for g in groundings for n in g.dropped})
    return tally.result(
        ArticleResult,
        model,
        operation="article",
        text=body + ("\n\n" + refs_block if refs_block else ""),
        body=body,
        title=outline.title,
        outline=outline,
        sections=drafts,
        sentences=renumbered(all_sentences, numbering),
        references=refs,
        passages=list(registry.passages.values()),
        dropped_citations=dropped,
        unsupported=unsupported,
        words=total,
        target_words=words,
        language=language,
        template="article-section",
        style=style,
        warnings=warnings,
        segments=len(drafts),
    )


__all__ = [
    "ArticleResult",
    "Outline",
    "PlannedSection",
    "SectionDraft",
    "draft_section",
    "parse_outline_file",
    "plan_outline",
    "write_article",
]
