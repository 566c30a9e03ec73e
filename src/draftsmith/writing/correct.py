"""correct: grammar, spelling and punctuation fixes as explained edits the user can accept or reject.

Each paragraph goes to the model at temperature 0 with prompt-lookup decoding (the answer mostly
copies the input, so drafted tokens are usually accepted). The answer is diffed against the input
into word-level edits. Guards keep precision up: an answer that rewrites too much is refused, and
whitespace-only changes are ignored, so the user's layout never changes.
"""

from __future__ import annotations

import difflib

from pydantic import Field

from draftsmith.models.base import GenParams, Model
from draftsmith.prompts.registry import get_template
from draftsmith.writing.base import (
    MAX_INPUT_CHARS,
    OnText,
    Result,
    Tally,
    check_text,
    clean_output,
    output_language,
    run_template,
)
from draftsmith.writing.edits import Edit, apply_edits, diff_edits
from draftsmith.writing.segment import split_segments

SEGMENT_CHARS = 800
MIN_SIMILARITY = 0.6  # below this the model rewrote the text instead of correcting it


class CorrectionResult(Result):
    edits: list[Edit] = Field(default_factory=list)
    original: str = ""


def correct(
    model: Model,
    text: str,
    *,
    lang: str | None = None,
    template: str = "correct",
    speculative: bool = True,
    on_edit: OnText | None = None,
    max_chars: int = MAX_INPUT_CHARS,
) -> CorrectionResult:
    """Find and explain corrections. ``result.text`` is ``text`` with every edit applied."""
    check_text(text, max_chars=max_chars)
    language = output_language(lang, text)
    tpl = get_template(template)
    tally = Tally()
    edits: list[Edit] = []
    warnings: list[str] = []
    spans = split_segments(text, SEGMENT_CHARS)
    for span in spans:
        piece = text[span.start : span.end]
        budget = int(model.count_tokens(piece) * 1.5) + 32
        params = GenParams(temperature=0.0, max_tokens=budget, speculative=speculative, top_k=1, repeat_penalty=1.0)
        completion = run_template(model, tpl, {"lang": language, "text": piece}, params, None, tally)
        fixed = clean_output(completion.text, piece)
        if not fixed.strip() or completion.finish_reason == "length":
            warnings.append(f"no usable correction for the passage at {span.start}; left unchanged")
            continue
        if difflib.SequenceMatcher(None, piece, fixed, autojunk=False).ratio() < MIN_SIMILARITY:
            warnings.append(f"the model rewrote the passage at {span.start} instead of correcting it; left unchanged")
            continue
        for edit in diff_edits(piece, fixed, language):
            if not edit.original.strip() and not edit.replacement.strip():
                continue  # layout only
            edit = edit.model_copy(update={"start": edit.start + span.start, "end": edit.end + span.start})
            edits.append(edit)
            if on_edit:
                on_edit(edit.model_dump_json())
    corrected = apply_edits(text, edits)
    return tally.result(
        CorrectionResult,
        model,
        operation="correct",
        text=corrected,
        original=text,
        edits=edits,
        language=language,
        template=tpl.name,
        segments=len(spans),
        warnings=warnings,
    )
