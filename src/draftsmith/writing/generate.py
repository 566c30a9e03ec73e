"""write: a draft from a free instruction or from a prompt template."""

from __future__ import annotations

from typing import Any

from draftsmith.errors import InputError
from draftsmith.models.base import Model
from draftsmith.prompts.registry import get_template
from draftsmith.style.exemplars import style_guide_for
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
) -> Result:
    """Draft text. Give an ``instruction``, a ``template`` name with ``variables``, or both
    (the instruction is then appended to the template's variables as ``instruction`` if it takes one)."""
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
    completion = run_template(model, tpl, values, params, on_text, tally)
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
