"""rewrite: the same content in another style, piece by piece for long texts."""

from __future__ import annotations

import re
from typing import Any, Literal

from draftsmith.languages import detect_language
from draftsmith.models.base import GenParams, Model
from draftsmith.prompts.registry import get_template
from draftsmith.prompts.template import Template
from draftsmith.style import features as F
from draftsmith.style import select
from draftsmith.style.exemplars import check_style_language, rewrite_hints_for, style_guide_for
from draftsmith.style.profile import StyleProfile
from draftsmith.writing.base import (
    MAX_INPUT_CHARS,
    OnText,
    Result,
    StyleAdherence,
    Tally,
    check_text,
    clean_output,
    output_language,
    require_output,
    run_template,
    standard_vars,
    template_params,
)
from draftsmith.writing.segment import split_segments, stitch

SEGMENT_CHARS = 1500


def rewrite(
    model: Model,
    text: str,
    *,
    style: str,
    lang: str | None = None,
    template: str = "rewrite",
    temperature: float | None = None,
    seed: int | None = None,
    on_text: OnText | None = None,
    max_chars: int = MAX_INPUT_CHARS,
    candidates: int = select.DEFAULT_CANDIDATES,
    retry: bool = True,
) -> Result:
    """Rewrite ``text`` in ``style``; output in ``lang`` (default: the language of the text).

    For a learned style, the guide of each piece ends with the style's sample lines most similar to it (few-shot); when
    the style can score text in ``lang``, it also says what this piece must change to fit the style (sentence
    length, contractions, word choice…). With ``candidates`` > 1 (and a style that can score the language), each
    piece is drafted that many times (seeds ``seed``, ``seed + 1``…), the style's mechanical edits are applied
    (``select.mechanical_edits``), a draft that left sentences out also counts with them put back
    (``select.patch``), and the most adherent draft that keeps the content is chosen (``select.choose``);
    ``on_text`` then gets each piece once it is chosen, not token by token. With ``retry``, when no such draft fits
    the style better than the piece itself, as many drafts again are made with a bolder instruction at
    ``select.RETRY_TEMPERATURE`` and the choice is made over all; when none of those does either, the piece is
    restyled one sentence at a time (``_by_sentence``). When the style can score the language, the result
    carries the adherence before and after (``style_adherence``) and a warning when the rewrite did not move the
    text towards the style. A piece shorter than ``select.MIN_SCORED`` (too short for the score to tell drafts
    apart) gets one draft, streamed as written; so does every piece of a rewrite into another script than the text's
    (``lang="zh"`` on English): neither the content check nor "before" applies there."""
    check_text(text, max_chars=max_chars)
    language = output_language(lang, text)
    tpl = get_template(template)
    base = standard_vars(language, style, None)
    check_style_language(style, language)
    spans = split_segments(text, SEGMENT_CHARS)
    profile = select.scoring_profile(style, language, text[:2000])
    if profile is not None and F.feature_language(detect_language(text)) != profile.language:
        profile = None  # a rewrite into another script: drafts cannot be compared with the text
    tally = Tally()
    outputs: list[str] = []
    drawn = kept_none = edits_only = 0
    pos = 0
    for span in spans:
        piece = text[span.start : span.end]
        if on_text:
            on_text(text[pos : span.start])
        budget = max(128, int(model.count_tokens(piece) * 2.5) + 64)
        params = template_params(tpl, temperature, seed=seed, max_tokens=budget)
        guide = style_guide_for(style, piece, language) + rewrite_hints_for(profile, piece)
        values = {**base, "style_guide": guide, "text": piece}
        if (
            profile is None
            or candidates <= 1
            or F.length(piece, profile.language) < select.MIN_SCORED[profile.language]
        ):
            completion = run_template(model, tpl, values, params, on_text, tally)
            outputs.append(require_output(clean_output(completion.text, piece), model, "rewrite"))
            drawn += 1
        else:
            best, n, outcome = _best_of(model, tpl, values, params, piece, profile, candidates, tally, retry)
            outputs.append(best)
            drawn += n
            kept_none += outcome == "none"
            edits_only += outcome == "edits" and best != piece
            if on_text:
                on_text(outputs[-1])
        pos = span.end
    if on_text:
        on_text(text[pos:])
    out = stitch(text, spans, outputs)
    shift, warnings = _style_shift(text, out, style, profile, drawn)
    if kept_none:
        warnings.insert(
            0,
            f"no draft kept the content of {kept_none} of {len(spans)} piece(s); "
            "they are left as written (with only the style's mechanical edits)",
        )
    if edits_only:
        warnings.append(
            f"no draft fit the style better than the text with the style's mechanical edits in {edits_only} of "
            f"{len(spans)} piece(s); they have only those edits (contractions, exclamation marks, long sentences split)"
        )
    return tally.result(
        Result,
        model,
        operation="rewrite",
        text=out,
        language=language,
        template=tpl.name,
        style=style,
        segments=len(spans),
        style_adherence=shift,
        warnings=warnings,
    )


def _style_shift(
    text: str, out: str, style: str, profile: StyleProfile | None, drawn: int
) -> tuple[StyleAdherence | None, list[str]]:
    """Adherence before and after (both as the text's length, as ``style score`` compares versions), and a warning
    when the rewrite of a text long enough to score did not raise it."""
    if profile is None:
        return None, []
    before = select.score(text, profile, source=text).adherence
    after = select.score(out, profile, source=text).adherence
    shift = StyleAdherence(before=round(before, 4), after=round(after, 4), drafts=drawn)
    if after > before or F.length(text, profile.language) < select.MIN_SCORED[profile.language]:
        return shift, []  # (a text too short to score gets no advice to draw more drafts: it is drafted once)
    return shift, [
        f"the rewrite did not move the text towards the style {style!r} (adherence {before:.2f} before, "
        f"{after:.2f} after, best of {drawn} draft(s)); try more --candidates, another --seed or a larger model"
    ]


def _best_of(
    model: Model,
    tpl: Template,
    values: dict[str, Any],
    params: GenParams,
    piece: str,
    profile: StyleProfile,
    n: int,
    tally: Tally,
    retry: bool = True,
) -> tuple[str, int, Literal["draft", "edits", "none"]]:
    """The best of ``n`` drafts of one piece (seeds ``params.seed + i``), mechanically edited, by ``select.choose``;
    with ``retry``, ``n`` more (bolder, hotter) when none that keeps the content fits the style better than the
    piece, and then, when none of those does either, the piece restyled sentence by sentence (``_by_sentence``).
    When no draft keeps the content, the piece itself with the style's mechanical edits (a rewrite that loses a
    sentence is worse than none); the same when the best draft that keeps it fits the style no better than that (the
    small models' only such drafts reword the text and sometimes its meaning, "absolution" → "absolute solution",
    for no gain; the warning of ``_style_shift`` says so). Returns the text, how many drafts were drawn
    and where the text came from: a draft, the piece with only its mechanical edits although a draft kept the
    content ("edits"), or that because none did ("none")."""
    source = select.score(piece, profile, source=piece).adherence
    plain = select.mechanical_edits(piece, profile, split=True)
    fit = source if plain == piece else select.score(plain, profile, source=piece).adherence  # the bar to beat
    drafts = _patched(_drafts(model, tpl, values, params, piece, profile, range(n), tally), piece, plain, profile)
    scored = [select.score(d, profile, source=piece) for d in drafts]
    if retry and not _gains(scored, source):
        bolder = {**values, "retry": True} if "retry" in tpl.variables else values
        hotter = params.model_copy(update={"temperature": max(params.temperature, select.RETRY_TEMPERATURE)})
        more = _drafts(model, tpl, bolder, hotter, piece, profile, range(n, 2 * n), tally)
        more = _patched(more, piece, plain, profile)
        drafts += more
        scored += [select.score(d, profile, source=piece) for d in more]
        n *= 2
    if retry and not _gains(scored, source):
        seeds = range(n, n + select.SENTENCE_DRAFTS)
        by_sentence, drawn = _by_sentence(model, tpl, values, params, piece, profile, tally, seeds)
        n += drawn
        if by_sentence is not None and select.score(by_sentence, profile, source=piece).adherence > fit:
            return by_sentence, n, "draft"
    if not drafts:
        return require_output("", model, "rewrite"), n, "none"
    best = select.choose(scored)
    if not scored[best].keeps():
        return plain, n, "none"
    if scored[best].adherence <= fit:
        return plain, n, "edits"  # the best draft fits the style no better than the text: a reworded text for nothing
    return drafts[best], n, "draft"


def _by_sentence(
    model: Model,
    tpl: Template,
    values: dict[str, Any],
    params: GenParams,
    piece: str,
    profile: StyleProfile,
    tally: Tally,
    seeds: range,
) -> tuple[str | None, int]:
    """The piece restyled one sentence at a time, when no draft of the whole did it and kept the content: each
    sentence of ``select.MIN_SENTENCE`` words or more is drafted alone (``seeds``, the bolder instruction, the
    piece's guide) and must keep its content on its own (``select.Scored.keeps``: chrF, form, persons, numbers) in
    one sentence (a second one adds something: "Which one is Sebastian? The question pertains to…"). Then, sentence
    after sentence (twice over, as one draft may pay only once another is in), a draft replaces its sentence when the
    whole piece, mechanically edited, still keeps the content and fits the style better than so far. A small model
    that rewrites three lines freely drops or changes one of them; one line at a time it stays close. Returns the
    piece so restyled (None when no sentence's draft helped) and how many drafts were drawn."""
    lang = profile.language
    parts = _sentence_parts(piece, lang)
    if len(parts) < 5:  # one sentence: the rounds before drafted it whole
        return None, 0

    def whole(parts: list[str]) -> select.Scored:
        return select.score(select.mechanical_edits("".join(parts), profile), profile, source=piece)

    bolder = {**values, "retry": True} if "retry" in tpl.variables else values
    drawn = 0
    options: dict[int, list[str]] = {}  # part index -> drafts of that sentence that keep its content on their own
    for i in range(1, len(parts), 2):
        sentence = parts[i]
        if F.length(sentence, lang) < select.MIN_SENTENCE[lang]:
            continue
        budget = max(64, int(model.count_tokens(sentence) * 2.5) + 32)
        short = params.model_copy(update={"max_tokens": budget})
        drafts = _drafts(model, tpl, {**bolder, "text": sentence}, short, sentence, profile, seeds, tally)
        drawn += len(seeds)
        for draft in drafts:
            draft = select.repaired(draft, sentence, lang)
            draft = " ".join(draft.split()) if lang == "en" else "".join(x.strip() for x in draft.splitlines())
            # it must keep the sentence's content on its own, and say no more ("I love how playful this is!")
            if len(F.sentences(draft, lang)) == 1 and select.score(draft, profile, source=sentence).keeps():
                options.setdefault(i, []).append(draft)
    best = whole(parts)  # the piece with its mechanical edits
    edited = best.adherence
    for _ in range(2):  # a second pass: a sentence's draft may help only once another has been taken
        before = best.adherence
        for i, drafts in options.items():
            for draft in drafts:
                tried = [*parts[:i], draft, *parts[i + 1 :]]
                scored = whole(tried)
                if scored.keeps() and scored.adherence > best.adherence:
                    best, parts = scored, tried
        if best.adherence == before:
            break
    if best.adherence <= edited:  # no sentence's draft was taken
        return None, drawn
    return best.text, drawn


# Markdown that opens a line (a heading's #, a list item's marker, a quote's >): it stays as written, outside the
# sentence a model is asked to restyle.
_LINE_MARKUP = re.compile(r"(?:#{1,6}\s+|[-*+]\s+|\d{1,3}[.)]\s+|>\s*)+")


def _sentence_parts(piece: str, lang: str) -> list[str]:
    """``piece`` cut into [gap, sentence, gap, sentence, …, gap]: its sentences (``features.sentence_spans``), each
    also cut at line breaks (a heading above a paragraph is no part of its first sentence), without the Markdown
    that opens a line; joined, the parts are ``piece``."""
    spans: list[tuple[int, int]] = []
    for start, end in F.sentence_spans(piece, lang):
        for line in re.finditer(r"[^\n]+", piece[start:end]):
            a, b = start + line.start(), start + line.end()
            markup = _LINE_MARKUP.match(piece, a, b)
            a = markup.end() if markup else a
            text = piece[a:b]
            if any(ch.isalnum() for ch in text):
                spans.append((a + len(text) - len(text.lstrip()), a + len(text.rstrip())))
    if not spans:
        return [piece]
    parts = [piece[: spans[0][0]]]
    for (start, end), after in zip(spans, [a for a, _ in spans[1:]] + [len(piece)], strict=True):
        parts += [piece[start:end], piece[end:after]]
    return parts


def _patched(drafts: list[str], piece: str, plain: str, profile: StyleProfile) -> list[str]:
    """``drafts``, each followed by its repairs, so the sentences it did restyle can still be chosen: the draft with
    the pronouns it turned into another person's and the numbers it changed put back (``select.restore_persons``,
    ``select.restore_numbers``), and the draft (so repaired) with the sentences of ``piece`` it left out put back as
    written (``select.patch``); each with the style's mechanical edits. A repair that is only ``plain`` (the piece,
    mechanically edited) is no draft. (A draft is not repaired by dropping a word to the user it ends with, "Feel
    free to ask if you need any further assistance!": on the report split of bench/style_transfer.py the drafts so
    revived were mostly ones that also said something else, "Give it to me!" → "Let's do it!".)"""
    out: list[str] = []
    lang = profile.language
    for draft in drafts:
        out.append(draft)
        restored = select.repaired(draft, piece, lang)
        if restored != draft:
            restored = select.mechanical_edits(restored, profile)
            if restored not in out and restored != plain:
                out.append(restored)
        fixed = select.patch(restored, piece, lang)
        if fixed is not None:
            fixed = select.mechanical_edits(fixed, profile)
            if fixed not in out and fixed != plain:
                out.append(fixed)
    return out


def _gains(scored: list[select.Scored], source: float) -> bool:
    """Whether the draft ``select.choose`` would take keeps the content and fits the style better than the source."""
    if not scored:
        return False
    best = scored[select.choose(scored)]
    return best.keeps() and best.adherence > source


def _drafts(
    model: Model,
    tpl: Template,
    values: dict[str, Any],
    params: GenParams,
    piece: str,
    profile: StyleProfile,
    seeds: range,
    tally: Tally,
) -> list[str]:
    """Drafts for seed offsets ``seeds``, cleaned and mechanically edited; empty ones and ones that repeat the
    instructions (a small model sometimes answers with its prompt) are dropped."""
    instructions = _instruction_lines(tpl, values, piece)
    out: list[str] = []
    for i in seeds:
        seed = None if params.seed is None else params.seed + i
        completion = run_template(model, tpl, values, params.model_copy(update={"seed": seed}), None, tally)
        draft = select.strip_added_markup(clean_output(completion.text, piece), piece)
        if draft.strip() and not _echoes(draft, instructions):
            out.append(select.mechanical_edits(draft, profile))
    return out


def _instruction_lines(tpl: Template, values: dict[str, Any], piece: str) -> list[str]:
    """Lines of the prompt that are not the text (the instructions), normalised, long enough to be telling."""
    lines = []
    for message in tpl.render(values):
        for line in message.content.replace(piece, "").splitlines():
            line = " ".join(line.strip().lstrip("-").split()).lower()
            if len(line) >= 30 and line not in " ".join(piece.lower().split()):
                lines.append(line)
    return lines


def _echoes(draft: str, instructions: list[str]) -> bool:
    flat = " ".join(draft.lower().split())
    return any(line in flat for line in instructions)
