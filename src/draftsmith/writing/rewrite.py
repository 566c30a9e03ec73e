"""rewrite: the same content in another style, piece by piece for long texts."""

from __future__ import annotations

from typing import Any

from draftsmith.models.base import GenParams, Model
from draftsmith.prompts.registry import get_template
from draftsmith.prompts.template import Template
from draftsmith.style import select
from draftsmith.style.exemplars import check_style_language, rewrite_hints_for, style_guide_for
from draftsmith.style.profile import StyleProfile
from draftsmith.writing.base import (
    MAX_INPUT_CHARS,
    OnText,
    Result,
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
) -> Result:
    """Rewrite ``text`` in ``style``; output in ``lang`` (default: the language of the text).

    For a learned style, the guide of each piece ends with the style's sample lines most similar to it (few-shot);
    when the style can score text in ``lang``, it also says what this piece must change to fit the style
    (sentence length, contractions, word choice…). With ``candidates`` > 1 (and a style that can score the
    language), each piece is drafted that many times (seeds ``seed``, ``seed + 1``…), the style's mechanical edits
    are applied (``select.mechanical_edits``) and the most adherent draft that keeps the content is chosen
    (``select.choose``); ``on_text`` then gets each piece once it is chosen, not token by token."""
    check_text(text, max_chars=max_chars)
    language = output_language(lang, text)
    tpl = get_template(template)
    base = standard_vars(language, style, None)
    check_style_language(style, language)
    spans = split_segments(text, SEGMENT_CHARS)
    profile = select.scoring_profile(style, language, text[:2000])
    tally = Tally()
    outputs: list[str] = []
    pos = 0
    for span in spans:
        piece = text[span.start : span.end]
        if on_text:
            on_text(text[pos : span.start])
        budget = max(128, int(model.count_tokens(piece) * 2.5) + 64)
        params = template_params(tpl, temperature, seed=seed, max_tokens=budget)
        guide = style_guide_for(style, piece, language) + rewrite_hints_for(profile, piece)
        values = {**base, "style_guide": guide, "text": piece}
        if profile is None or candidates <= 1:
            completion = run_template(model, tpl, values, params, on_text, tally)
            outputs.append(require_output(clean_output(completion.text, piece), model, "rewrite"))
        else:
            outputs.append(_best_of(model, tpl, values, params, piece, profile, candidates, tally))
            if on_text:
                on_text(outputs[-1])
        pos = span.end
    if on_text:
        on_text(text[pos:])
    return tally.result(
        Result,
        model,
        operation="rewrite",
        text=stitch(text, spans, outputs),
        language=language,
        template=tpl.name,
        style=style,
        segments=len(spans),
    )


def _best_of(
    model: Model,
    tpl: Template,
    values: dict[str, Any],
    params: GenParams,
    piece: str,
    profile: StyleProfile,
    n: int,
    tally: Tally,
) -> str:
    """``n`` drafts of one piece (seeds ``params.seed + i``), mechanically edited, the best by ``select.choose``."""
    drafts: list[str] = []
    for i in range(n):
        seed = None if params.seed is None else params.seed + i
        completion = run_template(model, tpl, values, params.model_copy(update={"seed": seed}), None, tally)
        draft = select.strip_added_markup(clean_output(completion.text, piece), piece)
        if draft.strip():
            drafts.append(select.mechanical_edits(draft, profile))
    if not drafts:
        return require_output("", model, "rewrite")
    scored = [select.score(d, profile, source=piece) for d in drafts]
    return drafts[select.choose(scored)]
