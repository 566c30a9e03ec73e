"""Per-item metrics beyond the corpus ones: an LLM judge with a rubric template (G-Eval style), perplexity by a
model, and style adherence (the style area's stylometric score, 0–1).

The judge's rubric is a template (``judge-quality`` by default; a user file of the same name, or any template
given with ``--judge-template``, replaces it). The template's JSON schema lists the criteria: every integer
property is one criterion scored 1–5, and a ``rationale`` string is kept with the item. Scores are named
``judge_<criterion>``, plus ``judge_mean`` over the criteria.
"""

from __future__ import annotations

import math
from typing import Any

from draftsmith.errors import DraftsmithError, ModelError, TemplateError
from draftsmith.models.base import GenParams, Model
from draftsmith.prompts.registry import get_template
from draftsmith.prompts.template import Template

DEFAULT_JUDGE = "judge-quality"
JUDGE_MAX_TOKENS = 256


def judge_criteria(template: Template) -> list[str]:
    """The criteria a judge template scores: the integer properties of its JSON schema."""
    schema = template.schema_ or {}
    props = schema.get("properties") if isinstance(schema, dict) else None
    if template.output != "json" or not isinstance(props, dict):
        raise TemplateError(f"judge template {template.name!r} must have 'output: json' and a 'schema' with properties")
    criteria = [name for name, spec in props.items() if isinstance(spec, dict) and spec.get("type") == "integer"]
    if not criteria:
        raise TemplateError(f"judge template {template.name!r}: its schema has no integer criteria to score 1–5")
    return criteria


def load_judge(name: str | None = None) -> Template:
    template = get_template(name or DEFAULT_JUDGE)
    judge_criteria(template)
    return template


def judge_item(
    model: Model, template: Template, *, task: str, source: str, output: str, reference: str = ""
) -> tuple[dict[str, float], dict[str, Any]]:
    """Scores (``judge_<criterion>`` 1–5 and ``judge_mean``) and the rationale for one output."""
    criteria = judge_criteria(template)
    values = {"task": task, "source": source, "output": output, "reference": reference}
    values = {k: v for k, v in values.items() if k in template.variables}
    messages = template.render(values)
    params = GenParams(temperature=0.0, top_k=1, max_tokens=JUDGE_MAX_TOKENS, repeat_penalty=1.0)
    answer = model.json(messages, template.schema_ or {}, params)
    if not isinstance(answer, dict):
        raise ModelError(f"judge model {model.name} answered {type(answer).__name__}, not a JSON object")
    scores: dict[str, float] = {}
    for name in criteria:
        value = answer.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 1 <= value <= 5:
            raise ModelError(f"judge model {model.name} gave {name}={value!r}; expected an integer 1–5")
        scores[f"judge_{name}"] = float(value)
    scores["judge_mean"] = sum(scores.values()) / len(criteria)
    rationale = answer.get("rationale")
    return scores, {"judge_rationale": rationale} if isinstance(rationale, str) else {}


def perplexity(model: Model, context: str, output: str) -> float | None:
    """exp(−mean log-probability) of ``output`` after ``context``; None when the model cannot score it."""
    if not output.strip():
        return None
    try:
        result = model.score(context, output)
    except DraftsmithError:
        return None  # too long to score, or a server without logprobs: the item has no perplexity
    if result.tokens == 0:
        return None
    return math.exp(-result.logprob / result.tokens)


def style_adherence(style: str, text: str) -> float:
    """How typical ``text`` is of ``style`` (a preset or a learned style), 0–1, as ``draftsmith style`` scores it."""
    try:
        from draftsmith.style.profile import adherence
        from draftsmith.style.store import load_for_text
    except ImportError:
        raise DraftsmithError("style adherence needs draftsmith's style profiles (draftsmith.style.profile)") from None
    return float(adherence(text, load_for_text(style, text), what="the output").score)
