"""write: a draft from a free instruction or from a prompt template."""

from __future__ import annotations

from typing import Any

from draftsmith.errors import InputError
from draftsmith.models.base import Completion, GenParams, Model
from draftsmith.prompts.registry import get_template
from draftsmith.prompts.template import Template
from draftsmith.style import select
from draftsmith.style.exemplars import style_guide_for
from draftsmith.style.features import length as text_length
from draftsmith.style.profile import StyleProfile
from draftsmith.writing.base import (
    OnText,
    Result,
    Tally,
    check_text,
    clean_output,
    max_tokens_for,
    output_language,
    require_output,
    run_template,
    standard_vars,
    template_params,
)


def write(
    model: Model,
    instruction: str | None = None,
    *,
    template: str | None = None,
    variables: dict[str, Any] | None = None,
    length: int | None = None,
    style: str | None = None,
    lang: str | None = None,
    temperature: float | None = None,
    default_temperature: float = 0.7,
    seed: int | None = None,
    max_tokens: int | None = None,
    on_text: OnText | None = None,
    candidates: int = 1,
) -> Result:
    """Draft text. Give an ``instruction``, a ``template`` name with ``variables``, or both
    (the instruction is then appended to the template's variables as ``instruction`` if it takes one).

    With a ``style`` and ``candidates`` > 1, that many drafts are made (seeds ``seed``, ``seed + 1``…) and the one
    most adherent to the style is returned (``select.choose``; all scored as the same length); ``on_text`` then
    gets the chosen draft once, not token by token."""
    variables = dict(variables or {})
    if template is None:
        if instruction is None:
            raise InputError("nothing to write: give an instruction or --template NAME")
        check_text(instruction, "instruction", max_chars=20_000)
        template, variables = "instruction", {**variables, "instruction": instruction}
    elif instruction:
        variables.setdefault("instruction", instruction)
    tpl = get_template(template)
    sample = instruction or " ".join(str(v) for v in variables.values())
    language = output_language(lang, sample if instruction else "")
    if lang in (None, "auto") and not instruction and tpl.languages and tpl.languages[0] != "en":
        language = output_language(tpl.languages[0])
    style = style or tpl.style
    length = length or tpl.length
    values = {**standard_vars(language, style, length), **variables}
    if style:  # the style's exemplars closest to what is asked for, as few-shot
        values["style_guide"] = style_guide_for(style, sample, language)
    tally = Tally()
    params = template_params(
        tpl,
        temperature,
        default=default_temperature,
        seed=seed,
        max_tokens=max_tokens or max_tokens_for(length, language),
    )
    profile = select.scoring_profile(style, language, sample) if style and candidates > 1 else None
    if profile is None:
        completion = run_template(model, tpl, values, params, on_text, tally)
    else:
        completion = _best_of(model, tpl, values, params, profile, candidates, tally)
        if on_text:
            on_text(completion.text)
    text = require_output(clean_output(completion.text), model, "write")
    warnings = ["output stopped at the token limit; raise --max-tokens"] if completion.finish_reason == "length" else []
    return tally.result(
        Result,
        model,
        operation="write",
        text=text,
        language=language,
        template=tpl.name,
        style=style,
        warnings=warnings,
    )


def _best_of(
    model: Model, tpl: Template, values: dict[str, Any], params: GenParams, profile: StyleProfile, n: int, tally: Tally
) -> Completion:
    """``n`` drafts (seeds ``params.seed + i``); the most adherent, all scored as the median draft's length."""
    drafts = []
    for i in range(n):
        seed = None if params.seed is None else params.seed + i
        drafts.append(run_template(model, tpl, values, params.model_copy(update={"seed": seed}), None, tally))
    texts = [select.mechanical_edits(clean_output(d.text), profile) for d in drafts]
    lengths = sorted(text_length(t, profile.language) for t in texts)
    scored = [select.score(t, profile, length=lengths[len(lengths) // 2] or None) for t in texts]
    best = select.choose(scored)
    return drafts[best].model_copy(update={"text": texts[best]})
