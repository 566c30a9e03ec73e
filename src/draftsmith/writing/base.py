"""What every writing operation shares: input checks, typed results, and running a template."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, Field

from draftsmith.errors import InputError, ModelError
from draftsmith.languages import check_language, count_words, detect_language, is_cjk, language_name
from draftsmith.models.base import Completion, GenParams, Model, Timings, Usage
from draftsmith.prompts.registry import get_template
from draftsmith.prompts.template import Template
from draftsmith.style.presets import get_style

OnText = Callable[[str], None]
R = TypeVar("R", bound="Result")
MAX_INPUT_CHARS = 400_000


class StyleAdherence(BaseModel):
    """How well a rewrite fits its style (``draftsmith style score``'s 0–1, both as the source's length)."""

    before: float = Field(description="adherence of the source text")
    after: float = Field(description="adherence of the rewrite")
    drafts: int = Field(description="drafts drawn to choose from")


class Result(BaseModel):
    """What an operation returns: the text plus how it was made."""

    operation: str
    text: str
    model: str
    language: str | None = None
    template: str | None = None
    style: str | None = None
    usage: Usage = Field(default_factory=Usage)
    timings: Timings = Field(default_factory=Timings)
    segments: int = 1
    warnings: list[str] = Field(default_factory=list)
    style_adherence: StyleAdherence | None = None  # rewrite with a style that can score the language
    # The whole text as one suggestion (a rewrite, translation, summary, continuation): its feedback id, set by
    # the shell that shows it (answer with POST /v1/feedback or draftsmith feedback accept|reject).
    suggestion_id: str | None = None


class Tally:
    """Adds up usage and time over the model calls of one operation."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.usage = Usage()
        self.first_token_s: float | None = None
        self.decode_tokens = 0
        self.decode_s = 0.0

    def add(self, completion: Completion) -> None:
        self.usage.prompt_tokens += completion.usage.prompt_tokens
        self.usage.completion_tokens += completion.usage.completion_tokens
        if self.first_token_s is None and completion.timings.first_token_s is not None:
            self.first_token_s = time.perf_counter() - self.start - completion.timings.total_s
            self.first_token_s += completion.timings.first_token_s
        if completion.timings.tokens_per_s:
            n = max(completion.usage.completion_tokens - 1, 0)
            self.decode_tokens += n
            self.decode_s += n / completion.timings.tokens_per_s

    def result(self, cls: type[R], model: Model, **fields: Any) -> R:
        """The operation's typed result, carrying this tally's model name, usage and timings."""
        return cls(model=model.name, usage=self.usage, timings=self.timings(), **fields)

    def timings(self) -> Timings:
        rate = self.decode_tokens / self.decode_s if self.decode_s > 0 else None
        return Timings(first_token_s=self.first_token_s, total_s=time.perf_counter() - self.start, tokens_per_s=rate)


def check_text(text: str | None, what: str = "input text", max_chars: int = MAX_INPUT_CHARS) -> str:
    """Reject empty, whitespace-only, binary-looking or oversized input with a clear message."""
    if text is None or not text.strip():
        raise InputError(f"{what} is empty; give some text (a file, an argument, or stdin)")
    if len(text) > max_chars:
        raise InputError(
            f"{what} is too large ({len(text):,} characters; the limit is {max_chars:,}); "
            "split it, or raise max_input_chars in the config"
        )
    if "\x00" in text:
        raise InputError(f"{what} contains NUL bytes; it looks like a binary file, not text")
    return text


def output_language(lang: str | None, text: str = "") -> str:
    """An explicit language code, or the language of ``text`` when ``lang`` is None or 'auto'."""
    if lang and lang != "auto":
        return check_language(lang)
    return detect_language(text) if text.strip() else "en"


def style_guide(style: str | None) -> str:
    return get_style(style).guide() if style else ""


def max_tokens_for(words: int | None, lang: str, floor: int = 64) -> int:
    """A token budget generous enough for ``words`` words (CJK: characters) of output."""
    if not words:
        return 1024
    per_word = 1.2 if is_cjk(lang) else 1.6
    return max(floor, int(words * per_word * 1.5) + 32)


def template_params(template: Template, temperature: float | None, default: float = 0.7, **extra: Any) -> GenParams:
    """Sampling settings: an explicit temperature wins, then the template's own, then ``default``."""
    if temperature is None:
        temperature = template.temperature if template.temperature is not None else default
    return GenParams(temperature=temperature, **extra)


def standard_vars(lang: str, style: str | None, length: int | None) -> dict[str, Any]:
    return {
        "lang": lang,
        "language": language_name(lang),
        "style": style,
        "style_guide": style_guide(style),
        "length": length,
    }


def run_template(
    model: Model,
    template: Template | str,
    variables: dict[str, Any],
    params: GenParams,
    on_text: OnText | None = None,
    tally: Tally | None = None,
) -> Completion:
    """Render a template to chat messages and stream the model's answer."""
    if isinstance(template, str):
        template = get_template(template)
    messages = template.render(variables)
    chunks = model.stream(messages, params)
    if on_text:
        chunks = _tee(chunks, on_text)
    from draftsmith.models.base import collect

    completion = collect(model.name, chunks)
    if tally:
        tally.add(completion)
    return completion


def ask(
    model: Model,
    template: Template,
    values: dict[str, Any],
    params: GenParams,
    tally: Tally,
    on_text: OnText | None = None,
) -> str:
    """Run a template and return the model's cleaned, non-empty answer."""
    completion = run_template(model, template, values, params, on_text, tally)
    return require_output(clean_output(completion.text), model, template.name)


def _tee(chunks, on_text: OnText):
    for chunk in chunks:
        if chunk.text:
            on_text(chunk.text)
        yield chunk


_PREAMBLE = re.compile(
    r"^\s*(?:(?:here(?:'s| is)|sure|certainly|okay)[^\n]{0,80}:\s*\n+|(?:corrected|rewritten|translated|translation|"
    r"revised)(?: text| version)?\s*[:：]\s*\n?|以下是[^\n]{0,40}[:：]\s*\n+|修改后[^\n]{0,10}[:：]\s*\n?)",
    re.I,
)


def clean_output(text: str, original: str | None = None) -> str:
    """Strip what small models wrap around an answer: a preamble line, code fences, outer quotes."""
    out = text.strip()
    out = _PREAMBLE.sub("", out, count=1).strip()
    fence = re.fullmatch(r"```[\w-]*\n(.*?)\n?```", out, re.S)
    if fence and not (original or "").lstrip().startswith("```"):
        out = fence.group(1).strip()
    for q1, q2 in (('"', '"'), ("“", "”"), ("'", "'"), ("「", "」")):
        quoted = len(out) > 1 and out.startswith(q1) and out.endswith(q2)
        if quoted and original is not None and not (original.strip().startswith(q1) and original.strip().endswith(q2)):
            out = out[1:-1].strip()
    return out


def require_output(text: str, model: Model, what: str) -> str:
    if not text.strip():
        raise ModelError(f"model {model.name} returned nothing for {what}; try again or use a larger model")
    return text


def trim_to_words(text: str, words: int, lang: str) -> str:
    """Cut to about ``words`` words, at the last sentence end that keeps at least half of them."""
    limit = int(words * 1.15)
    if count_words(text) <= limit:
        return text
    ends = list(re.finditer(r"[.!?。！？…][\"'”’」)]*", text))
    best = None
    for m in ends:
        n = count_words(text[: m.end()])
        if n > limit:
            break
        if n >= words // 2:
            best = m.end()
    if best:
        return text[:best]
    if is_cjk(lang):
        return text[:limit]
    return " ".join(text.split()[:limit])
