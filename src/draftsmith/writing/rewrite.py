"""rewrite: the same content in another style, piece by piece for long texts."""

from __future__ import annotations

from draftsmith.models.base import Model
from draftsmith.prompts.registry import get_template
from draftsmith.style.exemplars import check_style_language, style_guide_for
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
) -> Result:
    """Rewrite ``text`` in ``style``; output in ``lang`` (default: the language of the text).

    For a learned style, the guide of each piece ends with the style's sample lines most similar to it (few-shot)."""
    check_text(text, max_chars=max_chars)
    language = output_language(lang, text)
    tpl = get_template(template)
    base = standard_vars(language, style, None)
    check_style_language(style, language)
    spans = split_segments(text, SEGMENT_CHARS)
    tally = Tally()
    outputs: list[str] = []
    pos = 0
    for span in spans:
        piece = text[span.start : span.end]
        if on_text:
            on_text(text[pos : span.start])
        budget = max(128, int(model.count_tokens(piece) * 2.5) + 64)
        params = template_params(tpl, temperature, seed=seed, max_tokens=budget)
        values = {**base, "style_guide": style_guide_for(style, piece, language), "text": piece}
        completion = run_template(model, tpl, values, params, on_text, tally)
        outputs.append(require_output(clean_output(completion.text, piece), model, "rewrite"))
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
