"""continue: more text after the user's, in the same language and voice."""

from __future__ import annotations

from draftsmith.languages import language_name
from draftsmith.models.base import Model
from draftsmith.prompts.registry import get_template
from draftsmith.writing.base import (
    MAX_INPUT_CHARS,
    OnText,
    Result,
    Tally,
    check_text,
    clean_output,
    max_tokens_for,
    output_language,
    require_output,
    run_template,
    template_params,
    trim_to_words,
)

CONTEXT_CHARS = 3000  # the tail of the document the model sees


def continue_text(
    model: Model,
    text: str,
    *,
    words: int = 100,
    lang: str | None = None,
    template: str = "continue",
    temperature: float | None = None,
    default_temperature: float = 0.7,
    seed: int | None = None,
    on_text: OnText | None = None,
    max_chars: int = MAX_INPUT_CHARS,
) -> Result:
    """Write about ``words`` more words (characters for CJK) that follow on from ``text``."""
    check_text(text, max_chars=max_chars)
    language = output_language(lang, text)
    tpl = get_template(template)
    context = text[-CONTEXT_CHARS:]
    if len(text) > CONTEXT_CHARS:
        cut = context.find(" ")
        context = context[cut + 1 :] if 0 <= cut < 200 else context
    tally = Tally()
    params = template_params(
        tpl, temperature, default=default_temperature, seed=seed, max_tokens=max_tokens_for(words, language)
    )
    values = {"lang": language, "language": language_name(language), "text": context, "words": words}
    completion = run_template(model, tpl, values, params, on_text, tally)
    out = clean_output(completion.text)
    if out.startswith(context.strip()[:40]):  # the model repeated the input first
        out = out[len(context.strip()) :].lstrip()
    out = require_output(trim_to_words(out, words, language), model, "continue")
    return tally.result(
        Result,
        model,
        operation="continue",
        text=out,
        language=language,
        template=tpl.name,
    )
